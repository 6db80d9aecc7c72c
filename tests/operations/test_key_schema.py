"""README.md's "### Key schema" table lists every key and channel the package writes.

The table is read from README.md itself, as a user reads it: column 2 holds key
templates in backticks, ``/`` separates the keys of one row, a template starting
with ``:`` stands for the row's first full template with its tail replaced
(``{prefix}:thread:{<thread_id>}:checkpoints`` / ``:heads`` is also
``{prefix}:thread:{<thread_id>}:heads``), ``index `...``` names a search index
and a cell starting with "channels" names pub/sub channels.

Then every kind of data is written through the engines' public APIs under the
test's prefix (as an ACL user limited to it), while a pattern subscription
collects every channel published on, and ``SCAN`` + ``FT._LIST`` must find
nothing the table does not list, and every template of the table must be found.
"""

from __future__ import annotations

import hashlib
import re
import time
from dataclasses import dataclass
from typing import Annotated, TypedDict

import pytest
from _paths import ROOT
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langchain_redis_memory import RedisSaver
from redis_memory.cache import ResponseCache
from redis_memory.coordination import Claims, DistributedLock, Findings
from redis_memory.embeddings import FunctionEmbedder
from redis_memory.events import EventBus
from redis_memory.history import MessageLog
from redis_memory.memory import MemoryStore
from redis_memory.permissions import Permissions
from redis_memory.presence import Presence
from redis_memory.priorityqueue import PriorityQueue
from redis_memory.ratelimit import RateLimit
from redis_memory.state import StateStore
from redis_memory.workqueue import WorkQueue

pytestmark = pytest.mark.acl_user

SECTION = "### Key schema"


# -- the table, as README.md shows it ------------------------------------------------
@dataclass(frozen=True)
class Row:
    line: str  # the row as written in README.md, for messages
    data: str  # column 1 (a continuation row repeats the row above's)
    keys: tuple[str, ...]
    indexes: tuple[str, ...]
    channels: tuple[str, ...]

    @property
    def templates(self) -> tuple[str, ...]:
        return self.keys + self.indexes + self.channels


def _segments(template: str) -> list[str]:
    return template.split(":")


def _is_tag(segment: str) -> bool:
    return segment.startswith("{<") and segment.endswith(">}")


def _expand(short: str, base: str) -> str:
    """``:tail`` of ``N`` segments replaces the last ``N`` segments of ``base``.

    A shorthand never replaces the row's hash-tagged id unless it brings an id of
    its own: ``{prefix}:team:{<team>}:alive`` / ``:agent:<id>`` is
    ``{prefix}:team:{<team>}:agent:<id>`` (``<id>`` names the agent within the team),
    while ``{prefix}:events:session:{<session_id>}`` / ``:state:{<user_id>}`` is
    ``{prefix}:events:state:{<user_id>}``.
    """
    tail = _segments(short)[1:]
    head = _segments(base)
    replaced = len(tail)
    if not any(_is_tag(segment) for segment in tail):
        tags = [i for i, segment in enumerate(head) if _is_tag(segment)]
        if tags:
            replaced = min(replaced, len(head) - 1 - tags[-1])
    return ":".join(head[: len(head) - replaced] + tail)


def schema_rows(readme: str) -> list[Row]:
    """The rows of the "### Key schema" table, every shorthand written out."""
    section = readme.split("\n" + SECTION + "\n", 1)[1].split("\n#", 1)[0]
    rows: list[Row] = []
    data = ""
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if cells[:2] == ["data", "key"]:
            continue
        data = cells[0] or data
        cell = cells[1]
        keys: list[str] = []
        indexes: list[str] = []
        channels: list[str] = []
        base = ""
        for match in re.finditer(r"`([^`]+)`", cell):
            template = match.group(1)
            if template.startswith(":"):
                assert base, f"a shorthand with no full template before it: {line}"
                template = _expand(template, base)
            elif not base:
                base = template
            assert template.startswith("{prefix}:"), f"not a key template: {template!r} in {line}"
            if cell.startswith("channels"):
                channels.append(template)
            elif cell[: match.start()].rstrip().endswith("index"):
                indexes.append(template)
            else:
                keys.append(template)
        assert keys or channels, f"a row of the key schema without a key: {line}"
        rows.append(Row(line, data, tuple(keys), tuple(indexes), tuple(channels)))
    assert rows, f"no table under {SECTION!r} in README.md"
    return rows


_TOKEN = re.compile(r"\{prefix\}|\{<[^<>]+>\}|<[^<>]+>|:\.\.\.|\.\.\.")


