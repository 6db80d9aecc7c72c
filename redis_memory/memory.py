"""Long-term memory: items by namespace and key, found again by meaning or by words.

An item is a JSON object stored at ``(namespace, key)``: the namespace a tuple of
strings (user, agent, application...), the key a string. Each item is one hash,
``{prefix}:mem:<store>:<depth>:{<ns0>}:<ns1>:...:<key>`` (the first label is the
hash tag, so a user's memories share a slot), holding the value, its text, its
tags, its created/updated times and, with an embedder, its vector.

Get, put, list and delete work on any Redis, Cluster included. Search needs the
Search module (one index per store) and says so once, when the store is built:

- ``"vector"``: nearest by meaning (HNSW, or FLAT on request; cosine);
- ``"text"``: BM25 over the items' text (every word of the query, any of them);
- ``"hybrid"``: both, fused by reciprocal rank;

with filters on namespace prefix, tags and value fields (``$eq $ne $gt $gte $lt
$lte $in``), ``limit``/``offset`` and an optional recency weight. Namespaces, tags
and tag-like filter values reach a query only as digests, and query text only as
its words: no value can widen a query to another tenant's items.

Value fields declared in ``filter_fields`` are indexed and filtered by Redis;
other fields are filtered here, on the items Redis returns (more are read while
the page is short). ``add`` stores an item under a key made from its content, so
adding the same thing twice updates it; with ``dedupe_distance``, an item within
that distance of one already in the namespace updates that one instead.

:class:`MemoryStore` is the sync engine and :class:`AsyncMemoryStore` its
``redis.asyncio`` twin, with the same method names.
"""

from __future__ import annotations

import math
import operator as op
import re
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

import numpy as np
import orjson

from ._checks import whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._paging import each_once, each_once_async, every_page
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
from .errors import SerializationError, UnexpectedDataError
from .serialization import JSONSerializer
from .server import amodules, require_search, search_missing
from .ttl import POLICY, TTL, TTLOption, or_default

T = TypeVar("T")
S = TypeVar("S", bound="_MemoryStoreCore")
Namespace = tuple[str, ...]
SearchMode = Literal["vector", "text", "hybrid"]
FieldKind = Literal["tag", "numeric"]

# A memory's content key is the digest of its value in this one spelling.
_CANONICAL = JSONSerializer(sort_keys=True)
_OPERATORS = ("$eq", "$ne", "$gt", "$gte", "$lt", "$lte", "$in")
_COMPARE = {"$gt": op.gt, "$gte": op.ge, "$lt": op.lt, "$lte": op.le}
_RETURN = ("ns", "key", "value", "tags", "created", "updated", "sliding")
_RETURN_FIELDS = tuple(field.encode() for field in _RETURN)

# An item with a sliding TTL keeps its lifetime in its "sliding" field; reads renew it.
_REFRESH_FUNCTION = lua("memory_refresh_function.lua")
GET = Script(_REFRESH_FUNCTION + lua("memory_get.lua"))
REFRESH = Script(_REFRESH_FUNCTION + lua("memory_refresh.lua"))


@dataclass(frozen=True, slots=True)
class MemoryItem:
    """One item: where it lives, its value, its tags and times; ``score`` when searched.

    ``sliding_ttl`` is the lifetime (seconds) every read renews, if the item has one.
    ``score`` is higher for a better match: ``1 - cosine distance / 2`` for vector
    search, BM25 relative to the best hit for text, reciprocal-rank fusion relative
    to the best for hybrid, each blended with recency when asked.
    """

    namespace: Namespace
    key: str
    value: dict[str, Any]
    created_at: float
    updated_at: float
    tags: tuple[str, ...] = ()
    score: float | None = None
    sliding_ttl: float | None = None

    def text(self, key: str = "text", fields: Sequence[str] | None = None) -> str:
        """The item's text: its ``key`` field when that is a string, else the
        strings at ``fields`` (every string of the value when None)."""
        found = self.value.get(key)
        return found if isinstance(found, str) else text_of(self.value, fields)

    def metadata(self, text_key: str = "text") -> dict[str, Any]:
        """What a retriever shows beside the text: the value's other fields, then
        the item's own (namespace, key, score, tags, times), which win on a clash."""
        fields = {name: v for name, v in self.value.items() if name != text_key}
        fields.update(
            namespace=list(self.namespace),
            key=self.key,
            score=self.score,
            tags=list(self.tags),
            created_at=self.created_at,
            updated_at=self.updated_at,
        )
        return fields


@dataclass(frozen=True, slots=True)
class _Put:
    namespace: Namespace
    key: str
    value: dict[str, Any]
    tags: tuple[str, ...]
    text: str
    embed: bool
    ttl: TTL


def as_namespace(namespace: Any) -> Namespace:
    """A namespace checked: a tuple of non-empty strings (``TypeError``/``ValueError`` else)."""
    return _labels(namespace)


def _labels(namespace: Any, what: str = "namespace") -> Namespace:
    if isinstance(namespace, str) or not isinstance(namespace, tuple | list):
        raise TypeError(f"a {what} is a tuple of strings, e.g. ('users', 'ana'); got {namespace!r}")
    labels = tuple(namespace)
    for label in labels:
        if not isinstance(label, str) or not label:
            raise ValueError(f"every label of a {what} is a non-empty str; got {namespace!r}")
    return labels


