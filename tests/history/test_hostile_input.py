"""Hostile input, with hypothesis: whatever users send round-trips exactly or is refused.

- Message contents (any Unicode incl. NUL and control characters, nested content
  blocks, large text) round-trip losslessly through the core log and both
  frameworks; text JSON cannot hold (lone surrogates) is a ``SerializationError``
  raised before anything is written.
- Session ids of any text keep sessions apart.
- Values that reach a RediSearch query (the model identity and the context of the
  semantic cache) are hashed into hex tags, so no value can change the query: an
  entry stored under one value is never found under another, and nothing raises.

- A damaged stored entry (not JSON, or a field of the wrong type, written by
  another program or an old bug) is an error naming the key, the entry's index
  and the field, in the core and in both frameworks, never a foreign error; and
  ``find_damaged``/``quarantine`` move it aside, unchanged, so the rest reads.

Key building itself (escaping, prefixes, SCAN patterns) is tested in test_keys.py.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
from redis.crc import key_slot

from langchain_redis_memory import RedisChatMessageHistory
from llama_index_redis_memory import RedisChatStore, RedisMemoryChatStore
from redis_memory import KeySchema, SerializationError
from redis_memory.cache import CachePrompt, ResponseCache
from redis_memory.errors import UnexpectedDataError
from redis_memory.history import AsyncMessageLog, DamagedMessageError, MessageLog
from redis_memory.keys import MAX_ID_BYTES

pytestmark = pytest.mark.acl_user

FAST = settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Any Unicode text JSON can hold: everything but lone surrogates, NUL included.
texts = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts
)
json_values = st.recursive(
    json_scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(texts, inner, max_size=4),
    max_leaves=20,
)
content_blocks = st.lists(
    st.fixed_dictionaries(
        {"type": st.sampled_from(["text", "image", "custom"]), "text": texts},
        optional={"extra": json_values, "nested": st.lists(json_values, max_size=3)},
    ),
    max_size=4,
)
session_ids = st.text(min_size=1, max_size=40).filter(
    lambda s: (
        len(s.encode("utf-8", "surrogatepass")) <= MAX_ID_BYTES
        and not re.search("[\ud800-\udfff]", s)
    )
)
LONE_SURROGATE = "before \ud800 after"

_fresh = itertools.count()


def _session() -> str:
    return f"s{next(_fresh)}"


# -- message contents -----------------------------------------------------------------------


@FAST
@given(
    role=texts.filter(bool),
    content=texts | content_blocks,
    extras=st.dictionaries(st.sampled_from(["name", "id", "tool_call_id"]), texts),
    lc=st.dictionaries(texts, json_values, max_size=3),
)
def test_the_core_log_round_trips_any_content(config, role, content, extras, lc):
    log = MessageLog(config=config)
    message = {"role": role, "content": content, **extras, "lc": lc, "ts": 1.5}
    session = _session()
    log.append(session, [message])
    assert log.messages(session) == [message]


@FAST
@given(content=texts | content_blocks, kwargs=st.dictionaries(texts, json_values, max_size=3))
def test_langchain_messages_round_trip_any_content(config, content, kwargs):
    history = RedisChatMessageHistory(_session(), config=config)
    messages = [
        SystemMessage(content),
        HumanMessage(content, id="h1"),
        AIMessage(content, additional_kwargs=kwargs, id="a1"),
    ]
    history.add_messages(messages)
    assert history.messages == messages


@FAST
@given(
    text=texts,
    more=st.lists(texts, max_size=3),
    kwargs=st.dictionaries(
        texts.filter(lambda k: k not in ("tool_calls", "tool_call_id", "name", "original_role")),
        json_values,
        max_size=3,
    ),
)
def test_llama_index_messages_round_trip_any_content(config, text, more, kwargs):
    store = RedisChatStore(config=config)
    blocks = [TextBlock(text=text), *(TextBlock(text=t) for t in more)]
    messages = [
        ChatMessage(role=MessageRole.USER, blocks=blocks),
        ChatMessage(role=MessageRole.ASSISTANT, content=text, additional_kwargs=kwargs),
    ]
    session = _session()
    store.set_messages(session, messages)
    assert store.get_messages(session) == messages


def test_large_content_round_trips(config):
    big = ("日本語 \x00\x1f control \u202e mixed " * 40_000)[:1_500_000]
    log = MessageLog(config=config)
    log.append("big", [{"role": "user", "content": big}])
    assert log.messages("big")[0]["content"] == big
    history = RedisChatMessageHistory("big-lc", config=config)
    history.add_messages([HumanMessage([{"type": "text", "text": big}])])
    assert history.messages[0].content[0]["text"] == big


def test_text_json_cannot_hold_is_refused_before_anything_is_written(config, count_commands):
    good = {"role": "user", "content": "fine"}
    bad_messages = [
        {"role": "user", "content": LONE_SURROGATE},
        {"role": "user", "content": [{"type": "text", "text": LONE_SURROGATE}]},
        {"role": LONE_SURROGATE, "content": "x"},
        {"role": "user", "content": "x", "lc": {LONE_SURROGATE: 1}},
    ]
    log = MessageLog(config=config)
    history = RedisChatMessageHistory("lc", config=config)
    store = RedisChatStore(config=config)
    memory_store = RedisMemoryChatStore(config=config)
    with count_commands() as counted:
        for bad in bad_messages:
            with pytest.raises(SerializationError, match="message 1 cannot be stored"):
                log.append("s", [good, bad])
        with pytest.raises(SerializationError, match="message 1 cannot be stored"):
            history.add_messages([HumanMessage("fine"), AIMessage(LONE_SURROGATE)])
        with pytest.raises(SerializationError, match="message 1 cannot be stored"):
            store.set_messages(
                "li", [ChatMessage(content="fine"), ChatMessage(content=LONE_SURROGATE)]
            )
        with pytest.raises(SerializationError, match="cannot be stored"):
            store.add_message("li", ChatMessage(content=LONE_SURROGATE))

        async def async_paths() -> None:
            with pytest.raises(SerializationError):
                await AsyncMessageLog(config=config).append("s", [good, bad_messages[0]])
            with pytest.raises(SerializationError):
                await history.aadd_messages([AIMessage(LONE_SURROGATE)])
            with pytest.raises(SerializationError):
                await memory_store.add_messages("li", [ChatMessage(content=LONE_SURROGATE)])

        asyncio.run(async_paths())
    assert counted.total == 0, "nothing reached Redis"
    assert log.messages("s") == []
    assert history.messages == []
    assert store.get_messages("li") == []


# -- ids -----------------------------------------------------------------------------------


@FAST
@given(first=session_ids, second=session_ids)
def test_any_two_session_ids_keep_their_messages_apart(config, first, second):
    log = MessageLog(config=config)
    log.clear(first)
    log.clear(second)
    log.append(first, [{"role": "user", "content": "to first"}])
    assert log.count(second) == (1 if first == second else 0)
    assert first in set(log.iter_sessions())
    log.clear(first)


# -- values that reach a RediSearch query --------------------------------------------------


class AxisEmbedder:
    """Every text embeds to the same vector: only the query's filters can keep entries apart."""

    def embed(self, text: str) -> list[float]:
        return [0.0, 1.0, 0.0, 0.0]

    async def aembed(self, text: str) -> list[float]:
        return self.embed(text)


