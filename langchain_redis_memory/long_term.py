"""LangGraph's long-term memory store on Redis: ``RedisLongTermStore``.

A ``langgraph.store.base.BaseStore`` on the core's long-term memory engine
(:mod:`redis_memory.memory`): this module only translates LangGraph's operations
and items to the engine's calls and back; every Redis command lives in the core.
Not to be confused with :class:`langchain_redis_memory.RedisStore`, LangChain's
key-value store.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal

from redis_memory._extras import require_extra

require_extra("langgraph", "langgraph", "langchain_redis_memory.long_term needs LangGraph")

from langgraph.store.base import (
    BaseStore,
    GetOp,
    IndexConfig,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
    TTLConfig,
    ensure_embeddings,
)

from redis_memory._checks import seconds_or_none
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.embeddings import FunctionEmbedder
from redis_memory.memory import MemoryItem, memory_twins
from redis_memory.ttl import POLICY, TTL

# The field paths the engine reads: "$", or names joined by dots, each maybe with "[*]".
_PATH = re.compile(r"\$|[^.\[\]{}*$]+(?:\[\*\])?(?:\.[^.\[\]{}*$]+(?:\[\*\])?)*")
_ALL = sys.maxsize


def _paths(fields: Any, where: str) -> list[str] | None:
    """Field paths the engine reads, checked: LangGraph's other path forms raise."""
    if fields is None:
        return None
    if isinstance(fields, str) or not isinstance(fields, Sequence):
        raise TypeError(f"{where} is a list of field paths, e.g. ['text'], got {fields!r}")
    for path in fields:
        if not isinstance(path, str) or not _PATH.fullmatch(path):
            raise ValueError(
                f"{where}: unsupported field path {path!r}; RedisLongTermStore reads '$' "
                "(every string of the value), 'a', 'a.b' and 'a[*]' (each element of a list)"
            )
    return list(fields)


def _check_labels(labels: Any, what: str, *, empty_ok: bool) -> tuple[str, ...]:
    if isinstance(labels, str) or not isinstance(labels, Sequence):
        raise InvalidNamespaceError(f"a {what} is a tuple of strings, got {labels!r}")
    labels = tuple(labels)
    if not labels and not empty_ok:
        raise InvalidNamespaceError(f"a {what} cannot be empty")
    for label in labels:
        if not isinstance(label, str) or not label:
            raise InvalidNamespaceError(
                f"every label of a {what} is a non-empty string, got {labels!r}"
            )
    return labels


def _validated(op: Op) -> Op:
    if isinstance(op, GetOp | PutOp):
        _check_labels(op.namespace, "namespace", empty_ok=False)
    elif isinstance(op, SearchOp):
        _check_labels(op.namespace_prefix, "namespace prefix", empty_ok=True)
    elif isinstance(op, ListNamespacesOp):
        for condition in op.match_conditions or ():
            if condition.match_type not in ("prefix", "suffix"):
                raise ValueError(f"unsupported match type {condition.match_type!r}")
            _check_labels(condition.path, "namespace path", empty_ok=True)
    else:
        raise ValueError(f"unknown store operation: {type(op).__name__}")
    return op


def _planned(ops: Iterable[Op]) -> tuple[list[Op], list[tuple[int, Op]], list[PutOp]]:
    """Every op (validated), the reads with their places, and the puts (last one per key).

    As in LangGraph's own stores, a batch's reads see the store as it was before
    the batch, and its puts are applied after them.
    """
    ops = [_validated(op) for op in ops]
    reads = [(i, op) for i, op in enumerate(ops) if not isinstance(op, PutOp)]
    puts: dict[tuple[tuple[str, ...], str], PutOp] = {}
    for op in ops:
        if isinstance(op, PutOp):
            puts.pop((tuple(op.namespace), op.key), None)
            puts[(tuple(op.namespace), op.key)] = op
    return ops, reads, list(puts.values())


def _when(timestamp: float) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC)


def _item(found: MemoryItem | None) -> Item | None:
    if found is None:
        return None
    return Item(
        value=found.value,
        key=found.key,
        namespace=found.namespace,
        created_at=_when(found.created_at),
        updated_at=_when(found.updated_at),
    )