def _path_digest(labels: Sequence[str]) -> str:
    return digest(*labels)


def text_of(value: Any, fields: Sequence[str] | None = None) -> str:
    """The text of a value to index: the strings at ``fields`` (``"a.b"``, ``"a[*]"``,
    ``"$"`` for all), or every string in the value when ``fields`` is None."""
    if fields is None or "$" in fields:
        return " ".join(_strings(value))
    parts: list[str] = []
    for path in fields:
        parts += _strings(_at(value, path))
    return " ".join(parts)


def _at(value: Any, path: str) -> Any:
    found = [value]
    for step in path.replace("[*]", ".*").split("."):
        if not step:
            continue
        nxt: list[Any] = []
        for item in found:
            if step == "*" and isinstance(item, list):
                nxt += item
            elif isinstance(item, dict) and step in item:
                nxt.append(item[step])
        found = nxt
    return found


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list | tuple):
        return [s for item in value for s in _strings(item)]
    return []


class _MemoryStoreCore(Engine):
    """What the sync and async stores share: keys, encoding, queries, plans."""

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embedder: Embedder | None = None,
        dims: int | None = None,
        text_fields: Sequence[str] | None = None,
        filter_fields: Mapping[str, FieldKind] | None = None,
        vector_algorithm: Literal["hnsw", "flat"] = "hnsw",
        ttl: TTLOption = POLICY,
        dedupe_distance: float | None = None,
        search: bool = True,
    ) -> None:
        super().__init__(url, client, config)
        self.name = name
        self._stem = self.keys.memory(name)
        self.index_name = self.keys.memory_index(name)
        self.embedder = embedder
        if dims is not None:
            whole("dims", dims, 1)
        self.dims = dims if dims is not None else getattr(embedder, "dimensions", None)
        if embedder is not None and self.dims is None:
            # One embedding tells the model's dimensions (dims= saves it).
            self.dims = len(embedder.embed("dimensions"))
        self.text_fields = None if text_fields is None else list(text_fields)
        self.filter_fields = dict(filter_fields or {})
        for field, kind in self.filter_fields.items():
            if kind not in ("tag", "numeric") or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", field):
                raise ValueError(
                    f"filter_fields maps a top-level value field (letters, digits, _) to "
                    f"'tag' or 'numeric'; got {field!r}: {kind!r}"
                )
        if vector_algorithm not in ("hnsw", "flat"):
            raise ValueError(f"vector_algorithm is 'hnsw' or 'flat', got {vector_algorithm!r}")
        self.vector_algorithm = vector_algorithm
        self.ttl = self._ttl_of(ttl, self.config.ttl.memories)
        if dedupe_distance is not None and not 0 <= dedupe_distance < 2:
            raise ValueError(
                f"dedupe_distance is a cosine distance in [0, 2), got {dedupe_distance}"
            )
        if dedupe_distance is not None and embedder is None:
            raise ValueError("dedupe_distance compares meanings: it needs an embedder")
        self.dedupe_distance = dedupe_distance
        self.search_enabled = bool(search)
        self._index_lock = threading.Lock()

    def _ttl_of(self, ttl: TTLOption, default: TTL) -> TTL:
        return or_default(ttl, default, type(self).__name__)

    # -- keys -------------------------------------------------------------------------
    def key_of(self, namespace: Sequence[str], key: str) -> str:
        """The Redis key of an item."""
        labels = _labels(namespace)
        if not labels:
            raise ValueError("an item's namespace has at least one label, e.g. ('users', 'ana')")
        return self.keys.memory_item(self.name, labels, key)

    def _pattern(self, prefix: Namespace) -> str:
        return self.keys.memory_pattern(self.name, prefix)

    def _located(self, key: bytes | str) -> tuple[Namespace, str]:
        return self.keys.memory_item_of(self.name, key)

    # -- encoding ---------------------------------------------------------------------
    def _prepared(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        tags: Sequence[str],
        index: bool | Sequence[str] | None,
        ttl: TTLOption = POLICY,
    ) -> _Put:
        labels = _labels(namespace)
        if not isinstance(value, Mapping):
            raise TypeError(f"a memory's value is a dict (JSON object), not {type(value).__name__}")
        if isinstance(tags, str) or not all(isinstance(t, str) and t for t in tags):
            raise TypeError(f"tags are a list of non-empty strings, got {tags!r}")
        self.key_of(labels, key)
        fields = self.text_fields if index is None or index is True else index
        text = "" if index is False else text_of(dict(value), fields)
        embed = self.embedder is not None and index is not False and bool(text)
        lifetime = self._ttl_of(ttl, self.ttl)
        return _Put(labels, key, dict(value), tuple(dict.fromkeys(tags)), text, embed, lifetime)

    def _dumps(self, value: dict[str, Any], where: str) -> bytes:
        try:
            return self.config.checked_serializer.dumps(value)
        except SerializationError as exc:
            raise SerializationError(f"{where} cannot be stored: {exc}") from exc

    def _vector(self, vector: Sequence[float]) -> bytes:
        data = np.asarray(vector, dtype=np.float32)
        if data.shape != (self.dims,):
            raise ValueError(
                f"the embedder gave {data.shape[0] if data.ndim == 1 else data.shape} "
                f"dimensions; the store was built for dims={self.dims}"
            )
        return data.tobytes()

    def _item(self, raw: Mapping[bytes, Any], key: Any, score: float | None = None) -> MemoryItem:
        try:
            namespace = tuple(orjson.loads(raw[b"ns"]))
            tags = tuple(orjson.loads(raw.get(b"tags") or b"[]"))
            return MemoryItem(
                namespace=namespace,
                key=raw[b"key"].decode(),
                value=self.config.serializer.loads(raw[b"value"]),
                created_at=float(raw[b"created"]),
                updated_at=float(raw[b"updated"]),
                tags=tags,
                score=score,
                sliding_ttl=int(raw.get(b"sliding") or 0) / 1000 or None,
            )
        except (KeyError, ValueError, TypeError, SerializationError) as exc:
            name = key.decode() if isinstance(key, bytes) else key
            raise UnexpectedDataError(
                f"{name} is not a memory item of redis-memory-backend ({exc!r}); another "
                "program may write under this key prefix"
            ) from exc

    # -- plans: get, put, delete ------------------------------------------------------
    def _plan_get(
        self, namespace: Sequence[str], key: str, refresh: bool
    ) -> Plan[MemoryItem | None]:
        name = self.key_of(namespace, key)

        def finish(replies: list[Any]) -> MemoryItem | None:
            values = replies[0]
            if values[0] is None:
                return None
            return self._item(dict(zip(_RETURN_FIELDS, values, strict=True)), name)

        args = ["1" if refresh else "0", *_RETURN]
        return Plan("reading a memory", name, finish, script=(GET, [name], args))

    def _plan_refresh(self, items: Sequence[MemoryItem]) -> Plan[None]:
        keys = [self.key_of(item.namespace, item.key) for item in items if item.sliding_ttl]
        # EVAL, not EVALSHA: a pipeline cannot load a missing script half-way.
        commands = [("EVAL", REFRESH.source, 1, key) for key in keys]
        return Plan("renewing memories", self._stem, lambda _: None, commands)

    def _plan_put(
        self, item: _Put, vector: bytes | None, now: float, created_at: float | None = None
    ) -> Plan[None]:
        name = self.key_of(item.namespace, item.key)
        fields: dict[str, Any] = {
            "ns": orjson.dumps(list(item.namespace)),
            "nsp": ",".join(
                _path_digest(item.namespace[:i]) for i in range(1, len(item.namespace) + 1)
            ),
            "nsx": _path_digest(item.namespace),
            "key": item.key,
            "value": self._dumps(item.value, f"the value of {item.key!r}"),
            "text": item.text,
            "tags": orjson.dumps(list(item.tags)),
            "tagd": ",".join(digest(tag) for tag in item.tags),
            "updated": repr(now),
            # Sortable, so returned rounded: "updated" keeps the exact time.
            "recency": repr(now),
        }
        for field, kind in self.filter_fields.items():
            if field in item.value:
                fields["f_" + field] = _filter_value(field, kind, item.value[field])
        # An item keeps the time it was first stored, unless one is given (an import).
        first: tuple[Any, ...] = (
            ("HSETNX", name, "created", repr(now))
            if created_at is None
            else ("HSET", name, "created", repr(float(created_at)))
        )
        commands: list[tuple[Any, ...]] = [first]
        stale = [f"f_{field}" for field in self.filter_fields if field not in item.value]
        if vector is None:
            stale.append("vec")
        else:
            fields["vec"] = vector
        if stale:
            commands.append(("HDEL", name, *stale))
        fields["sliding"] = item.ttl.milliseconds if item.ttl.refresh_on_read else 0
        commands.append(("HSET", name, *(x for pair in fields.items() for x in pair)))
        if item.ttl.expires:
            commands.append(("PEXPIRE", name, item.ttl.milliseconds))
        else:
            commands.append(("PERSIST", name))
        return Plan("saving a memory", name, lambda _: None, commands, transaction=True)

    def _plan_delete(self, namespace: Sequence[str], key: str) -> Plan[bool]:
        name = self.key_of(namespace, key)
        return Plan("deleting a memory", name, lambda r: bool(r[0]), [("UNLINK", name)])

    def _plan_scan(
        self, prefix: Namespace, cursor: int, count: int
    ) -> Plan[tuple[int, list[bytes]]]:
        pattern = self._pattern(prefix)
        command = ("SCAN", whole("cursor", cursor, 0), "MATCH", pattern, "COUNT", count)

        def finish(replies: list[Any]) -> tuple[int, list[bytes]]:
            next_cursor, keys = replies[0]
            return int(next_cursor), keys

        return Plan("listing memories", pattern, finish, [command])

    def _plan_read_many(self, keys: Sequence[bytes]) -> Plan[list[MemoryItem]]:
        commands = [("HMGET", key, *_RETURN) for key in keys]

        def finish(replies: list[Any]) -> list[MemoryItem]:
            return [
                self._item(dict(zip(_RETURN_FIELDS, values, strict=True)), key)
                for key, values in zip(keys, replies, strict=True)
                if values[0] is not None
            ]

        return Plan("reading memories", self._stem, finish, commands)

    # -- plans: search ----------------------------------------------------------------
    def _filter_clause(
        self,
        prefix: Namespace,
        tags: Sequence[str],
        filter: Mapping[str, Any] | None,
        exact: bool = False,
    ) -> tuple[str, dict[str, Any]]:
        """The query's filter clause, and the conditions left for Python to check."""
        clauses: list[str] = []
        if prefix:
            field = "nsx" if exact else "nsp"
            clauses.append(f"@{field}:{{{_path_digest(prefix)}}}")
        for tag in tags:
            clauses.append(f"@tagd:{{{digest(tag)}}}")
        rest: dict[str, Any] = {}
        for field, condition in (filter or {}).items():
            kind = self.filter_fields.get(field)
            if kind is None:
                rest[field] = condition
                continue
            clauses.append(_condition_clause(field, kind, condition))
        return (" ".join(clauses) or "*"), rest

    def _plan_search(
        self,
        mode: SearchMode,
        words: list[str],
        vector: bytes | None,
        where: str,
        count: int,
    ) -> Plan[list[list[tuple[MemoryItem, float]]]]:
        """One round trip: the vector and/or the text query, ``count`` results each."""
        commands: list[tuple[Any, ...]] = []
        if mode in ("vector", "hybrid"):
            assert vector is not None
            commands.append(
                (
                    "FT.SEARCH", self.index_name,
                    f"({where})=>[KNN {count} @vec $vector AS dist]",
                    "PARAMS", 2, "vector", vector,
                    "RETURN", len(_RETURN) + 1, *_RETURN, "dist",
                    "SORTBY", "dist", "ASC",
                    "LIMIT", 0, count,
                    "DIALECT", 2,
                )
            )  # fmt: skip
        if mode in ("text", "hybrid") and words:
            query = text_query(words, where)
            commands.append(
                (
                    "FT.SEARCH", self.index_name, query,
                    "SCORER", SCORER, "WITHSCORES",
                    "RETURN", len(_RETURN), *_RETURN,
                    "LIMIT", 0, count,
                    "DIALECT", 2,
                )
            )  # fmt: skip

        def finish(replies: list[Any]) -> list[list[tuple[MemoryItem, float]]]:
            lists = []
            for command, reply in zip(commands, replies, strict=True):
                if "WITHSCORES" in command:
                    lists.append(
                        [(self._item(raw, key), score) for raw, key, score in scored_results(reply)]
                    )
                else:
                    lists.append(
                        [
                            (self._item(raw, self.index_name), 1.0 - float(raw[b"dist"]) / 2)
                            for raw in search_results(reply)
                        ]
                    )
            return lists

        return Plan("searching memories", self.index_name, finish, commands)

    def _search_flow(
        self,
        namespace_prefix: Sequence[str],
        query: str | None,
        *,
        mode: SearchMode | None,
        tags: Sequence[str],
        filter: Mapping[str, Any] | None,
        limit: int,
        offset: int,
        recency_weight: float,
        half_life: float,
        refresh: bool = True,
    ) -> Generator[Any, Any, list[MemoryItem]]:
        found = yield from self._found_flow(
            namespace_prefix,
            query,
            mode=mode,
            tags=tags,
            filter=filter,
            limit=limit,
            offset=offset,
            recency_weight=recency_weight,
            half_life=half_life,
        )
        if refresh and any(item.sliding_ttl for item in found):
            yield self._plan_refresh(found)
        return found

    def _found_flow(
        self,
        namespace_prefix: Sequence[str],
        query: str | None,
        *,
        mode: SearchMode | None,
        tags: Sequence[str],
        filter: Mapping[str, Any] | None,
        limit: int,
        offset: int,
        recency_weight: float,
        half_life: float,
    ) -> Generator[Any, Any, list[MemoryItem]]:
        prefix = _labels(namespace_prefix, "namespace prefix")
        whole("limit", limit, 1)
        whole("offset", offset, 0)
        if not 0 <= recency_weight <= 1:
            raise ValueError(f"recency_weight is between 0 and 1, got {recency_weight}")
        if query is None or not query.strip():
            return (yield from self._list_flow(prefix, tags, filter, limit, offset))
        # Vector by default: hybrid ranks a little better but its text half costs
        # tens of ms at 100,000 items (benchmarks/results/latest.md).
        mode = mode or ("vector" if self.embedder is not None else "text")
        if mode not in ("vector", "text", "hybrid"):
            raise ValueError(f"mode is 'vector', 'text' or 'hybrid', got {mode!r}")
        if mode != "text" and self.embedder is None:
            raise ValueError(f"{mode} search needs an embedder; build the store with embedder=")
        self._require_search()
        words = query_words(query)
        if mode == "text" and not words:
            return []
        vector = None
        if mode != "text":
            vector = self._vector((yield _Embed(query)))
        where, rest = self._filter_clause(prefix, tags, filter)
        wanted = offset + limit
        count = wanted * (4 if rest else 2 if mode == "hybrid" else 1)
        while True:
            lists = yield self._plan_search(mode, words, vector, where, count)
            merged = fuse(lists, _identity) if mode == "hybrid" else relative(lists[0], mode)
            kept = [(item, score) for item, score in merged if _matches(item.value, rest)]
            exhausted = all(len(found) < count for found in lists)
            if len(kept) >= wanted or exhausted or count >= 10_000:
                break
            count *= 4
        now = time.time()
        if recency_weight:
            kept = [
                (
                    item,
                    (1 - recency_weight) * score
                    + recency_weight * 0.5 ** ((now - item.updated_at) / half_life),
                )
                for item, score in kept
            ]
            kept.sort(key=lambda pair: pair[1], reverse=True)
        return [replace(item, score=score) for item, score in kept[offset:wanted]]

    def _plan_newest(self, where: str, count: int) -> Plan[list[MemoryItem]]:
        command = (
            "FT.SEARCH", self.index_name, where,
            "RETURN", len(_RETURN), *_RETURN,
            "SORTBY", "recency", "DESC",
            "LIMIT", 0, count,
            "DIALECT", 2,
        )  # fmt: skip

        def finish(replies: list[Any]) -> list[MemoryItem]:
            return [self._item(raw, self.index_name) for raw in search_results(replies[0])]

        return Plan("listing memories", self.index_name, finish, [command])

    def _list_flow(
        self,
        prefix: Namespace,
        tags: Sequence[str],
        filter: Mapping[str, Any] | None,
        limit: int,
        offset: int,
    ) -> Generator[Any, Any, list[MemoryItem]]:
        """Without a query: the newest items first (by updated time).

        With the index, a bounded query; without it (``search=False``), every key
        under the prefix is read (``SCAN``): fine for one user's memories, not for
        a whole store.
        """
        for condition in (filter or {}).values():
            _check_condition(condition)
        if self.search_enabled:
            where, rest = self._filter_clause(prefix, tags, filter)
            wanted = offset + limit
            count = wanted * (4 if rest else 1)
            while True:
                items = yield self._plan_newest(where, count)
                kept = [item for item in items if _matches(item.value, rest)]
                if len(kept) >= wanted or len(items) < count or count >= 10_000:
                    return kept[offset:wanted]
                count *= 4
        found: list[MemoryItem] = []

        def read(keys: list[str]) -> Generator[Any, Any, None]:
            items = yield self._plan_read_many(keys)
            found.extend(
                item
                for item in items
                if item.namespace[: len(prefix)] == prefix
                and all(tag in item.tags for tag in tags)
                and _matches(item.value, filter or {})
            )

        yield from every_page(lambda cursor: self._plan_scan(prefix, cursor, 500), read)
        unique = {(item.namespace, item.key): item for item in found}
        ordered = sorted(unique.values(), key=lambda item: item.updated_at, reverse=True)
        return ordered[offset : offset + limit]

    def _add_flow(
        self,
        namespace: Sequence[str],
        value: Mapping[str, Any],
        tags: Sequence[str],
        index: bool | Sequence[str] | None,
        ttl: TTLOption = POLICY,
    ) -> Generator[Any, Any, str]:
        labels = _labels(namespace)
        try:
            content = digest(_CANONICAL.dumps(dict(value)).decode())
        except SerializationError as exc:
            raise SerializationError(f"the memory cannot be stored: {exc}") from exc
        item = self._prepared(labels, content, value, tags, index, ttl)
        vector = None
        if item.embed:
            vector = self._vector((yield _Embed(item.text)))
        if self.dedupe_distance is not None and vector is not None:
            self._require_search()
            where, _ = self._filter_clause(labels, (), None, exact=True)
            (nearest,) = yield self._plan_search("vector", [], vector, where, 1)
            # A vector hit's score is 1 - distance / 2.
            if nearest and 2 * (1 - nearest[0][1]) <= self.dedupe_distance + 1e-9:
                item = replace(item, key=nearest[0][0].key)
        yield self._plan_put(item, vector, time.time())
        return item.key

    def _put_flow(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        tags: Sequence[str],
        index: bool | Sequence[str] | None,
        ttl: TTLOption = POLICY,
        created_at: float | None = None,
    ) -> Generator[Any, Any, None]:
        item = self._prepared(namespace, key, value, tags, index, ttl)
        vector = self._vector((yield _Embed(item.text))) if item.embed else None
        yield self._plan_put(item, vector, time.time(), created_at)

    def _namespaces_flow(
        self,
        prefix: Sequence[str],
        suffix: Sequence[str],
        max_depth: int | None,
        limit: int,
        offset: int,
    ) -> Generator[Any, Any, list[Namespace]]:
        head, tail = _labels(prefix, "namespace prefix"), _labels(suffix, "namespace suffix")
        seen: set[Namespace] = set()

        def note(keys: list[str]) -> None:
            for key in keys:
                namespace, _ = self._located(key)
                if namespace[: len(head)] != head or (tail and namespace[-len(tail) :] != tail):
                    continue
                seen.add(namespace if max_depth is None else namespace[:max_depth])

        yield from every_page(lambda cursor: self._plan_scan(head, cursor, 1000), note)
        return sorted(seen)[offset : offset + limit]

    def _twin(self, cls: type[S]) -> S:
        # The twins hold nothing but their shared core's state (settings, the
        # shared clients): the other twin is that state under the other class.
        twin = object.__new__(cls)
        twin.__dict__.update(vars(self))
        return twin

    # -- the index --------------------------------------------------------------------
    def _searching(self) -> str:
        return (
            f"memory store {self.name!r} (search; build it with search=False to only "
            "get, put, list and delete)"
        )

    def _create_index(self) -> None:
        from redisvl.index import SearchIndex

        with (
            self._index_lock,
            redis_errors("creating the memory search index", self.index_name, self._url),
        ):
            require_search(self._clients.sync, self._searching())
            index = SearchIndex(self._schema(), redis_client=self._clients.sync)
            if not index.exists():
                with index_exists_is_fine():
                    index.create(overwrite=False)

    def _require_search(self) -> None:
        if not self.search_enabled:
            raise ValueError(
                f"memory store {self.name!r} was built with search=False: build it with "
                "search=True (the default) on a Redis with the Search module to search"
            )

    def _schema(self) -> Any:
        from redisvl.schema import IndexSchema

        fields: list[dict[str, Any]] = [
            {"name": "nsp", "type": "tag", "attrs": {"separator": ","}},
            {"name": "nsx", "type": "tag"},
            {"name": "tagd", "type": "tag", "attrs": {"separator": ","}},
            {"name": "text", "type": "text"},
            {"name": "recency", "type": "numeric", "attrs": {"sortable": True}},
        ]
        for field, kind in self.filter_fields.items():
            fields.append({"name": "f_" + field, "type": kind})
        if self.dims is not None:
            fields.append(
                {
                    "name": "vec",
                    "type": "vector",
                    "attrs": {
                        "dims": self.dims,
                        "distance_metric": "cosine",
                        "algorithm": self.vector_algorithm,
                        "datatype": "float32",
                    },
                }
            )
        return IndexSchema.from_dict(
            {
                "index": {
                    "name": self.index_name,
                    "prefix": self.keys.memory_index_prefix(self.name),
                    "storage_type": "hash",
                },
                "fields": fields,
            }
        )


