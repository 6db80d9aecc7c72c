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

:class:`MessageLog` is the sync engine and :class:`AsyncMessageLog` its native
``redis.asyncio`` twin, with the same method names; both share every piece of
key building, encoding and validation in :class:`_MessageLogCore`.

Example:
    >>> from redis_memory.history import MessageLog
    >>> log = MessageLog(url="embedded")                       # doctest: +SKIP
    >>> log.append("ana", [{"role": "user", "content": "hi"}])  # doctest: +SKIP
    1
    >>> log.messages("ana")[0]["content"]                      # doctest: +SKIP
    'hi'
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from itertools import repeat
from typing import Any, Literal, NotRequired, Required, TypedDict, TypeVar

import numpy as np
import orjson

from ._checks import whole
from ._paging import each_once, each_once_async
from ._plan import Plan, Script, drive, drive_async, execute, execute_async
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
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .embeddings import Embedder
from .errors import ReplicaAckError, SerializationError, ValueTooLargeError
from .keys import KeySchema
from .serialization import fast_dumps, fast_loads
from .server import require_search

Section = Literal["active", "archived", "all"]
T = TypeVar("T")


class ToolCall(TypedDict):
    """A tool call requested by the assistant: the same shape in both frameworks."""

    id: str | None
    name: str
    args: dict[str, Any]


class StoredMessage(TypedDict, total=False):
    """The neutral stored form of one message.

    ``role`` is ``user``, ``assistant``, ``system``, ``developer``, ``tool``,
    ``function`` or a custom role; ``content`` is text or a list of content
    blocks (``{"type": "text", "text": ...}``, ``{"type": "image", ...}``).
    ``ts`` is set when the message is appended (seconds since the epoch).
    ``lc`` and ``li`` hold LangChain's and LlamaIndex's own fields, so a message
    comes back exactly as its framework wrote it; the other framework reads the
    neutral fields.
    """

    role: Required[str]
    content: Required[str | list[Any]]
    name: NotRequired[str]
    tool_calls: NotRequired[list[ToolCall]]
    tool_call_id: NotRequired[str]
    id: NotRequired[str]
    ts: NotRequired[float]
    lc: NotRequired[dict[str, Any]]
    li: NotRequired[dict[str, Any]]


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
APPEND_FUNCTION = """
local function append_messages(messages, archive, ttl, window, channel, head, mode,
                               refresh_archive, values, first)
  if mode ~= '0' then redis.call('DEL', messages) end
  if mode == '2' then redis.call('DEL', archive) end
  local n = 0
  for i = first, #values, 1000 do
    n = redis.call('RPUSH', messages, unpack(values, i, math.min(i + 999, #values)))
  end
  if window > 0 and n > window then
    redis.call('LTRIM', messages, -window, -1)
    n = window
  end
  if ttl > 0 then
    redis.call('PEXPIRE', messages, ttl)
    if refresh_archive == '1' then redis.call('PEXPIRE', archive, ttl) end
  end
  if channel ~= '' then redis.call('PUBLISH', channel, head .. n .. '}') end
  return n
end
"""

# A searchable log also keeps each appended message as a hash of its text, role
# and position (``...:m:<position>``, counted in the session's meta hash), which
# the message index covers. Shared with the checkpoint saver's mirror.
INDEX_FUNCTION = """
local function unindex(meta, stem)
  local last = tonumber(redis.call('HGET', meta, 'seq') or '0')
  for i = 1, last do redis.call('UNLINK', stem .. ':m:' .. i) end
  redis.call('UNLINK', meta)
end
local function index_messages(meta, stem, ttl, session, sidd, user, values, first, vectors)
  local count = #values - first + 1
  if count <= 0 then return end
  local position = redis.call('HINCRBY', meta, 'seq', count) - count
  if ttl > 0 then redis.call('PEXPIRE', meta, ttl) end
  for i = first, #values do
    position = position + 1
    local text, role, ts = '', '', 0
    local ok, message = pcall(cjson.decode, values[i])
    if ok and type(message) == 'table' then
      if type(message.role) == 'string' then role = message.role end
      if type(message.ts) == 'number' then ts = message.ts end
      if type(message.content) == 'string' then
        text = message.content
      elseif type(message.content) == 'table' then
        local parts = {}
        for _, block in ipairs(message.content) do
          if type(block) == 'table' and type(block.text) == 'string' then
            parts[#parts + 1] = block.text
          end
        end
        text = table.concat(parts, ' ')
      end
    end
    local key = stem .. ':m:' .. position
    redis.call('HSET', key, 'session', session, 'sidd', sidd, 'user', user, 'role', role,
      'text', text, 'pos', position, 'ts', ts)
    if vectors and #vectors[i - first + 1] > 0 then
      redis.call('HSET', key, 'vec', vectors[i - first + 1])
    end
    if ttl > 0 then redis.call('PEXPIRE', key, ttl) end
  end
end
"""

