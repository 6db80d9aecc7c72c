"""The LLM response cache: an exact tier and a semantic tier, failing open.

Exact tier: one string per (model, prompt) at
``{prefix}:cache:llm:<llm_hash>:<prompt_hash>``; a lookup is one ``GET``, an
update one ``SET ... PX``. Semantic tier: one hash per entry under
``{prefix}:cache:sem:<name>:`` in a redisvl vector index. A lookup checks the
exact tier first, so a repeated prompt never pays for an embedding; only then
it embeds the prompt's query and asks the index for the nearest entries *of
the same model and the same context* (both tag filters inside the query). An
update after a semantic miss reuses the embedding the lookup computed.

For chat prompts, :class:`CachePrompt` separates the query (the last user turn,
matched by meaning) from the context (system prompt, earlier turns, tools),
which must match exactly: a paraphrase in another conversation never hits.

A cache never breaks the LLM call: when Redis is down or slow, a lookup is a
miss and an update is dropped after a short timeout (50 ms by default), with a
warning logged once per outage and the ``errors`` counter raised. A stored
value that is not this cache's data is a miss too. The exact tier works
whatever happens to the semantic one: an embedding model that fails, or a
vector index that disappeared (``FLUSHALL``, a restart without persistence,
recreated on the next call), costs the semantic tier only. Explicit acts
(``clear``, ``count_entries``, ``drop``, ``create_index``, ``warm_up``) use the
connection's normal timeouts and retries and raise their errors.

What cannot work is said at construction, never as an outage: a semantic tier
on a Redis without the Search module (a Redis Cluster included) is a
:class:`~redis_memory.errors.SearchModuleMissingError`, unless
``semantic="exact-only"`` asks for exact matches only. Recent query embeddings
are kept in process (``embedding_cache``, 1024 by default), so a repeated
paraphrase, and the update after a semantic miss, cost no second embedding.
Counters are in :attr:`ResponseCache.stats`.

Example:
    >>> from redis_memory.cache import ResponseCache
    >>> cache = ResponseCache()
    >>> cache.update("What is Redis?", "gpt-x|t=0", {"text": "A data store."})
    >>> cache.lookup("What is Redis?", "gpt-x|t=0")
    {'text': 'A data store.'}
"""

from __future__ import annotations

import asyncio
import functools
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Generator, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np
import redis

from . import metrics
from ._checks import seconds, whole
from ._checks import text as reply_text
from ._execute import execute, execute_async
from ._flow import drive, drive_async
from ._paging import each_once, every_page, scan_page
from ._plan import Plan
from ._search import digest, index_exists_is_fine, keyed_results
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .embeddings import Embedder
from .errors import (
    ConfigurationError,
    RedisUnavailableError,
    SearchModuleMissingError,
    SerializationError,
    ValueTooLargeError,
)
from .serialization import check_value_size, fast_loads
from .server import amodules, has_search, search_missing
from .ttl import TTL

log = logging.getLogger("redis_memory.cache")

T = TypeVar("T")
Algorithm = Literal["flat", "hnsw"]

DEFAULT_TIMEOUT = 0.05
DEFAULT_DISTANCE_THRESHOLD = 0.1
DEFAULT_EMBEDDING_CACHE = 1024
Semantic = bool | Literal["exact-only"]


@dataclass(frozen=True, slots=True)
class CachePrompt:
    """A prompt as the cache sees it.

    Args:
        text: The whole prompt; the exact tier keys on it.
        query: What the semantic tier matches by meaning (the last user turn);
            None keeps this prompt to the exact tier (e.g. a turn made of images).
        context: What must be identical for a semantic hit (system prompt,
            earlier turns, tools). Empty for a plain completion prompt.
    """

    text: str
    query: str | None
    context: str = ""

    @classmethod
    def of(cls, prompt: str | CachePrompt) -> CachePrompt:
        """The prompt as a CachePrompt; a plain string is both its text and its query."""
        if isinstance(prompt, CachePrompt):
            return prompt
        if not isinstance(prompt, str):
            raise TypeError(f"a prompt is a str or a CachePrompt, not {type(prompt).__name__}")
        return cls(prompt, prompt)


@dataclass(slots=True)
class CacheStats:
    """Counters since the cache object was built; read them at any time.

    ``semantic`` says what the semantic tier is: ``"on"``, ``"off"`` (no
    embedder: an exact cache), ``"exact-only"`` (asked for), or ``"no Search
    module"`` (found out after construction: exact matches only).
    ``embeddings`` counts embeddings computed, ``embedding_reuses`` those taken
    from the in-process cache of recent queries; ``semantic_errors`` counts
    calls whose semantic tier failed while the exact tier answered.
    """

    semantic: str = "off"
    exact_hits: int = 0
    semantic_hits: int = 0
    misses: int = 0
    updates: int = 0
    errors: int = 0
    semantic_errors: int = 0
    embeddings: int = 0
    embedding_reuses: int = 0
    lookup_seconds: float = 0.0
    embedding_seconds: float = 0.0

    @property
    def hits(self) -> int:
        """Lookups answered from the cache, by either tier."""
        return self.exact_hits + self.semantic_hits

    @property
    def lookups(self) -> int:
        """Lookups made: hits and misses together."""
        return self.hits + self.misses

    def as_dict(self) -> dict[str, float | str]:
        """The counters as a plain dict, with the hit rate and mean latencies in ms worked out."""
        lookups = self.lookups
        return {
            "semantic": self.semantic,
            "lookups": lookups,
            "hits": self.hits,
            "exact_hits": self.exact_hits,
            "semantic_hits": self.semantic_hits,
            "misses": self.misses,
            "hit_rate": self.hits / lookups if lookups else 0.0,
            "updates": self.updates,
            "errors": self.errors,
            "semantic_errors": self.semantic_errors,
            "embeddings": self.embeddings,
            "embedding_reuses": self.embedding_reuses,
            "mean_lookup_ms": 1000 * self.lookup_seconds / lookups if lookups else 0.0,
            "mean_embedding_ms": (
                1000 * self.embedding_seconds / self.embeddings if self.embeddings else 0.0
            ),
        }