# Quotes, RediSearch operators and separators, spaces, Unicode, surrogates.
hostile = st.text(
    st.sampled_from(list("\"'|{}@-*()[]:;,.<>~$\\%! \t\n\x00é日\ud800")) | st.characters(),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(llm=hostile, context=hostile, query=hostile)
def test_the_search_query_holds_only_hex_tags(llm, context, query):
    cache = ResponseCache(url="redis://127.0.0.1:1/0", embedder=AxisEmbedder(), verifier=None)
    plan = cache._plan_search(CachePrompt("text", query, context), cache._llm_hash(llm), b"v")
    expression = plan.commands[0][2]
    assert re.fullmatch(
        r"\(@llm:\{[0-9a-f]{32}\} @ctx:\{[0-9a-f]{32}\}\)"
        r"=>\[KNN \d+ @vector \$vector AS distance\]",
        expression,
    )


@FAST
@given(llm_a=hostile, llm_b=hostile, ctx_a=hostile, ctx_b=hostile)
@example(llm_a="m|x", llm_b="m|x", ctx_a="{a} @llm:{*}", ctx_b="{a} @llm:{*}")
@example(llm_a="gpt", llm_b="gpt} | @llm:{*", ctx_a="", ctx_b="")
@example(llm_a="a\ud800", llm_b="a\ud801", ctx_a="-x", ctx_b="-x")
def test_a_lookup_never_finds_an_entry_of_another_model_or_context(
    config, llm_a, llm_b, ctx_a, ctx_b
):
    cache = ResponseCache(config=config, embedder=AxisEmbedder(), verifier=None, timeout=1)
    nonce = f"#{next(_fresh)}"  # entries of earlier examples carry another model identity
    cache.update(CachePrompt("stored text", "stored", ctx_a), llm_a + nonce, {"v": "stored"})
    found = cache.lookup(CachePrompt("other text", "asked", ctx_b), llm_b + nonce)
    assert found == ({"v": "stored"} if (llm_a, ctx_a) == (llm_b, ctx_b) else None)
    assert cache.stats.errors == 0


def test_a_prompt_redis_cannot_store_is_not_cached_and_is_no_outage(config, caplog):
    cache = ResponseCache(config=config, embedder=AxisEmbedder(), verifier=None, timeout=1)
    with caplog.at_level("WARNING", logger="redis_memory.cache"):
        cache.update(LONE_SURROGATE, "m", {"v": 1})  # the entry would hold the query text
    assert cache.stats.updates == 0
    assert cache.stats.errors == 0, "not a Redis failure"
    assert any("not valid Unicode" in r.getMessage() for r in caplog.records)
    assert not any("Redis failed" in r.getMessage() for r in caplog.records)
    assert cache.lookup(LONE_SURROGATE, "m") is None


# -- damaged stored entries ----------------------------------------------------------------

EVERY_READER = frozenset({"core", "LangChain", "LlamaIndex"})
DAMAGED = [
    # (stored value, the field named, the readers that cannot read it)
    (b'{"role": "user", "content": 5}', "content", EVERY_READER),
    (b'{"role": "user", "content": "x", "lc": [1]}', "lc", EVERY_READER),
    (b'{"role": "assistant", "content": "x", "tool_calls": 5}', "tool_calls", EVERY_READER),
    (
        b'{"role": "assistant", "content": "", "tool_calls": [{"name": "f", "args": "{}"}]}',
        "tool_calls[0].args",
        EVERY_READER,
    ),
    (b'{"role": "user", "content": [7]}', "content[0]", EVERY_READER),
    (b'{"role": "user", "content": "x", "ts": "noon"}', "ts", EVERY_READER),
    (b"not json", "value", EVERY_READER),
    (b'["a", "list"]', "value", EVERY_READER),
    (
        b'{"role": "assistant", "content": "x", "lc": {"usage_metadata": 5}}',
        "lc.usage_metadata",
        {"LangChain"},
    ),
    (b'{"role": "user", "content": "x", "li": {"role": "wizard"}}', "li", {"LlamaIndex"}),
]


def _damaged_session(config, redis_client, raw: bytes) -> str:
    """Session 's': two good messages, the damaged value at index 2, one more good."""
    log = MessageLog(config=config)
    log.append("s", [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}])
    redis_client.rpush(log.keys.session_messages("s"), raw)
    log.append("s", [{"role": "user", "content": "d"}])
    return log.keys.session_messages("s")


