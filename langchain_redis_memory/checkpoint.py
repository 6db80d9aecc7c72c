"""LangGraph persistence on Redis: a checkpointer on the core's thread engine.

Every Redis command lives in :mod:`redis_memory.checkpoints`; this module turns
LangGraph's checkpoints, metadata and writes into typed bytes with LangGraph's own
serializer (never pickle) and back.
"""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Generator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Self

from redis_memory._extras import require_extra

require_extra("langgraph", "langgraph", "langchain_redis_memory.checkpoint needs LangGraph")

from langchain_core.messages import BaseMessage
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    BaseCheckpointSaver,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    CheckpointTuple,
    SerializerProtocol,
    get_checkpoint_id,
    get_checkpoint_metadata,
)

from redis_memory._flow import drive, drive_async
from redis_memory.checkpoints import (
    AsyncCheckpointLog,
    CheckpointLog,
    Elements,
    MessageMirror,
    StoredCheckpoint,
    Typed,
    msgpack_elements,
)
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, RedisClients, SyncClient
from redis_memory.errors import ConfigurationError, SerializationError

from ._messages import to_stored

_STRATEGIES = ("keep_latest", "delete")
# What LangGraph's own savers store for a channel that has a version but no value.
EMPTY: Typed = ("empty", b"")


def _message_id(message: Any) -> str | None:
    return message.id if isinstance(message, BaseMessage) else None


def _to_stored(message: Any) -> dict[str, Any]:
    if not isinstance(message, BaseMessage):
        raise TypeError(
            f"mirror_messages copies LangChain messages, but the messages channel holds a "
            f"{type(message).__name__}; turn mirroring off or keep BaseMessage objects there"
        )
    return dict(to_stored(message))


def _thread(config: RunnableConfig | None) -> tuple[str, str]:
    configurable = (config or {}).get("configurable") or {}
    thread_id = configurable.get("thread_id")
    if thread_id is None:
        raise ValueError(
            'a checkpointer needs config["configurable"]["thread_id"]: invoke the graph with '
            'config={"configurable": {"thread_id": "..."}}'
        )
    if not isinstance(thread_id, str):
        thread_id = str(thread_id)  # LangGraph accepts ints and UUIDs as thread ids
    return thread_id, configurable.get("checkpoint_ns", "")


@dataclass(slots=True)
class _Listing:
    """What one ``list`` call asks for; ``list`` and ``alist`` both walk by it."""

    thread_id: str | None  # None: every thread
    namespace: str | None  # None: every namespace
    checkpoint_id: str | None
    before: str | None
    filter: dict[str, Any] | None
    left: int | None

    @classmethod
    def of(
        cls,
        config: RunnableConfig | None,
        filter: dict[str, Any] | None,
        before: RunnableConfig | None,
        limit: int | None,
    ) -> _Listing:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)):
            raise TypeError(f"limit must be an int or None, got {limit!r}")
        thread_id = namespace = checkpoint_id = None
        if config is not None:
            thread_id = _thread(config)[0]
            namespace = config["configurable"].get("checkpoint_ns")
            checkpoint_id = get_checkpoint_id(config)
        before_id = get_checkpoint_id(before) if before else None
        return cls(thread_id, namespace, checkpoint_id, before_id, filter, limit)

    @property
    def done(self) -> bool:
        return self.left is not None and self.left <= 0

    def take(self, found: CheckpointTuple) -> bool:
        """Whether ``found`` is listed; each one listed counts against the limit."""
        if (
            self.checkpoint_id
            and found.config["configurable"]["checkpoint_id"] != self.checkpoint_id
        ):
            return False
        if self.filter and any(found.metadata.get(k) != v for k, v in self.filter.items()):
            return False
        if self.left is not None:
            self.left -= 1
        return True