def template_regex(template: str, prefix: str) -> re.Pattern[str]:
    """``{prefix}`` the prefix, ``{<x>}`` a hash-tagged id, ``<x>`` one segment,
    ``...`` anything (``:...``: any number of further segments, none included)."""
    parts: list[str] = []
    end = 0
    for token in _TOKEN.finditer(template):
        parts.append(re.escape(template[end : token.start()]))
        text = token.group()
        if text == "{prefix}":
            parts.append(re.escape(prefix))
        elif text.startswith("{<"):
            parts.append(r"\{[^{}]+\}")
        elif text.startswith("<"):
            parts.append(r"[^:]+")
        elif text == ":...":
            parts.append(r"(?::[^:]+)*")
        else:
            parts.append(r".*")
        end = token.end()
    parts.append(re.escape(template[end:]))
    return re.compile("".join(parts))


def unlisted(names: set[str], templates: list[str], prefix: str) -> list[str]:
    """The names no template matches (in full)."""
    patterns = [template_regex(template, prefix) for template in templates]
    return sorted(name for name in names if not any(p.fullmatch(name) for p in patterns))


def _readme_rows() -> list[Row]:
    return schema_rows((ROOT / "README.md").read_text(encoding="utf-8"))


def test_the_table_is_read_as_a_user_reads_it():
    rows = _readme_rows()
    keys = {key for row in rows for key in row.keys}
    indexes = {index for row in rows for index in row.indexes}
    channels = {channel for row in rows for channel in row.channels}
    # Shorthands written out: a tail replaced, a hash-tagged id kept.
    assert "{prefix}:thread:{<thread_id>}:blobs" in keys
    assert "{prefix}:perms:{<scope>}:granted:<permission>" in keys
    assert "{prefix}:team:{<team>}:agent:<id>" in keys
    assert "{prefix}:pqueue:{<name>}:seq" in keys
    assert "{prefix}:session:messages-idx" in indexes
    assert "{prefix}:session:messages-idx" not in keys
    assert "{prefix}:events:state:{<user_id>}" in channels
    assert "{prefix}:events:cache" in channels
    assert not channels & keys
    # The regexes: ids in braces, one segment per <x>, nothing more.
    messages = template_regex("{prefix}:session:{<session_id>}:messages", "p")
    assert messages.fullmatch("p:session:{a%3Ab}:messages")
    assert not messages.fullmatch("p:session:a:messages")
    assert not messages.fullmatch("p:session:{a}:messages:x")
    assert not messages.fullmatch("q:session:{a}:messages")
    item = template_regex("{prefix}:mem:<store>:<depth>:{<ns0>}:<ns1>:...:<key>", "p")
    assert item.fullmatch("p:mem:s:2:{users}:ana:diet")
    assert item.fullmatch("p:mem:s:3:{users}:ana:deep:diet")
    assert not item.fullmatch("p:mem:s:2:users:ana:diet")
    labels = template_regex("{prefix}:mem:<store>:<depth>:{<ns0>}:...:<key>", "p")
    assert labels.fullmatch("p:mem:s:1:{users}:diet")
    assert labels.fullmatch("p:mem:s:3:{users}:ana:deep:diet")


# -- every kind of data, written --------------------------------------------------------
def _embed(text: str) -> list[float]:
    """A stand-in embedder: a hashed bag of words, 16 dimensions."""
    vector = [0.0] * 16
    for word in re.findall(r"\w+", text.lower()):
        vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % 16] += 1.0
    norm = sum(x * x for x in vector) ** 0.5 or 1.0
    return [x / norm for x in vector]


async def _aembed(text: str) -> list[float]:
    return _embed(text)


EMBEDDER = FunctionEmbedder(_embed, _aembed, dimensions=16)


class _Chat(TypedDict):
    messages: Annotated[list, add_messages]


def _chat_graph(saver: RedisSaver):
    builder = StateGraph(_Chat)
    builder.add_node("answer", lambda state: {"messages": [AIMessage("you said it")]})
    builder.add_edge(START, "answer")
    builder.add_edge("answer", END)
    return builder.compile(checkpointer=saver)


