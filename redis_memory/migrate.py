"""Copy chat sessions from other packages' Redis layouts into the message log.

Three sources are known, each by the key layout its package writes:

- ``langchain-community`` (``RedisChatMessageHistory``): one list per session
  at ``message_store:<session_id>``, newest message first (``LPUSH``), each
  element LangChain's ``message_to_dict`` JSON (``{"type", "data"}``).
- ``langchain-redis`` (``RedisChatMessageHistory``): one RedisJSON document per
  message at ``chat:<session_id>:<ulid>`` with ``session_id``, ``type``,
  ``timestamp`` and ``data`` (``content``, ``additional_kwargs``, and for tool
  messages ``tool_call_id`` and ``status``), ordered by ``timestamp``.
- ``llama-index`` (``llama-index-storage-chat-store-redis``'s ``RedisChatStore``):
  one list per chat store key, oldest first, each element a ``ChatMessage``'s
  ``model_dump_json()``; the key has no prefix of its own, so the whole key is
  the session id (or what follows ``source_prefix``).

This module reads them (``SCAN`` with the source's pattern, never ``KEYS``) and
writes through :class:`~redis_memory.history.MessageLog`. Turning a source
record into the neutral stored form is the framework's business, so the
caller passes ``convert`` (the CLI takes it from ``langchain_redis_memory`` or
``llama_index_redis_memory``): the core imports neither framework.

Re-running is safe. Each session is compared with what the message log
already holds (timestamps aside): equal means nothing to do; a target that is
a prefix of the source (the source got new messages since) gets only the new
ones; an empty target gets all; any other target is a conflict, left alone
unless ``replace``. The source is read only, unless ``delete_source``; a source
list that changed after it was read (an application still writing) is kept.

Example:
    >>> import json
    >>> from langchain_redis_memory._migrate import from_message_dict
    >>> from redis_memory.connection import RedisClients
    >>> from redis_memory.migrate import Migration
    >>> source = RedisClients().sync    # where langchain-community kept its sessions
    >>> record = {"type": "human", "data": {"content": "hi"}}
    >>> source.lpush("message_store:ana", json.dumps(record))
    1
    >>> migration = Migration("langchain-community", from_message_dict)
    >>> migration.run().totals()["by_status"]        # a dry run: nothing is written
    {'new': 1}
    >>> report = migration.run(apply=True, delete_source=True)
    >>> report.totals()["messages_copied"], report.deleted_keys
    (1, 1)
    >>> [m["content"] for m in migration.log.messages("ana")]
    ['hi']
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson

from ._checks import decoded
from ._execute import execute
from ._plan import Plan, Script, lua
from .config import RedisMemoryConfig
from .connection import RedisClients, SyncClient
from .history import MessageLog
from .messages import StoredMessage

Status = Literal["new", "grown", "unchanged", "conflict", "replaced", "unreadable"]
Convert = Callable[[Any], StoredMessage]

_SCAN_COUNT = 1000

# A source list is deleted only if it still holds exactly what was read: an
# application writing to it during the migration must not lose the new messages.
_UNLINK_IF_UNCHANGED = Script(lua("migrate_unlink_if_unchanged.lua"))


def _bytes(raw: bytes | str) -> bytes:
    return raw if isinstance(raw, bytes) else raw.encode("utf-8")


def _list_digest(raws: list[bytes]) -> str:
    """The digest ``_UNLINK_IF_UNCHANGED`` computes of a list's elements."""
    return hashlib.sha1(  # noqa: S324 - a change check, not security
        b"".join(str(len(raw)).encode() + b":" + raw for raw in map(_bytes, raws))
    ).hexdigest()


@dataclass(frozen=True, slots=True)
class SourceLayout:
    """Where a peer package keeps its sessions, and how."""

    name: str
    default_prefix: str
    storage: Literal["list-newest-first", "list", "json-docs"]
    framework: Literal["langchain", "llama-index"]


