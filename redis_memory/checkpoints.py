"""LangGraph threads: checkpoints, their pending writes and channel values, per thread.

A thread's data lives in seven keys under ``{prefix}:thread:{<id>}``, all in the
thread's hash slot (the same as the session of that id):

=============== ====== =============================================================
``:checkpoints`` hash   ``ns\\0id`` -> the checkpoint record (typed bytes)
``:heads``       hash   ``ns\\0id`` -> JSON ``{"p": parent, "b": [[channel, version]...],
                        "r": run}``: what a script needs to know of a checkpoint
``:order``       zset   ``ns\\0id``, score 0: checkpoints in id order (ids sort by time)
``:blobs``       hash   ``ns\\0channel\\0version`` -> a channel's value (typed bytes)
``:writes``      zset   ``ns\\0id\\0task_path\\0task_id\\0idx\\0channel\\0type\\0data``:
                        pending writes, in LangGraph's ``writes_sort_key`` order
``:runs``        zset   ``run\\0ns\\0id``: which checkpoints a run made
``:mirrored``    set    ids of the messages already copied to the session
=============== ====== =============================================================

A channel value is stored once per version, so a checkpoint stores only the
channels that changed. Every operation is one script or one command (one round
trip, atomic on a single server and on Cluster), and every write sets the TTL
of all seven keys (``config.ttl.threads``). With ``keep_last=N`` a write also
drops the checkpoints of its namespace beyond the newest N, with their writes
and the channel values no kept checkpoint refers to.

With a ``mirror`` (see :class:`MessageMirror`), a checkpoint write also appends
the messages of the ``messages`` channel that the session of the thread's id has
not seen yet, in the same script, with the message log's own rules (window, TTL,
event). Which messages are new is decided by Redis (the ``:mirrored`` set), so
the session never repeats or loses a message; this process only remembers which
ids it already sent, so as not to send their bodies again.

Records and values are typed bytes (``(type, data)``, as LangGraph's serializer
protocol gives them): the framework package serializes, the engine stores.

:class:`CheckpointLog` is the sync engine and :class:`AsyncCheckpointLog` its
``redis.asyncio`` twin, with the same method names.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import (
    AsyncIterator,
    Callable,
    Generator,
    Iterable,
    Iterator,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson

from ._checks import whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._msgpack import array_elements as msgpack_elements  # noqa: F401 (public here)
from ._msgpack import array_header
from ._paging import each_once, each_once_async
from ._plan import Plan, Script, lua
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .errors import SerializationError, UnexpectedDataError
from .history import APPEND_FUNCTION, _MessageLogCore

T = TypeVar("T")
Typed = tuple[str, bytes]
"""A serialized value with its serializer's type name: ``("msgpack", b"...")``."""

# Shared by the scripts below. KEYS[1..8] are the thread's keys (KeySchema.thread_keys).
# A list value is stored as its elements' digests ("rmem:list\0" then 16 bytes a
# digest); each element once per namespace in KEYS[8] (field "ns\0digest"), so a
# conversation that grows by one message stores one message, not the whole list.
_FUNCTIONS = lua("checkpoints_functions.lua")

# ARGV: ttl, keep_last, ns, member, record, head, run, the generation the caller
# trusts ('' if it sends every element and message), n blobs, n (field, value)
# pairs, n elements, n (field, body) pairs, then the mirror: '0', or '1' and the
# session's ttl, window, channel, session id, refresh_archive, then (id, body)
# pairs of messages the session may lack. A caller whose generation is not the
# thread's gets 'stale' and nothing is written: it sends everything again.
_PUT = APPEND_FUNCTION + _FUNCTIONS + lua("checkpoints_put.lua")

# ARGV: ttl, then per write: its prefix (up to idx), the member, '1' to replace.
_PUT_WRITES = _FUNCTIONS + lua("checkpoints_put_writes.lua")