def _write_everything(config, redis_client) -> None:
    """At least one key of every kind of data, through the public APIs."""
    # Messages: a session, its search copy and index, an archive, a quarantine.
    log = MessageLog(config=config, searchable=True)
    log.append("s1", [{"role": "user", "content": "hello"}, {"role": "ai", "content": "hi"}])
    log.append("s1", [{"role": "user", "content": "more"}], idempotency_key="k1")
    assert len(log.archive_oldest("s1", 1)) == 1
    redis_client.rpush(config.keys.session_messages("s1"), b"not json")
    assert len(log.quarantine("s1", log.find_damaged("s1"))) == 1

    # LLM cache: exact and semantic, lookups announced.
    exact = ResponseCache(config=config, timeout=5.0, publish_events=True)
    exact.update("What is Redis?", "gpt-x", {"text": "A data store."})
    assert exact.lookup("What is Redis?", "gpt-x") == {"text": "A data store."}
    semantic = ResponseCache(
        "sem", config=config, embedder=EMBEDDER, verifier=None, distance_threshold=0.2, timeout=5.0
    )
    semantic.update("What is Redis exactly?", "gpt-x", {"text": "A data store."})
    assert semantic.lookup("what is redis exactly", "gpt-x") == {"text": "A data store."}

    # State, long-term memory.
    assert StateStore(config=config).set("u1", "profile", {"name": "Ana"})
    memories = MemoryStore("notes", config=config, embedder=EMBEDDER)
    memories.put(("global",), "motto", {"text": "be kind"})  # a namespace of one label
    memories.put(("users", "ana"), "diet", {"text": "vegetarian"})
    memories.put(("users", "ana", "work"), "desk", {"text": "standing desk"})
    assert memories.search(("users", "ana"), query="vegetarian")

    # A LangGraph thread, mirrored to the session of its id, and pending writes.
    saver = RedisSaver(config=config, mirror_messages=True)
    graph = _chat_graph(saver)
    thread = {"configurable": {"thread_id": "th1"}}
    # A run id in the metadata (as LangGraph's server passes it) files the checkpoints by run.
    graph.invoke({"messages": [HumanMessage("question")]}, {**thread, "metadata": {"run_id": "r1"}})
    latest = saver.get_tuple(thread)
    assert latest is not None
    saver.put_writes(latest.config, [("messages", [HumanMessage("pending")])], task_id="task-1")

    # Coordination: a claim (and its hold), findings with conflicting verdicts, a lock.
    assert Claims(config=config).claim("t1", "agent-1")
    findings = Findings(config=config)
    findings.add("t1", "looks fine", author="agent-1", subject="build", verdict="pass")
    findings.add("t1", "a test fails", author="agent-2", subject="build", verdict="fail")
    assert findings.conflicts("t1")
    assert DistributedLock("l1", config=config).acquire(blocking=False)

    # Queues: a stream job; a priority queue with a ready, a leased and a delayed task.
    WorkQueue("jobs", config=config).put({"doc": "report.pdf"})
    queue = PriorityQueue("pq", config=config)
    queue.put({"n": 1}, priority=5)
    queue.put({"n": 2})
    queue.put({"n": 3}, delay=60)
    assert queue.take("worker-1") is not None

    # Agents: presence, permissions, a rate limit that stays (a token takes 100 s back).
    assert Presence("team1", config=config).join("agent-1", capabilities=["summarise"])
    assert Permissions("scope1", config=config).grant("u1", "read", "write")
    assert RateLimit("rl", rate=0.01, capacity=2, config=config).try_acquire()

    # Events: a topic of one's own, and the audit trail.
    EventBus(config=config).publish("alerts", {"level": "high"}, audit=True)


def _decoded(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


@pytest.mark.standalone_only  # Search (indexes, searchable messages, semantic cache), one server
def test_every_key_and_channel_the_package_writes_is_listed_in_the_readme(
    config, prefix, redis_client
):
    rows = _readme_rows()
    subscriber = redis_client.pubsub()
    done = f"{prefix}-done"  # no ':' after the prefix: outside what the pattern matches
    subscriber.psubscribe(f"{prefix}:*")
    subscriber.subscribe(done)
    try:
        for _ in range(2):  # the two confirmations
            assert subscriber.get_message(timeout=5.0)["type"] in {"psubscribe", "subscribe"}
        _write_everything(config, redis_client)
        # Delivered in publishing order: once `done` arrives, every earlier one has.
        redis_client.publish(done, "done")
        channels: set[str] = set()
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            message = subscriber.get_message(timeout=1.0)
            if message is None:
                continue
            channel = _decoded(message["channel"])
            if channel == done:
                break
            if message["type"] == "pmessage":
                channels.add(channel)
        else:
            pytest.fail("the pub/sub messages of the writes never all arrived")
    finally:
        subscriber.close()

    keys = {_decoded(key) for key in redis_client.scan_iter(match=f"{prefix}:*", count=1000)}
    indexes = {
        name
        for name in map(_decoded, redis_client.execute_command("FT._LIST"))
        if name.startswith(prefix + ":")
    }
    key_templates = [template for row in rows for template in row.keys]
    index_templates = [template for row in rows for template in row.indexes]
    channel_templates = [template for row in rows for template in row.channels]

    missing = {
        "keys": unlisted(keys, key_templates, prefix),
        "indexes": unlisted(indexes, index_templates, prefix),
        "channels": unlisted(channels, channel_templates, prefix),
    }
    assert not any(missing.values()), (
        f"written but not listed in README.md's {SECTION!r} table: "
        + "; ".join(f"{what}: {names}" for what, names in missing.items() if names)
    )

    # Not vacuous: every template of the table matched something written above.
    written = keys | indexes | channels
    unseen = [
        template
        for template in key_templates + index_templates + channel_templates
        if not any(template_regex(template, prefix).fullmatch(name) for name in written)
    ]
    assert not unseen, f"templates of the table that nothing written matched: {unseen}"

    # And each row is needed: without it, something written would be unlisted.
    for row in rows:
        rest = [template for other in rows if other is not row for template in other.templates]
        assert unlisted(written, rest, prefix), f"a row that nothing needs: {row.line}"