# An application asks few models, each with the same (often long) llm string on
# every call: its digest is computed once.
_llm_digest = functools.lru_cache(maxsize=256)(digest)


def _vector_bytes(vector: Sequence[float], dimensions: int | None) -> bytes:
    array = np.asarray(vector, dtype=np.float32)
    if array.ndim != 1 or not array.size:
        raise ValueError(f"an embedding is a flat list of floats, got shape {array.shape}")
    if dimensions is not None and array.size != dimensions:
        raise ValueError(f"the embedding has {array.size} dimensions; the index has {dimensions}")
    return array.tobytes()


@dataclass(slots=True)
class _Candidate:
    key: str
    query: str
    response: bytes
    distance: float


# After this long without one call inside the budget, a cache whose calls time
# out says that the budget, not Redis, may be the problem (and again this often).
BUDGET_NOTICE_SECONDS = 60.0


@dataclass(slots=True)
class _Outage:
    """Logs one warning per outage, not one per call, and one when it ends.

    An outage made of timeouts that lasts :data:`BUDGET_NOTICE_SECONDS` also
    says so, naming ``timeout=``: a Redis that is up but slower to reach than
    the budget (a far link, new connections over TLS) looks like an outage
    that never ends.
    """

    failing: str
    recovering: str
    cache: str | None = None  # the name the outage gauge reports, None: no gauge
    down: bool = False
    since: float = 0.0
    failures: int = 0
    timeouts: int = 0
    noticed: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failed(self, doing: str, exc: Exception, budget: float | None = None) -> None:
        now = time.monotonic()
        with self.lock:
            first, self.down = not self.down, True
            if first:
                self.since, self.noticed, self.failures, self.timeouts = now, now, 0, 0
            self.failures += 1
            self.timeouts += _is_timeout(exc)
            notice = (
                budget is not None
                and now - self.noticed >= BUDGET_NOTICE_SECONDS
                and self.timeouts == self.failures
            )
            if notice:
                self.noticed = now
        if first:
            log.warning(self.failing, doing, exc)
            if self.cache is not None:
                metrics.cache_outage(self.cache, True)
        if notice:
            log.warning(
                "LLM cache: no call has managed within its %g s budget for %.0f s (%d calls, "
                "every one timed out): if Redis is up but slower to reach than that, raise "
                "timeout= (e.g. RedisSemanticCache(timeout=0.25)); until then nothing is "
                "cached",
                budget,
                now - self.since,
                self.failures,
            )

    def recovered(self) -> None:
        if self.down:
            with self.lock:
                self.down = False
            log.warning(self.recovering)
            if self.cache is not None:
                metrics.cache_outage(self.cache, False)


