"""Redis Sentinel: ``redis+sentinel://`` URLs and clients that follow a failover.

A Sentinel URL names the sentinels, the monitored service and the database::

    redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service[/db][?options]

The user and password (if any) are the Redis primary's; the port of a sentinel
defaults to 26379. Options in the query string: ``sentinel_username`` and
``sentinel_password`` (when the sentinels themselves require auth).

The clients built from it are redis-py's ``Sentinel(...).master_for(service)``
(``redis.asyncio.sentinel`` for the async twin): every new connection asks the
sentinels where the primary is, so after a failover the same object writes to
the new primary; no restart of the application. A client built by the user
with ``Sentinel(...).master_for(...)`` can be passed as ``client=`` too, and its
other twin (sync or async) is built on the same sentinels.

Example:
    >>> from redis_memory.sentinel import parse_sentinel_url
    >>> parse_sentinel_url("redis+sentinel://:pw@10.0.0.1,10.0.0.2:26380/mymaster/2").sentinels
    (('10.0.0.1', 26379), ('10.0.0.2', 26380))
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, unquote

import redis.asyncio.sentinel
import redis.sentinel

from .errors import ConfigurationError

SENTINEL_SCHEME = "redis+sentinel"
DEFAULT_SENTINEL_PORT = 26379
_QUERY_OPTIONS = ("sentinel_username", "sentinel_password")
_FORMAT = (
    "redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/service_name[/db]"
    "[?sentinel_password=...]"
)


@dataclass(frozen=True, slots=True)
class SentinelSettings:
    """What a ``redis+sentinel://`` URL says: where the sentinels are and what to ask them.

    Example:
        >>> settings = parse_sentinel_url("redis+sentinel://h1:26379,h2:26380/mymaster/1")
        >>> settings.service_name, settings.db
        ('mymaster', 1)
    """

    sentinels: tuple[tuple[str, int], ...]
    service_name: str
    db: int = 0
    username: str | None = None
    password: str | None = None
    sentinel_username: str | None = None
    sentinel_password: str | None = None


def is_sentinel_url(url: object) -> bool:
    """Whether ``url`` is a ``redis+sentinel://`` URL (the scheme in any case)."""
    return isinstance(url, str) and url.lower().startswith(SENTINEL_SCHEME + "://")


def parse_sentinel_url(url: str) -> SentinelSettings:
    """Read a ``redis+sentinel://`` URL; a malformed one is a :class:`ConfigurationError`.

    The message never shows the URL's password.
    """
    from .config import mask_url

    def bad(why: str) -> ConfigurationError:
        return ConfigurationError(f"invalid Sentinel URL {mask_url(url)!r}: {why}; use {_FORMAT}")

    _, _, rest = url.partition("://")
    rest, _, query = rest.partition("?")
    location, slash, path = rest.partition("/")
    userinfo, at, hosts = location.rpartition("@")
    if not at:
        hosts = location
    username = password = None
    if userinfo:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    sentinels = []
    for address in hosts.split(","):
        host, colon, port = address.strip().rpartition(":")
        if not colon:
            host, port = port, str(DEFAULT_SENTINEL_PORT)
        host = host.strip("[]")
        if not host:
            raise bad("every sentinel needs a host")
        if not port.isdigit() or not 0 < int(port) < 65536:
            raise bad(f"{port!r} is not a port")
        sentinels.append((host, int(port)))
    parts = path.split("/") if slash else []
    if not parts or not parts[0]:
        raise bad("the service name (the name the sentinels monitor, e.g. mymaster) is missing")
    if len(parts) > 2 or (len(parts) == 2 and not parts[1].isdigit()):
        raise bad("after the service name only a database number may follow")
    options = {name: values[-1] for name, values in parse_qs(query).items()}
    unknown = sorted(set(options) - set(_QUERY_OPTIONS))
    if unknown:
        raise bad(f"unknown option(s) {', '.join(unknown)}")
    return SentinelSettings(
        sentinels=tuple(sentinels),
        service_name=unquote(parts[0]),
        db=int(parts[1]) if len(parts) == 2 else 0,
        username=username,
        password=password,
        sentinel_username=options.get("sentinel_username"),
        sentinel_password=options.get("sentinel_password"),
    )


def _sentinel_kwargs(
    options: Mapping[str, Any], username: str | None, password: str | None
) -> dict[str, Any]:
    # The config's retry too: redis-py's default (3 retries, backoff up to 10 s) would
    # hold every new connection for seconds while one sentinel is down.
    kwargs = {k: v for k, v in options.items() if k.startswith("socket_") or k == "retry"}
    if username is not None:
        kwargs["username"] = username
    if password is not None:
        kwargs["password"] = password
    return kwargs


def _manager_class(target: type) -> type:
    is_async = issubclass(target, redis.asyncio.Redis)
    return redis.asyncio.sentinel.Sentinel if is_async else redis.sentinel.Sentinel


def client_from_url(target: type, url: str, options: Mapping[str, Any]) -> Any:
    """A ``target`` (``redis.Redis`` or ``redis.asyncio.Redis``) client of the URL's primary."""
    settings = parse_sentinel_url(url)
    manager = _manager_class(target)(
        list(settings.sentinels),
        sentinel_kwargs=_sentinel_kwargs(
            options, settings.sentinel_username, settings.sentinel_password
        ),
    )
    node_options = dict(options)
    node_options["db"] = settings.db
    if settings.username is not None:
        node_options["username"] = settings.username
    if settings.password is not None:
        node_options["password"] = settings.password
    return manager.master_for(settings.service_name, redis_class=target, **node_options)


NO_PRIMARY = (redis.sentinel.MasterNotFoundError, redis.asyncio.sentinel.MasterNotFoundError)


def no_primary_reason(exc: BaseException) -> str:
    """redis-py's "No master found for 'x'" without the repr of a whole client that follows."""
    return str(exc).split(" : ")[0]


_POOLS = (redis.sentinel.SentinelConnectionPool, redis.asyncio.sentinel.SentinelConnectionPool)


def is_sentinel_client(client: object) -> bool:
    """Whether ``client`` is a redis-py client from ``Sentinel(...).master_for``, sync or async."""
    return isinstance(getattr(client, "connection_pool", None), _POOLS)


def twin_client(client: Any, target: type, options: Mapping[str, Any], portable: set[str]) -> Any:
    """A ``target`` client on the same sentinels and service as the user's Sentinel client."""
    pool = client.connection_pool
    manager = pool.sentinel_manager
    addresses = [
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in manager.sentinels
    ]
    first = manager.sentinels[0].connection_pool.connection_kwargs if manager.sentinels else {}
    sentinel_kwargs = {k: v for k, v in first.items() if k in portable}
    sentinel_kwargs.pop("host", None)
    sentinel_kwargs.pop("port", None)
    node = {k: v for k, v in pool.connection_kwargs.items() if k in portable}
    twin = _manager_class(target)(addresses, sentinel_kwargs=sentinel_kwargs)
    factory = twin.master_for if pool.is_master else twin.slave_for
    return factory(pool.service_name, redis_class=target, **{**options, **node})