class RedisSaver(BaseCheckpointSaver[str]):
    """LangGraph checkpointer on Redis: sync and async, on one server or a Cluster.

    Every key of a thread shares the thread's hash slot, so each write is one
    atomic round trip (``put_writes`` then ``put``: two per super-step) and each
    ``get_tuple`` one; it needs no Redis module. Every key of a thread expires
    with ``config.ttl.threads`` (30 days, renewed by reads, by default), set in the
    same script as each write. Checkpoints are serialized with LangGraph's
    serializer (``serde``); one that allows pickle is refused.

    Building one costs no Redis round trip and needs no running event loop; the
    sync methods use a sync client and the async ones ``redis.asyncio``, so one
    object serves ``graph.invoke`` and ``graph.ainvoke`` alike.

    Args:
        url, client, config: Where the data lives: a Redis URL (or ``"embedded"``),
            your own redis-py client (sync or async, standalone or cluster), or a
            :class:`~redis_memory.RedisMemoryConfig` (prefix, TTL policy). None of
            them: the environment decides (``REDIS_MEMORY_URL``).
        keep_last: Keep at most N checkpoints per thread and namespace (older ones
            go with their pending writes and unreferenced values, in the same
            script as each write); ``None`` keeps all until the thread expires.
        mirror_messages: Append each new message of the graph's ``messages``
            channel (root graph only) to the session of the thread's id in the
            shared message log, in the same round trip as the checkpoint, so
            ``RedisChatMessageHistory``, LlamaIndex's stores, the CLI and the
            session events see the agent's conversation. The session only grows:
            a message removed or rewritten by the graph (``RemoveMessage``, a fork
            from an earlier checkpoint) stays in it as first written, and a fork's
            new messages are appended after what it holds.
        messages_channel: The channel mirrored (``"messages"``).
        serde: LangGraph's serializer; ``JsonPlusSerializer()`` by default.

    Example:
        .. code-block:: python

            from langchain.agents import create_agent
            from langchain_core.language_models.fake_chat_models import FakeListChatModel
            from langchain_redis_memory import RedisSaver

            model = FakeListChatModel(responses=["Hello Ana!", "You are Ana."])
            agent = create_agent(model, checkpointer=RedisSaver(url="embedded"))
            ana = {"configurable": {"thread_id": "ana"}}
            agent.invoke({"messages": [("user", "Hi, I'm Ana")]}, ana)
            reply = agent.invoke({"messages": [("user", "Who am I?")]}, ana)
            assert [m.content for m in reply["messages"]][-1] == "You are Ana."
            assert len(reply["messages"]) == 4  # the first turn came back from Redis
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        keep_last: int | None = None,
        mirror_messages: bool = False,
        messages_channel: str = "messages",
        serde: SerializerProtocol | None = None,
    ) -> None:
        super().__init__(serde=serde)
        if getattr(self.serde, "pickle_fallback", False) or getattr(
            getattr(self.serde, "serde", None), "pickle_fallback", False
        ):
            raise ConfigurationError(
                "RedisSaver never stores pickle: pass a serializer without pickle_fallback "
                "(JsonPlusSerializer() is the default)"
            )
        mirror = (
            MessageMirror(to_stored=_to_stored, id_of=_message_id, channel=messages_channel)
            if mirror_messages
            else None
        )
        options: dict[str, Any] = {
            "url": url,
            "client": client,
            "config": config,
            "keep_last": keep_last,
            "mirror": mirror,
        }
        self._log = CheckpointLog(**options)
        self._alog = AsyncCheckpointLog(**options)
        self.config = self._log.config
        # The same pooled connection as the logs': it names where the data lives.
        self._clients = RedisClients.shared(client=client, config=self.config)
        self.keep_last = self._log.keep_last
        self.mirror_messages = mirror is not None

    # -- peers' entry points ----------------------------------------------------------
    @classmethod
    def from_conn_string(cls, url: str, **options: Any) -> Self:
        """``with`` (or ``async with``) ``RedisSaver.from_conn_string(url) as saver:``.

        As other savers offer; the saver is its own context manager, so the
        peer's async idiom works too.
        """
        return cls(url=url, **options)

    def setup(self) -> None:
        """Nothing to set up (no index, no module): kept for code written for other savers."""

    async def asetup(self) -> None:
        """Nothing to set up; the twin of :meth:`setup`."""

    def __enter__(self) -> RedisSaver:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    async def __aenter__(self) -> RedisSaver:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None

    # -- translation ------------------------------------------------------------------
    def _loads(self, value: Typed, where: str) -> Any:
        if value[0] == "pickle":
            raise SerializationError(
                f"{where} holds a pickle, which RedisSaver never loads (it could run code); "
                "delete the thread or re-save it with a JSON or msgpack serializer"
            )
        try:
            return self.serde.loads_typed(value)
        except Exception as exc:
            raise SerializationError(
                f"{where} holds a value LangGraph's serializer cannot read ({exc!r}); "
                "delete the thread, or check what else writes under this key prefix"
            ) from exc

    def _tuple(self, stored: StoredCheckpoint) -> CheckpointTuple:
        keys = self._log.thread_keys(stored.thread_id)
        where = f"checkpoint {stored.checkpoint_id!r} of namespace {stored.namespace!r}"
        record = self._loads(stored.record, f"{keys[0]} ({where})")
        if not isinstance(record, dict) or "checkpoint" not in record:
            raise SerializationError(f"{keys[0]} ({where}) holds no checkpoint record")
        values = {
            channel: self._loads(value, f"{keys[3]} (channel {channel!r}, {where})")
            for channel, value in stored.values.items()
            if value[0] != "empty"
        }
        writes = [
            (w.task_id, w.channel, self._loads(w.value, f"{keys[4]} ({where})"))
            for w in stored.writes
        ]
        configurable = {
            "thread_id": stored.thread_id,
            "checkpoint_ns": stored.namespace,
        }
        parent = (
            {"configurable": {**configurable, "checkpoint_id": stored.parent_id}}
            if stored.parent_id
            else None
        )
        return CheckpointTuple(
            config={"configurable": {**configurable, "checkpoint_id": stored.checkpoint_id}},
            checkpoint={
                **record["checkpoint"],
                "channel_versions": stored.versions,
                "channel_values": values,
            },
            metadata=record.get("metadata") or {},
            parent_config=parent,
            pending_writes=writes,
        )

    def _put_args(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> tuple[tuple[str, str, str], dict[str, Any]]:
        thread_id, namespace = _thread(config)
        stripped = dict(checkpoint)
        channel_values = stripped.pop("channel_values", {}) or {}
        # Kept by the engine beside the record (its scripts read them).
        versions = stripped.pop("channel_versions", {}) or {}
        full_metadata = get_checkpoint_metadata(config, metadata)
        values = {
            (channel, version): (
                self._value(channel_values[channel]) if channel in channel_values else EMPTY
            )
            for channel, version in new_versions.items()
        }
        messages = None
        if self.mirror_messages and namespace == "" and self._log.mirror is not None:
            channel = self._log.mirror.channel
            if channel in new_versions and isinstance(channel_values.get(channel), list):
                messages = channel_values[channel]
        run_id = full_metadata.get("run_id")
        options = {
            "parent_id": get_checkpoint_id(config),
            "record": self.serde.dumps_typed({"checkpoint": stripped, "metadata": full_metadata}),
            "versions": versions,
            "values": values,
            "run_id": str(run_id) if run_id is not None else None,
            "messages": messages,
        }
        return (thread_id, namespace, checkpoint["id"]), options

    def _value(self, value: Any) -> Typed | Elements:
        """A list element by element (stored once each), anything else whole."""
        dumps = self.serde.dumps_typed
        whole = dumps(value)
        if type(value) is not list or whole[0] != "msgpack":
            return whole
        # One call serializes the list; its elements are cut out of the bytes.
        bodies = msgpack_elements(whole[1])
        if bodies is None:  # elements that are maps or lists: one call each
            bodies = []
            for item in value:
                kind, data = dumps(item)
                if kind != "msgpack":
                    return whole
                bodies.append(data)
        return Elements(bodies)

    def _writes(
        self, config: RunnableConfig, writes: Sequence[tuple[str, Any]]
    ) -> tuple[str, str, str, list[tuple[int, str, Typed]]]:
        thread_id, namespace = _thread(config)
        checkpoint_id = get_checkpoint_id(config)
        if not checkpoint_id:
            raise ValueError(
                'put_writes needs config["configurable"]["checkpoint_id"]: the checkpoint '
                "the writes belong to"
            )
        dumps = self.serde.dumps_typed
        items = [
            (WRITES_IDX_MAP.get(channel, idx), channel, dumps(value))
            for idx, (channel, value) in enumerate(writes)
        ]
        return thread_id, namespace, checkpoint_id, items

    @staticmethod
    def _saved(target: tuple[str, str, str]) -> RunnableConfig:
        thread_id, namespace, checkpoint_id = target
        return {
            "configurable": {
                "thread_id": thread_id,
                "checkpoint_ns": namespace,
                "checkpoint_id": checkpoint_id,
            }
        }

    @staticmethod
    def _strategy(strategy: str) -> str:
        if strategy not in _STRATEGIES:
            raise ValueError(
                f"prune's strategy must be 'keep_latest' or 'delete', got {strategy!r}"
            )
        return strategy

    # -- sync -------------------------------------------------------------------------
    def get_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        """The checkpoint the config names, or the thread's newest: one round trip."""
        thread_id, namespace = _thread(config)
        stored = self._log.get(thread_id, namespace, get_checkpoint_id(config))
        return None if stored is None else self._tuple(stored)

    def list(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> Iterator[CheckpointTuple]:
        """Checkpoints newest first: of one thread (and namespace, if the config names
        one), or of every thread when ``config`` is None; ``filter`` matches metadata."""
        ask = _Listing.of(config, filter, before, limit)
        if ask.done:
            return
        threads = self._log.iter_threads() if ask.thread_id is None else [ask.thread_id]
        for thread_id in threads:
            for stored in self._log.iter_checkpoints(thread_id, ask.namespace, before=ask.before):
                found = self._tuple(stored)
                if ask.take(found):
                    yield found
                    if ask.done:
                        return

    def put(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        """Store a checkpoint and the values of the channels that changed: one round trip."""
        target, options = self._put_args(config, checkpoint, metadata, new_versions)
        self._log.put(*target, **options)
        return self._saved(target)

    def put_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        """Store a task's writes on the config's checkpoint: one round trip, idempotent."""
        thread_id, namespace, checkpoint_id, items = self._writes(config, writes)
        self._log.put_writes(
            thread_id, namespace, checkpoint_id, items, task_id=task_id, task_path=task_path
        )

    def delete_thread(self, thread_id: str) -> None:
        """Delete every checkpoint and write of the thread (a mirrored session stays)."""
        self._log.delete_thread(str(thread_id))

    def copy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy all checkpoints and writes of a thread to another id (kept: what it holds)."""
        self._log.copy_thread(str(source_thread_id), str(target_thread_id))

    def delete_for_runs(self, run_ids: Sequence[str]) -> None:
        """Delete the checkpoints (and their writes) these runs made, in every thread.

        It walks every thread under the prefix (``SCAN``), one script per thread.
        """
        runs = [str(run) for run in run_ids]
        if runs:
            for thread_id in self._log.iter_threads():
                self._log.delete_runs(thread_id, runs)

    def prune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        """``keep_latest``: keep the newest checkpoint of each namespace; ``delete``: all go."""
        strategy = self._strategy(strategy)
        for thread_id in thread_ids:
            if strategy == "delete":
                self._log.delete_thread(str(thread_id))
            else:
                self._log.prune(str(thread_id), 1)

    # -- async ------------------------------------------------------------------------
    async def aget_tuple(self, config: RunnableConfig) -> CheckpointTuple | None:
        thread_id, namespace = _thread(config)
        stored = await self._alog.get(thread_id, namespace, get_checkpoint_id(config))
        return None if stored is None else self._tuple(stored)

    async def alist(
        self,
        config: RunnableConfig | None,
        *,
        filter: dict[str, Any] | None = None,
        before: RunnableConfig | None = None,
        limit: int | None = None,
    ) -> AsyncIterator[CheckpointTuple]:
        ask = _Listing.of(config, filter, before, limit)
        if ask.done:
            return
        async for thread_id in self._athreads(ask.thread_id):
            async for stored in self._alog.iter_checkpoints(
                thread_id, ask.namespace, before=ask.before
            ):
                found = self._tuple(stored)
                if ask.take(found):
                    yield found
                    if ask.done:
                        return

    async def _athreads(self, thread_id: str | None) -> AsyncIterator[str]:
        if thread_id is not None:
            yield thread_id
            return
        async for found in self._alog.iter_threads():
            yield found

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        target, options = self._put_args(config, checkpoint, metadata, new_versions)
        await self._alog.put(*target, **options)
        return self._saved(target)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        thread_id, namespace, checkpoint_id, items = self._writes(config, writes)
        await self._alog.put_writes(
            thread_id, namespace, checkpoint_id, items, task_id=task_id, task_path=task_path
        )

    async def adelete_thread(self, thread_id: str) -> None:
        await self._alog.delete_thread(str(thread_id))

    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        await self._alog.copy_thread(str(source_thread_id), str(target_thread_id))

    async def adelete_for_runs(self, run_ids: Sequence[str]) -> None:
        runs = [str(run) for run in run_ids]
        if runs:
            async for thread_id in self._alog.iter_threads():
                await self._alog.delete_runs(thread_id, runs)

    async def aprune(self, thread_ids: Sequence[str], *, strategy: str = "keep_latest") -> None:
        strategy = self._strategy(strategy)
        for thread_id in thread_ids:
            if strategy == "delete":
                await self._alog.delete_thread(str(thread_id))
            else:
                await self._alog.prune(str(thread_id), 1)

    # -- versions ---------------------------------------------------------------------
    def get_next_version(self, current: str | int | float | None, channel: None = None) -> str:
        """The next channel version: ``"<32-digit counter>.<8 hex digits>"``.

        The counter is padded as LangGraph's own savers pad theirs, so versions of
        threads copied in from them compare right; the random part keeps forks of
        one thread from writing the same version of a channel."""
        if current is None:
            number = 0
        elif isinstance(current, int | float):
            number = int(current)
        else:
            number = int(str(current).split(".")[0])
        return f"{number + 1:032}.{random.getrandbits(32):08x}"

    def __repr__(self) -> str:
        return (
            f"RedisSaver(url={self._clients.masked_url()!r}, prefix={self.config.prefix!r}, "
            f"keep_last={self.keep_last}, mirror_messages={self.mirror_messages})"
        )


class AsyncRedisSaver(RedisSaver):
    """:class:`RedisSaver` under the name async code often imports.

    ``RedisSaver`` itself is already native on both sides (``redis.asyncio`` for
    the ``a``-methods), so the two classes behave the same.

    Example:
        >>> import asyncio
        >>> from langchain_redis_memory import AsyncRedisSaver
        >>> saver = AsyncRedisSaver()
        >>> asyncio.run(saver.aget_tuple({"configurable": {"thread_id": "new"}})) is None
        True
    """


def copy_threads(
    source: BaseCheckpointSaver[Any],
    target: BaseCheckpointSaver[Any],
    *,
    thread_ids: Sequence[str] | None = None,
) -> int:
    """Copy threads from any LangGraph checkpointer into another (e.g. a :class:`RedisSaver`).

    Every checkpoint of each thread (all namespaces), with its metadata, parent,
    channel values and pending writes, is written to ``target`` oldest first.
    Reads use only the public ``list`` and ``get_tuple`` of ``source``: the peer
    Redis saver, SQLite, Postgres and in-memory savers all work. Task paths of
    pending writes are not part of that interface, so copies have none. ``thread_ids=None`` copies
    every thread ``source.list(None)`` lists. Returns the checkpoints copied.
    """

    def step(call: tuple[str, tuple[Any, ...]]) -> Any:
        name, args = call
        if name == "thread_ids":
            every = (t.config["configurable"]["thread_id"] for t in source.list(None))
            return list(dict.fromkeys(every))
        if name == "list":
            return list(source.list(*args))
        if name == "get_tuple":
            return source.get_tuple(*args)
        return getattr(target, name)(*args)

    return drive(_copy_flow(thread_ids), step)


async def acopy_threads(
    source: BaseCheckpointSaver[Any],
    target: BaseCheckpointSaver[Any],
    *,
    thread_ids: Sequence[str] | None = None,
) -> int:
    """The async twin of :func:`copy_threads` (``alist``, ``aput``, ``aput_writes``)."""

    async def step(call: tuple[str, tuple[Any, ...]]) -> Any:
        name, args = call
        if name == "thread_ids":
            seen = [t.config["configurable"]["thread_id"] async for t in source.alist(None)]
            return list(dict.fromkeys(seen))
        if name == "list":
            return [t async for t in source.alist(*args)]
        if name == "get_tuple":
            return await source.aget_tuple(*args)
        return await getattr(target, "a" + name)(*args)

    return await drive_async(_copy_flow(thread_ids), step)


def _copy_flow(
    thread_ids: Sequence[str] | None,
) -> Generator[tuple[str, tuple[Any, ...]], Any, int]:
    """What copy_threads does, once for both twins: it yields saver calls by name (the
    async twin calls ``alist``, ``aget_tuple``, ``aput``...) and gets their results."""
    if thread_ids is None:
        thread_ids = yield ("thread_ids", ())
    copied = 0
    for thread_id in thread_ids:
        found = yield ("list", ({"configurable": {"thread_id": thread_id}},))
        for listed in sorted(found, key=_age):
            # get_tuple, not list, gives the values as the graph saw them (some
            # savers list messages in their serialized form).
            stored = (yield ("get_tuple", (listed.config,))) or listed
            config, checkpoint, metadata, new_versions = _as_new(stored)
            saved = yield ("put", (config, checkpoint, metadata, new_versions))
            for task_id, writes in _writes_by_task(stored):
                yield ("put_writes", (saved, writes, task_id))
            copied += 1
    return copied


def _age(found: CheckpointTuple) -> tuple[str, str]:
    configurable = found.config["configurable"]
    return configurable.get("checkpoint_ns", ""), found.checkpoint["id"]


def _as_new(
    found: CheckpointTuple,
) -> tuple[RunnableConfig, Checkpoint, CheckpointMetadata, ChannelVersions]:
    configurable = found.config["configurable"]
    config: RunnableConfig = {
        "configurable": {
            "thread_id": str(configurable["thread_id"]),
            "checkpoint_ns": configurable.get("checkpoint_ns", ""),
        }
    }
    if found.parent_config:
        parent_id = found.parent_config["configurable"].get("checkpoint_id")
        config["configurable"]["checkpoint_id"] = parent_id
    versions = dict(found.checkpoint.get("channel_versions", {}))
    return config, found.checkpoint, found.metadata, versions


def _writes_by_task(found: CheckpointTuple) -> list[tuple[str, list[tuple[str, Any]]]]:
    by_task: dict[str, list[tuple[str, Any]]] = {}
    for task_id, channel, value in found.pending_writes or ():
        by_task.setdefault(task_id, []).append((channel, value))
    return list(by_task.items())
