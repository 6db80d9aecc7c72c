"""A LlamaIndex key-value store on the core state store (:mod:`redis_memory.state`).

:class:`RedisKVStore` is a ``BaseKVStore``: the storage under LlamaIndex's
``KVDocumentStore``, ``KVIndexStore`` and ``IngestionCache``. A collection plays
the role of the core's user id: its keys are ``{prefix}:state:{<collection>}:<key>``,
escaped, all in one Redis Cluster hash slot. Values are dicts stored as JSON.
Every Redis command lives in the core; this class only translates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from llama_index.core.storage.kvstore.types import (
    DEFAULT_BATCH_SIZE,
    DEFAULT_COLLECTION,
    BaseKVStore,
)

from redis_memory._checks import whole
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.errors import SerializationError
from redis_memory.state import AsyncStateStore, StateStore
from redis_memory.ttl import POLICY, TTLOption, kept_ttl


def _checked(key: str, val: Any) -> dict:
    if not isinstance(val, Mapping):
        raise SerializationError(
            f"RedisKVStore stores dicts (LlamaIndex's BaseKVStore contract), not "
            f"{type(val).__name__} (key {key!r})"
        )
    return dict(val)


def _batches(kv_pairs: Sequence[tuple[str, dict]], batch_size: int) -> list[dict[str, dict]]:
    whole("batch_size", batch_size, 1)
    pairs = [(key, _checked(key, val)) for key, val in kv_pairs]
    return [dict(pairs[i : i + batch_size]) for i in range(0, len(pairs), batch_size)]


class RedisKVStore(BaseKVStore):
    """A LlamaIndex ``BaseKVStore`` in Redis: dict values, one key space per collection.

    ``put_all`` writes ``batch_size`` pairs per round trip, each batch atomically;
    ``get_all`` reads a whole collection (``SCAN`` and ``MGET`` page by page, as
    the contract asks for everything). The async methods use ``redis.asyncio``
    natively. A value that is not a dict, or that JSON cannot hold, raises
    :class:`~redis_memory.SerializationError` (a ``TypeError``) before anything
    is written.

    Args:
        url: A Redis URL or ``"embedded"``. Or ``client=`` (your redis-py client)
            or ``config=`` (a :class:`RedisMemoryConfig` with the prefix and TTL
            policy). None of them: the environment decides.
        ttl: Lifetime of written values (seconds, ``timedelta`` or ``TTL``;
            ``TTL(None)`` never expires); left out, the policy's state TTL (never,
            by default). ``ttl=None`` is deprecated (today the policy's; it will
            mean "never expires").

    Example:
        .. code-block:: python

            from llama_index.core import Document
            from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
            from llama_index_redis_memory.kvstore import RedisKVStore

            kvstore = RedisKVStore(url="embedded")
            kvstore.put("answer", {"value": 42}, collection="facts")
            assert kvstore.get("answer", collection="facts") == {"value": 42}
            assert kvstore.get_all(collection="facts") == {"answer": {"value": 42}}
            assert kvstore.delete("answer", collection="facts")

            docstore = KVDocumentStore(kvstore, namespace="docs")
            docstore.add_documents([Document(text="Redis keeps it.", id_="d1")])
            assert docstore.get_document("d1").text == "Redis keeps it."
            docstore.delete_document("d1")
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        ttl: TTLOption = POLICY,
    ) -> None:
        options = {"url": url, "client": client, "config": config}
        self._store = StateStore(**options)
        self._astore = AsyncStateStore(**options)
        self.ttl = kept_ttl(ttl, f"{type(self).__name__}()")  # a bad ttl fails here

    @property
    def config(self) -> RedisMemoryConfig:
        """Where the dicts live: prefix, TTL policy, connection settings."""
        return self._store.config

    def put(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        """Store one dict (one round trip)."""
        self._store.set(collection, key, _checked(key, val), ttl=self.ttl)

    async def aput(self, key: str, val: dict, collection: str = DEFAULT_COLLECTION) -> None:
        """The twin of :meth:`put`: store one dict (one round trip)."""
        await self._astore.set(collection, key, _checked(key, val), ttl=self.ttl)

    def put_all(
        self,
        kv_pairs: Sequence[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """Store the pairs, ``batch_size`` per round trip, each batch atomically."""
        for batch in _batches(kv_pairs, batch_size):
            self._store.set_many(collection, batch, ttl=self.ttl)

    async def aput_all(
        self,
        kv_pairs: Sequence[tuple[str, dict]],
        collection: str = DEFAULT_COLLECTION,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ) -> None:
        """The twin of :meth:`put_all`: ``batch_size`` per round trip, each batch atomically."""
        for batch in _batches(kv_pairs, batch_size):
            await self._astore.set_many(collection, batch, ttl=self.ttl)

    def get(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        """The dict under ``key``, or None (one ``GET``)."""
        return self._store.get(collection, key)

    async def aget(self, key: str, collection: str = DEFAULT_COLLECTION) -> dict | None:
        """The twin of :meth:`get`: the dict under ``key``, or None."""
        return await self._astore.get(collection, key)

    def get_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        """Every key and dict of the collection (a full read, page by page)."""
        return dict(self._store.iter_items(collection))

    async def aget_all(self, collection: str = DEFAULT_COLLECTION) -> dict[str, dict]:
        """The twin of :meth:`get_all`: every key and dict of the collection."""
        return {key: val async for key, val in self._astore.iter_items(collection)}

    def delete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """Delete ``key``; True if it existed."""
        return self._store.delete(collection, key) > 0

    async def adelete(self, key: str, collection: str = DEFAULT_COLLECTION) -> bool:
        """The twin of :meth:`delete`: True if ``key`` existed."""
        return await self._astore.delete(collection, key) > 0

    def __repr__(self) -> str:
        return f"RedisKVStore(prefix={self.config.prefix!r})"