# KEYS: messages, archive, meta. ARGV: ttl, window, channel, event head, mode,
# refresh_archive, the session stem ('' when the log is not searchable), the
# session id, its digest, the user's digest, n vectors, the vectors (empty for
# a message without text), then the messages.
_APPEND = (
    APPEND_FUNCTION
    + INDEX_FUNCTION
    + """
local stem, vectors = ARGV[7], {}
local first = 12 + tonumber(ARGV[11])
for i = 12, first - 1 do vectors[#vectors + 1] = ARGV[i] end
if stem ~= '' and ARGV[5] ~= '0' then unindex(KEYS[3], stem) end
local n = append_messages(KEYS[1], KEYS[2], tonumber(ARGV[1]), tonumber(ARGV[2]), ARGV[3],
                          ARGV[4], ARGV[5], ARGV[6], ARGV, first)
if stem ~= '' then
  index_messages(KEYS[3], stem, tonumber(ARGV[1]), ARGV[8], ARGV[9], ARGV[10], ARGV, first,
    #vectors > 0 and vectors or nil)
end
return n
"""
)

_CLEAR_INDEXED = (
    INDEX_FUNCTION
    + """
unindex(KEYS[1], ARGV[1])
return redis.call('UNLINK', unpack(KEYS, 2))
"""
)

# Deleting by index keeps the order of the rest: mark the element, then remove
# exactly that mark. The mark cannot be a stored message (those are JSON objects).
_DELETE_AT = """
local value = redis.call('LINDEX', KEYS[1], ARGV[1])
if not value then return false end
redis.call('LSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('LREM', KEYS[1], 1, ARGV[2])
return value
"""

_ARCHIVE_OLDEST = """
local moved = redis.call('LPOP', KEYS[1], ARGV[1])
if not moved then return {} end
for i = 1, #moved, 1000 do
  redis.call('RPUSH', KEYS[2], unpack(moved, i, math.min(i + 999, #moved)))
end
local ttl = tonumber(ARGV[2])
if ttl > 0 then redis.call('PEXPIRE', KEYS[2], ttl) end
return moved
"""

_TOMBSTONE = b"\x00rmem:deleted\x00"


# Unbound, so that map() runs the check per message in C.
_has = dict.__contains__

APPEND = Script(_APPEND)
CLEAR_INDEXED = Script(_CLEAR_INDEXED)
DELETE_AT = Script(_DELETE_AT)
ARCHIVE_OLDEST = Script(_ARCHIVE_OLDEST)


def _validate_message(message: Any, position: int) -> None:
    # isinstance(..., Mapping) runs the ABC machinery; a dict needs none of it.
    if type(message) is not dict and not isinstance(message, Mapping):
        raise TypeError(
            f"message {position} is a {type(message).__name__}; the message log stores "
            "mappings in the neutral form {'role': ..., 'content': ...}"
        )
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise TypeError(f"message {position} needs a non-empty str 'role', got {role!r}")
    content = message.get("content")
    if not isinstance(content, str | list):
        raise TypeError(
            f"message {position} needs 'content' as a str or a list of content blocks, "
            f"got {type(content).__name__}"
        )


