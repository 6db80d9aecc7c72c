"""The message log: one conversation per session id, shared by both frameworks.

A session's messages are a Redis list at ``{prefix}:session:{<id>}:messages``,
one JSON object per message in the neutral stored form (:class:`StoredMessage`).
Order is the order of appends: an append is one ``RPUSH`` inside a server-side
script, so concurrent writers interleave whole batches and lose nothing.

An append is one round trip (``EVALSHA``) that pushes the messages, trims to the
window, sets the TTL and announces the change on the session's pub/sub channel,
atomically. A read is one round trip (``LRANGE``, plus ``PEXPIRE`` when the TTL
slides). Messages that LlamaIndex's ``Memory`` archives live in a second list,
``...:archived``, in the same hash slot. With ``config.replica_acks``, every write
of messages (append, replace, archiving) is followed by ``WAIT`` in the same round
trip and raises :class:`~redis_memory.errors.ReplicaAckError` when too few
replicas confirmed it in time.

An append is safe to repeat. Each carries a token: derived from the messages'
ids when every message has one, from ``idempotency_key=`` when given, else
generated for the call (and so reused by redis-py's own retries, which resend
the same command). The script keeps the tokens of the session's last
:data:`REMEMBERED_APPENDS` appends in ``...:appends`` (a string of 16-byte
tokens, with the session's TTL, in its slot) and stores nothing for a token it
has seen: a connection lost after an append was sent can be retried without
storing it twice. ``clear`` and ``replace`` forget the tokens.

Reading a damaged entry (not JSON, or a field of the wrong type) raises
:class:`DamagedMessageError`, naming the key, the entry's index in the list
and the field, and the command that repairs it: ``redis-memory sessions check
SESSION --repair`` moves damaged entries, unchanged, to the session's
``...:quarantine`` list (:meth:`MessageLog.find_damaged`,
:meth:`MessageLog.quarantine`), after which the rest reads.

:class:`MessageLog` is the sync engine and :class:`AsyncMessageLog` its native
``redis.asyncio`` twin, with the same method names; both share every piece of
key building, encoding and validation in :class:`_MessageLogCore`.

Example:
    >>> from redis_memory.history import MessageLog
    >>> log = MessageLog()
    >>> log.append("ana", [{"role": "user", "content": "hi"}])
    1
    >>> log.messages("ana")[0]["content"]
    'hi'
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import numpy as np
import orjson

from . import metrics
from ._checks import whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._flow import drive, drive_async
from ._paging import each_once, each_once_async
from ._plan import Plan, Script, lua
from ._search import (
    SCORER,
    digest,
    fuse,
    index_exists_is_fine,
    query_words,
    relative,
    scored_results,
    search_results,
    text_query,
)
from ._translate import redis_errors
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .embeddings import Embedder
from .errors import ReplicaAckError, SerializationError, ValueTooLargeError

# The message format's types were defined here before it had a module of its own:
# importable from here still.
from .messages import (  # noqa: F401
    DamagedEntry,
    DamagedMessageError,
    StoredMessage,
    ToolCall,
    check_new,
    damaged_message,
    message_text,
    stored_problem,
    well_formed,
)
from .serialization import fast_dumps, fast_loads
from .server import require_search

Section = Literal["active", "archived", "all"]
T = TypeVar("T")

#: How many of a session's appends are remembered (by token), so that repeating
#: one of them stores nothing: 16 bytes each, at most 512 bytes a session.
REMEMBERED_APPENDS = 32
_TOKEN_BYTES = 16


@dataclass(frozen=True, slots=True)
class SessionInfo:
    """What is known about a session without reading its messages.

    ``created`` is the time of the oldest message kept (the first message,
    unless a window or a deletion removed it); ``updated`` that of the newest.
    """

    session_id: str
    message_count: int
    archived_count: int
    created: float | None
    updated: float | None


# Lua, run with EVALSHA. Lists are pushed in chunks: Lua's unpack() has a limit.
# APPEND_FUNCTION is shared: the checkpoint saver's script appends a graph's new
# messages to the session of the same id with it, under the same rules.
APPEND_FUNCTION = lua("history_append_function.lua")

# A searchable log also keeps each appended message as a hash of its text, role
# and position (``...:m:<position>``, counted in the session's meta hash), which
# the message index covers. Shared with the checkpoint saver's mirror.
INDEX_FUNCTION = lua("history_index_function.lua")

# KEYS: messages, archive, meta, appends. ARGV: ttl, window, channel, event head,
# mode, refresh_archive, the session stem ('' when the log is not searchable), the
# session id, its digest, the user's digest, the append's token ('' for none), n
# vectors, the vectors (empty for a message without text), then the messages.
# The appends key holds the tokens of the last appends, newest first: a token
# seen there means this append was stored already, and nothing is written.
_APPEND = (
    APPEND_FUNCTION
    + INDEX_FUNCTION
    + lua("history_append.lua").replace("REMEMBERED", str(REMEMBERED_APPENDS))
)

# KEYS: meta, appends, then the keys to count as deleted.
_CLEAR_INDEXED = INDEX_FUNCTION + lua("history_clear_indexed.lua")

# KEYS: active, archived, quarantine. ARGV: a mark (never a stored message), then
# for each entry: its list (1: active, 2: archived), its index, its value. An
# entry is found at its index or, when the list changed since it was read, by its
# value; found entries are marked, removed at once and pushed, unchanged, to the
# quarantine list, which takes the session's remaining TTL. Returns 1 (moved) or
# 0 (no longer there) per entry.
_QUARANTINE = lua("history_quarantine.lua")

# Deleting by index keeps the order of the rest: mark the element, then remove
# exactly that mark. The mark cannot be a stored message (those are JSON objects).
_DELETE_AT = lua("history_delete_at.lua")

_ARCHIVE_OLDEST = lua("history_archive_oldest.lua")

# Inserting keeps append's rules (TTL, search copy, event). The messages from the
# position on come off the end, the one at the position overwritten by the new one
# (so the list never empties and keeps its TTL), and go back after it; then the
# window is applied, as after list.insert. Only commands of redis_memory.acl.COMMANDS.
# KEYS and ARGV: _APPEND's with one message (mode '0'; ARGV 1 to 10 are read, the
# append's token is not), then the position, where the message is in ARGV, and how
# many vectors (0 or 1) come just before it.
_INSERT_AT = APPEND_FUNCTION + INDEX_FUNCTION + lua("history_insert_at.lua")

# Replaces the whole session with archived messages: what clear(section="all") deletes
# goes (the search copy included), then the messages are pushed to the archive.
# KEYS: messages, archive, quarantine, appends, meta. ARGV: the session stem ('' when
# the log is not searchable), the TTL in ms (0: none), then the messages.
_REPLACE_ARCHIVED = INDEX_FUNCTION + lua("history_replace_archived.lua")

_TOMBSTONE = b"\x00rmem:deleted\x00"


# Unbound, so that map() runs the check per message in C.
_has = dict.__contains__

APPEND = Script(_APPEND)
CLEAR_INDEXED = Script(_CLEAR_INDEXED)
DELETE_AT = Script(_DELETE_AT)
ARCHIVE_OLDEST = Script(_ARCHIVE_OLDEST)
QUARANTINE = Script(_QUARANTINE)
INSERT_AT = Script(_INSERT_AT)
REPLACE_ARCHIVED = Script(_REPLACE_ARCHIVED)


def _ts_of(raw: Any, loads: Callable[[Any], Any]) -> float | None:
    """The timestamp of a stored message, or None (also for a damaged one)."""
    try:
        message = loads(raw)
    except (ValueError, TypeError):
        return None
    ts = message.get("ts") if type(message) is dict else None
    return ts if isinstance(ts, int | float) and not isinstance(ts, bool) else None


def _append_token(ids: list[Any], idempotency_key: str | None) -> tuple[bytes, str]:
    """The token of an append, and what to advise when its outcome is unknown."""
    unknown = (
        "The append may or may not have been stored: a connection lost after it was sent "
        "leaves that unknown."
    )
    remembered = (
        f"the session remembers its last {REMEMBERED_APPENDS} appends, and a repeat of one "
        "stores nothing"
    )
    if idempotency_key is not None:
        if not isinstance(idempotency_key, str) or not idempotency_key:
            raise TypeError(f"idempotency_key must be a non-empty str, got {idempotency_key!r}")
        source = b"k" + idempotency_key.encode("utf-8", "surrogatepass")
        advice = f"{unknown} Repeating it with the same idempotency_key is safe: {remembered}."
    elif ids and None not in ids:
        source = b"i" + orjson.dumps(ids)
        advice = (
            f"{unknown} Repeating it with the same messages (the same ids) is safe: {remembered}."
        )
    else:
        generated = os.urandom(_TOKEN_BYTES).hex()
        source = b"k" + generated.encode()
        advice = (
            f"{unknown} To repeat it safely, pass idempotency_key={generated!r} to "
            "MessageLog.append with the same messages; through a LangChain or LlamaIndex "
            "class, which has no such argument, read the session first. Repeated otherwise, "
            "it could be stored twice. Messages that all have ids make every append safe to "
            f"repeat as it is: {remembered}."
        )
    return hashlib.blake2b(source, digest_size=_TOKEN_BYTES).digest(), advice


# What to say when a write that is not safe to repeat meets a lost connection.
_CHECK_FIRST = (
    "It may or may not have been applied (a connection lost after it was sent leaves that "
    "unknown): read the session before repeating it."
)


def _inserted(replies: list[Any]) -> int:
    metrics.messages("appended", 1)
    return int(replies[0])


class _MessageLogCore(Engine):
    """What the sync and async message logs share: keys, encoding, checks, plans."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        max_messages: int | None = None,
        publish_events: bool = True,
        refresh_archive: bool = False,
        searchable: bool = False,
        embedder: Embedder | None = None,
        dims: int | None = None,
    ) -> None:
        super().__init__(url, client, config)
        self.max_messages = None if max_messages is None else whole("max_messages", max_messages, 1)
        self.publish_events = bool(publish_events)
        # LlamaIndex's Memory keeps archived messages: their expiry then moves
        # with every append, so the archive never expires before the session.
        self.refresh_archive = bool(refresh_archive)
        self._loads = fast_loads(self._serializer)
        self._dumps = fast_dumps(self._serializer)
        self._ttl = self.config.ttl.messages
        self.searchable = bool(searchable)
        if embedder is not None and not self.searchable:
            raise ValueError("an embedder is for searching messages: pass searchable=True too")
        self.embedder = embedder
        self.dims = dims if dims is not None else getattr(embedder, "dimensions", None)
        if embedder is not None and self.dims is None:
            # One embedding tells the model's dimensions (dims= saves it), as MemoryStore does.
            self.dims = len(embedder.embed("dimensions"))
        self.index_name = self.keys.session_index()
        if self.searchable:
            self._create_index()

    def _replicated(self, plan: Plan[T]) -> Plan[T]:
        """The write plan, followed by ``WAIT`` when the config asks for replica acks."""
        required = self.config.replica_acks
        if not required:
            return plan
        timeout = self.config.replica_ack_timeout
        finish = plan.finish

        def confirmed(replies: list[Any]) -> T:
            result = finish(replies[:-1])
            acknowledged = int(replies[-1])
            if acknowledged < required:
                raise ReplicaAckError(
                    f"{plan.doing} ({plan.key}): the write is stored on the primary, but only "
                    f"{acknowledged} of {required} replica(s) confirmed it within {timeout:g} s "
                    "(replica_acks). It is not lost, so do not repeat it (it would be stored "
                    "twice), but a failover before a replica catches up could lose it; check "
                    "the replicas (INFO replication)",
                    result=result,
                    acknowledged=acknowledged,
                    required=required,
                )
            return result

        return replace(plan, finish=confirmed, then_wait=(required, max(1, round(timeout * 1000))))

    # -- encoding -----------------------------------------------------------------
    def _encode(self, messages: Sequence[Mapping[str, Any]]) -> tuple[list[bytes], list[Any]]:
        if isinstance(messages, Mapping | str | bytes) or not isinstance(messages, Sequence):
            raise TypeError(
                "messages must be a sequence (a list) of message mappings, "
                f"not {type(messages).__name__}"
            )
        now = time.time()
        dumps, limit = self._dumps, self.config.max_value_bytes
        encoded: list[bytes] = []
        ids: list[Any] = []
        for position, message in enumerate(messages):
            check_new(message, position)
            record = message if "ts" in message else {**message, "ts": now}
            try:
                data: bytes | None = dumps(record)
            except (TypeError, ValueError):  # SerializationError is both
                data = None
            if data is None or (limit is not None and len(data) > limit):
                # Encoded again by the checked serializer, whose error names the problem.
                try:
                    data = self._serializer.dumps(record)
                except SerializationError as exc:
                    raise SerializationError(f"message {position} cannot be stored: {exc}") from exc
                except ValueTooLargeError as exc:
                    raise ValueTooLargeError(f"message {position}: {exc}") from None
            encoded.append(data)
            ids.append(message.get("id"))
        return encoded, ids

    def _problem_of(self, raw: bytes | str) -> tuple[Any, tuple[str, str] | None]:
        """The decoded value of a stored entry and what is wrong with it (None: nothing)."""
        try:
            message = self._serializer.loads(raw)
        except SerializationError:
            shown = str(raw)[:80]
            return None, (
                "value",
                f"is not a stored message of redis-memory-backend: not JSON, it begins "
                f"{shown}; another program may write under this key prefix",
            )
        return message, stored_problem(message)

    def _decode(
        self, raw: bytes | str, key: str, index: int | None = None, *, hint: bool = True
    ) -> StoredMessage:
        message, problem = self._problem_of(raw)
        if problem is not None:
            raise damaged_message(self.keys, key, index, *problem, hint=hint)
        return message  # type: ignore[no-any-return]

    def _decoder(
        self, key: str, first: int | None = 0, *, hint: bool = True
    ) -> Callable[[Sequence[bytes | str] | None], list[StoredMessage]]:
        """Decodes a list read from ``key`` whose first entry is at index ``first``
        (None: the list's last entries, counted from the end)."""
        loads = self._loads

        def decode(raws: Sequence[bytes | str] | None) -> list[StoredMessage]:
            # The common case in one pass: orjson, then the field checks; anything
            # amiss goes through _decode, which names what is wrong and where.
            raws = raws or ()
            try:
                messages = list(map(loads, raws))
                valid = well_formed(messages)
            except (ValueError, TypeError):  # SerializationError is both
                valid = False
            if not valid:
                start = -len(raws) if first is None else first
                return [
                    self._decode(raw, key, start + position, hint=hint)
                    for position, raw in enumerate(raws)
                ]
            return messages  # type: ignore[return-value]

        return decode

    def _archive_key(self, session_id: str) -> str:
        return self.keys.session_archive(session_id)

    def _section_keys(self, session_id: str, section: Section) -> list[str]:
        if section == "active":
            return [self.keys.session_messages(session_id)]
        if section == "archived":
            return [self._archive_key(session_id)]
        if section == "all":
            return [self._archive_key(session_id), self.keys.session_messages(session_id)]
        raise ValueError(f"section must be 'active', 'archived' or 'all', got {section!r}")

    def _append_args(
        self,
        session_id: str,
        ids: list[Any],
        mode: str,
        user_id: str | None = None,
        vectors: Sequence[bytes] | None = None,
        token: bytes = b"",
    ) -> list[Any]:
        """The arguments of the append script before the messages themselves.

        ``mode``: ``"0"`` appends, ``"1"`` replaces the active messages, ``"2"``
        replaces them and clears the archive. ``token``: the append's (b"": none).
        """
        channel = self.keys.session_channel(session_id) if self.publish_events else ""
        event_head = b""
        if channel:
            event = {"event": "messages", "session_id": session_id, "added": len(ids)}
            event["ids"] = ids
            # The script appends the session's new length and the closing brace.
            event_head = orjson.dumps(event)[:-1] + b',"count":'
        index: list[Any] = ["", "", "", "", token, 0]
        if self.searchable:
            user = digest(_user(user_id)) if user_id is not None else ""
            stem = self.keys.session(session_id)
            index = [
                stem,
                session_id,
                digest(session_id),
                user,
                token,
                len(vectors or ()),
                *(vectors or ()),
            ]
        return [
            self._ttl.milliseconds or 0,
            self.max_messages or 0,
            channel,
            event_head,
            mode,
            "1" if self.refresh_archive else "0",
            *index,
        ]

    # -- plans ----------------------------------------------------------------------
    def _plan_append(
        self,
        session_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        replace: bool,
        clear_archive: bool = False,
        user_id: str | None = None,
        vectors: Sequence[bytes] | None = None,
        idempotency_key: str | None = None,
    ) -> Plan[int]:
        key = self.keys.session_messages(session_id)
        encoded, ids = self._encode(messages)
        if not encoded:
            if replace:
                section: Section = "all" if clear_archive else "active"
                cleared = self._plan_clear(session_id, section)
                cleared.finish = lambda _: 0
                return self._replicated(cleared)
            return Plan("counting messages", key, lambda r: int(r[0]), [("LLEN", key)])
        if replace:
            # Replacing is safe to repeat as it is; it forgets the appends' tokens.
            mode, token, advice = ("2" if clear_archive else "1"), b"", ""
        else:
            mode = "0"
            token, advice = _append_token(ids, idempotency_key)
        args = [*self._append_args(session_id, ids, mode, user_id, vectors, token), *encoded]
        keys = [
            key,
            self._archive_key(session_id),
            self.keys.session_meta(session_id),
            self.keys.session_appends(session_id),
        ]
        doing = "replacing messages" if replace else "appending messages"
        count = len(encoded)

        def finish(replies: list[Any]) -> int:
            length, trimmed = replies[0]
            metrics.messages("appended", count)
            if int(trimmed):
                metrics.trimmed("window")
            return int(length)

        plan = Plan(doing, key, finish, script=(APPEND, keys, args), advice=advice)
        return self._replicated(plan)

    def _plan_insert(
        self,
        session_id: str,
        index: int,
        message: Mapping[str, Any],
        user_id: str | None,
        vectors: Sequence[bytes] | None,
    ) -> Plan[int]:
        _check_index(index)
        plan = self._plan_append(
            session_id, [message], replace=False, user_id=user_id, vectors=vectors
        )
        assert plan.script is not None  # one message: the append script
        _, keys, args = plan.script
        # The message is the append's last argument, its vector (if any) just before.
        script = (INSERT_AT, keys, [*args, index, len(args), len(vectors or ())])
        # No token (an insert is not remembered): a lost connection leaves it unknown.
        return replace(
            plan,
            doing="inserting a message",
            script=script,
            advice=_CHECK_FIRST,
            finish=_inserted,
        )

    def _plan_append_archived(
        self, session_id: str, messages: Sequence[Mapping[str, Any]]
    ) -> Plan[int]:
        key = self._archive_key(session_id)
        encoded, _ = self._encode(messages)
        if not encoded:
            return Plan("counting messages", key, lambda r: int(r[0]), [("LLEN", key)])
        commands: list[tuple[Any, ...]] = [("RPUSH", key, *encoded)]
        if self._ttl.expires:
            commands.append(("PEXPIRE", key, self._ttl.milliseconds))
        return self._replicated(
            Plan(
                "archiving messages",
                key,
                lambda r: int(r[0]),
                commands,
                transaction=True,
                advice=_CHECK_FIRST,
            )
        )

    def _plan_replace_archived(
        self, session_id: str, messages: Sequence[Mapping[str, Any]]
    ) -> Plan[int]:
        encoded, _ = self._encode(messages)
        archive = self._archive_key(session_id)
        keys = [
            self.keys.session_messages(session_id),
            archive,
            self.keys.session_quarantine(session_id),
            self.keys.session_appends(session_id),
            self.keys.session_meta(session_id),
        ]
        stem = self.keys.session(session_id) if self.searchable else ""
        args = [stem, self._ttl.milliseconds or 0, *encoded]
        # Safe to repeat as it is: the session ends the same.
        plan = Plan(
            "replacing archived messages",
            archive,
            lambda r: int(r[0]),
            script=(REPLACE_ARCHIVED, keys, args),
        )
        return self._replicated(plan)

    def _plan_messages(
        self,
        session_id: str,
        last: int | None,
        offset: int,
        limit: int | None,
        section: Section,
    ) -> Plan[list[StoredMessage]]:
        if last is not None:
            whole("last", last, 1)
            if offset or limit is not None:
                raise ValueError("use either last= or offset=/limit=, not both")
            start, stop = -last, -1
        else:
            whole("offset", offset, 0)
            stop = -1 if limit is None else offset + whole("limit", limit, 1) - 1
            start = offset
        keys = self._section_keys(session_id, section)
        if len(keys) == 1:
            commands: list[tuple[Any, ...]] = [("LRANGE", keys[0], start, stop)]
            decode = self._decoder(keys[0], None if last is not None else start)
            finish: Callable[[list[Any]], list[StoredMessage]] = lambda r: decode(r[0])  # noqa: E731
        else:
            # Archived then active, as one sequence: page across both lists.
            commands = [("LRANGE", key, 0, -1) for key in keys]
            end = None if stop == -1 else stop + 1

            def finish(replies: list[Any]) -> list[StoredMessage]:
                tagged = [
                    (raw, key, index)
                    for key, raws in zip(keys, replies, strict=False)
                    for index, raw in enumerate(raws)
                ]
                return [self._decode(raw, key, index) for raw, key, index in tagged[start:end]]

        if self._ttl.refresh_on_read:
            commands += [("PEXPIRE", key, self._ttl.milliseconds) for key in keys]

        def counted(replies: list[Any]) -> list[StoredMessage]:
            read = finish(replies)
            metrics.messages("read", len(read))
            return read

        return Plan("reading messages", keys[-1], counted, commands)

    def _plan_count(self, session_id: str, section: Section) -> Plan[int]:
        keys = self._section_keys(session_id, section)
        commands = [("LLEN", key) for key in keys]
        return Plan("counting messages", keys[-1], lambda r: sum(int(n) for n in r), commands)

    def _plan_info(self, session_id: str) -> Plan[SessionInfo | None]:
        active, archived = self.keys.session_messages(session_id), self._archive_key(session_id)
        commands: list[tuple[Any, ...]] = [
            ("LLEN", active),
            ("LLEN", archived),
            ("LINDEX", archived, 0),
            ("LINDEX", active, 0),
            ("LINDEX", active, -1),
            ("LINDEX", archived, -1),
        ]

        def finish(replies: list[Any]) -> SessionInfo | None:
            if not replies[0] and not replies[1]:
                return None
            # Times only: a damaged entry gives none (reading it names the damage).
            first_archived, first_active, last_active, last_archived = replies[2:]
            first = first_archived if first_archived is not None else first_active
            last = last_active if last_active is not None else last_archived
            return SessionInfo(
                session_id=session_id,
                message_count=int(replies[0]),
                archived_count=int(replies[1]),
                created=None if first is None else _ts_of(first, self._loads),
                updated=None if last is None else _ts_of(last, self._loads),
            )

        return Plan("reading session info", active, finish, commands)

    def _plan_pop_last(self, session_id: str) -> Plan[StoredMessage | None]:
        key = self.keys.session_messages(session_id)
        return Plan(
            "deleting the last message",
            key,
            lambda r: None if r[0] is None else self._decode(r[0], key, -1, hint=False),
            [("RPOP", key)],
            advice=_CHECK_FIRST,
        )

    def _plan_delete_at(self, session_id: str, index: int) -> Plan[StoredMessage | None]:
        _check_index(index)
        key = self.keys.session_messages(session_id)
        return Plan(
            "deleting a message",
            key,
            lambda r: None if r[0] is None else self._decode(r[0], key, index, hint=False),
            script=(DELETE_AT, [key], [index, _TOMBSTONE]),
            advice=_CHECK_FIRST,
        )

    def _plan_delete_oldest(self, session_id: str, n: int) -> Plan[list[StoredMessage]]:
        key = self.keys.session_messages(session_id)
        decode = self._decoder(key, hint=False)
        return Plan(
            "deleting the oldest messages",
            key,
            lambda r: decode(r[0]),
            [("LPOP", key, whole("n", n, 1))],
            advice=_CHECK_FIRST,
        )

    def _plan_archive_oldest(self, session_id: str, n: int) -> Plan[list[StoredMessage]]:
        keys = [self.keys.session_messages(session_id), self._archive_key(session_id)]
        # Moved entries are at the end of the archive; a damaged one is named there.
        decode = self._decoder(keys[1], None)
        args = [whole("n", n, 1), self._ttl.milliseconds or 0]
        return self._replicated(
            Plan(
                "archiving messages",
                keys[0],
                lambda r: decode(r[0]),
                script=(ARCHIVE_OLDEST, keys, args),
                advice=_CHECK_FIRST,
            )
        )

    def _plan_take(self, session_id: str) -> Plan[list[StoredMessage]]:
        active, archived = self.keys.session_messages(session_id), self._archive_key(session_id)
        decode = self._decoder(active, hint=False)
        extra = self.keys.session_appends(session_id), self.keys.session_quarantine(session_id)
        return Plan(
            "deleting a session",
            active,
            lambda r: decode(r[0]),
            [("LRANGE", active, 0, -1), ("UNLINK", active, archived, *extra)],
            transaction=True,
            advice=_CHECK_FIRST,
        )

    def _plan_trim(self, session_id: str, keep_last: int) -> Plan[int]:
        key = self.keys.session_messages(session_id)
        keep = whole("keep_last", keep_last, 0)
        last = ("LTRIM", key, -keep, -1) if keep else ("DEL", key)

        def finish(replies: list[Any]) -> int:
            metrics.trimmed("trim")
            return max(0, int(replies[0]) - keep)

        return Plan("trimming messages", key, finish, [("LLEN", key), last], transaction=True)

    def _plan_clear(self, session_id: str, section: Section) -> Plan[int]:
        """Deletes the section's lists (``all``: the quarantine list too) and, unless
        only the archive goes, the appends' tokens; counts the lists deleted."""
        keys = self._section_keys(session_id, section)
        if section == "all":
            keys.append(self.keys.session_quarantine(session_id))
        if section == "archived":
            return Plan("clearing a session", keys[0], lambda r: int(r[0]), [("UNLINK", *keys)])
        appends, main = self.keys.session_appends(session_id), keys[1 if section == "all" else 0]
        if self.searchable:
            # The search copy of the messages goes with them.
            meta, stem = self.keys.session_meta(session_id), self.keys.session(session_id)
            script = (CLEAR_INDEXED, [meta, appends, *keys], [stem])
            return Plan("clearing a session", main, lambda r: int(r[0]), script=script)
        # Two commands (the tokens are not counted), one round trip.
        commands: list[tuple[Any, ...]] = [("UNLINK", *keys), ("UNLINK", appends)]
        return Plan("clearing a session", main, lambda r: int(r[0]), commands)

    def _plan_find_damaged(
        self, session_id: str, check: Callable[[StoredMessage], tuple[str, str] | None] | None
    ) -> Plan[list[DamagedEntry]]:
        sections: list[tuple[Literal["active", "archived"], str]] = [
            ("archived", self._archive_key(session_id)),
            ("active", self.keys.session_messages(session_id)),
        ]

        def finish(replies: list[Any]) -> list[DamagedEntry]:
            found = []
            for (section, _), raws in zip(sections, replies, strict=True):
                for index, raw in enumerate(raws):
                    message, problem = self._problem_of(raw)
                    if problem is None and check is not None:
                        problem = check(message)
                    if problem is not None:
                        data = (
                            raw
                            if isinstance(raw, bytes)
                            else raw.encode("utf-8", "surrogateescape")
                        )
                        found.append(DamagedEntry(session_id, section, index, *problem, data))
            return found

        commands = [("LRANGE", key, 0, -1) for _, key in sections]
        return Plan("checking a session", sections[1][1], finish, commands)

    def _plan_quarantine(
        self, session_id: str, entries: Sequence[DamagedEntry]
    ) -> Plan[list[DamagedEntry]]:
        args: list[Any] = [_TOMBSTONE]
        for entry in entries:
            if entry.session_id != session_id:
                raise ValueError(
                    f"an entry of session {entry.session_id!r} cannot be moved out of "
                    f"{session_id!r}"
                )
            args += [1 if entry.section == "active" else 2, entry.index, entry.raw]
        keys = [
            self.keys.session_messages(session_id),
            self._archive_key(session_id),
            self.keys.session_quarantine(session_id),
        ]
        if not entries:
            return Plan("quarantining messages", keys[2], lambda r: [], [("EXISTS", keys[2])])

        def finish(replies: list[Any]) -> list[DamagedEntry]:
            return [entry for entry, moved in zip(entries, replies[0], strict=True) if int(moved)]

        return self._replicated(
            Plan(
                "quarantining messages",
                keys[0],
                finish,
                script=(QUARANTINE, keys, args),
                advice="Repeating it is safe: an entry moved already is no longer found.",
            )
        )

    def _plan_quarantined(self, session_id: str) -> Plan[list[bytes]]:
        key = self.keys.session_quarantine(session_id)
        return Plan(
            "reading quarantined messages", key, lambda r: list(r[0]), [("LRANGE", key, 0, -1)]
        )

    def _plan_sessions(self, cursor: int, count: int) -> Plan[tuple[int, list[str]]]:
        pattern = self.keys.session_keys_pattern()
        command = ("SCAN", whole("cursor", cursor, 0), "MATCH", pattern, "COUNT", count)
        whole("count", count, 1)

        def finish(replies: list[Any]) -> tuple[int, list[str]]:
            next_cursor, raw_keys = replies[0]
            # The tokens of past appends alone are no session (clear leaves none).
            ids = dict.fromkeys(
                self.keys.session_id_of(raw)
                for raw in raw_keys
                if not (
                    raw.endswith(b":appends")
                    if isinstance(raw, bytes)
                    else raw.endswith(":appends")
                )
            )
            return int(next_cursor), list(ids)

        return Plan("listing sessions", pattern, finish, [command])

    # -- searching messages -------------------------------------------------------------
    def _create_index(self) -> None:
        from redisvl.index import SearchIndex
        from redisvl.schema import IndexSchema

        with redis_errors("checking for the Search module", self.index_name, self._url):
            require_search(self._clients.sync, "searching messages (searchable=True)")
        fields: list[dict[str, Any]] = [
            {"name": "sidd", "type": "tag"},
            {"name": "user", "type": "tag"},
            {"name": "text", "type": "text"},
            {"name": "pos", "type": "numeric"},
        ]
        if self.dims is not None:
            attrs = {"dims": self.dims, "distance_metric": "cosine", "algorithm": "hnsw"}
            fields.append(
                {"name": "vec", "type": "vector", "attrs": {**attrs, "datatype": "float32"}}
            )
        schema = {
            "index": {
                "name": self.index_name,
                "prefix": self.keys.session_index_prefix(),
                "storage_type": "hash",
            },
            "fields": fields,
        }
        index = SearchIndex(IndexSchema.from_dict(schema), redis_client=self._clients.sync)
        with redis_errors("creating the message search index", self.index_name, self._url):
            if not index.exists():
                with index_exists_is_fine():
                    index.create(overwrite=False)

    def _texts(self, messages: Sequence[Mapping[str, Any]]) -> list[str] | None:
        """The text of each message to embed, or None when nothing is embedded."""
        if self.embedder is None:
            return None
        if isinstance(messages, Mapping | str | bytes) or not isinstance(messages, Sequence):
            return None  # _encode names the mistake
        return [message_text(m) if isinstance(m, Mapping) else "" for m in messages]

    def _vector(self, vector: Sequence[float]) -> bytes:
        data = np.asarray(vector, dtype=np.float32)
        if data.shape != (self.dims,):
            raise ValueError(
                f"the embedder gave {data.size} dimensions; the log was built for dims={self.dims}"
            )
        return data.tobytes()

    def _search_flow(
        self,
        query: str,
        session_id: str | None,
        user_id: str | None,
        mode: Literal["vector", "text", "hybrid"] | None,
        limit: int,
    ) -> Generator[Any, Any, list[MessageHit]]:
        if not self.searchable:
            raise ValueError(
                "this message log keeps no search copy: build it with searchable=True (on a "
                "Redis with the Search module) to search messages"
            )
        whole("limit", limit, 1)
        mode = mode or ("vector" if self.embedder is not None else "text")
        if mode not in ("vector", "text", "hybrid"):
            raise ValueError(f"mode is 'vector', 'text' or 'hybrid', got {mode!r}")
        if mode != "text" and self.embedder is None:
            raise ValueError(f"{mode} search needs an embedder; build the log with embedder=")
        clauses = []
        if session_id is not None:
            self.keys.session(session_id)
            clauses.append(f"@sidd:{{{digest(session_id)}}}")
        if user_id is not None:
            clauses.append(f"@user:{{{digest(_user(user_id))}}}")
        where = " ".join(clauses) or "*"
        words = query_words(query)
        commands: list[tuple[Any, ...]] = []
        if mode != "text":
            vector = self._vector((yield _EmbedQuery(query)))
            commands.append(
                (
                    "FT.SEARCH", self.index_name, f"({where})=>[KNN {limit} @vec $vector AS dist]",
                    "PARAMS", 2, "vector", vector,
                    "RETURN", 6, *_HIT_FIELDS, "dist",
                    "SORTBY", "dist", "ASC", "LIMIT", 0, limit, "DIALECT", 2,
                )
            )  # fmt: skip
        if mode != "vector" and words:
            text = text_query(words, where)
            commands.append(
                (
                    "FT.SEARCH", self.index_name, text, "SCORER", SCORER, "WITHSCORES",
                    "RETURN", 5, *_HIT_FIELDS, "LIMIT", 0, limit, "DIALECT", 2,
                )
            )  # fmt: skip
        if not commands:
            return []

        def finish(replies: list[Any]) -> list[list[tuple[MessageHit, float]]]:
            lists = []
            for command, reply in zip(commands, replies, strict=True):
                if "WITHSCORES" in command:
                    lists.append([(_hit(raw), score) for raw, _, score in scored_results(reply)])
                else:
                    lists.append(
                        [(_hit(raw), 1 - float(raw[b"dist"]) / 2) for raw in search_results(reply)]
                    )
            return lists

        lists = yield Plan("searching messages", self.index_name, finish, commands)
        if len(lists) == 2:
            ranked = fuse(lists, lambda hit: (hit.session_id, hit.position))
        else:
            ranked = relative(lists[0], "vector" if mode == "vector" else "text")
        return [replace(hit, score=score) for hit, score in ranked[:limit]]