def _identity(item: MemoryItem) -> tuple[Namespace, str]:
    return item.namespace, item.key


@dataclass(frozen=True, slots=True)
class _Embed:
    text: str


def _filter_value(field: str, kind: FieldKind, value: Any) -> str:
    if kind == "numeric":
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"value field {field!r} is declared numeric, but holds {value!r}")
        return repr(float(value))
    return digest(_tag_text(value))


def _tag_text(value: Any) -> str:
    return orjson.dumps(value).decode() if not isinstance(value, str) else value


def _check_condition(condition: Any) -> None:
    if isinstance(condition, Mapping):
        for operator in condition:
            if operator not in _OPERATORS:
                raise ValueError(
                    f"unknown filter operator {operator!r}; use one of {', '.join(_OPERATORS)}"
                )


def _condition_clause(field: str, kind: FieldKind, condition: Any) -> str:
    _check_condition(condition)
    conditions = condition if isinstance(condition, Mapping) else {"$eq": condition}
    name = "@f_" + field
    parts = []
    for operator, operand in conditions.items():
        if kind == "tag":
            if operator in ("$eq", "$ne"):
                clause = f"{name}:{{{digest(_tag_text(operand))}}}"
                parts.append(clause if operator == "$eq" else f"-{clause}")
            elif operator == "$in":
                digests = "|".join(digest(_tag_text(v)) for v in operand)
                parts.append(f"{name}:{{{digests}}}")
            else:
                raise ValueError(
                    f"filter on {field!r} ({operator}): a 'tag' field compares with $eq, $ne "
                    "and $in; declare it 'numeric' to compare sizes"
                )
            continue
        numbers = [
            float(_filter_value(field, kind, v))
            for v in (operand if operator == "$in" else [operand])
        ]
        value = numbers[0]
        clause = {
            "$eq": f"{name}:[{value!r} {value!r}]",
            "$ne": f"-{name}:[{value!r} {value!r}]",
            "$gt": f"{name}:[({value!r} +inf]",
            "$gte": f"{name}:[{value!r} +inf]",
            "$lt": f"{name}:[-inf ({value!r}]",
            "$lte": f"{name}:[-inf {value!r}]",
            "$in": "(" + "|".join(f"{name}:[{v!r} {v!r}]" for v in numbers) + ")",
        }[operator]
        parts.append(clause)
    return " ".join(parts)


