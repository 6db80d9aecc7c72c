"""What the framework adapters' classes share, stated once.

The LangChain and LlamaIndex packages give the same core engines two faces. What
those faces do alike lives here, as mixins; each adapter keeps only the
translation to its framework's types:

- :class:`MemoryRetrieval`: a long-term-memory retriever (the stores it searches,
  the search it runs); the adapters turn each :class:`~redis_memory.memory.MemoryItem`
  into a ``Document`` or a ``NodeWithScore``.
- :class:`ResponseCacheTwins`: an LLM cache (a :class:`~redis_memory.cache.ResponseCache`
  and its async twin sharing one state; counters and warm-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .cache import AsyncResponseCache, CacheStats, ResponseCache

if TYPE_CHECKING:
    from .memory import AsyncMemoryStore, MemoryItem, MemoryStore, Namespace, SearchMode


class MemoryRetrieval:
    """A retriever over the long-term memories of one namespace prefix, framework aside.

    The class that mixes it in holds ``namespace``, ``mode``, ``filter``,
    ``recency_weight`` and ``text_key`` (as fields or attributes), and ``_store`` and
    ``_astore``: a store and its twin, from :func:`~redis_memory.memory.memory_twins`.
    It passes its result count to :meth:`_found` / :meth:`_afound`.
    """

    if TYPE_CHECKING:
        namespace: Namespace
        mode: SearchMode | None
        filter: dict[str, Any] | None
        recency_weight: float
        text_key: str
        _store: MemoryStore
        _astore: AsyncMemoryStore

    @property
    def store(self) -> MemoryStore:
        """The sync store searched (to put, get and delete items directly)."""
        return self._store

    @property
    def astore(self) -> AsyncMemoryStore:
        """Its async twin."""
        return self._astore

    def _options(self, limit: int) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "filter": self.filter,
            "limit": limit,
            "recency_weight": self.recency_weight,
        }

    def _found(self, query: str, limit: int) -> list[MemoryItem]:
        """The ``limit`` items best matching ``query``, best first."""
        return self._store.search(self.namespace, query, **self._options(limit))

    async def _afound(self, query: str, limit: int) -> list[MemoryItem]:
        """:meth:`_found` on ``redis.asyncio``."""
        return await self._astore.search(self.namespace, query, **self._options(limit))

    def _text(self, item: MemoryItem) -> str:
        """The text a result shows: the value's ``text_key`` field, else what the store indexes."""
        return item.text(self.text_key, self._store.text_fields)


class ResponseCacheTwins:
    """An LLM cache's core, framework aside: a :class:`ResponseCache` and its async twin.

    Built by :meth:`_open_cache`; the twins share one state: one set of counters,
    one warning per outage, one index for both paths.
    """

    _cache: ResponseCache
    _acache: AsyncResponseCache

    def _open_cache(self, name: str, **options: Any) -> None:
        self._cache = ResponseCache(name, **options)
        self._acache = self._cache.twin()

    @property
    def stats(self) -> CacheStats:
        """Hits (exact, semantic), misses, updates, errors and latency since construction."""
        return self._cache.stats

    def warm_up(self) -> float:
        """Connect, load the embedding model and create the index now; returns the seconds.

        The first semantic lookup otherwise pays for loading the model (about 3 s
        for the default one). Errors are raised here, not bypassed.
        """
        return self._cache.warm_up()

    async def awarm_up(self) -> float:
        """:meth:`warm_up` for async code: the model loads in a worker thread."""
        return await self._acache.warm_up()