_HIT_FIELDS = ("session", "pos", "role", "text", "ts")


@dataclass(frozen=True, slots=True)
class MessageHit:
    """A message found by :meth:`MessageLog.search_messages`.

    ``position`` counts the session's appends from 1 (windows and trims do not
    renumber it); ``score`` is higher for a better match.
    """

    session_id: str
    position: int
    role: str
    text: str
    ts: float | None
    score: float = 0.0


@dataclass(frozen=True, slots=True)
class _EmbedQuery:
    text: str


def _hit(raw: Mapping[bytes, Any]) -> MessageHit:
    return MessageHit(
        session_id=raw[b"session"].decode(),
        position=int(raw[b"pos"]),
        role=raw[b"role"].decode(),
        text=raw[b"text"].decode(),
        ts=float(raw[b"ts"]) or None,
    )


def _user(user_id: str) -> str:
    if not isinstance(user_id, str) or not user_id:
        raise ValueError(f"a user id is a non-empty str, got {user_id!r}")
    return user_id


class MessageLog(_MessageLogCore, SyncRunner):
    """The message log, sync. :class:`AsyncMessageLog` mirrors it name for name.

    Args:
        url, client, config: Where the data lives (see :class:`RedisClients`).
        max_messages: Keep only the newest N messages of each session (a window);
            ``None`` keeps all.
        publish_events: Announce each append on ``{prefix}:events:session:{<id>}``
            as JSON ``{"event": "messages", "session_id", "added", "ids", "count"}``
            (ids and counts, never content).
        refresh_archive: Renew the archive's expiry on every append (for stores
            that archive, like LlamaIndex's ``Memory``).

    Example:
        >>> log = MessageLog()
        >>> log.append("s1", [{"role": "user", "content": "Hello"},
        ...                   {"role": "assistant", "content": "Hi!"}])
        2
        >>> [m["content"] for m in log.messages("s1", last=1)]
        ['Hi!']
    """

    def _vectors(self, messages: Sequence[Mapping[str, Any]]) -> list[bytes] | None:
        texts = self._texts(messages)
        if texts is None:
            return None
        assert self.embedder is not None
        return [self._vector(self.embedder.embed(t)) if t else b"" for t in texts]

    def append(
        self,
        session_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        """Append messages in order, atomically; returns the session's new length.

        In a searchable log, ``user_id`` lets :meth:`search_messages` find them
        among all of that user's sessions.

        Safe to repeat: an append whose messages all have ids is known by those
        ids, or by ``idempotency_key`` when given (else by a token of the call,
        which redis-py's retries reuse). Repeating one of the session's last
        :data:`REMEMBERED_APPENDS` appends stores nothing and returns the
        session's length. When the connection fails after the append was sent,
        :class:`~redis_memory.errors.RedisUnavailableError` says so and how to
        repeat it safely.
        """
        vectors = self._vectors(messages)
        plan = self._plan_append(
            session_id,
            messages,
            replace=False,
            user_id=user_id,
            vectors=vectors,
            idempotency_key=idempotency_key,
        )
        return self._run(plan)

    def insert(
        self,
        session_id: str,
        index: int,
        message: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> int:
        """Insert one message before the one at ``index``, as ``list.insert`` does, atomically.

        Past the end it is appended; a negative index counts from the end. TTL,
        window, search copy and event are :meth:`append`'s. Returns the new length.
        """
        vectors = self._vectors([message])
        return self._run(self._plan_insert(session_id, index, message, user_id, vectors))

    def search_messages(
        self,
        query: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        mode: Literal["vector", "text", "hybrid"] | None = None,
        limit: int = 10,
    ) -> list[MessageHit]:
        """Messages matching ``query``, best first: of one session, of a user's
        sessions, or of all (a searchable log only).

        ``mode``: ``"text"`` (BM25 over each message's text; the default without
        an embedder), ``"vector"`` (the default with one) or ``"hybrid"``.
        """

        def step(item: Any) -> Any:
            if isinstance(item, _EmbedQuery):
                assert self.embedder is not None
                return self.embedder.embed(item.text)
            return self._run(item)

        return drive(self._search_flow(query, session_id, user_id, mode, limit), step)

    def replace(
        self,
        session_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        clear_archive: bool = False,
        user_id: str | None = None,
    ) -> int:
        """Replace all active messages of the session at once; returns the new length.

        With ``clear_archive``, the archived messages go in the same atomic step.
        """
        vectors = self._vectors(messages)
        plan = self._plan_append(
            session_id,
            messages,
            replace=True,
            clear_archive=clear_archive,
            user_id=user_id,
            vectors=vectors,
        )
        return self._run(plan)

    def take(self, session_id: str) -> list[StoredMessage]:
        """Delete the whole session (archive included) and return its active messages."""
        return self._run(self._plan_take(session_id))

    def append_archived(self, session_id: str, messages: Sequence[Mapping[str, Any]]) -> int:
        """Append messages straight to the archive; returns the archive's length."""
        return self._run(self._plan_append_archived(session_id, messages))

    def replace_archived(self, session_id: str, messages: Sequence[Mapping[str, Any]]) -> int:
        """Make ``messages`` the session's archive, with no active messages; returns their count.

        Everything :meth:`clear` deletes goes (active and archived messages, the
        quarantine list, the appends' tokens and the search copy), and the
        messages are stored as archived, in one atomic round trip: a reader sees
        the old session or the new one, never neither. A message that cannot be
        stored raises before anything is sent, so the session is left as it was.
        """
        return self._run(self._plan_replace_archived(session_id, messages))

    def messages(
        self,
        session_id: str,
        *,
        last: int | None = None,
        offset: int = 0,
        limit: int | None = None,
        section: Section = "active",
    ) -> list[StoredMessage]:
        """Messages oldest first: all, the ``last`` N, or a page (``offset``, ``limit``).

        ``section`` picks the active messages (default), the archived ones, or
        ``"all"`` (archived, then active). A sliding TTL is renewed in the same
        round trip.
        """
        return self._run(self._plan_messages(session_id, last, offset, limit, section))

    def count(self, session_id: str, *, section: Section = "active") -> int:
        """How many messages the session holds."""
        return self._run(self._plan_count(session_id, section))

    def info(self, session_id: str) -> SessionInfo | None:
        """Counts and first/last timestamps of a session; None if it holds nothing."""
        return self._run(self._plan_info(session_id))

    def pop_last(self, session_id: str) -> StoredMessage | None:
        """Remove and return the newest message (None if the session is empty)."""
        return self._run(self._plan_pop_last(session_id))

    def delete_at(self, session_id: str, index: int) -> StoredMessage | None:
        """Remove and return the message at ``index`` (negative counts from the end).

        The others keep their order. None when there is no such message.
        """
        return self._run(self._plan_delete_at(session_id, index))

    def delete_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        """Remove and return the ``n`` oldest active messages."""
        return self._run(self._plan_delete_oldest(session_id, n))

    def archive_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        """Move the ``n`` oldest active messages to the archive, atomically; returns them."""
        return self._run(self._plan_archive_oldest(session_id, n))

    def trim(self, session_id: str, keep_last: int) -> int:
        """Keep only the newest ``keep_last`` messages; returns how many were removed."""
        return self._run(self._plan_trim(session_id, keep_last))

    def clear(self, session_id: str, *, section: Section = "all") -> int:
        """Delete the session's messages (by default also its archive)."""
        return self._run(self._plan_clear(session_id, section))

    def sessions(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        """One page of session ids by ``SCAN``: ``(next_cursor, ids)``; 0 means done."""
        return self._run(self._plan_sessions(cursor, count))

    def iter_sessions(self, *, count: int = 500) -> Iterator[str]:
        """Every session id under the prefix, each once, fetched page by page."""
        return each_once(lambda cursor: self.sessions(cursor=cursor, count=count))

    def find_damaged(
        self,
        session_id: str,
        *,
        check: Callable[[StoredMessage], tuple[str, str] | None] | None = None,
    ) -> list[DamagedEntry]:
        """The session's entries (archived and active) that cannot be read, in one round trip.

        An entry is damaged when it is not a stored message or breaks a rule of
        :func:`~redis_memory.messages.stored_problem`, or when ``check`` (given a
        well-formed message) returns ``(field, problem)``: e.g. a framework that cannot rebuild it.
        """
        return self._run(self._plan_find_damaged(session_id, check))

    def quarantine(self, session_id: str, entries: Sequence[DamagedEntry]) -> list[DamagedEntry]:
        """Move entries found by :meth:`find_damaged`, unchanged, to the session's
        quarantine list (``{prefix}:session:{<id>}:quarantine``), atomically.

        Returns the entries moved: one no longer in the session (removed since it
        was found) is left out. The quarantine list takes the session's TTL.
        """
        return self._run(self._plan_quarantine(session_id, entries))

    def quarantined(self, session_id: str) -> list[bytes]:
        """The entries moved to the session's quarantine list, oldest first, as stored."""
        return self._run(self._plan_quarantined(session_id))


@twin_of(MessageLog)
class AsyncMessageLog(_MessageLogCore, AsyncRunner):
    """The message log on ``redis.asyncio``: :class:`MessageLog`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.history import AsyncMessageLog
        >>> async def main():
        ...     log = AsyncMessageLog()
        ...     await log.append("s2", [{"role": "user", "content": "Hello"}])
        ...     return [m["content"] for m in await log.messages("s2")]
        >>> asyncio.run(main())
        ['Hello']
    """

    async def _vectors(self, messages: Sequence[Mapping[str, Any]]) -> list[bytes] | None:
        texts = self._texts(messages)
        if texts is None:
            return None
        assert self.embedder is not None
        return [self._vector(await self.embedder.aembed(t)) if t else b"" for t in texts]

    async def append(
        self,
        session_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        user_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> int:
        vectors = await self._vectors(messages)
        plan = self._plan_append(
            session_id,
            messages,
            replace=False,
            user_id=user_id,
            vectors=vectors,
            idempotency_key=idempotency_key,
        )
        return await self._run(plan)

    async def insert(
        self,
        session_id: str,
        index: int,
        message: Mapping[str, Any],
        *,
        user_id: str | None = None,
    ) -> int:
        vectors = await self._vectors([message])
        return await self._run(self._plan_insert(session_id, index, message, user_id, vectors))

    async def search_messages(
        self,
        query: str,
        *,
        session_id: str | None = None,
        user_id: str | None = None,
        mode: Literal["vector", "text", "hybrid"] | None = None,
        limit: int = 10,
    ) -> list[MessageHit]:
        async def step(item: Any) -> Any:
            if isinstance(item, _EmbedQuery):
                assert self.embedder is not None
                return await self.embedder.aembed(item.text)
            return await self._run(item)

        flow = self._search_flow(query, session_id, user_id, mode, limit)
        return await drive_async(flow, step)

    async def replace(
        self,
        session_id: str,
        messages: Sequence[Mapping[str, Any]],
        *,
        clear_archive: bool = False,
        user_id: str | None = None,
    ) -> int:
        vectors = await self._vectors(messages)
        plan = self._plan_append(
            session_id,
            messages,
            replace=True,
            clear_archive=clear_archive,
            user_id=user_id,
            vectors=vectors,
        )
        return await self._run(plan)

    async def take(self, session_id: str) -> list[StoredMessage]:
        return await self._run(self._plan_take(session_id))

    async def append_archived(self, session_id: str, messages: Sequence[Mapping[str, Any]]) -> int:
        return await self._run(self._plan_append_archived(session_id, messages))

    async def replace_archived(self, session_id: str, messages: Sequence[Mapping[str, Any]]) -> int:
        """:meth:`MessageLog.replace_archived` on ``redis.asyncio``: one atomic round trip."""
        return await self._run(self._plan_replace_archived(session_id, messages))

    async def messages(
        self,
        session_id: str,
        *,
        last: int | None = None,
        offset: int = 0,
        limit: int | None = None,
        section: Section = "active",
    ) -> list[StoredMessage]:
        return await self._run(self._plan_messages(session_id, last, offset, limit, section))

    async def count(self, session_id: str, *, section: Section = "active") -> int:
        return await self._run(self._plan_count(session_id, section))

    async def info(self, session_id: str) -> SessionInfo | None:
        return await self._run(self._plan_info(session_id))

    async def pop_last(self, session_id: str) -> StoredMessage | None:
        return await self._run(self._plan_pop_last(session_id))

    async def delete_at(self, session_id: str, index: int) -> StoredMessage | None:
        return await self._run(self._plan_delete_at(session_id, index))

    async def delete_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        return await self._run(self._plan_delete_oldest(session_id, n))

    async def archive_oldest(self, session_id: str, n: int) -> list[StoredMessage]:
        return await self._run(self._plan_archive_oldest(session_id, n))

    async def trim(self, session_id: str, keep_last: int) -> int:
        return await self._run(self._plan_trim(session_id, keep_last))

    async def clear(self, session_id: str, *, section: Section = "all") -> int:
        return await self._run(self._plan_clear(session_id, section))

    async def sessions(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        return await self._run(self._plan_sessions(cursor, count))

    def iter_sessions(self, *, count: int = 500) -> AsyncIterator[str]:
        return each_once_async(lambda cursor: self.sessions(cursor=cursor, count=count))

    async def find_damaged(
        self,
        session_id: str,
        *,
        check: Callable[[StoredMessage], tuple[str, str] | None] | None = None,
    ) -> list[DamagedEntry]:
        return await self._run(self._plan_find_damaged(session_id, check))

    async def quarantine(
        self, session_id: str, entries: Sequence[DamagedEntry]
    ) -> list[DamagedEntry]:
        return await self._run(self._plan_quarantine(session_id, entries))

    async def quarantined(self, session_id: str) -> list[bytes]:
        return await self._run(self._plan_quarantined(session_id))


def message_log_twins(**options: Any) -> tuple[MessageLog, AsyncMessageLog]:
    """A :class:`MessageLog` and its :class:`AsyncMessageLog` twin, built from
    :class:`MessageLog`'s ``options`` (``url``/``client``/``config``,
    ``max_messages``, ``searchable``, ``embedder``, ``dims``...).

    The framework faces, which serve both kinds of caller, take theirs here. An
    ``embedder`` implies ``searchable=True``. A searchable log checks for the
    Search module (and creates the message index) and finds the embedder's
    dimensions (one embedding, unless ``dims`` or ``embedder.dimensions`` says)
    once, for both twins.
    """
    if options.get("embedder") is not None:
        options["searchable"] = True
    sync = MessageLog(**options)
    # The same settings, checks and connection pool: the construction is not repeated.
    twin = AsyncMessageLog.__new__(AsyncMessageLog)
    twin.__dict__.update(sync.__dict__)
    return sync, twin


def _check_index(index: Any) -> None:
    """A message's position: an int, counted from the end when negative."""
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