def _filter(conditions: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """LangGraph's filter as the engine's: a plain dict or list value is compared whole."""
    if not conditions:
        return None
    out: dict[str, Any] = {}
    for field, condition in conditions.items():
        is_operators = (
            isinstance(condition, Mapping)
            and condition
            and all(isinstance(name, str) and name.startswith("$") for name in condition)
        )
        out[field] = condition if is_operators else {"$eq": condition}
    return out


class _Listing:
    """A ListNamespacesOp as the engine's ``list_namespaces`` call, plus what is left to do."""

    def __init__(self, op: ListNamespacesOp) -> None:
        self.op = op
        conditions = list(op.match_conditions or ())
        prefixes = [tuple(c.path) for c in conditions if c.match_type == "prefix"]
        suffixes = [tuple(c.path) for c in conditions if c.match_type == "suffix"]
        wild = any("*" in path for path in (*prefixes, *suffixes))
        self.direct = len(prefixes) <= 1 and len(suffixes) <= 1 and not wild
        if self.direct:
            self.call = {
                "prefix": prefixes[0] if prefixes else (),
                "suffix": suffixes[0] if suffixes else (),
                "max_depth": op.max_depth,
                "limit": op.limit,
                "offset": op.offset,
            }
            return
        # Wildcards or several conditions: every namespace under the longest literal
        # head of a prefix, matched here (the engine reads them all by SCAN anyway).
        heads = [path[: path.index("*")] if "*" in path else path for path in prefixes]
        self.call = {"prefix": max(heads, key=len, default=()), "limit": _ALL}

    def finish(self, found: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
        if self.direct:
            return found
        op = self.op
        kept = [ns for ns in found if all(_matches(c, ns) for c in op.match_conditions or ())]
        if op.max_depth is not None:
            kept = [ns[: op.max_depth] for ns in kept]
        return sorted(set(kept))[op.offset : op.offset + op.limit]


def _matches(condition: MatchCondition, namespace: tuple[str, ...]) -> bool:
    path = tuple(condition.path)
    if not path:
        return True
    if len(namespace) < len(path):
        return False
    part = namespace[: len(path)] if condition.match_type == "prefix" else namespace[-len(path) :]
    return all(want in ("*", label) for want, label in zip(path, part, strict=True))


class RedisLongTermStore(BaseStore):
    """LangGraph's long-term memory store on Redis, sync and async.

    Items live at ``(namespace, key)``, one Redis hash each, under the config's key
    prefix; the first label of a namespace is the item's Redis Cluster hash tag, so
    a user's memories share a slot. Namespaces isolate tenants completely: no
    label or query text can widen a search to another namespace's items. Get, put,
    delete, ``list_namespaces`` and search without a query work on any Redis,
    Cluster included (build the store with ``search=False`` there); search by
    query needs the Search module (Redis Stack, Redis 8, Redis Cloud), and
    building the store with ``search=True`` (the default) checks for it, when it is built, and
    creates the index.

    Search by ``query``:

    - with ``index`` (LangGraph's ``IndexConfig``), semantic: each item's text is
      embedded, and a query finds the nearest items, ``score`` being their cosine
      similarity (as InMemoryStore's);
    - without ``index``, full text: BM25 over the items' text, ``score`` relative
      to the best hit (1.0). InMemoryStore ignores the query without ``index``;
      this store ranks by words instead.

    Use it where LangGraph takes a store: ``graph.compile(store=store)``,
    ``create_agent(..., store=store)``; tools reach it with
    ``langgraph.config.get_store()`` or ``ToolRuntime.store``. One object serves
    sync and async code (``put``/``aput``...): the async methods use
    ``redis.asyncio``. ``memory`` and ``amemory`` are the core engines
    (:class:`~redis_memory.memory.MemoryStore` and its async twin) for what
    LangGraph's API lacks: tags, hybrid search, recency weighting.

    Args:
        url, client, config: Where the data lives: a Redis URL (``"embedded"`` for a
            private Redis Stack), your redis-py client, or a ``RedisMemoryConfig``.
        name: The store's name: its keys and its index are its own. ``"default"``,
            as for ``memory_tools``, ``RedisMemoryRetriever`` and LlamaIndex's
            ``RedisMemoryBlock``: what an agent remembers here, the other frameworks
            find. A store with a different ``index`` (dims) needs another name.
        index: LangGraph's ``IndexConfig``: ``{"dims": 384, "embed": embeddings,
            "fields": ["text"]}``; ``embed`` is a LangChain ``Embeddings``, a
            function of a list of texts returning vectors, or an async one.
            ``fields`` default to ``["$"]``: every string of the value.
        ttl: LangGraph's ``TTLConfig``: ``default_ttl`` (minutes) for puts that
            give none, ``refresh_on_read`` (default True) for reads that do not
            say; ``sweep_interval_minutes`` is ignored: Redis expires keys itself.
        search: False for a store without search by query (get, put, list,
            delete and search without a query only), on a Redis without the Search
            module or a Cluster. True checks for the module now.

    Where it differs from LangGraph's ``InMemoryStore``:

    - An item has one vector, of the text of all its ``fields`` joined, where
      InMemoryStore embeds each field (and list element) apart and keeps the best.
      Items are embedded with the model's ``embed_query``.
    - Field paths are ``"$"``, ``"a"``, ``"a.b"`` and ``"a[*]"``; others (``"a[0]"``,
      ``"{a,b}"``, ``"a.*"``) raise ``ValueError``. ``"$"`` takes every string in
      the value, not the JSON text.
    - A search by query returns indexed items only: an item put with
      ``index=False`` (or with no text) is found by ``get`` and by a search
      without a query, never appended unscored (as PostgresStore).
    - A search without a query lists the most recently updated first (as
      PostgresStore), not in insertion order.
    - Filters compare top-level fields with ``$eq $ne $gt $gte $lt $lte`` (and
      ``$in``); a dict or list value is compared whole (InMemoryStore matches a
      dict's keys as a subset), and comparing a number with a non-number is false.
    - ``ttl`` (minutes, per put or ``default_ttl``) is a Redis expiry, renewed by
      reads when they refresh; a put without one takes ``config.ttl.memories``
      (never expires, unless your config says otherwise).
    - Namespace labels may hold any character through ``batch`` (``BaseStore``'s
      methods refuse a "." as LangGraph does); a key is a non-empty string of at
      most 512 bytes.

    Example:
        .. code-block:: python

            from langchain_redis_memory.long_term import RedisLongTermStore

            store = RedisLongTermStore(url="embedded", ttl={"refresh_on_read": True})
            ns = ("users", "ana", "memories")
            store.put(ns, "diet", {"text": "Ana is vegetarian"})
            store.put(ns, "city", {"text": "Ana lives in Lisbon"}, ttl=60 * 24 * 30)
            assert store.get(ns, "diet").value == {"text": "Ana is vegetarian"}

            # Without an index, a query is matched by words (BM25).
            [hit] = store.search(("users", "ana"), query="is Ana a vegetarian?", limit=1)
            assert hit.key == "diet" and hit.score == 1.0
            assert store.list_namespaces(prefix=("users", "*")) == [ns]
            store.delete(ns, "city")
            assert [item.key for item in store.search(ns)] == ["diet"]

            # With an index, by meaning: any LangChain Embeddings, or a function.
            from langchain_redis_memory import MiniLMEmbeddings

            semantic = RedisLongTermStore(
                url="embedded",
                name="semantic",
                index={"dims": 384, "embed": MiniLMEmbeddings(), "fields": ["text"]},
            )
            semantic.put(ns, "diet", {"text": "Ana is vegetarian"})
            semantic.put(ns, "city", {"text": "Ana lives in Lisbon"})
            [hit] = semantic.search(ns, query="what food does she like?", limit=1)
            assert hit.key == "diet"
    """

    supports_ttl: bool = True

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        name: str = "default",
        index: IndexConfig | None = None,
        ttl: TTLConfig | None = None,
        search: bool = True,
    ) -> None:
        options: dict[str, Any] = {"url": url, "client": client, "config": config}
        self.index_config: IndexConfig | None = None
        self.embeddings = None
        if index is not None:
            if index.get("dims") is None or index.get("embed") is None:
                raise ValueError('index needs "dims" and "embed", e.g. {"dims": 384, "embed": ...}')
            self.index_config = index.copy()  # type: ignore[assignment]
            self.embeddings = ensure_embeddings(index["embed"])
            embeddings = self.embeddings
            options["embedder"] = FunctionEmbedder(embeddings.embed_query, embeddings.aembed_query)
            options["dims"] = index["dims"]
            options["text_fields"] = _paths(index.get("fields"), 'index["fields"]')  # None: "$"
        if ttl is not None:
            default = ttl.get("default_ttl")
            if default is not None:
                self._lifetime(default)  # a bad default fails here
            ttl = dict(ttl)  # type: ignore[assignment]
        self.ttl_config = ttl
        self.memory, self.amemory = memory_twins(None, name, search=search, **options)
        self._mode = "vector" if self.embeddings is not None else "text"

    @property
    def config(self) -> RedisMemoryConfig:
        """Where the memories live: prefix, TTL policy, connection settings."""
        return self.memory.config

    # -- translation ------------------------------------------------------------------
    @staticmethod
    def _lifetime(minutes: float | None) -> TTL | Literal["policy"]:
        # LangGraph's TTL is in minutes, renewed by the reads that ask for it; None
        # there is the store's default. TTL checks the upper end (100 years) and 1 ms.
        checked = seconds_or_none("ttl", minutes, unit="minutes", type_error=TypeError)
        return POLICY if checked is None else TTL(checked * 60, sliding=True)

    def _put_args(self, op: PutOp) -> dict[str, Any]:
        index = op.index if op.index is None or op.index is False else _paths(op.index, "index")
        return {"index": index, "ttl": self._lifetime(op.ttl)}

    def _search_args(self, op: SearchOp) -> dict[str, Any]:
        # Without a query (None or blank) the engine lists the newest; mode is unused then.
        return {
            "mode": self._mode,
            "filter": _filter(op.filter),
            "limit": op.limit,
            "offset": op.offset,
            "refresh": op.refresh_ttl,
        }

    def _found(self, found: list[MemoryItem]) -> list[SearchItem]:
        items = []
        for item in found:
            score = item.score
            if score is not None and self._mode == "vector":
                score = 2 * score - 1  # the engine's 1 - distance / 2, as a cosine similarity
            items.append(
                SearchItem(
                    namespace=item.namespace,
                    key=item.key,
                    value=item.value,
                    created_at=_when(item.created_at),
                    updated_at=_when(item.updated_at),
                    score=score,
                )
            )
        return items

    # -- sync -------------------------------------------------------------------------
    def _read(self, op: Op) -> Result:
        memory = self.memory
        if isinstance(op, GetOp):
            return _item(memory.get(op.namespace, op.key, refresh=op.refresh_ttl))
        if isinstance(op, SearchOp):
            found = memory.search(op.namespace_prefix, op.query, **self._search_args(op))
            return self._found(found)
        listing = _Listing(op)  # type: ignore[arg-type]
        return listing.finish(memory.list_namespaces(**listing.call))

    def _write(self, op: PutOp) -> None:
        if op.value is None:
            self.memory.delete(op.namespace, op.key)
        else:
            self.memory.put(op.namespace, op.key, op.value, **self._put_args(op))

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        """Run LangGraph's operations: reads first (in order), then the puts."""
        ops, reads, puts = _planned(ops)
        results: list[Result] = [None] * len(ops)
        for i, op in reads:
            results[i] = self._read(op)
        for put in puts:
            self._write(put)
        return results

    # -- async ------------------------------------------------------------------------
    async def _aread(self, op: Op) -> Result:
        memory = self.amemory
        if isinstance(op, GetOp):
            return _item(await memory.get(op.namespace, op.key, refresh=op.refresh_ttl))
        if isinstance(op, SearchOp):
            found = await memory.search(op.namespace_prefix, op.query, **self._search_args(op))
            return self._found(found)
        listing = _Listing(op)  # type: ignore[arg-type]
        return listing.finish(await memory.list_namespaces(**listing.call))

    async def _awrite(self, op: PutOp) -> None:
        if op.value is None:
            await self.amemory.delete(op.namespace, op.key)
        else:
            await self.amemory.put(op.namespace, op.key, op.value, **self._put_args(op))

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        """Run LangGraph's operations: the reads concurrently, then the puts concurrently."""
        ops, reads, puts = _planned(ops)
        results: list[Result] = [None] * len(ops)
        found = await asyncio.gather(*(self._aread(op) for _, op in reads))
        for (i, _), result in zip(reads, found, strict=True):
            results[i] = result
        await asyncio.gather(*(self._awrite(put) for put in puts))
        return results


__all__ = ["RedisLongTermStore"]
