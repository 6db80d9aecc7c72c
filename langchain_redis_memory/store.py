"""LangChain key-value stores on the core state store (:mod:`redis_memory.state`).

- :class:`RedisStore` is a ``BaseStore[str, Any]`` holding JSON values.
- :class:`RedisByteStore` is a ``ByteStore`` (``BaseStore[str, bytes]``) holding
  raw bytes: a drop-in for ``langchain_community.storage.RedisStore``, e.g. under
  ``CacheBackedEmbeddings.from_bytes_store``.

A store's ``namespace`` plays the role of the core's user id: its keys are
``{prefix}:state:{<namespace>}:<key>``, escaped, all in one Redis Cluster hash
slot, so ``mget`` is one ``MGET`` and ``mset`` one atomic round trip. Every
Redis command lives in the core; these classes only translate.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Generic, TypeVar

from langchain_core.stores import BaseStore

from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.state import AsyncStateStore, StateStore
from redis_memory.ttl import POLICY, TTLOption, kept_ttl

V = TypeVar("V")


def _pairs(key_value_pairs: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    if isinstance(key_value_pairs, str | bytes) or not isinstance(key_value_pairs, Sequence):
        raise TypeError(
            "key_value_pairs must be a sequence of (key, value) tuples, "
            f"not {type(key_value_pairs).__name__}"
        )
    return dict(key_value_pairs)  # a later pair wins, as with one set after another


class _RedisStoreBase(BaseStore[str, V], Generic[V]):
    _raw = False

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        namespace: str = "default",
        ttl: TTLOption = POLICY,
    ) -> None:
        options = {"url": url, "client": client, "config": config}
        self._store = StateStore(**options)
        self._astore = AsyncStateStore(**options)
        self._store.schema.state_user(namespace)  # a bad namespace fails here
        self.namespace = namespace
        self.ttl = kept_ttl(ttl, f"{type(self).__name__}()")  # a bad ttl fails here

    @property
    def config(self) -> RedisMemoryConfig:
        return self._store.config

    def mget(self, keys: Sequence[str]) -> list[V | None]:
        """The values of the keys, None where a key is missing (one ``MGET``)."""
        found = self._get_many(self._store, keys)
        return [found.get(key) for key in keys]

    async def amget(self, keys: Sequence[str]) -> list[V | None]:
        found = await self._get_many(self._astore, keys)
        return [found.get(key) for key in keys]

    def mset(self, key_value_pairs: Sequence[tuple[str, V]]) -> None:
        """Store the pairs atomically, in one round trip, with the store's TTL."""
        self._set_many(self._store, _pairs(key_value_pairs))

    async def amset(self, key_value_pairs: Sequence[tuple[str, V]]) -> None:
        await self._set_many(self._astore, _pairs(key_value_pairs))

    def mdelete(self, keys: Sequence[str]) -> None:
        """Delete the keys (missing ones are ignored)."""
        self._store.delete(self.namespace, *_key_sequence(keys))

    async def amdelete(self, keys: Sequence[str]) -> None:
        await self._astore.delete(self.namespace, *_key_sequence(keys))

    def yield_keys(self, *, prefix: str | None = None) -> Iterator[str]:
        """Every key of the namespace (starting with ``prefix``), by ``SCAN``."""
        yield from self._store.iter_keys(self.namespace, prefix=prefix)

    async def ayield_keys(self, *, prefix: str | None = None) -> AsyncIterator[str]:
        async for key in self._astore.iter_keys(self.namespace, prefix=prefix):
            yield key

    def _get_many(self, store: Any, keys: Sequence[str]) -> Any:
        if self._raw:
            return store.get_many_bytes(self.namespace, keys)
        return store.get_many(self.namespace, keys)

    def _set_many(self, store: Any, mapping: dict[str, Any]) -> Any:
        if self._raw:
            return store.set_many_bytes(self.namespace, mapping, ttl=self.ttl)
        return store.set_many(self.namespace, mapping, ttl=self.ttl)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(namespace={self.namespace!r}, prefix={self.config.prefix!r})"


class RedisStore(_RedisStoreBase[Any]):
    """A LangChain ``BaseStore[str, Any]`` in Redis: JSON values, one namespace.

    Values are anything JSON holds (and pydantic models, stored as their JSON);
    a value JSON cannot hold raises :class:`~redis_memory.SerializationError`
    (a ``TypeError``) before anything is written. Keys are any strings up to
    512 bytes. The async methods use ``redis.asyncio`` natively.

    Args:
        url: A Redis URL or ``"embedded"``. Or ``client=`` (your redis-py client)
            or ``config=`` (a :class:`RedisMemoryConfig` with the prefix and TTL
            policy). None of them: the environment decides.
        namespace: Which set of keys this store sees; the same as a user id of
            :class:`redis_memory.state.StateStore`.
        ttl: Lifetime of written values (seconds, ``timedelta`` or ``TTL``;
            ``TTL(None)`` never expires); left out, the policy's state TTL (never,
            by default). ``ttl=None`` is deprecated (today the policy's; it will
            mean "never expires").

    Example:
        .. code-block:: python

            from langchain_redis_memory.store import RedisStore

            store = RedisStore(url="embedded", namespace="agent-1")
            store.mset([("plan", {"step": 1}), ("notes", ["a", "b"])])
            assert store.mget(["plan", "missing"]) == [{"step": 1}, None]
            assert sorted(store.yield_keys()) == ["notes", "plan"]
            store.mdelete(["plan", "notes"])
    """


class RedisByteStore(_RedisStoreBase[bytes]):
    """A LangChain ``ByteStore`` in Redis: raw bytes values, one namespace.

    A drop-in for ``langchain_community.storage.RedisStore``: ``mget``, ``mset``,
    ``mdelete``, ``yield_keys(prefix=...)`` and their native async twins.
    Values are stored as they are (not JSON); anything but ``bytes`` raises
    :class:`~redis_memory.SerializationError` (a ``TypeError``) before anything
    is written. Reading bytes back needs a client without ``decode_responses``
    (the clients this package builds never decode).

    Args:
        url, client, config: Where the data lives, as for :class:`RedisStore`.
        namespace: Which set of keys this store sees.
        ttl: Lifetime of written values, as for :class:`RedisStore`.

    Example:
        .. code-block:: python

            from langchain_classic.embeddings import CacheBackedEmbeddings
            from langchain_core.embeddings import DeterministicFakeEmbedding
            from langchain_redis_memory.store import RedisByteStore

            store = RedisByteStore(url="embedded", namespace="embeddings", ttl=86400)
            store.mset([("a", b"\\x00\\x01")])
            assert store.mget(["a", "b"]) == [b"\\x00\\x01", None]

            embedder = CacheBackedEmbeddings.from_bytes_store(
                DeterministicFakeEmbedding(size=8), store, namespace="fake-8", key_encoder="sha256"
            )
            vectors = embedder.embed_documents(["hello", "world"])  # computed, then cached
            assert embedder.embed_documents(["hello", "world"]) == vectors  # from Redis
    """

    _raw = True


def _key_sequence(keys: Sequence[str]) -> Sequence[str]:
    # A str is a Sequence too: mdelete("abc") must not delete "a", "b" and "c".
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | set | frozenset):
        raise TypeError(f"keys must be a list of str keys, not {type(keys).__name__}")
    return list(keys)