def _is_timeout(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(exc, redis.exceptions.TimeoutError | TimeoutError) or isinstance(
        cause, redis.exceptions.TimeoutError | TimeoutError
    )


class _RecentEmbeddings:
    """The embeddings of the most recent query texts, least recently used out first."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._vectors: OrderedDict[str, bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, text: str) -> bytes | None:
        with self._lock:
            vector = self._vectors.get(text)
            if vector is not None:
                self._vectors.move_to_end(text)
            return vector

    def put(self, text: str, vector: bytes) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._vectors[text] = vector
            self._vectors.move_to_end(text)
            while len(self._vectors) > self.size:
                self._vectors.popitem(last=False)


@dataclass(slots=True)
class _CacheState:
    """What a cache and its twin of the other kind share: counters, outages, index, embeddings."""

    stats: CacheStats
    recent: _RecentEmbeddings
    outage: _Outage = field(
        default_factory=lambda: _Outage(
            "LLM cache: Redis failed while %s (%s); the cache is bypassed (misses, updates "
            "dropped) until Redis answers again",
            "LLM cache: Redis answers again; caching resumed",
        )
    )
    semantic_outage: _Outage = field(
        default_factory=lambda: _Outage(
            "LLM cache: the semantic tier failed while %s (%s); exact matches are still "
            "served and stored, and the semantic tier is tried again on every call",
            "LLM cache: the semantic tier works again",
        )
    )
    index_ready: bool = False
    dimensions: int | None = None
    # None: not known yet (Redis did not answer at construction).
    has_search: bool | None = None
    index_lock: threading.Lock = field(default_factory=threading.Lock)


class _ResponseCacheCore:
    """What the sync and async caches share: keys, encoding, plans, decisions."""

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embedder: Embedder | None = None,
        distance_threshold: float | None = None,
        verifier: Any = "default",
        algorithm: Algorithm = "flat",
        ttl: TTL | float | Literal["policy"] | None = "policy",
        timeout: float = DEFAULT_TIMEOUT,
        semantic: Semantic = True,
        embedding_cache: int = DEFAULT_EMBEDDING_CACHE,
        publish_events: bool = False,
        _state: _CacheState | None = None,
    ) -> None:
        self.publish_events = bool(publish_events)
        self._options: dict[str, Any] = {
            "url": url,
            "client": client,
            "config": config,
            "embedder": embedder,
            "distance_threshold": distance_threshold,
            "verifier": verifier,
            "algorithm": algorithm,
            "ttl": ttl,
            "timeout": timeout,
            "semantic": semantic,
            "embedding_cache": embedding_cache,
            "publish_events": publish_events,
        }
        if not isinstance(name, str) or not name:
            raise ConfigurationError("a cache name is a non-empty str")
        if semantic not in (True, False, "exact-only"):
            raise ConfigurationError(f"semantic is True, False or 'exact-only', got {semantic!r}")
        if semantic is not True:
            embedder = None
        # How many recent query embeddings to keep (0: none).
        whole("embedding_cache", embedding_cache, 0, error=ConfigurationError)
        if algorithm not in ("flat", "hnsw"):
            raise ConfigurationError(f"algorithm is 'flat' or 'hnsw', got {algorithm!r}")
        if embedder is not None and not isinstance(embedder, Embedder):
            raise ConfigurationError(
                "embedder must have embed(text) and async aembed(text) returning floats; "
                "use the LangChain or LlamaIndex cache classes to pass those frameworks' "
                "embeddings"
            )
        seconds("timeout", timeout, error=ConfigurationError)
        shared = RedisClients.shared(url=url, client=client, config=config)
        if embedder is not None and shared.is_cluster:
            raise SearchModuleMissingError(
                "the semantic tier of the LLM cache needs the Redis Search module, which an "
                "open-source Redis Cluster lacks. Pass semantic='exact-only' to cache exact "
                "matches only on the cluster, or give the semantic cache a Redis with Search "
                "(Redis 8, Redis Stack, Redis Cloud) as url= or client="
            )
        # Explicit acts (clear, count, drop, create the index) wait and retry as usual.
        self._admin = shared
        base = shared.config
        # The cache's own short timeouts and no retries: a slow Redis must cost
        # the LLM call at most `timeout`, then the call goes on uncached.
        fast = base.replace(socket_timeout=timeout, socket_connect_timeout=timeout, retries=0)
        self._clients = RedisClients.shared(client=client, config=fast)
        self.config = base
        self.name = name
        self.keys = base.keys
        self.embedder = embedder
        self.algorithm = algorithm
        self.ttl = base.ttl.cache if ttl == "policy" else TTL.of(ttl)
        self.verifier = _resolve_verifier(verifier, embedder, distance_threshold)
        self.distance_threshold = (
            DEFAULT_DISTANCE_THRESHOLD if distance_threshold is None else float(distance_threshold)
        )
        if not 0 < self.distance_threshold <= 2:
            raise ConfigurationError(
                f"distance_threshold is a cosine distance in (0, 2], got {distance_threshold!r}"
            )
        self._serializer = base.checked_serializer
        self._loads = fast_loads(self._serializer)
        if _state is None:
            label = (
                "on"
                if embedder is not None
                else "exact-only"
                if semantic == "exact-only"
                else "off"
            )
            _state = _CacheState(CacheStats(semantic=label), _RecentEmbeddings(embedding_cache))
            _state.outage.cache = name
        self._state = _state

    @property
    def stats(self) -> CacheStats:
        """Hits, misses, errors, embeddings and latency since this cache was built."""
        return self._state.stats

    # -- names ------------------------------------------------------------------------
    @property
    def semantic(self) -> bool:
        """Whether the semantic tier is used (an embedder, and a server with Search)."""
        return self.embedder is not None and self._state.has_search is not False

    def _llm_hash(self, llm: str) -> str:
        if not isinstance(llm, str):
            raise TypeError(f"the model identity (llm_string) is a str, not {type(llm).__name__}")
        return _llm_digest(llm)

    def _exact_key(self, prompt: CachePrompt, llm_hash: str) -> str:
        return self.keys.cache_exact(llm_hash, digest(prompt.text), cache=self.name)

    def _entry_prefix(self) -> str:
        return self.keys.cache_semantic_prefix(self.name)

    def _entry_key(self, prompt: CachePrompt, llm_hash: str) -> str:
        return self.keys.cache_semantic(
            llm_hash, digest(prompt.context, prompt.query), cache=self.name
        )

    @property
    def index_name(self) -> str:
        return self.keys.cache_semantic_index(self.name)

    def _schema(self, dimensions: int) -> Any:
        from redisvl.schema import IndexSchema

        return IndexSchema.from_dict(
            {
                "index": {
                    "name": self.index_name,
                    "prefix": self._entry_prefix() + ":",
                    "storage_type": "hash",
                },
                "fields": [
                    {"name": "llm", "type": "tag"},
                    {"name": "ctx", "type": "tag"},
                    {
                        "name": "vector",
                        "type": "vector",
                        "attrs": {
                            "dims": dimensions,
                            "distance_metric": "cosine",
                            "algorithm": self.algorithm,
                            "datatype": "float32",
                        },
                    },
                ],
            }
        )

    # -- plans ------------------------------------------------------------------------
    def _plan_get(self, key: str) -> Plan[bytes | None]:
        return Plan("looking up the LLM cache", key, lambda r: r[0], [("GET", key)])

    def _plan_search(
        self, prompt: CachePrompt, llm_hash: str, vector: bytes
    ) -> Plan[list[_Candidate]]:
        k = self.verifier.top_k if self.verifier is not None else 1
        query = (
            f"(@llm:{{{llm_hash}}} @ctx:{{{digest(prompt.context)}}})"
            f"=>[KNN {k} @vector $vector AS distance]"
        )
        command = (
            "FT.SEARCH", self.index_name, query,
            "PARAMS", 2, "vector", vector,
            "RETURN", 3, "query", "response", "distance",
            "SORTBY", "distance", "ASC",
            "LIMIT", 0, k,
            "DIALECT", 2,
        )  # fmt: skip

        def finish(replies: list[Any]) -> list[_Candidate]:
            return [
                _Candidate(
                    key=key,
                    query=found.get(b"query", b"").decode("utf-8", "replace"),
                    response=found.get(b"response", b""),
                    distance=float(found.get(b"distance", b"2")),
                )
                for key, found in keyed_results(replies[0])
            ]

        return Plan("searching the semantic cache", self.index_name, finish, [command])

    def _plan_update(
        self, prompt: CachePrompt, llm_hash: str, value: bytes, vector: bytes | None
    ) -> Plan[None]:
        key = self._exact_key(prompt, llm_hash)
        px = () if self.ttl.milliseconds is None else ("PX", self.ttl.milliseconds)
        commands: list[tuple[Any, ...]] = [("SET", key, value, *px)]
        if vector is not None:
            entry = self._entry_key(prompt, llm_hash)
            fields = {
                "llm": llm_hash,
                "ctx": digest(prompt.context),
                "query": prompt.query,
                "response": value,
                "vector": vector,
            }
            commands.append(("HSET", entry, *(item for pair in fields.items() for item in pair)))
            if self.ttl.milliseconds is not None:
                commands.append(("PEXPIRE", entry, self.ttl.milliseconds))
        return Plan("updating the LLM cache", key, lambda _: None, commands, transaction=True)

    def _plan_scan(
        self, pattern: str, cursor: int, doing: str = "clearing the LLM cache"
    ) -> Plan[tuple[int, list[bytes]]]:
        return scan_page(doing, pattern, cursor, 1000)

    def _plan_unlink(self, pattern: str, keys: list[bytes]) -> Plan[int]:
        return Plan("clearing the LLM cache", pattern, lambda r: int(r[0]), [("UNLINK", *keys)])

    def _clear_patterns(self, llm: str | None) -> list[str]:
        llm_hash = None if llm is None else self._llm_hash(llm)
        return [
            self.keys.cache_exact_pattern(llm_hash, cache=self.name),
            self.keys.cache_semantic_pattern(llm_hash, cache=self.name),
        ]

    # -- decisions ----------------------------------------------------------------------
    def _decode(self, raw: bytes | None, where: str, decode: Decoder = None) -> Any:
        if raw is None:
            return None
        try:
            value = self._loads(raw)
        except (ValueError, TypeError):
            # Decoded again by the serializer, whose error names the problem.
            try:
                value = self._serializer.loads(raw)
            except SerializationError as exc:
                log.warning(
                    "LLM cache: ignoring a value that is not cache data at %s: %s", where, exc
                )
                return None
        if decode is None:
            return value
        rebuilt = decode(value)
        if rebuilt is None:
            log.warning("LLM cache: ignoring a value of an unexpected shape at %s", where)
        return rebuilt

    def _accepted(self, prompt: CachePrompt, candidates: list[_Candidate]) -> Iterator[_Candidate]:
        """The candidates that count as hits, best first."""
        if self.verifier is None:
            yield from (c for c in candidates[:1] if c.distance <= self.distance_threshold)
            return
        choose = getattr(self.verifier, "choose", None)
        if choose is not None:
            # The verifier weighs the nearest candidate against the runner-up.
            index = choose(prompt.query, [(c.query, c.distance) for c in candidates])
            if index is not None:
                yield candidates[index]
            return
        for candidate in candidates:
            if candidate.distance > self.verifier.max_distance:
                return
            if self.verifier.accepts(prompt.query, candidate.query, candidate.distance):
                yield candidate

    def _semantic_for(self, prompt: CachePrompt) -> bool:
        return self.semantic and bool(prompt.query)

    def _encode_value(self, prompt: CachePrompt, value: Any) -> bytes | None:
        try:
            encoded = self._serializer.dumps(value)
            if self._semantic_for(prompt):
                # The entry holds the query too; the limit is on what is stored.
                check_value_size(
                    encoded + prompt.query.encode("utf-8"),
                    self.config.max_value_bytes,
                    "the response with its query",
                )
            return encoded
        except SerializationError as exc:
            log.warning("LLM cache: not caching a value JSON cannot hold: %s", exc)
        except ValueTooLargeError as exc:
            log.warning("LLM cache: not caching a response: %s", exc)
        except UnicodeEncodeError as exc:  # a lone surrogate, which Redis cannot store
            log.warning("LLM cache: not caching a prompt that is not valid Unicode: %s", exc)
        return None

    def _embedder_for_index(self) -> Embedder:
        if self.embedder is None:
            raise ConfigurationError("a cache without an embedder has no index to create")
        return self.embedder

    def _no_search_error(self) -> SearchModuleMissingError:
        return search_missing(
            "the semantic tier of the LLM cache",
            "Or pass semantic='exact-only' to cache exact matches only.",
        )

    def _search_found(self, found: bool) -> bool:
        """Record whether the server has Search; the first time it has not, say so loudly."""
        state = self._state
        if not found and state.has_search is not False:
            state.stats.semantic = "no Search module"
            log.error("LLM cache: %s; exact matches only until then", self._no_search_error())
        state.has_search = found
        return found

    def _checked_at_construction(self) -> None:
        # One round trip at construction, so that a semantic tier that cannot
        # work is an error here and not a warning on some later call.
        if self.embedder is None or self._state.has_search is not None:
            return
        try:
            found = has_search(self._admin.sync)
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
            log.info(
                "LLM cache: Redis did not answer at construction (%s); whether it has the "
                "Search module is checked on first use",
                exc,
            )
            return
        if not found:
            raise self._no_search_error()
        self._state.has_search = True

    def _index_lost(self) -> None:
        log.warning(
            "LLM cache: the semantic index %s is gone (FLUSHALL, or a restart without "
            "persistence); creating it again",
            self.index_name,
        )
        self._state.index_ready = False

    def _failed(self, doing: str, exc: Exception) -> None:
        self.stats.errors += 1
        metrics.cache_fail_open(self.name)
        self._state.outage.failed(doing, exc, self._options["timeout"])

    def _semantic_failed(self, doing: str, exc: Exception) -> None:
        self.stats.semantic_errors += 1
        self._state.semantic_outage.failed(doing, exc)

    def _count(self, started: float, hit: str | None) -> None:
        if hit == "exact":
            self.stats.exact_hits += 1
        elif hit == "semantic":
            self.stats.semantic_hits += 1
        else:
            self.stats.misses += 1
        metrics.cache_lookup(self.name, f"{hit}_hit" if hit else "miss")
        self.stats.lookup_seconds += time.perf_counter() - started

    def _url(self) -> str:
        return self._clients.masked_url()


@dataclass(frozen=True, slots=True)
class _Embed:
    """A step of a flow: embed this prompt's query."""

    prompt: CachePrompt


@dataclass(frozen=True, slots=True)
class _EnsureIndex:
    """A step of a flow: create the vector index if needed; the reply is whether it exists."""

    dimensions: int


Step = Plan[Any] | _Embed | _EnsureIndex
Decoder = Callable[[Any], Any] | None
Flow = Generator[Step, Any, T]

# Whatever goes wrong inside the cache (Redis down or slow, an index error, the
# embedding model failing) costs a miss, never the user's LLM call.
_FAILURES = (Exception,)


class _ResponseCacheFlows(_ResponseCacheCore):
    def _announced(
        self, lookup: Flow[tuple[Any, str | None]], started: float
    ) -> Flow[tuple[Any, str | None]]:
        """A lookup, then (``publish_events``) its event on ``{prefix}:events:cache``.

        The event is a round trip of its own, after the answer is known; one that
        fails costs the event only, never the lookup.
        """
        value, hit = yield from lookup
        if self.publish_events:
            channel = self.keys.channel("cache")
            event = self.config.serializer.dumps(
                {
                    "event": "hit" if hit else "miss",
                    "cache": self.name,
                    "tier": hit,
                    "seconds": round(time.perf_counter() - started, 6),
                }
            )
            plan = Plan(
                "announcing a cache lookup", channel, lambda _: None, [("PUBLISH", channel, event)]
            )
            try:
                yield plan
            except Exception as exc:
                log.debug("LLM cache: the lookup's event was not published: %s", exc)
        return value, hit

    """Lookup and update written once, as generators of steps the twins carry out."""

    def _lookup_flow(
        self, prompt: CachePrompt, llm_hash: str, decode: Decoder
    ) -> Flow[tuple[Any, str | None]]:
        key = self._exact_key(prompt, llm_hash)
        value = self._decode((yield self._plan_get(key)), key, decode)
        if value is not None:
            return value, "exact"
        if not self._semantic_for(prompt):
            return None, None
        candidates = yield from self._semantic_flow("looking up", prompt, llm_hash)
        if candidates:
            metrics.nearest_distance(self.name, candidates[0].distance)
        for chosen in self._accepted(prompt, candidates or []):
            value = self._decode(chosen.response, chosen.key, decode)
            if value is not None:
                return value, "semantic"
        return None, None

    def _semantic_flow(
        self, doing: str, prompt: CachePrompt, llm_hash: str | None = None
    ) -> Flow[list[_Candidate] | bytes | None]:
        """The query's vector, and with ``llm_hash`` its nearest entries; None if that tier failed.

        Only Redis being unreachable ends the whole call (an outage); any other
        failure here (the embedding model, the index) costs the semantic tier alone.
        """
        try:
            found = yield from self._semantic_steps(prompt, llm_hash)
        except RedisUnavailableError:
            raise
        except Exception as exc:
            self._semantic_failed(doing, exc)
            return None
        self._state.semantic_outage.recovered()
        return found

    def _semantic_steps(
        self, prompt: CachePrompt, llm_hash: str | None
    ) -> Flow[list[_Candidate] | bytes | None]:
        vector = yield _Embed(prompt)
        for attempt in range(2):
            if not (yield _EnsureIndex(len(vector) // 4)):
                return None
            if llm_hash is None:
                return vector
            try:
                return (yield self._plan_search(prompt, llm_hash, vector))
            except redis.exceptions.ResponseError as exc:
                if attempt or "no such index" not in str(exc).lower():
                    raise
                self._index_lost()
        return None

    def _update_flow(self, prompt: CachePrompt, llm_hash: str, encoded: bytes) -> Flow[None]:
        vector = None
        if self._semantic_for(prompt):
            vector = yield from self._semantic_flow("updating", prompt)
        yield self._plan_update(prompt, llm_hash, encoded, vector)
        self.stats.updates += 1
        metrics.cache_update(self.name)

    def _clear_flow(self, llm: str | None) -> Flow[int]:
        removed = 0

        def unlink(pattern: str, keys: list[bytes]) -> Flow[None]:
            nonlocal removed
            removed += yield self._plan_unlink(pattern, keys)

        for pattern in self._clear_patterns(llm):
            yield from every_page(
                lambda cursor, pattern=pattern: self._plan_scan(pattern, cursor),
                lambda keys, pattern=pattern: unlink(pattern, keys),
            )
        return removed

    def _drop_flow(self) -> Flow[int]:
        if self.semantic:
            names = yield Plan(
                "listing search indexes",
                self.index_name,
                lambda r: {n.decode() if isinstance(n, bytes) else n for n in r[0]},
                [("FT._LIST",)],
            )
            if self.index_name in names:
                yield Plan(
                    "dropping the semantic cache index",
                    self.index_name,
                    lambda r: None,
                    [("FT.DROPINDEX", self.index_name)],
                )
            self._state.index_ready = False
        return (yield from self._clear_flow(None))

    def _count_flow(self) -> Flow[dict[str, int]]:
        counts = {}
        for tier, pattern in zip(("exact", "semantic"), self._clear_patterns(None), strict=True):
            seen: set[bytes] = set()  # SCAN may return a key twice
            yield from every_page(
                lambda cursor, pattern=pattern: self._plan_scan(
                    pattern, cursor, "counting LLM cache entries"
                ),
                seen.update,
            )
            counts[tier] = len(seen)
        return counts

    def _ping_flow(self) -> Flow[None]:
        yield Plan("connecting to the LLM cache", self.name, lambda _: None, [("PING",)])

    def _lookup_started(self, prompt: str | CachePrompt, llm: str) -> tuple[CachePrompt, str]:
        return CachePrompt.of(prompt), self._llm_hash(llm)

    def _recent_embedding(self, text: str) -> bytes | None:
        vector = self._state.recent.get(text)
        if vector is not None:
            self.stats.embedding_reuses += 1
        return vector

    def _embedded(self, text: str, vector: Sequence[float], started: float) -> bytes:
        self.stats.embeddings += 1
        seconds = time.perf_counter() - started
        self.stats.embedding_seconds += seconds
        metrics.embedding(self.name, seconds)
        encoded = _vector_bytes(vector, self._state.dimensions)
        self._state.recent.put(text, encoded)
        return encoded

    def _index_created(self, dimensions: int) -> bool:
        self._state.index_ready, self._state.dimensions = True, dimensions
        return True


class ResponseCache(_ResponseCacheFlows):
    """The LLM response cache, sync. :class:`AsyncResponseCache` mirrors it.

    Args:
        name: The cache's name: caches of different names never share entries.
        url, client, config: Where the data lives (as everywhere in this package).
        embedder: An :class:`~redis_memory.embeddings.Embedder`; enables the
            semantic tier. None: exact matches only.
        distance_threshold: The cosine distance under which a neighbour is a hit
            when no verifier is used (default 0.1).
        verifier: ``"default"`` (the packaged hit verifier, fitted on Quora
            question pairs), a :class:`~redis_memory.verifier.HitVerifier`, or
            None for a plain distance threshold.
        algorithm: ``"flat"`` (exact search) or ``"hnsw"`` for large caches.
        ttl: Entry lifetime (None: entries never expire); left out, the config's cache TTL (1 day).
        timeout: Seconds a lookup or an update may wait for Redis before it gives
            up and the LLM call goes on (default 0.05). Explicit acts use the
            connection's own timeouts.
        semantic: ``"exact-only"`` (or False) keeps to exact matches even with
            an embedder, e.g. on a Redis without the Search module, where a
            semantic tier is otherwise an error at construction.
        embedding_cache: How many recent query embeddings to keep in process
            (default 1024; 0: none, and an update then embeds its query again).
        publish_events: Announce each lookup on ``{prefix}:events:cache`` as
            ``{"event": "hit" | "miss", "cache": <name>, "tier": "exact" |
            "semantic" | None, "seconds": ...}``, for ``redis-memory dashboard``
            and anyone subscribed: one more round trip per lookup, after the
            answer, whose failure costs the event only (default off).

    With an embedder, construction asks the server once whether it has the
    Search module (a :class:`~redis_memory.errors.SearchModuleMissingError` if
    not); if Redis does not answer then, the first call finds out.

    Example:
        >>> from redis_memory import ResponseCache
        >>> cache = ResponseCache("docs-example")
        >>> cache.update("What is Redis?", "gpt-x|t=0", {"text": "A data store."})
        >>> cache.lookup("What is Redis?", "gpt-x|t=0")
        {'text': 'A data store.'}
        >>> cache.stats.exact_hits
        1
        >>> cache.drop()
        1
    """

    def __init__(self, name: str = "default", **options: Any) -> None:
        super().__init__(name, **options)
        self._checked_at_construction()

    def twin(self) -> AsyncResponseCache:
        """The async cache of the same name and options, sharing counters, index and embeddings."""
        return AsyncResponseCache(self.name, **self._options, _state=self._state)

    def _step(self, step: Step) -> Any:
        if isinstance(step, Plan):
            return execute(self._clients.sync, step, self._url)
        if isinstance(step, _Embed):
            return self._embed(step.prompt.query)
        return self._ensure_index(step.dimensions)

    def _admin_step(self, step: Step) -> Any:
        return execute(self._admin.sync, step, self._admin.masked_url)

    def _drive(self, flow: Flow[T], *, admin: bool = False) -> T:
        return drive(flow, self._admin_step if admin else self._step, _FAILURES)

    def _embed(self, text: str) -> bytes:
        vector = self._recent_embedding(text)
        if vector is None:
            assert self.embedder is not None
            started = time.perf_counter()
            vector = self._embedded(text, self.embedder.embed(text), started)
        return vector

    def _ensure_index(self, dimensions: int) -> bool:
        state = self._state
        if state.index_ready:
            return True
        if state.has_search is False:
            return False
        from redisvl.index import SearchIndex

        with state.index_lock:
            if state.index_ready:
                return True
            if not self._search_found(has_search(self._clients.sync)):
                return False
            index = SearchIndex(self._schema(dimensions), redis_client=self._clients.sync)
            with index_exists_is_fine():
                index.create(overwrite=False)
            return self._index_created(dimensions)

    def lookup(self, prompt: str | CachePrompt, llm: str, *, decode: Decoder = None) -> Any:
        """The cached value for this prompt and model, or None (also when Redis fails).

        ``decode`` turns the stored data into the caller's value, or None when
        it is not of the expected shape: then it is a miss, and counted as one.
        """
        started = time.perf_counter()
        prompt, llm_hash = self._lookup_started(prompt, llm)
        try:
            value, hit = self._drive(
                self._announced(self._lookup_flow(prompt, llm_hash, decode), started)
            )
            self._state.outage.recovered()
        except _FAILURES as exc:
            self._failed("looking up", exc)
            value, hit = None, None
        self._count(started, hit)
        return value

    def update(self, prompt: str | CachePrompt, llm: str, value: Any) -> None:
        """Store a value for this prompt and model (dropped, with a warning, if Redis fails)."""
        prompt, llm_hash = self._lookup_started(prompt, llm)
        encoded = self._encode_value(prompt, value)
        if encoded is None:
            return
        try:
            self._drive(self._update_flow(prompt, llm_hash, encoded))
            self._state.outage.recovered()
        except _FAILURES as exc:
            self._failed("updating", exc)

    def warm_up(self) -> float:
        """Load the embedding model and create the index now, not on the first call.

        The first semantic lookup otherwise pays for both (seconds, for a local
        model). Errors are raised here, with the normal timeouts. Returns the
        seconds it took; a second call costs next to nothing.
        """
        started = time.perf_counter()
        if self.embedder is not None:
            warm_up = getattr(self.embedder, "warm_up", None)
            if callable(warm_up):
                warm_up()
            self.create_index()
        else:
            self._drive(self._ping_flow(), admin=True)
        return time.perf_counter() - started

    def create_index(self) -> None:
        """Create the semantic tier's index now, instead of on first use; errors are raised.

        For an application user without ``FT.CREATE`` (see :mod:`redis_memory.acl`):
        run this once with a user who may, e.g. at deployment.
        """
        embedder = self._embedder_for_index()
        dimensions = self._state.dimensions
        if dimensions is None:
            dimensions = len(_vector_bytes(embedder.embed("index"), None)) // 4
        if not has_search(self._admin.sync):
            raise self._no_search_error()
        from redisvl.index import SearchIndex

        index = SearchIndex(self._schema(dimensions), redis_client=self._admin.sync)
        with index_exists_is_fine():
            index.create(overwrite=False)
        self._search_found(True)
        self._index_created(dimensions)

    def clear(self, llm: str | None = None) -> int:
        """Delete this cache's entries (of one model if ``llm`` is given); returns how many.

        Only keys of this cache go: never the database, never other data. Errors
        are raised here: clearing is an explicit act, not a best effort.
        """
        return self._drive(self._clear_flow(llm), admin=True)

    def count_entries(self) -> dict[str, int]:
        """How many entries this cache holds per tier: ``{"exact": n, "semantic": m}``.

        Counted with ``SCAN`` (never ``KEYS``), so it reads every key name of the
        prefix once: an inspection tool, not something for a request path.
        """
        return self._drive(self._count_flow(), admin=True)

    def drop(self) -> int:
        """Delete every entry and the semantic index of this cache (e.g. a scratch cache).

        Returns how many entries were removed; a later update creates the index again.
        """
        return self._drive(self._drop_flow(), admin=True)


class AsyncResponseCache(_ResponseCacheFlows):
    """The LLM response cache on ``redis.asyncio``: :class:`ResponseCache`'s twin.

    Construction makes no round trip (it may run inside an event loop): whether
    the server has the Search module is found out by :meth:`warm_up` (an error
    if not) or by the first call (then logged as an error, and exact matches
    only). :meth:`ResponseCache.twin` gives the async twin of a sync cache,
    which was checked at its construction.

    Example:
        >>> import asyncio
        >>> from redis_memory import AsyncResponseCache
        >>> async def main():
        ...     cache = AsyncResponseCache("docs-example-async")
        ...     await cache.update("What is Redis?", "gpt-x|t=0", {"text": "A data store."})
        ...     value = await cache.lookup("What is Redis?", "gpt-x|t=0")
        ...     await cache.drop()
        ...     return value
        >>> asyncio.run(main())
        {'text': 'A data store.'}
    """

    def twin(self) -> ResponseCache:
        """The sync cache of the same name and options, sharing counters, index and embeddings."""
        return ResponseCache(self.name, **self._options, _state=self._state)

    async def _step(self, step: Step) -> Any:
        if isinstance(step, Plan):
            return await execute_async(self._clients.async_, step, self._url)
        if isinstance(step, _Embed):
            return await self._embed(step.prompt.query)
        return await self._ensure_index(step.dimensions)

    async def _admin_step(self, step: Step) -> Any:
        return await execute_async(self._admin.async_, step, self._admin.masked_url)

    async def _drive(self, flow: Flow[T], *, admin: bool = False) -> T:
        return await drive_async(flow, self._admin_step if admin else self._step, _FAILURES)

    async def _embed(self, text: str) -> bytes:
        vector = self._recent_embedding(text)
        if vector is None:
            assert self.embedder is not None
            started = time.perf_counter()
            vector = self._embedded(text, await self.embedder.aembed(text), started)
        return vector

    async def _ensure_index(self, dimensions: int) -> bool:
        state = self._state
        if state.index_ready:
            return True
        if state.has_search is False:
            return False
        from redisvl.index import AsyncSearchIndex

        if not self._search_found("search" in await amodules(self._clients.async_)):
            return False
        index = AsyncSearchIndex(self._schema(dimensions), redis_client=self._clients.async_)
        with index_exists_is_fine():
            await index.create(overwrite=False)
        return self._index_created(dimensions)

    async def lookup(self, prompt: str | CachePrompt, llm: str, *, decode: Decoder = None) -> Any:
        """The cached value for this prompt and model, or None (also when Redis fails)."""
        started = time.perf_counter()
        prompt, llm_hash = self._lookup_started(prompt, llm)
        try:
            flow = self._announced(self._lookup_flow(prompt, llm_hash, decode), started)
            value, hit = await self._drive(flow)
            self._state.outage.recovered()
        except _FAILURES as exc:
            self._failed("looking up", exc)
            value, hit = None, None
        self._count(started, hit)
        return value

    async def update(self, prompt: str | CachePrompt, llm: str, value: Any) -> None:
        """Store a value for this prompt and model (dropped, with a warning, if Redis fails)."""
        prompt, llm_hash = self._lookup_started(prompt, llm)
        encoded = self._encode_value(prompt, value)
        if encoded is None:
            return
        try:
            await self._drive(self._update_flow(prompt, llm_hash, encoded))
            self._state.outage.recovered()
        except _FAILURES as exc:
            self._failed("updating", exc)

    async def warm_up(self) -> float:
        """Load the embedding model and create the index now; errors are raised."""
        started = time.perf_counter()
        if self.embedder is not None:
            warm_up = getattr(self.embedder, "warm_up", None)
            if callable(warm_up):
                # Loading a local model is CPU and disk work, kept off the event loop.
                await asyncio.to_thread(warm_up)
            await self.create_index()
        else:
            await self._drive(self._ping_flow(), admin=True)
        return time.perf_counter() - started

    async def create_index(self) -> None:
        """Create the semantic tier's index now, instead of on first use; errors are raised."""
        embedder = self._embedder_for_index()
        dimensions = self._state.dimensions
        if dimensions is None:
            dimensions = len(_vector_bytes(await embedder.aembed("index"), None)) // 4
        if "search" not in await amodules(self._admin.async_):
            raise self._no_search_error()
        from redisvl.index import AsyncSearchIndex

        index = AsyncSearchIndex(self._schema(dimensions), redis_client=self._admin.async_)
        with index_exists_is_fine():
            await index.create(overwrite=False)
        self._search_found(True)
        self._index_created(dimensions)

    async def clear(self, llm: str | None = None) -> int:
        """Delete this cache's entries (of one model if ``llm`` is given); returns how many."""
        return await self._drive(self._clear_flow(llm), admin=True)

    async def count_entries(self) -> dict[str, int]:
        """How many entries this cache holds per tier: ``{"exact": n, "semantic": m}``."""
        return await self._drive(self._count_flow(), admin=True)

    async def drop(self) -> int:
        """Delete every entry and the semantic index of this cache; returns how many entries."""
        return await self._drive(self._drop_flow(), admin=True)


def list_caches(
    *,
    url: str | None = None,
    client: SyncClient | None = None,
    config: RedisMemoryConfig | None = None,
) -> dict[str, dict[str, int]]:
    """Every cache under the prefix, by name, with its entry counts per tier.

    ``{"default": {"exact": 12, "semantic": 10}}``. One ``SCAN`` over the
    prefix's cache keys (never ``KEYS``): an inspection tool, not a hot path.
    """
    clients = RedisClients.shared(url=url, client=client, config=config)
    schema = clients.config.keys
    pattern = schema.caches_pattern()
    found: dict[str, dict[str, int]] = {}
    for raw in each_once(
        lambda cursor: execute(
            clients.sync,
            scan_page("listing LLM caches", pattern, cursor, 1000),
            clients.masked_url,
        )
    ):
        entry = schema.cache_entry_of(reply_text(raw))
        if entry is not None:
            tier, name = entry
            found.setdefault(name, {"exact": 0, "semantic": 0})[tier] += 1
    return dict(sorted(found.items()))


def _resolve_verifier(verifier: Any, embedder: Embedder | None, threshold: float | None) -> Any:
    if embedder is None or verifier is None:
        return None
    if verifier == "default":
        if threshold is not None:
            return None  # an explicit threshold asks for the plain distance rule
        from .verifier import HitVerifier

        return HitVerifier.default()
    for needed in ("accepts", "max_distance", "top_k"):
        if not hasattr(verifier, needed):
            raise ConfigurationError(
                f"verifier must be 'default', None, or have accepts(), max_distance and top_k; "
                f"{type(verifier).__name__} lacks {needed}"
            )
    return verifier