class _MessageLogCore:
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
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config: RedisMemoryConfig = self._clients.config
        self.keys: KeySchema = self.config.keys
        self.max_messages = None if max_messages is None else whole("max_messages", max_messages, 1)
        self.publish_events = bool(publish_events)
        # LlamaIndex's Memory keeps archived messages: their expiry then moves
        # with every append, so the archive never expires before the session.
        self.refresh_archive = bool(refresh_archive)
        self._serializer = self.config.checked_serializer
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
        self.index_name = f"{self.keys.prefix}:session:messages-idx"
        if self.searchable:
            self._create_index()

    def _url(self) -> str:
        return self._clients.masked_url()

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
            _validate_message(message, position)
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

    def _decode(self, raw: bytes | str, key: str) -> StoredMessage:
        try:
            message = self._serializer.loads(raw)
        except SerializationError as exc:
            raise SerializationError(
                f"{key} holds a value that is not a stored message of redis-memory-backend ({exc})"
            ) from exc
        if not isinstance(message, dict) or "role" not in message or "content" not in message:
            raise SerializationError(
                f"{key} holds {str(raw)[:80]!r}, which is not a stored message of "
                "redis-memory-backend (it has no role and content); another program may "
                "write under this key prefix"
            )
        return message  # type: ignore[return-value]

    def _decoder(self, key: str) -> Callable[[Sequence[bytes | str] | None], list[StoredMessage]]:
        loads = self._loads

        def decode(raws: Sequence[bytes | str] | None) -> list[StoredMessage]:
            # The common case in one pass, its checks run by C code (dict.__contains__
            # refuses anything that is not a dict); anything amiss goes through
            # _decode, which names what is wrong.
            raws = raws or ()
            try:
                messages = list(map(loads, raws))
                valid = all(map(_has, messages, repeat("role"))) and all(
                    map(_has, messages, repeat("content"))
                )
            except (ValueError, TypeError):  # SerializationError is both
                valid = False
            if not valid:
                return [self._decode(raw, key) for raw in raws]
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
    ) -> list[Any]:
        """The arguments of ``append_messages`` before the messages themselves.

        ``mode``: ``"0"`` appends, ``"1"`` replaces the active messages, ``"2"``
        replaces them and clears the archive.
        """
        channel = self.keys.session_channel(session_id) if self.publish_events else ""
        event_head = b""
        if channel:
            event = {"event": "messages", "session_id": session_id, "added": len(ids)}
            event["ids"] = ids
            # The script appends the session's new length and the closing brace.
            event_head = orjson.dumps(event)[:-1] + b',"count":'
        index: list[Any] = ["", "", "", "", 0]
        if self.searchable:
            user = digest(_user(user_id)) if user_id is not None else ""
            stem = self.keys.session(session_id)
            index = [
                stem,
                session_id,
                digest(session_id),
                user,
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
        mode = ("2" if clear_archive else "1") if replace else "0"
        args = [*self._append_args(session_id, ids, mode, user_id, vectors), *encoded]
        keys = [key, self._archive_key(session_id), self.keys.session_meta(session_id)]
        doing = "replacing messages" if replace else "appending messages"
        return self._replicated(Plan(doing, key, lambda r: int(r[0]), script=(APPEND, keys, args)))

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
            Plan("archiving messages", key, lambda r: int(r[0]), commands, transaction=True)
        )

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
            decode = self._decoder(keys[0])
            finish: Callable[[list[Any]], list[StoredMessage]] = lambda r: decode(r[0])  # noqa: E731
        else:
            # Archived then active, as one sequence: page across both lists.
            commands = [("LRANGE", key, 0, -1) for key in keys]
            end = None if stop == -1 else stop + 1

            def finish(replies: list[Any]) -> list[StoredMessage]:
                tagged = [
                    (raw, key) for key, raws in zip(keys, replies, strict=False) for raw in raws
                ]
                return [self._decode(raw, key) for raw, key in tagged[start:end]]

        if self._ttl.refresh_on_read:
            commands += [("PEXPIRE", key, self._ttl.milliseconds) for key in keys]
        return Plan("reading messages", keys[-1], finish, commands)

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
            first_archived, first_active, last_active, last_archived = (
                self._decode(raw, active) if raw else None for raw in replies[2:]
            )
            first = first_archived or first_active
            last = last_active or last_archived
            return SessionInfo(
                session_id=session_id,
                message_count=int(replies[0]),
                archived_count=int(replies[1]),
                created=first.get("ts") if first else None,
                updated=last.get("ts") if last else None,
            )

        return Plan("reading session info", active, finish, commands)

    def _plan_pop_last(self, session_id: str) -> Plan[StoredMessage | None]:
        key = self.keys.session_messages(session_id)
        return Plan(
            "deleting the last message",
            key,
            lambda r: None if r[0] is None else self._decode(r[0], key),
            [("RPOP", key)],
        )

    def _plan_delete_at(self, session_id: str, index: int) -> Plan[StoredMessage | None]:
        if isinstance(index, bool) or not isinstance(index, int):
            raise TypeError(f"index must be an int, got {type(index).__name__}")
        key = self.keys.session_messages(session_id)
        return Plan(
            "deleting a message",
            key,
            lambda r: None if r[0] is None else self._decode(r[0], key),
            script=(DELETE_AT, [key], [index, _TOMBSTONE]),
        )

    def _plan_delete_oldest(self, session_id: str, n: int) -> Plan[list[StoredMessage]]:
        key = self.keys.session_messages(session_id)
        decode = self._decoder(key)
        return Plan(
            "deleting the oldest messages",
            key,
            lambda r: decode(r[0]),
            [("LPOP", key, whole("n", n, 1))],
        )

    def _plan_archive_oldest(self, session_id: str, n: int) -> Plan[list[StoredMessage]]:
        keys = [self.keys.session_messages(session_id), self._archive_key(session_id)]
        decode = self._decoder(keys[0])
        args = [whole("n", n, 1), self._ttl.milliseconds or 0]
        return self._replicated(
            Plan(
                "archiving messages",
                keys[0],
                lambda r: decode(r[0]),
                script=(ARCHIVE_OLDEST, keys, args),
            )
        )

    def _plan_take(self, session_id: str) -> Plan[list[StoredMessage]]:
        active, archived = self.keys.session_messages(session_id), self._archive_key(session_id)
        decode = self._decoder(active)
        return Plan(
            "deleting a session",
            active,
            lambda r: decode(r[0]),
            [("LRANGE", active, 0, -1), ("UNLINK", active, archived)],
            transaction=True,
        )

    def _plan_trim(self, session_id: str, keep_last: int) -> Plan[int]:
        key = self.keys.session_messages(session_id)
        keep = whole("keep_last", keep_last, 0)
        last = ("LTRIM", key, -keep, -1) if keep else ("DEL", key)
        return Plan(
            "trimming messages",
            key,
            lambda r: max(0, int(r[0]) - keep),
            [("LLEN", key), last],
            transaction=True,
        )

    def _plan_clear(self, session_id: str, section: Section) -> Plan[int]:
        keys = self._section_keys(session_id, section)
        if self.searchable and section != "archived":
            # The search copy of the messages goes with them.
            meta, stem = self.keys.session_meta(session_id), self.keys.session(session_id)
            script = (CLEAR_INDEXED, [meta, *keys], [stem])
            return Plan("clearing a session", keys[-1], lambda r: int(r[0]), script=script)
        return Plan("clearing a session", keys[-1], lambda r: int(r[0]), [("UNLINK", *keys)])

    def _plan_sessions(self, cursor: int, count: int) -> Plan[tuple[int, list[str]]]:
        pattern = f"{self.keys.prefix}:session:{{*}}:*"
        command = ("SCAN", whole("cursor", cursor, 0), "MATCH", pattern, "COUNT", count)
        whole("count", count, 1)

        def finish(replies: list[Any]) -> tuple[int, list[str]]:
            next_cursor, raw_keys = replies[0]
            ids = dict.fromkeys(self.keys.session_id_of(raw) for raw in raw_keys)
            return int(next_cursor), list(ids)

        return Plan("listing sessions", pattern, finish, [command])

    # -- searching messages -------------------------------------------------------------
    def _create_index(self) -> None:
        from redisvl.index import SearchIndex
        from redisvl.schema import IndexSchema

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
                "prefix": f"{self.keys.prefix}:session:",
                "storage_type": "hash",
            },
            "fields": fields,
        }
        index = SearchIndex(IndexSchema.from_dict(schema), redis_client=self._clients.sync)
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


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a stored message: its content, or the text of its content blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            block["text"]
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        )
    return ""


class MessageLog(_MessageLogCore):
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
        >>> log = MessageLog(url="embedded")                             # doctest: +SKIP
        >>> log.append("s1", [{"role": "user", "content": "Hello"},
        ...                   {"role": "assistant", "content": "Hi!"}])  # doctest: +SKIP
        2
        >>> [m["content"] for m in log.messages("s1", last=1)]           # doctest: +SKIP
        ['Hi!']
    """

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

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
    ) -> int:
        """Append messages in order, atomically; returns the session's new length.

        In a searchable log, ``user_id`` lets :meth:`search_messages` find them
        among all of that user's sessions.
        """
        vectors = self._vectors(messages)
        plan = self._plan_append(
            session_id, messages, replace=False, user_id=user_id, vectors=vectors
        )
        return self._run(plan)

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


class AsyncMessageLog(_MessageLogCore):
    """The message log on ``redis.asyncio``: :class:`MessageLog`'s twin, name for name."""

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self._url)

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
    ) -> int:
        vectors = await self._vectors(messages)
        plan = self._plan_append(
            session_id, messages, replace=False, user_id=user_id, vectors=vectors
        )
        return await self._run(plan)

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
