"""One place that turns ``url=`` / ``client=`` / ``config=`` into redis-py clients.

Every public class of the package takes its connection the same way and hands
it to :class:`RedisClients`, which gives a sync client and, per event loop, a
native ``redis.asyncio`` client. Clients built from a URL share one connection
pool per loop, time out per the configuration, and retry connection errors with
redis-py's own ``Retry`` and exponential backoff with jitter. A client the user
passes in is used as it is, and never closed by this package.

How long a call can take when Redis stops answering: each call makes at most
``retries + 1`` attempts (the retry loops redis-py nests inside one another
run once each, see :class:`_OutermostRetry`), and each attempt ends at the
first reply that does not come within ``socket_timeout`` (or the first
connection attempt that takes ``socket_connect_timeout``). So a hung server
(it accepts connections, answers nothing) costs ``(retries + 1) x
socket_timeout`` plus the backoff between attempts, sync or async, on a live
connection or a new one; a host that stopped accepting connections costs
``socket_connect_timeout`` in place of ``socket_timeout`` for each attempt
that opens a connection. (redis-py opens a call's first connection before the
command's retry loop, in a loop of its own: only a Redis that fails some
handshakes, then answers one and hangs on the command, spends both.)

Example:
    >>> from redis_memory.connection import RedisClients
    >>> clients = RedisClients(url="redis://localhost:6379/0")   # no round trip yet
    >>> clients.config.url
    'redis://localhost:6379/0'
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import socket
import threading
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry

from .config import EMBEDDED, RedisMemoryConfig, is_cluster_url, mask_url, node_url, validate_url
from .errors import ConfigurationError
from .sentinel import client_from_url as sentinel_client_from_url
from .sentinel import is_sentinel_client, is_sentinel_url
from .sentinel import twin_client as sentinel_twin_client

SyncClient = redis.Redis | redis.RedisCluster
AsyncClient = redis.asyncio.Redis | redis.asyncio.RedisCluster

T = TypeVar("T")

_BACKOFF_BASE = 0.05
_BACKOFF_CAP = 1.0
# A connection idle this long (or new) is PINGed before its next command, so one
# that died while idle (a proxy or NAT dropped it, the server restarted) is noticed
# before a command is sent on it; redis-py 8.1's async pool does no other check of
# a connection it hands out. The PING counts as one attempt of the call's retry
# loop, whose next attempt takes a new connection: with a retry loop of its own
# (redis-py's way) it multiplied the time a call can take (see _OutermostRetry).
_HEALTH_CHECK_INTERVAL = 30
_DEFAULT_MAX_CONNECTIONS = 100  # redis-py's own default


def is_async_client(client: object) -> bool:
    """Whether ``client`` is a redis-py asyncio client, standalone or cluster."""
    return isinstance(client, redis.asyncio.Redis | redis.asyncio.RedisCluster)


def is_sync_client(client: object) -> bool:
    """Whether ``client`` is a redis-py sync client, standalone or cluster."""
    return isinstance(client, redis.Redis | redis.RedisCluster)


def is_cluster_client(client: object) -> bool:
    """Whether ``client`` is a redis-py Redis Cluster client, sync or async."""
    return isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster)


# The cluster client of each kind, for a configuration with cluster=True.
_CLUSTER_CLASS: dict[type, type] = {
    redis.Redis: redis.RedisCluster,
    redis.asyncio.Redis: redis.asyncio.RedisCluster,
}


def _client_options(config: RedisMemoryConfig, retry: object) -> dict[str, Any]:
    options: dict[str, Any] = {
        "socket_timeout": config.socket_timeout,
        "socket_connect_timeout": config.socket_connect_timeout,
        "retry": retry,
        "health_check_interval": _HEALTH_CHECK_INTERVAL,
    }
    if config.max_connections is not None:
        options["max_connections"] = config.max_connections
    options.update(config.connection_kwargs)
    return options


# Set while a call runs inside the retry loop of an _OutermostRetry (sync) or an
# _OutermostAsyncRetry. Context variables, so each thread and each asyncio task
# has its own; one per kind, so a sync call never sees an async loop's, or back.
_in_retry_loop: ContextVar[bool] = ContextVar("redis_memory_in_retry_loop", default=False)
_in_async_retry_loop: ContextVar[bool] = ContextVar(
    "redis_memory_in_async_retry_loop", default=False
)


class _OutermostRetry(Retry):
    """redis-py's ``Retry``, except that a loop started inside another runs once.

    redis-py 8.1 nests retry loops on one connection's ``Retry``: a command's loop
    reconnects through ``connect_check_health``, which retries the socket connect
    in a loop of its own, and the health-check PING (before a command on a
    connection that is new or idle past ``health_check_interval``) has its own
    loop, each of whose attempts reconnects, with a handshake that PINGs again.
    Against a hung server a call on a new connection (with no password: AUTH skips
    the check) then waited ``(retries + 1)²`` socket timeouts (82 s with the
    defaults instead of 20), and one on a connection idle past the interval
    ``2 x retries + 1`` of them (35 s); a live
    connection to a host that stopped accepting connections waited
    ``socket_timeout + retries x (retries + 1) x socket_connect_timeout``. Here
    only the outermost loop of a call retries; a nested one makes one attempt,
    runs its failure handler (which closes the broken connection) and hands the
    error to the outer loop, whose next attempt starts on a new connection. So a
    call makes at most ``retries + 1`` attempts, whatever redis-py nests.
    """

    def call_with_retry(
        self,
        do: Callable[[], T],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        if _in_retry_loop.get():
            try:
                return do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                if with_failure_count:
                    fail(error, 1)
                else:
                    fail(error)
                raise
        token = _in_retry_loop.set(True)
        try:
            return super().call_with_retry(do, fail, is_retryable, with_failure_count)
        finally:
            _in_retry_loop.reset(token)


class _OutermostAsyncRetry(redis.asyncio.retry.Retry):
    """The ``redis.asyncio`` twin of :class:`_OutermostRetry`."""

    async def call_with_retry(
        self,
        do: Callable[[], Awaitable[T]],
        fail: Callable[..., Any],
        is_retryable: Callable[[Exception], bool] | None = None,
        with_failure_count: bool = False,
    ) -> T:
        if _in_async_retry_loop.get():
            try:
                return await do()
            except self._supported_errors as error:
                if is_retryable is not None and not is_retryable(error):
                    raise
                if with_failure_count:
                    await fail(error, 1)
                else:
                    await fail(error)
                raise
        token = _in_async_retry_loop.set(True)
        try:
            return await super().call_with_retry(do, fail, is_retryable, with_failure_count)
        finally:
            _in_async_retry_loop.reset(token)


def _sync_retry(config: RedisMemoryConfig) -> Retry:
    backoff = ExponentialWithJitterBackoff(base=_BACKOFF_BASE, cap=_BACKOFF_CAP)
    return _OutermostRetry(backoff, config.retries)


def _async_retry(config: RedisMemoryConfig) -> redis.asyncio.retry.Retry:
    backoff = ExponentialWithJitterBackoff(base=_BACKOFF_BASE, cap=_BACKOFF_CAP)
    return _OutermostAsyncRetry(backoff, config.retries)


# Keys of a pool's connection_kwargs that describe the server and credentials,
# as opposed to the pool's own machinery, which each twin builds for itself.
_PORTABLE = frozenset(
    {
        "host", "port", "db", "username", "password", "credential_provider",
        "socket_timeout", "socket_connect_timeout", "socket_keepalive",
        "socket_keepalive_options", "decode_responses", "encoding", "encoding_errors",
        "client_name", "protocol", "ssl_keyfile", "ssl_certfile", "ssl_cert_reqs",
        "ssl_ca_certs", "ssl_ca_data", "ssl_ca_path", "ssl_check_hostname",
        "ssl_password", "ssl_min_version", "ssl_ciphers",
    }
)  # fmt: skip


def _twin_kwargs(client: Any, target: type) -> dict[str, Any]:
    """Constructor arguments for ``target`` that reach the same server as ``client``."""
    pool = getattr(client, "connection_pool", None)
    if pool is None:
        raise ConfigurationError(
            f"cannot derive a {'sync' if target is redis.Redis else 'async'} client from "
            f"{type(client).__name__}; pass url= (or both a sync and an async client)"
        )
    source = pool.connection_kwargs
    accepted = set(inspect.signature(target.__init__).parameters)
    kwargs = {k: v for k, v in source.items() if k in _PORTABLE and k in accepted}
    if "path" in source:
        kwargs["unix_socket_path"] = source["path"]
    if "SSL" in pool.connection_class.__name__:
        kwargs["ssl"] = True
    return kwargs


def _cluster_twin_kwargs(client: Any) -> dict[str, Any]:
    """Arguments for a cluster client of the other kind (sync, async) reaching ``client``'s."""
    if isinstance(client, redis.RedisCluster):
        source = dict(client.nodes_manager.connection_kwargs)
    else:
        source = dict(client.connection_kwargs)
    node = next(iter(client.nodes_manager.startup_nodes.values()))
    kwargs = {k: v for k, v in source.items() if k in _PORTABLE}
    kwargs.update(host=node.host, port=node.port)
    connection_class = source.get("connection_class")
    if connection_class is not None and "SSL" in connection_class.__name__:
        kwargs["ssl"] = True
    return kwargs