# ARGV: refresh ttl, ns, checkpoint id ('' for the newest).
_GET = _FUNCTIONS + lua("checkpoints_get.lua")

# ARGV: refresh ttl, highest (exclusive, as a lex bound), lowest, count.
_PAGE = _FUNCTIONS + lua("checkpoints_page.lua")

# ARGV: ttl, keep (checkpoints per namespace).
_PRUNE = _FUNCTIONS + lua("checkpoints_prune.lua")

# ARGV: ttl, run ids.
_DELETE_RUNS = _FUNCTIONS + lua("checkpoints_delete_runs.lua")

# ARGV: ttl, then for each copied key (all but the mirrored ids, which belong to
# the source's session): a count and its items (field, value pairs for hashes;
# members for sorted sets). What the target holds already wins.
_COPY_INTO = _FUNCTIONS + lua("checkpoints_copy_into.lua")

PUT = Script(_PUT)
PUT_WRITES = Script(_PUT_WRITES)
GET = Script(_GET)
PAGE = Script(_PAGE)
PRUNE = Script(_PRUNE)
DELETE_RUNS = Script(_DELETE_RUNS)
COPY_INTO = Script(_COPY_INTO)

# Special writes (errors, interrupts...) have negative indexes: sorting stays
# numeric once the index is shifted and zero-padded.
_IDX_SHIFT = 1_000_000
_SENT_HINTS = 1024
_LIST = b"rmem:list\0"


def _digest(body: bytes) -> bytes:
    return hashlib.blake2b(body, digest_size=16).digest()


def _content_id(stored: Mapping[str, Any]) -> str:
    """An id for a message that has none: a digest of its content (its time left out)."""
    fields = {k: v for k, v in stored.items() if k != "ts"}
    return "content:" + _digest(orjson.dumps(fields, option=orjson.OPT_SORT_KEYS)).hex()


@dataclass(frozen=True, slots=True)
class Elements:
    """A list value given element by element, each serialized alone (msgpack).

    Stored once per element: a list that grows by one element between versions
    costs one element, not the whole list again. Reads give back the whole list as
    one ``("msgpack", ...)`` value, as if it had been serialized at once.
    """

    bodies: Sequence[bytes]


@dataclass(frozen=True, slots=True)
class StoredWrite:
    """One pending write of a task, as :meth:`CheckpointLog.put_writes` stored it."""

    task_id: str
    channel: str
    value: Typed
    task_path: str = ""
    idx: int = 0


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    """A checkpoint as stored: its record, the values of its channels, its pending writes.

    ``versions`` are the channel versions given to :meth:`CheckpointLog.put`
    (ints and strings come back as they went in); ``values`` maps each channel
    of the checkpoint to its value at that version (a channel whose value is
    missing is left out); ``writes`` are in LangGraph's ``writes_sort_key``
    order (task path, task id, index).
    """

    thread_id: str
    namespace: str
    checkpoint_id: str
    parent_id: str | None
    record: Typed
    versions: dict[str, Any]
    values: dict[str, Typed]
    writes: list[StoredWrite]
    run_id: str | None = None


@dataclass(frozen=True, slots=True)
class ThreadInfo:
    """What ``redis-memory threads show`` prints: counts per namespace, newest ids, TTL."""

    thread_id: str
    checkpoints: dict[str, int]
    newest: dict[str, str]
    writes: int
    values: int
    ttl_seconds: float | None
    memory_bytes: int | None


@dataclass(frozen=True, slots=True)
class MessageMirror:
    """How to copy a graph's messages to the session of the same id.

    ``to_stored`` turns one message of the channel into the message log's neutral
    form; ``id_of`` gives its id cheaply (``None`` when it has none: the message
    is then known by its content).
    """

    to_stored: Callable[[Any], Mapping[str, Any]]
    id_of: Callable[[Any], str | None]
    channel: str = "messages"