def _matches(value: Mapping[str, Any], conditions: Mapping[str, Any]) -> bool:
    for field, condition in conditions.items():
        present = field in value
        actual = value.get(field)
        checks = condition if isinstance(condition, Mapping) else {"$eq": condition}
        for operator, operand in checks.items():
            if operator == "$eq" and not (present and actual == operand):
                return False
            if operator == "$ne" and present and actual == operand:
                return False
            if operator == "$in" and not (present and actual in operand):
                return False
            if operator in _COMPARE:
                try:
                    ok = present and _COMPARE[operator](actual, operand)
                except TypeError:
                    ok = False
                if not ok:
                    return False
    return True


def memory_twins(
    store: MemoryStore | AsyncMemoryStore | None = None, /, name: str = "default", **options: Any
) -> tuple[MemoryStore, AsyncMemoryStore]:
    """A sync store and its async twin: of ``store``, or built from ``options``
    (``url``/``client``/``config``, ``embedder``, ``dims``...), with one check for
    Search. The framework faces, which serve both kinds of caller, take theirs here."""
    if store is None:
        sync = MemoryStore(name, **options)
        return sync, sync._twin(AsyncMemoryStore)
    if any(value is not None for value in options.values()):
        given = ", ".join(sorted(k for k, v in options.items() if v is not None))
        raise ValueError(f"pass either store= or the options to build one ({given}), not both")
    if isinstance(store, MemoryStore):
        return store, store._twin(AsyncMemoryStore)
    if isinstance(store, AsyncMemoryStore):
        return store._twin(MemoryStore), store
    raise TypeError(f"store is a MemoryStore or an AsyncMemoryStore, not {type(store).__name__}")