SOURCES: dict[str, SourceLayout] = {
    "langchain-community": SourceLayout(
        "langchain-community", "message_store:", "list-newest-first", "langchain"
    ),
    "langchain-redis": SourceLayout("langchain-redis", "chat:", "json-docs", "langchain"),
    "llama-index": SourceLayout("llama-index", "", "list", "llama-index"),
}


@dataclass(slots=True)
class SourceSession:
    """One session as a source holds it: its keys and its records, oldest first."""

    session_id: str
    keys: list[str]
    records: list[Any]
    timestamps: list[float | None]
    digest: str | None = None  # of a list source's elements, as read


@dataclass(slots=True)
class SessionOutcome:
    """What a run did with one session: its status, its messages and how many were copied
    (or, in a dry run, would be), and why when it was left alone or its source kept."""

    session_id: str
    status: Status
    messages: int
    copied: int
    reason: str = ""


@dataclass(slots=True)
class MigrationReport:
    """What a run found and did, session by session."""

    source: str
    pattern: str
    applied: bool
    sessions: list[SessionOutcome] = field(default_factory=list)
    skipped_keys: list[tuple[str, str]] = field(default_factory=list)
    deleted_keys: int = 0

    def totals(self) -> dict[str, Any]:
        """The run in numbers: sessions, messages copied (or to copy), sessions by status,
        skipped keys and deleted source keys."""
        by_status: dict[str, int] = {}
        for outcome in self.sessions:
            by_status[outcome.status] = by_status.get(outcome.status, 0) + 1
        return {
            "source": self.source,
            "pattern": self.pattern,
            "applied": self.applied,
            "sessions": len(self.sessions),
            "messages": sum(o.messages for o in self.sessions),
            "messages_to_copy" if not self.applied else "messages_copied": sum(
                o.copied for o in self.sessions
            ),
            "by_status": by_status,
            "skipped_keys": len(self.skipped_keys),
            "deleted_source_keys": self.deleted_keys,
        }


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[\]\\])", r"\\\1", text)


def _without_ts(messages: list[StoredMessage]) -> list[dict[str, Any]]:
    return [{k: v for k, v in m.items() if k != "ts"} for m in messages]