class _Connection:
    """The clients of one connection setting: a sync one and one per event loop."""

    def __init__(self, config: RedisMemoryConfig, client: SyncClient | AsyncClient | None) -> None:
        self.config = config
        self.user_sync: SyncClient | None = client if is_sync_client(client) else None
        self.user_async: AsyncClient | None = client if is_async_client(client) else None
        self._sync: SyncClient | None = self.user_sync
        # A plain dict: a client's open transports keep their loop alive, so a
        # weak mapping would never drop an entry. Dead loops are pruned instead.
        self._async_by_loop: dict[asyncio.AbstractEventLoop, AsyncClient] = {}
        self._lock = threading.Lock()

    @property
    def owned(self) -> bool:
        return self.user_sync is None and self.user_async is None

    @functools.cached_property
    def is_cluster(self) -> bool:
        # From the settings alone (no client is built, nothing is sent), read once: the
        # engines ask on every call, and the clients are built from this same answer.
        user_client = self.user_sync or self.user_async
        if user_client is not None:
            return is_cluster_client(user_client)
        return self.config.cluster or is_cluster_url(self.config.resolved_url())

    def url(self) -> str:
        if not self.owned:
            return f"<{type(self.user_sync or self.user_async).__name__} given by the caller>"
        url = self.config.resolved_url()
        if url == EMBEDDED:
            from .embedded import shared_server

            url = shared_server().url
        return url

    def sync(self) -> SyncClient:
        if self._sync is None:
            with self._lock:
                if self._sync is None:
                    try:
                        self._sync = self._build(redis.Redis, _sync_retry)
                    except (redis.exceptions.RedisClusterException, redis.ConnectionError) as exc:
                        # A sync cluster client connects as it is built, outside the
                        # engines' error handling: the stand-in fails there instead.
                        return _Unreachable(exc)  # type: ignore[return-value]
        return self._sync

    def async_(self) -> AsyncClient:
        if self.user_async is not None:
            return self.user_async
        loop = asyncio.get_running_loop()
        client = self._async_by_loop.get(loop)
        if client is None:
            with self._lock:
                self._prune_closed_loops()
                client = self._build(redis.asyncio.Redis, _async_retry)
                self._async_by_loop[loop] = client
        return client

    def _prune_closed_loops(self) -> None:
        # LlamaIndex's sync wrappers (and asyncio.run per call) leave a loop
        # behind per call; its client can no longer be awaited, so its sockets
        # are shut down directly, freeing the server's side at once.
        for loop in [loop for loop in self._async_by_loop if loop.is_closed()]:
            _abandon(self._async_by_loop.pop(loop))

    def _build(self, target: type, retry: Callable[[RedisMemoryConfig], object]) -> Any:
        options = _client_options(self.config, retry(self.config))
        user_client = self.user_sync or self.user_async
        if user_client is not None:
            if is_cluster_client(user_client):
                return _CLUSTER_CLASS[target](**{**options, **_cluster_twin_kwargs(user_client)})
            if is_sentinel_client(user_client):
                return sentinel_twin_client(user_client, target, options, set(_PORTABLE))
            return target(**{**options, **_twin_kwargs(user_client, target)})
        url = self.url()
        if self.is_cluster:
            return _CLUSTER_CLASS[target].from_url(node_url(url), **options)
        if is_sentinel_url(url):
            return sentinel_client_from_url(target, url, options)
        # A blocking pool: callers beyond max_connections wait for a free connection
        # (up to socket_timeout) instead of failing with "Too many connections".
        pool_class = (
            redis.asyncio.BlockingConnectionPool
            if issubclass(target, redis.asyncio.Redis)
            else redis.BlockingConnectionPool
        )
        options.setdefault("max_connections", _DEFAULT_MAX_CONNECTIONS)
        pool = pool_class.from_url(url, timeout=self.config.socket_timeout, **options)
        return target.from_pool(pool)

    def close(self) -> None:
        if self._sync is not None and self.user_sync is None:
            self._sync.close()
            self._sync = None

    async def aclose(self) -> None:
        if self.user_async is not None:
            return
        client = self._async_by_loop.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