def _text(what: str, value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"a checkpoint's {what} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise ValueError(f"a checkpoint's {what} must not contain NUL characters: {value!r}")
    return value


def _version(version: Any) -> str | int:
    # Kept as JSON in the head, where the scripts turn it into a field name as
    # Python's str() does: ints and strings only.
    if isinstance(version, bool) or not isinstance(version, int | str):
        raise TypeError(
            f"a channel version must be an int or a str, not {type(version).__name__}: {version!r}"
        )
    if isinstance(version, int) and abs(version) >= 10**14:
        # Lua writes larger numbers in exponent form: the field names would differ.
        raise ValueError(f"an int channel version must be below 10**14, got {version}; use a str")
    return _text("version", version) if isinstance(version, str) else version


def _frame(value: Typed) -> bytes:
    kind, data = value
    return _text("serializer type", kind).encode() + b"\0" + bytes(data)


def _part(raw: bytes) -> str:
    return raw.decode("utf-8")


class _CheckpointLogCore(Engine):
    """What the sync and async engines share: keys, encoding, checks, plans."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        keep_last: int | None = None,
        mirror: MessageMirror | None = None,
        page_size: int = 20,
    ) -> None:
        super().__init__(url, client, config)
        self.keep_last = None if keep_last is None else whole("keep_last", keep_last, 1)
        self.mirror = mirror
        self.page_size = whole("page_size", page_size, 1)
        self._ttl = self.config.ttl.threads
        # The session's rules (window, TTL, events) for mirrored messages.
        self._messages = _MessageLogCore(config=self.config) if mirror is not None else None
        # Per thread, the generation this process last wrote and the message ids
        # and list elements it wrote in it: those are not sent again while the
        # thread's generation stays the same (the script checks it).
        self._sent: OrderedDict[str, tuple[str, frozenset[str | bytes]]] = OrderedDict()

    def thread_keys(self, thread_id: str) -> list[str]:
        """Every key of the thread, in the order the scripts take them."""
        return self.keys.thread_keys(thread_id)

    def _refresh(self) -> int:
        return (self._ttl.milliseconds or 0) if self._ttl.refresh_on_read else 0

    # -- decoding -------------------------------------------------------------------
    def _typed(self, raw: bytes | None, key: str, what: str) -> Typed:
        if isinstance(raw, bytes) and b"\0" in raw:
            kind, data = raw.split(b"\0", 1)
            return kind.decode("utf-8", "replace"), data
        raise SerializationError(
            f"{key} holds {str(raw)[:60]!r} for {what}, which is not a value stored by "
            "redis-memory-backend; another program may write under this key prefix"
        )

    def _entry(self, thread_id: str, reply: list[Any]) -> StoredCheckpoint:
        member, record, raw_head, raw_values, raw_writes = reply
        keys = self.thread_keys(thread_id)
        namespace, checkpoint_id = _part(member).split("\0", 1)
        what = f"checkpoint {checkpoint_id!r} (namespace {namespace!r})"
        try:
            head = orjson.loads(raw_head)
            blobs = head.get("b", [])
            versions = dict(blobs)
            parent = head.get("p") or None
            run = head.get("r") or None
        except (orjson.JSONDecodeError, AttributeError, TypeError) as exc:
            raise UnexpectedDataError(f"{keys[1]} holds an unreadable head for {what}") from exc
        values = {
            channel: self._typed(raw, keys[3], f"channel {channel!r} of {what}")
            for (channel, _), raw in zip(blobs, raw_values, strict=False)
            if raw is not None
        }
        writes = []
        for raw in raw_writes:
            parts = raw.split(b"\0", 7)
            if len(parts) != 8:
                raise SerializationError(
                    f"{keys[4]} holds {raw[:60]!r}, which is not a pending write of {what}"
                )
            _, _, path, task, idx, channel, kind, data = parts
            writes.append(
                StoredWrite(
                    task_id=_part(task),
                    channel=_part(channel),
                    value=(_part(kind), data),
                    task_path=_part(path),
                    idx=int(idx) - _IDX_SHIFT,
                )
            )
        return StoredCheckpoint(
            thread_id=thread_id,
            namespace=namespace,
            checkpoint_id=checkpoint_id,
            parent_id=parent,
            record=self._typed(record, keys[0], what),
            versions=versions,
            values=values,
            writes=writes,
            run_id=run,
        )

    # -- plans ----------------------------------------------------------------------
    def _put_flow(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        *,
        parent_id: str | None,
        record: Typed,
        versions: Mapping[str, Any],
        values: Mapping[tuple[str, Any], Typed | Elements],
        run_id: str | None = None,
        messages: Sequence[Any] | None = None,
    ) -> Generator[Plan[Any], Any, None]:
        keys = self.thread_keys(thread_id)
        member = f"{_text('namespace', namespace)}\0{_text('id', checkpoint_id)}"
        refs = [[_text("channel name", ch), _version(v)] for ch, v in versions.items()]
        head = orjson.dumps({"p": parent_id or "", "b": refs, "r": run_id or ""})
        blobs: list[Any] = []
        element_bodies: dict[bytes, bytes] = {}
        for (channel, version), value in values.items():
            parts = (namespace, _text("channel name", channel), str(_version(version)))
            if isinstance(value, Elements):
                digests = [_digest(body) for body in value.bodies]
                element_bodies.update(zip(digests, value.bodies, strict=True))
                blobs += ["\0".join(parts), _LIST + b"".join(digests)]
                # The newest version of the list, whole, for the reads that want it.
                whole = b"msgpack\0" + array_header(len(value.bodies)) + b"".join(value.bodies)
                blobs += ["\1" + "\0".join(parts[:2]), parts[2].encode() + b"\0" + whole]
            else:
                blobs += ["\0".join(parts), _frame(value)]
        mirror, log = self.mirror, self._messages
        by_id: dict[str, Any] = {}
        if messages is not None and mirror is not None and log is not None:
            for message in messages:
                by_id.setdefault(
                    mirror.id_of(message) or _content_id(mirror.to_stored(message)), message
                )
        head_args: list[Any] = [
            self._ttl.milliseconds or 0,
            self.keep_last or 0,
            namespace,
            member,
            _frame(record),
            head,
            _text("run id", run_id) if run_id else "",
        ]
        doing = f"saving a checkpoint of thread {thread_id!r}"
        # Declared even when unused: a script's keys must all be in one slot.
        all_keys = [
            *keys,
            self.keys.session_messages(thread_id),
            self.keys.session_archive(thread_id),
        ]
        generation, known = self._sent.get(thread_id, ("", frozenset()))
        for _ in range(2):
            args = [*head_args, generation, len(blobs) // 2, *blobs]
            elements = [d for d in element_bodies if d not in known]
            args.append(len(elements))
            for digest in elements:
                args += [namespace.encode() + b"\0" + digest, element_bodies[digest]]
            if by_id and mirror is not None and log is not None:
                args += [
                    "1",
                    log._ttl.milliseconds or 0,
                    log.max_messages or 0,
                    self.keys.session_channel(thread_id) if log.publish_events else "",
                    thread_id,
                    "1" if log.refresh_archive else "0",
                ]
                for message_id, message in by_id.items():
                    if message_id not in known:
                        stored = (
                            message if isinstance(message, Mapping) else mirror.to_stored(message)
                        )
                        args += [message_id, log._encode([stored])[0][0]]
            else:
                args.append("0")
            reply = yield Plan(doing, keys[0], lambda r: r[0], script=(PUT, all_keys, args))
            if _part(reply[0]) == "ok":
                if int(reply[2]):  # elements were deleted: trust nothing sent before
                    self._sent.pop(thread_id, None)
                else:
                    self._remember(thread_id, _part(reply[1]), known, [*by_id, *element_bodies])
                return
            # The thread changed since this process last wrote it: send everything.
            self._sent.pop(thread_id, None)
            generation, known = "", frozenset()
        raise UnexpectedDataError(f"{keys[0]}: the thread keeps changing while {doing}; retry")

    def _remember(
        self,
        thread_id: str,
        generation: str,
        known: Iterable[str | bytes],
        sent: Iterable[str | bytes],
    ) -> None:
        self._sent.pop(thread_id, None)
        self._sent[thread_id] = (generation, frozenset(known).union(sent))
        while len(self._sent) > _SENT_HINTS:
            self._sent.popitem(last=False)

    def _plan_put_writes(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        writes: Sequence[tuple[int, str, Typed]],
        *,
        task_id: str,
        task_path: str = "",
    ) -> Plan[None]:
        keys = self.thread_keys(thread_id)
        stem = "\0".join(
            (
                _text("namespace", namespace),
                _text("id", checkpoint_id),
                _text("task path", task_path),
                _text("task id", task_id),
            )
        )
        args: list[Any] = [self._ttl.milliseconds or 0]
        for idx, channel, value in writes:
            prefix = f"{stem}\0{int(idx) + _IDX_SHIFT:07d}\0".encode()
            member = prefix + _text("channel name", channel).encode() + b"\0" + _frame(value)
            args += [prefix, member, "1" if idx < 0 else "0"]
        doing = f"saving pending writes of thread {thread_id!r}"
        return Plan(doing, keys[4], lambda r: None, script=(PUT_WRITES, keys, args))

    def _plan_get(
        self, thread_id: str, namespace: str, checkpoint_id: str | None
    ) -> Plan[StoredCheckpoint | None]:
        keys = self.thread_keys(thread_id)
        args = [self._refresh(), _text("namespace", namespace), _text("id", checkpoint_id or "")]
        return Plan(
            "reading a checkpoint",
            keys[0],
            lambda r: self._entry(thread_id, r[0]) if r[0] else None,
            script=(GET, keys, args),
        )

    def _plan_page(
        self, thread_id: str, namespace: str | None, cursor: str | None, count: int
    ) -> Plan[tuple[str | None, list[StoredCheckpoint]]]:
        """Checkpoints newest first, below ``cursor`` (a member), in one namespace or all."""
        keys = self.thread_keys(thread_id)
        if namespace is None:
            highest, lowest = ("(" + cursor) if cursor else "+", "-"
        else:
            ns = _text("namespace", namespace)
            highest = "(" + (cursor if cursor else ns + "\1")
            lowest = "[" + ns + "\0"

        def finish(replies: list[Any]) -> tuple[str | None, list[StoredCheckpoint]]:
            last, entries = replies[0]
            found = [self._entry(thread_id, entry) for entry in entries]
            return (_part(last) if last else None), found

        args = [self._refresh(), highest, lowest, whole("count", count, 1)]
        doing = f"listing checkpoints of thread {thread_id!r}"
        return Plan(doing, keys[2], finish, script=(PAGE, keys, args))

    def _first_cursor(self, namespace: str | None, before: str | None) -> str | None:
        if before is None or namespace is None:
            return None
        return f"{_text('namespace', namespace)}\0{_text('id', before)}"

    @staticmethod
    def _wanted(checkpoint: StoredCheckpoint, namespace: str | None, before: str | None) -> bool:
        # Across namespaces the page walk cannot start at `before`: filter here.
        return namespace is not None or before is None or checkpoint.checkpoint_id < before

    def _plan_delete(self, thread_id: str) -> Plan[int]:
        keys = self.thread_keys(thread_id)
        doing = f"deleting thread {thread_id!r}"
        return Plan(doing, keys[0], lambda r: int(r[0]), [("UNLINK", *keys)])

    def _plan_prune(self, thread_id: str, keep_last: int) -> Plan[int]:
        keys = self.thread_keys(thread_id)
        args = [self._ttl.milliseconds or 0, whole("keep_last", keep_last, 1)]
        doing = f"pruning thread {thread_id!r}"
        return Plan(doing, keys[2], lambda r: int(r[0]), script=(PRUNE, keys, args))

    def _plan_delete_runs(self, thread_id: str, run_ids: Sequence[str]) -> Plan[int]:
        keys = self.thread_keys(thread_id)
        args = [self._ttl.milliseconds or 0, *(_text("run id", run) for run in run_ids)]
        doing = f"deleting runs of thread {thread_id!r}"
        return Plan(doing, keys[5], lambda r: int(r[0]), script=(DELETE_RUNS, keys, args))

    def _copy_flow(self, source: str, target: str) -> Generator[Plan[Any], Any, int]:
        source_keys, target_keys = self.thread_keys(source), self.thread_keys(target)
        commands: list[tuple[Any, ...]] = [
            ("HGETALL", source_keys[0]),
            ("HGETALL", source_keys[1]),
            ("ZRANGE", source_keys[2], 0, -1),
            ("HGETALL", source_keys[3]),
            ("ZRANGE", source_keys[4], 0, -1),
            ("ZRANGE", source_keys[5], 0, -1),
            ("HGETALL", source_keys[7]),
        ]
        doing = f"copying thread {source!r} to {target!r}"
        replies = yield Plan(doing, source_keys[0], lambda r: r, commands, transaction=True)
        if not replies[2]:
            return 0
        args: list[Any] = [self._ttl.milliseconds or 0]
        for reply in replies:
            if isinstance(reply, dict):  # a hash
                args += [len(reply), *(item for pair in reply.items() for item in pair)]
            else:
                args += [len(reply), *reply]
        yield Plan(doing, target_keys[0], lambda r: r, script=(COPY_INTO, target_keys, args))
        return len(replies[2])

    def _plan_threads(self, cursor: int, count: int) -> Plan[tuple[int, list[str]]]:
        pattern = self.keys.threads_pattern()
        command = ("SCAN", whole("cursor", cursor, 0), "MATCH", pattern, "COUNT", count)
        whole("count", count, 1)

        def finish(replies: list[Any]) -> tuple[int, list[str]]:
            next_cursor, raw_keys = replies[0]
            return int(next_cursor), [self.keys.thread_id_of(raw) for raw in raw_keys]

        return Plan("listing threads", pattern, finish, [command])

    def _plan_info(self, thread_id: str) -> Plan[ThreadInfo | None]:
        keys = self.thread_keys(thread_id)
        commands: list[tuple[Any, ...]] = [
            ("ZRANGE", keys[2], 0, -1),
            ("ZCARD", keys[4]),
            ("HLEN", keys[3]),
            ("PTTL", keys[2]),
            *(("MEMORY", "USAGE", key) for key in keys),
        ]

        def finish(replies: list[Any]) -> ThreadInfo | None:
            members = [_part(raw).split("\0", 1) for raw in replies[0]]
            if not members:
                return None
            counts: dict[str, int] = {}
            newest: dict[str, str] = {}
            for namespace, checkpoint_id in members:
                counts[namespace] = counts.get(namespace, 0) + 1
                newest[namespace] = checkpoint_id
            ttl = int(replies[3])
            return ThreadInfo(
                thread_id=thread_id,
                checkpoints=counts,
                newest=newest,
                writes=int(replies[1]),
                values=int(replies[2]),
                ttl_seconds=ttl / 1000 if ttl > 0 else None,
                memory_bytes=sum(int(n or 0) for n in replies[4:]),
            )

        return Plan("reading a thread", keys[2], finish, commands)


class CheckpointLog(_CheckpointLogCore, SyncRunner):
    """LangGraph threads in Redis, sync. :class:`AsyncCheckpointLog` mirrors it name for name.

    The engine behind ``langchain_redis_memory.RedisSaver``; it stores typed
    bytes and knows nothing of LangGraph's types.

    Args:
        url, client, config: Where the data lives (see :class:`RedisClients`).
        keep_last: Keep at most N checkpoints per thread and namespace; each write
            drops older ones with their writes and unreferenced values. ``None``
            keeps all (until the thread's TTL ends).
        mirror: Copy the ``messages`` channel's new messages to the session of the
            thread's id (see :class:`MessageMirror`).
        page_size: Checkpoints read per round trip when listing.

    Example:
        .. code-block:: python

            from redis_memory.checkpoints import CheckpointLog, Elements

            log = CheckpointLog(url="embedded")
            # A list is given element by element (msgpack: 42, 43) and read back whole.
            log.put("t1", "", "0001", parent_id=None, record=("json", b"{}"),
                    versions={"x": 1, "log": 1},
                    values={("x", 1): ("json", b"42"), ("log", 1): Elements([b"*", b"+"])})
            newest = log.get("t1")
            assert newest.values["x"] == ("json", b"42")
            assert newest.values["log"] == ("msgpack", bytes([0x92]) + b"*+")
            assert [c.checkpoint_id for c in log.iter_checkpoints("t1")] == ["0001"]
            log.delete_thread("t1")
    """

    def put(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        *,
        parent_id: str | None,
        record: Typed,
        versions: Mapping[str, Any],
        values: Mapping[tuple[str, Any], Typed | Elements],
        run_id: str | None = None,
        messages: Sequence[Any] | None = None,
    ) -> None:
        """Store a checkpoint: its record, the values of the channels that changed.

        ``versions`` names every channel's version in this checkpoint; ``values``
        holds the values of new versions only, by ``(channel, version)``: typed
        bytes, or a list as :class:`Elements`.
        ``messages`` (with a mirror) is the messages channel's whole list: the
        session gets those it lacks.
        """
        self._drive(
            self._put_flow(
                thread_id,
                namespace,
                checkpoint_id,
                parent_id=parent_id,
                record=record,
                versions=versions,
                values=values,
                run_id=run_id,
                messages=messages,
            )
        )

    def put_writes(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        writes: Sequence[tuple[int, str, Typed]],
        *,
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's pending writes ``(idx, channel, value)`` on a checkpoint.

        A write whose ``(task_id, idx)`` is stored already is kept as it is, except
        special writes (negative ``idx``: errors, interrupts), which replace it.
        """
        plan = self._plan_put_writes(
            thread_id, namespace, checkpoint_id, writes, task_id=task_id, task_path=task_path
        )
        self._run(plan)

    def get(
        self, thread_id: str, namespace: str = "", checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        """A checkpoint, or the newest of the namespace, in one round trip; None if absent."""
        return self._run(self._plan_get(thread_id, namespace, checkpoint_id))

    def iter_checkpoints(
        self, thread_id: str, namespace: str | None = "", *, before: str | None = None
    ) -> Iterator[StoredCheckpoint]:
        """The thread's checkpoints newest first, a page per round trip.

        ``namespace=None`` walks every namespace; ``before`` keeps only ids below it.
        """
        cursor = self._first_cursor(namespace, before)
        while True:
            cursor, page = self._run(self._plan_page(thread_id, namespace, cursor, self.page_size))
            yield from (c for c in page if self._wanted(c, namespace, before))
            if cursor is None:
                return

    def delete_thread(self, thread_id: str) -> int:
        """Delete every checkpoint, write and value of the thread; returns keys removed."""
        return self._run(self._plan_delete(thread_id))

    def prune(self, thread_id: str, keep_last: int = 1) -> int:
        """Keep the newest ``keep_last`` checkpoints of each namespace; returns how many went."""
        return self._run(self._plan_prune(thread_id, keep_last))

    def delete_runs(self, thread_id: str, run_ids: Sequence[str]) -> int:
        """Delete the thread's checkpoints made by these runs; returns how many went."""
        return self._run(self._plan_delete_runs(thread_id, run_ids)) if run_ids else 0

    def copy_thread(self, source: str, target: str) -> int:
        """Copy every checkpoint, write and value of ``source`` into ``target``.

        What ``target`` holds already stays as it is. Returns the checkpoints copied.
        """
        return self._drive(self._copy_flow(source, target))

    def info(self, thread_id: str) -> ThreadInfo | None:
        """Counts, newest ids, TTL and memory of a thread; None if it has no checkpoint."""
        return self._run(self._plan_info(thread_id))

    def threads(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        """One page of thread ids by ``SCAN``: ``(next_cursor, ids)``; 0 means done."""
        return self._run(self._plan_threads(cursor, count))

    def iter_threads(self, *, count: int = 500) -> Iterator[str]:
        """Every thread id under the prefix, each once."""
        return each_once(lambda cursor: self.threads(cursor=cursor, count=count))


@twin_of(CheckpointLog)
class AsyncCheckpointLog(_CheckpointLogCore, AsyncRunner):
    """LangGraph threads on ``redis.asyncio``: :class:`CheckpointLog`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.checkpoints import AsyncCheckpointLog
        >>> async def main():
        ...     log = AsyncCheckpointLog()
        ...     await log.put("t2", "", "0001", parent_id=None, record=("json", b"{}"),
        ...                   versions={"x": 1}, values={("x", 1): ("json", b"42")})
        ...     newest = await log.get("t2")
        ...     return newest.checkpoint_id, newest.values["x"]
        >>> asyncio.run(main())
        ('0001', ('json', b'42'))
    """

    async def put(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        *,
        parent_id: str | None,
        record: Typed,
        versions: Mapping[str, Any],
        values: Mapping[tuple[str, Any], Typed | Elements],
        run_id: str | None = None,
        messages: Sequence[Any] | None = None,
    ) -> None:
        await self._drive(
            self._put_flow(
                thread_id,
                namespace,
                checkpoint_id,
                parent_id=parent_id,
                record=record,
                versions=versions,
                values=values,
                run_id=run_id,
                messages=messages,
            )
        )

    async def put_writes(
        self,
        thread_id: str,
        namespace: str,
        checkpoint_id: str,
        writes: Sequence[tuple[int, str, Typed]],
        *,
        task_id: str,
        task_path: str = "",
    ) -> None:
        plan = self._plan_put_writes(
            thread_id, namespace, checkpoint_id, writes, task_id=task_id, task_path=task_path
        )
        await self._run(plan)

    async def get(
        self, thread_id: str, namespace: str = "", checkpoint_id: str | None = None
    ) -> StoredCheckpoint | None:
        return await self._run(self._plan_get(thread_id, namespace, checkpoint_id))

    async def iter_checkpoints(
        self, thread_id: str, namespace: str | None = "", *, before: str | None = None
    ) -> AsyncIterator[StoredCheckpoint]:
        cursor = self._first_cursor(namespace, before)
        while True:
            plan = self._plan_page(thread_id, namespace, cursor, self.page_size)
            cursor, page = await self._run(plan)
            for checkpoint in page:
                if self._wanted(checkpoint, namespace, before):
                    yield checkpoint
            if cursor is None:
                return

    async def delete_thread(self, thread_id: str) -> int:
        return await self._run(self._plan_delete(thread_id))

    async def prune(self, thread_id: str, keep_last: int = 1) -> int:
        return await self._run(self._plan_prune(thread_id, keep_last))

    async def delete_runs(self, thread_id: str, run_ids: Sequence[str]) -> int:
        return await self._run(self._plan_delete_runs(thread_id, run_ids)) if run_ids else 0

    async def copy_thread(self, source: str, target: str) -> int:
        return await self._drive(self._copy_flow(source, target))

    async def info(self, thread_id: str) -> ThreadInfo | None:
        return await self._run(self._plan_info(thread_id))

    async def threads(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        return await self._run(self._plan_threads(cursor, count))

    def iter_threads(self, *, count: int = 500) -> AsyncIterator[str]:
        return each_once_async(lambda cursor: self.threads(cursor=cursor, count=count))