class Migration:
    """Copies the sessions of one source layout into this package's message log.

    Args:
        source: ``"langchain-community"``, ``"langchain-redis"`` or ``"llama-index"``.
        convert: Turns one source record into the neutral stored form (for the
            LangChain sources a ``{"type", "data"}`` dict, for LlamaIndex the
            raw ``ChatMessage`` JSON).
        url, client, config: Where this package's data lives (the target).
        source_client, source_url: The Redis holding the source (default: the target's).
        source_prefix: The source's key prefix (default: the package's own).
    """

    def __init__(
        self,
        source: str,
        convert: Convert,
        *,
        url: str | None = None,
        client: SyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        source_client: SyncClient | None = None,
        source_url: str | None = None,
        source_prefix: str | None = None,
    ) -> None:
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; known: {', '.join(SOURCES)}")
        self.layout = SOURCES[source]
        self.convert = convert
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config = self._clients.config
        self.log = MessageLog(url=url, client=client, config=config, publish_events=False)
        if source_url is not None:
            self._source_clients = RedisClients(url=source_url, config=self.config)
        elif source_client is not None:
            self._source_clients = RedisClients(client=source_client, config=self.config)
        else:
            self._source_clients = self._clients
        self._source = self._source_clients.sync
        self.source_prefix = self.layout.default_prefix if source_prefix is None else source_prefix
        self.pattern = _glob_escape(self.source_prefix) + "*"

    def _run(self, plan: Plan[Any]) -> Any:
        return execute(self._source, plan, self._source_clients.masked_url)

    def _is_ours(self, key: str) -> bool:
        return key.startswith(self.config.prefix + ":")

    # -- reading the source ------------------------------------------------------------
    def _scan(self, redis_type: str) -> Iterator[list[str]]:
        """Pages of the source's keys of one type, each key once (SCAN may repeat one)."""
        seen: set[str] = set()
        cursor = 0
        while True:
            command = ("SCAN", cursor, "MATCH", self.pattern, "COUNT", _SCAN_COUNT)
            plan = Plan(
                "scanning the source",
                self.pattern,
                lambda r: (int(r[0][0]), r[0][1]),
                [(*command, "TYPE", redis_type)],
            )
            cursor, raw_keys = self._run(plan)
            keys = []
            for raw in raw_keys:
                try:
                    key = decoded(raw)
                except UnicodeDecodeError:
                    continue
                if not self._is_ours(key) and key not in seen:
                    seen.add(key)
                    keys.append(key)
            if keys:
                yield keys
            if cursor == 0:
                return

    def _read_lists(self, report: MigrationReport) -> Iterator[SourceSession]:
        for keys in self._scan("list"):
            pages = self._run(
                Plan(
                    "reading the source",
                    keys[0],
                    lambda r: r,
                    [("LRANGE", key, 0, -1) for key in keys],
                )
            )
            for key, raws in zip(keys, pages, strict=True):
                records, problem = self._list_records(raws)
                if problem:
                    report.skipped_keys.append((key, problem))
                    continue
                if self.layout.storage == "list-newest-first":
                    records.reverse()
                session_id = key[len(self.source_prefix) :]
                if not session_id:
                    report.skipped_keys.append((key, "no session id after the prefix"))
                    continue
                yield SourceSession(
                    session_id, [key], records, [None] * len(records), _list_digest(raws)
                )

    def _list_records(self, raws: list[bytes]) -> tuple[list[Any], str]:
        records: list[Any] = []
        for raw in raws:
            try:
                record = orjson.loads(raw)
            except orjson.JSONDecodeError:
                return [], "an element is not JSON"
            if not isinstance(record, dict):
                return [], "an element is not a JSON object"
            if self.layout.framework == "langchain":
                if not ("type" in record and isinstance(record.get("data"), dict)):
                    return [], "not LangChain message dicts ({type, data})"
                records.append(record)
            else:
                if "role" not in record or not ("blocks" in record or "content" in record):
                    return [], "not LlamaIndex ChatMessage JSON (role, blocks)"
                records.append(raw)
        return records, ""

    def _read_json_docs(self, report: MigrationReport) -> Iterator[SourceSession]:
        found: dict[str, list[tuple[float, str, str, dict[str, Any]]]] = {}
        for keys in self._scan("ReJSON-RL"):
            docs = self._run(
                Plan(
                    "reading the source",
                    keys[0],
                    lambda r: r,
                    [("JSON.GET", key, "$") for key in keys],
                )
            )
            for key, raw in zip(keys, docs, strict=True):
                try:
                    doc = orjson.loads(raw)[0] if raw else None
                except (orjson.JSONDecodeError, IndexError, TypeError):
                    doc = None
                if not (
                    isinstance(doc, dict)
                    and isinstance(doc.get("session_id"), str)
                    and isinstance(doc.get("data"), dict)
                    and "type" in doc
                ):
                    report.skipped_keys.append((key, "not a langchain-redis message document"))
                    continue
                timestamp = doc.get("timestamp")
                when = float(timestamp) if isinstance(timestamp, int | float) else 0.0
                ulid = str(doc.get("message_id", ""))
                found.setdefault(doc["session_id"], []).append((when, ulid, key, doc))
        for session_id, docs in found.items():
            docs.sort(key=lambda d: (d[0], d[1]))
            yield SourceSession(
                session_id,
                [d[2] for d in docs],
                [{"type": d[3]["type"], "data": d[3]["data"]} for d in docs],
                [d[0] or None for d in docs],
            )

    def sessions(self, report: MigrationReport) -> Iterator[SourceSession]:
        """The source's sessions (keys that are not the source's data go to the report)."""
        if self.layout.storage == "json-docs":
            return self._read_json_docs(report)
        return self._read_lists(report)

    # -- comparing and writing ---------------------------------------------------------------
    def _converted(self, session: SourceSession) -> list[StoredMessage]:
        messages = []
        for record, when in zip(session.records, session.timestamps, strict=True):
            stored = dict(self.convert(record))
            if when is not None:
                stored["ts"] = when
            messages.append(stored)
        return messages  # type: ignore[return-value]

    def _decide(
        self, messages: list[StoredMessage], target: list[StoredMessage], replace: bool
    ) -> tuple[Status, int]:
        if not target:
            return "new", len(messages)
        wanted, held = _without_ts(messages), _without_ts(target)
        if wanted == held:
            return "unchanged", 0
        if len(held) < len(wanted) and wanted[: len(held)] == held:
            return "grown", len(wanted) - len(held)
        if replace:
            return "replaced", len(messages)
        return "conflict", 0

    def _delete_source(self, session: SourceSession) -> int:
        """Deletes the session's source keys; -1 when a list changed since it was read."""
        if session.digest is None:
            return self._run(
                Plan(
                    "deleting the source",
                    session.keys[0],
                    lambda r: sum(int(n) for n in r),
                    [("UNLINK", key) for key in session.keys],
                )
            )
        return self._run(
            Plan(
                "deleting the source",
                session.keys[0],
                lambda r: int(r[0]),
                script=(_UNLINK_IF_UNCHANGED, session.keys, [session.digest]),
            )
        )

    def run(
        self,
        *,
        apply: bool = False,
        replace: bool = False,
        delete_source: bool = False,
        progress: Callable[[int], None] | None = None,
    ) -> MigrationReport:
        """Plan (``apply=False``, the default) or carry out the migration.

        ``replace`` overwrites target sessions that hold something else;
        ``delete_source`` (with ``apply``) deletes a source session's keys once
        the target holds all of its messages. ``progress`` is called with the
        number of sessions handled so far.
        """
        if delete_source and not self.source_prefix:
            raise ValueError(
                "delete_source needs a source prefix: without one every list in the "
                "database whose elements read as chat messages (another application's too) "
                "counts as a session and would be deleted once copied; pass source_prefix "
                "(--source-prefix), e.g. the prefix your chat store keys share"
            )
        report = MigrationReport(self.layout.name, self.pattern, apply)
        for done, session in enumerate(self.sessions(report), 1):
            kept = ""
            try:
                self.log.keys.session(session.session_id)  # an id this package cannot hold
                messages = self._converted(session)
            except (TypeError, ValueError, KeyError) as exc:
                report.sessions.append(
                    SessionOutcome(
                        session.session_id, "unreadable", len(session.records), 0, str(exc)[:200]
                    )
                )
                if progress is not None:
                    progress(done)
                continue
            target = self.log.messages(session.session_id, section="all")
            status, to_copy = self._decide(messages, target, replace)
            if apply:
                if status in ("new", "replaced"):
                    self.log.replace(session.session_id, messages, clear_archive=True)
                elif status == "grown":
                    self.log.append(session.session_id, messages[len(messages) - to_copy :])
                if delete_source and status in ("new", "grown", "unchanged", "replaced"):
                    deleted = self._delete_source(session)
                    if deleted < 0:
                        kept = "the source changed while it was copied, so it was kept; run again"
                    else:
                        report.deleted_keys += deleted
            reason = "the target session holds other messages" if status == "conflict" else kept
            report.sessions.append(
                SessionOutcome(session.session_id, status, len(messages), to_copy, reason)
            )
            if progress is not None:
                progress(done)
        return report


def layouts() -> Mapping[str, SourceLayout]:
    """The known source layouts by name."""
    return SOURCES