class _Unreachable:
    """In place of a cluster client none of whose nodes answered: every command
    raises that failure as a ``ConnectionError``, which the engines report with
    what was being done. The next call builds a client again."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        raise redis.ConnectionError(str(self.error)) from self.error


def _abandon(client: AsyncClient) -> None:
    pool = getattr(client, "connection_pool", None)
    connections = [
        *getattr(pool, "_available_connections", ()),
        *getattr(pool, "_in_use_connections", ()),
    ]
    if isinstance(client, redis.asyncio.RedisCluster):  # a pool per node instead
        for node in client.get_nodes():
            connections += getattr(node, "_connections", ())
    for connection in connections:
        with contextlib.suppress(Exception):
            writer = connection._writer
            if writer is not None:
                writer.transport.get_extra_info("socket").shutdown(socket.SHUT_RDWR)


def _connection_key(config: RedisMemoryConfig) -> tuple[Any, ...]:
    return (
        config.resolved_url(),
        config.socket_timeout,
        config.socket_connect_timeout,
        config.retries,
        config.max_connections,
        repr(sorted(config.connection_kwargs.items())),
        config.cluster,
    )


_shared_connections: dict[tuple[Any, ...], _Connection] = {}
_shared_lock = threading.Lock()


class RedisClients:
    """The sync client and the per-event-loop async clients of one configuration.

    Args:
        url: A Redis URL or ``"embedded"``; overrides ``config.url``.
        client: The user's own redis-py client, sync or async, standalone or
            cluster (``RedisCluster``). The other kind is derived from its
            connection settings when needed.
        config: Prefix, TTL policy, serializer and connection settings.
            Default: :meth:`RedisMemoryConfig.from_env`.

    No connection is made until a client is first used. :meth:`shared` gives
    objects with the same connection settings one connection pool, which is
    what the package's classes use: a chat history built per request costs no
    new connection.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        _connection: _Connection | None = None,
    ) -> None:
        self.config = _resolve_config(url, client, config)
        self._connection = _connection or _Connection(self.config, client)

    @classmethod
    def shared(
        cls,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> RedisClients:
        """Like the constructor, but reusing the process's pool for these connection settings."""
        resolved = _resolve_config(url, client, config)
        if client is not None:
            return cls(client=client, config=resolved)
        key = _connection_key(resolved)
        with _shared_lock:
            connection = _shared_connections.get(key)
            if connection is None:
                connection = _shared_connections[key] = _Connection(resolved, None)
        return cls(config=resolved, _connection=connection)

    @property
    def is_cluster(self) -> bool:
        """Whether this connects to a Redis Cluster: known from the settings, no round trip."""
        return self._connection.is_cluster

    @property
    def owns_connection(self) -> bool:
        """False when the user passed a client: then closing it is the user's job."""
        return self._connection.owned

    def url(self) -> str:
        """The URL connected to (the embedded server's, once started), or the client's."""
        return self._connection.url()

    def masked_url(self) -> str:
        """Like :meth:`url`, with every password replaced by ``***``: safe for logs and errors."""
        return mask_url(self.url())

    @property
    def sync(self) -> SyncClient:
        """The sync client, built on first use."""
        return self._connection.sync()

    @property
    def async_(self) -> AsyncClient:
        """The async client for the running event loop, built on first use in that loop.

        redis.asyncio connections belong to the loop that opened them, so each
        loop (``asyncio.run`` per call, as LlamaIndex's sync wrappers do) gets
        its own client. A user's async client is returned as it is.
        """
        return self._connection.async_()

    def close(self) -> None:
        """Close the sync client's connections if this package built it (it reconnects on use)."""
        self._connection.close()

    async def aclose(self) -> None:
        """Close the running loop's async client if this package built it."""
        await self._connection.aclose()

    def __repr__(self) -> str:
        where = self.config.url if self.owns_connection else "caller's client"
        return f"RedisClients({mask_url(where) if where else 'from environment'})"


def _resolve_config(
    url: str | None, client: object, config: RedisMemoryConfig | None
) -> RedisMemoryConfig:
    if url is not None and client is not None:
        raise ConfigurationError("pass either url= or client=, not both")
    if config is not None and not isinstance(config, RedisMemoryConfig):
        raise ConfigurationError(f"config must be a RedisMemoryConfig, not {type(config).__name__}")
    if client is not None and not (is_sync_client(client) or is_async_client(client)):
        raise ConfigurationError(
            "client must be a redis-py client (redis.Redis, redis.RedisCluster, "
            f"redis.asyncio.Redis or redis.asyncio.RedisCluster), not {type(client).__name__}"
        )
    if config is None:
        config = RedisMemoryConfig.from_env()
    if url is not None:
        config = config.replace(url=validate_url(url))
    return config