def _names_the_damage(error: Exception, key: str, index: str, field: str, prefix: str) -> None:
    message = str(error)
    assert isinstance(error, DamagedMessageError)
    assert isinstance(error, UnexpectedDataError)
    assert isinstance(error, SerializationError)
    assert key in message
    assert f"at {index}" in message
    assert f"({field}: " in message
    assert f"`redis-memory sessions check s --repair --prefix {prefix}`" in message
    assert "validation error" not in message, "pydantic's words are not the error"


@pytest.mark.parametrize(("raw", "field", "failing"), DAMAGED, ids=[d[1] for d in DAMAGED])
def test_a_damaged_entry_is_named_by_key_index_and_field_in_every_reader(
    config, redis_client, prefix, raw, field, failing
):
    key = _damaged_session(config, redis_client, raw)
    log, alog = MessageLog(config=config), AsyncMessageLog(config=config)
    history = RedisChatMessageHistory("s", config=config)
    store, memory_store = RedisChatStore(config=config), RedisMemoryChatStore(config=config)

    reads = {
        "core": [
            (lambda: log.messages("s"), "index 2"),
            (lambda: log.messages("s", last=2), "index -2 (counted from the end)"),
            (lambda: log.messages("s", offset=1, limit=2), "index 2"),
            (lambda: log.messages("s", section="all"), "index 2"),
            (lambda: asyncio.run(alog.messages("s")), "index 2"),
        ],
        "LangChain": [
            (lambda: history.messages, "index 2"),
            (lambda: asyncio.run(history.aget_messages()), "index 2"),
            (lambda: history.get_messages(last=3), "index -2 (counted from the end)"),
        ],
        "LlamaIndex": [
            (lambda: store.get_messages("s"), "index 2"),
            (lambda: asyncio.run(store.aget_messages("s")), "index 2"),
            (lambda: asyncio.run(memory_store.get_messages("s", offset=1)), "index 2"),
            (
                lambda: asyncio.run(memory_store.get_messages("s", status=None)),
                # The core names the list; LlamaIndex sees archived then active.
                "index 2"
                if "core" in failing
                else "position 2 of the archived then active messages",
            ),
        ],
    }
    for reader, calls in reads.items():
        for read, index in calls:
            if reader not in failing and "core" not in failing:
                assert len(read()) in (2, 3, 4), f"{reader} reads it"
                continue
            with pytest.raises(DamagedMessageError) as caught:
                read()
            place = key if "position" not in index else KeySchema(prefix).session("s")
            _names_the_damage(caught.value, place, index, field, prefix)
    # What the package checks on reading, it refuses to write.
    try:
        message = json.loads(raw)
    except ValueError:
        return
    if "core" in failing and isinstance(message, dict):
        with pytest.raises(TypeError, match=r"message 0 (cannot be stored|needs)"):
            log.append("other", [message])