class MemoryStore(_MemoryStoreCore, SyncRunner):
    """Long-term memory, sync. :class:`AsyncMemoryStore` mirrors it name for name.

    Args:
        name: The store's name: its keys and its index are its own.
        url, client, config: Where the data lives (see :class:`RedisClients`).
        embedder: Embeds items and queries for vector and hybrid search (e.g.
            ``MiniLMEmbedder()``); without one, search is full-text only.
        dims: The embedder's dimensions (read from ``embedder.dimensions`` if it has one).
        text_fields: The value's fields whose text is indexed (``"a.b"``, ``"a[*]"``;
            ``"$"`` or None: every string in the value).
        filter_fields: Top-level value fields Redis indexes for filters:
            ``{"status": "tag", "priority": "numeric"}``; other fields are
            filtered after the search.
        vector_algorithm: ``"hnsw"`` (default) or ``"flat"`` (exact, for small stores).
        ttl: Each item's lifetime (seconds, a ``timedelta`` or a :class:`TTL`;
            ``TTL(seconds, sliding=True)`` renews it on every read); left out, the
            policy's, ``config.ttl.memories`` (never expires by default).
            ``ttl=None`` is deprecated (today the policy's; it will mean "never
            expires"); ``TTL(None)`` never expires.
        dedupe_distance: With an embedder, :meth:`add` updates the nearest item of
            the namespace when it is within this cosine distance.
        search: False for a store that only gets, puts, lists and deletes (on a
            Redis without Search, or a Cluster). True (default) checks, now, that the
            server has the Search module and creates the index if it is missing.

    Example:
        .. code-block:: python

            from redis_memory.memory import MemoryStore

            store = MemoryStore("notes", url="embedded")
            store.put(("users", "ana"), "diet", {"text": "Ana is vegetarian"}, tags=["food"])
            store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon"})
            [hit] = store.search(("users", "ana"), "what does ana eat?", limit=1)
            assert hit.key == "diet"
            assert store.get(("users", "ana"), "city").value == {"text": "Ana lives in Lisbon"}
            store.delete(("users", "ana"), "city")
    """

    def __init__(self, name: str = "default", **options: Any) -> None:
        super().__init__(name, **options)
        if self.search_enabled:
            self._create_index()

    def _step(self, step: Any) -> Any:
        if isinstance(step, _Embed):
            assert self.embedder is not None
            return self.embedder.embed(step.text)
        return super()._step(step)

    def create_index(self) -> None:
        """Check the server has Search, and create this store's index if it is missing."""
        self._create_index()

    def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        *,
        tags: Sequence[str] = (),
        index: bool | Sequence[str] | None = None,
        ttl: TTLOption = POLICY,
        created_at: float | None = None,
    ) -> None:
        """Store an item (replacing the one at that key, whose created time stays).

        ``index=False`` stores it unindexed for search; a list of fields indexes those.
        ``ttl``: this item's lifetime (seconds, a ``timedelta``, or a :class:`TTL`,
        ``TTL(3600, sliding=True)`` to renew it on every read); left out, the store's
        (``None`` too, deprecated: it will mean "never expires").
        ``created_at`` (seconds since the epoch) restores an item's first time, as
        an import does.
        """
        self._drive(self._put_flow(namespace, key, value, tags, index, ttl, created_at))

    def add(
        self,
        namespace: Sequence[str],
        value: Mapping[str, Any],
        *,
        tags: Sequence[str] = (),
        index: bool | Sequence[str] | None = None,
        ttl: TTLOption = POLICY,
    ) -> str:
        """Store an item under a key made from its content; returns the key.

        The same content twice is one item; with ``dedupe_distance``, an item close
        enough in meaning to one of the namespace updates that one.
        """
        return self._drive(self._add_flow(namespace, value, tags, index, ttl))

    def get(self, namespace: Sequence[str], key: str, *, refresh: bool = True) -> MemoryItem | None:
        """An item, or None; ``refresh`` renews its TTL when it is sliding (same round trip)."""
        return self._step(self._plan_get(namespace, key, refresh))

    def delete(self, namespace: Sequence[str], key: str) -> bool:
        """Delete an item; returns whether it was there."""
        return self._step(self._plan_delete(namespace, key))

    def search(
        self,
        namespace_prefix: Sequence[str] = (),
        query: str | None = None,
        *,
        mode: SearchMode | None = None,
        tags: Sequence[str] = (),
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        recency_weight: float = 0.0,
        half_life: float = 30 * 24 * 3600,
        refresh: bool = True,
    ) -> list[MemoryItem]:
        """Items under ``namespace_prefix``, best match first.

        With a ``query``: ``mode`` ``"vector"`` (the default with an embedder),
        ``"text"`` (the default without) or ``"hybrid"``. Without one: the newest
        first (by the index, or by a ``SCAN`` of the prefix with ``search=False``). ``tags``: items
        having all of them. ``filter``: ``{"field": value}`` or ``{"field":
        {"$gte": 3}}``. ``recency_weight`` blends in how recently an item was
        updated (halving every ``half_life`` seconds). ``refresh``: renew the
        sliding TTL of the items found (one more round trip, only when any has one).
        """
        flow = self._search_flow(
            namespace_prefix,
            query,
            mode=mode,
            tags=tags,
            filter=filter,
            limit=limit,
            offset=offset,
            recency_weight=recency_weight,
            half_life=half_life,
            refresh=refresh,
        )
        return self._drive(flow)

    def list_namespaces(
        self,
        *,
        prefix: Sequence[str] = (),
        suffix: Sequence[str] = (),
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        """The namespaces holding items (cut to ``max_depth`` labels), sorted; by ``SCAN``."""
        flow = self._namespaces_flow(prefix, suffix, max_depth, limit, offset)
        return self._drive(flow)

    def iter_items(self, namespace_prefix: Sequence[str] = ()) -> Iterator[MemoryItem]:
        """Every item under the prefix, each once, page by page (for export)."""
        prefix = _labels(namespace_prefix, "namespace prefix")

        def page(cursor: int) -> tuple[int, list[MemoryItem]]:
            cursor, keys = self._step(self._plan_scan(prefix, cursor, 500))
            return cursor, self._step(self._plan_read_many(keys)) if keys else []

        return each_once(page, key=lambda item: (item.namespace, item.key))


@twin_of(MemoryStore)
class AsyncMemoryStore(_MemoryStoreCore, AsyncRunner):
    """Long-term memory on ``redis.asyncio``: :class:`MemoryStore`'s twin, name for name.

    Building one checks for the Search module with a short sync connection (a
    constructor cannot await); pass ``search=False`` to skip it.

    Example:
        >>> import asyncio
        >>> from redis_memory.memory import AsyncMemoryStore
        >>> async def main():
        ...     store = AsyncMemoryStore("notes")
        ...     await store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon"})
        ...     [hit] = await store.search(("users", "ana"), "Lisbon")  # full-text
        ...     return hit.key, hit.value
        >>> asyncio.run(main())
        ('city', {'text': 'Ana lives in Lisbon'})
    """

    def __init__(self, name: str = "default", **options: Any) -> None:
        super().__init__(name, **options)
        if self.search_enabled:
            self._create_index()

    async def _step(self, step: Any) -> Any:
        if isinstance(step, _Embed):
            assert self.embedder is not None
            return await self.embedder.aembed(step.text)
        return await super()._step(step)

    async def create_index(self) -> None:
        """Check the server has Search, and create this store's index if it is missing."""
        from redisvl.index import AsyncSearchIndex

        if "search" not in await amodules(self._clients.async_):
            raise search_missing(self._searching())
        index = AsyncSearchIndex(self._schema(), redis_client=self._clients.async_)
        if not await index.exists():
            with index_exists_is_fine():
                await index.create(overwrite=False)

    async def put(
        self,
        namespace: Sequence[str],
        key: str,
        value: Mapping[str, Any],
        *,
        tags: Sequence[str] = (),
        index: bool | Sequence[str] | None = None,
        ttl: TTLOption = POLICY,
        created_at: float | None = None,
    ) -> None:
        await self._drive(self._put_flow(namespace, key, value, tags, index, ttl, created_at))

    async def add(
        self,
        namespace: Sequence[str],
        value: Mapping[str, Any],
        *,
        tags: Sequence[str] = (),
        index: bool | Sequence[str] | None = None,
        ttl: TTLOption = POLICY,
    ) -> str:
        return await self._drive(self._add_flow(namespace, value, tags, index, ttl))

    async def get(
        self, namespace: Sequence[str], key: str, *, refresh: bool = True
    ) -> MemoryItem | None:
        return await self._step(self._plan_get(namespace, key, refresh))

    async def delete(self, namespace: Sequence[str], key: str) -> bool:
        return await self._step(self._plan_delete(namespace, key))

    async def search(
        self,
        namespace_prefix: Sequence[str] = (),
        query: str | None = None,
        *,
        mode: SearchMode | None = None,
        tags: Sequence[str] = (),
        filter: Mapping[str, Any] | None = None,
        limit: int = 10,
        offset: int = 0,
        recency_weight: float = 0.0,
        half_life: float = 30 * 24 * 3600,
        refresh: bool = True,
    ) -> list[MemoryItem]:
        flow = self._search_flow(
            namespace_prefix,
            query,
            mode=mode,
            tags=tags,
            filter=filter,
            limit=limit,
            offset=offset,
            recency_weight=recency_weight,
            half_life=half_life,
            refresh=refresh,
        )
        return await self._drive(flow)

    async def list_namespaces(
        self,
        *,
        prefix: Sequence[str] = (),
        suffix: Sequence[str] = (),
        max_depth: int | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[Namespace]:
        flow = self._namespaces_flow(prefix, suffix, max_depth, limit, offset)
        return await self._drive(flow)

    def iter_items(self, namespace_prefix: Sequence[str] = ()) -> AsyncIterator[MemoryItem]:
        prefix = _labels(namespace_prefix, "namespace prefix")

        async def page(cursor: int) -> tuple[int, list[MemoryItem]]:
            cursor, keys = await self._step(self._plan_scan(prefix, cursor, 500))
            return cursor, (await self._step(self._plan_read_many(keys))) if keys else []

        return each_once_async(page, key=lambda item: (item.namespace, item.key))