def test_damaged_entries_are_found_and_moved_to_the_quarantine_list(config, redis_client):
    log = MessageLog(config=config)
    key = _damaged_session(config, redis_client, b'{"role": "user", "content": 5}')
    redis_client.rpush(log.keys.session_archive("s"), b"junk")
    redis_client.pexpire(key, 600_000)
    redis_client.pexpire(log.keys.session_archive("s"), 300_000)
    found = log.find_damaged("s")
    assert [(e.section, e.index, e.field, e.raw) for e in found] == [
        ("archived", 0, "value", b"junk"),
        ("active", 2, "content", b'{"role": "user", "content": 5}'),
    ]
    # The list changed since it was read: the entry is found by its value.
    assert log.delete_oldest("s", 1)[0]["content"] == "a"
    assert log.quarantine("s", found) == found
    quarantine = log.keys.session_quarantine("s")
    assert key_slot(quarantine.encode()) == key_slot(key.encode())
    assert log.quarantined("s") == [b"junk", b'{"role": "user", "content": 5}']
    assert 590_000 < redis_client.pttl(quarantine) <= 600_000, "the session's TTL"
    assert [m["content"] for m in log.messages("s", section="all")] == ["b", "d"]
    assert log.quarantine("s", found) == [], "moved already: nothing found twice"
    assert log.find_damaged("s") == []

    async def async_twin() -> None:
        alog = AsyncMessageLog(config=config)
        redis_client.rpush(key, b"[]")
        (entry,) = await alog.find_damaged("s")
        assert await alog.quarantine("s", [entry]) == [entry]
        assert (await alog.quarantined("s"))[-1] == b"[]"

    asyncio.run(async_twin())
    log.clear("s")
    assert log.quarantined("s") == [], "deleting the session deletes its quarantine too"
