"""Where the data lives and how long it stays: :class:`RedisMemoryConfig`.

Example:
    >>> from redis_memory import RedisMemoryConfig, TTLPolicy
    >>> config = RedisMemoryConfig(url="redis://localhost:6379/0", prefix="myapp",
    ...                            ttl=TTLPolicy(messages=3600))
    >>> config.keys.session_messages("s1")
    'myapp:session:{s1}:messages'
    >>> RedisMemoryConfig.from_env({"REDIS_MEMORY_URL": "embedded"}).url
    'embedded'
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Self
from urllib.parse import unquote, urlsplit

from ._checks import seconds, seconds_or_none, whole, whole_or_none
from .errors import ConfigurationError
from .keys import DEFAULT_PREFIX, KeySchema, validate_prefix
from .sentinel import SENTINEL_SCHEME, parse_sentinel_url
from .serialization import (
    DEFAULT_MAX_VALUE_BYTES,
    JSONSerializer,
    Serializer,
    SizeLimitedSerializer,
)
from .ttl import KINDS as TTL_KINDS
from .ttl import TTL, TTLPolicy

EMBEDDED = "embedded"
DEFAULT_URL = "redis://localhost:6379/0"
URL_SCHEMES = ("redis", "rediss", "unix", "redis+cluster", "rediss+cluster", SENTINEL_SCHEME)
CLUSTER_SUFFIX = "+cluster"

ENV_URL = "REDIS_MEMORY_URL"
ENV_FALLBACK_URL = "REDIS_URL"
ENV_PREFIX = "REDIS_MEMORY_PREFIX"
ENV_SOCKET_TIMEOUT = "REDIS_MEMORY_SOCKET_TIMEOUT"
ENV_CONNECT_TIMEOUT = "REDIS_MEMORY_CONNECT_TIMEOUT"
ENV_RETRIES = "REDIS_MEMORY_RETRIES"
ENV_REPLICA_ACKS = "REDIS_MEMORY_REPLICA_ACKS"
ENV_REPLICA_ACK_TIMEOUT = "REDIS_MEMORY_REPLICA_ACK_TIMEOUT"
ENV_MAX_VALUE_BYTES = "REDIS_MEMORY_MAX_VALUE_BYTES"
ENV_TTL = {kind: f"REDIS_MEMORY_TTL_{kind.upper()}" for kind in TTL_KINDS}


_SECRET_QUERY_RE = re.compile(r"((?:^|&)(?:ssl_|sentinel_)?password=)[^&]*", re.IGNORECASE)


def mask_url(url: str) -> str:
    """The URL with every password replaced by ``***``, safe for logs and errors.

    Masks the password of the user part (also in a URL whose scheme is missing)
    and ``password=`` / ``ssl_password=`` in the query string.
    """
    if not isinstance(url, str):
        return f"<{type(url).__name__}>"
    if url == EMBEDDED:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    location, qmark, query = rest.partition("?")
    if "@" in location:
        userinfo, _, host = location.rpartition("@")
        user, colon, _password = userinfo.partition(":")
        location = f"{user}:***@{host}" if colon else f"{user}@{host}"
    if query:
        query = _SECRET_QUERY_RE.sub(r"\1***", query)
    return f"{scheme}{sep}{location}{qmark}{query}"


def validate_url(url: str) -> str:
    """Check a Redis URL (or ``embedded``); returns it with its scheme in lower case."""
    if not isinstance(url, str):
        raise ConfigurationError(f"url must be a str, not {type(url).__name__}")
    if url == EMBEDDED:
        return url
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in URL_SCHEMES:
        raise ConfigurationError(
            f"unsupported Redis URL {mask_url(url)!r}: use redis://[user:password@]host:port/db, "
            "rediss://... for TLS, unix:///path/to/redis.sock, redis+cluster://host:port (or "
            "rediss+cluster://) for any node of a Redis Cluster, "
            "redis+sentinel://host:26379,host:26380/mymaster/0 for Sentinel, or 'embedded' "
            "for a private server started on demand"
        )
    url = f"{scheme.lower()}://{rest}"
    if scheme.lower() == SENTINEL_SCHEME:
        parse_sentinel_url(url)
    elif scheme.lower() != "unix":
        _check_host_part(url)
    return url


def _check_host_part(url: str) -> None:
    # redis-py reads these on the first connection: a bad port raises a bare
    # ValueError there, and a database that is not a number is silently db 0.
    parts = urlsplit(url)
    try:
        parts.port  # noqa: B018 (reading it is the check)
    except ValueError:
        raise ConfigurationError(
            f"the port of Redis URL {mask_url(url)!r} is not a number from 0 to 65535: "
            "use redis://[user:password@]host:port/db, e.g. redis://localhost:6379/0"
        ) from None
    database = unquote(parts.path).strip("/")
    if database and not database.isdigit():
        raise ConfigurationError(
            f"the database of Redis URL {mask_url(url)!r} is {database!r}, not a number: "
            "the path names a database by its number, e.g. redis://localhost:6379/0"
        )


def is_cluster_url(url: str) -> bool:
    """Whether ``url`` is a ``redis+cluster://`` or ``rediss+cluster://`` URL."""
    return url.partition("://")[0].lower().endswith(CLUSTER_SUFFIX)


def node_url(url: str) -> str:
    """A cluster URL as redis-py reads it (``redis://`` or ``rediss://``); others unchanged."""
    scheme, sep, rest = url.partition("://")
    return f"{scheme.lower().removesuffix(CLUSTER_SUFFIX)}{sep}{rest}"


@dataclass(frozen=True, slots=True)
class RedisMemoryConfig:
    """Connection, key prefix, TTL policy and serializer, shared by every class.

    Args:
        url: ``redis://``, ``rediss://`` (TLS) or ``unix://`` URL, a Sentinel URL
            ``redis+sentinel://host:26379,host:26380/mymaster/0`` (see
            :mod:`redis_memory.sentinel`), ``redis+cluster://host:port`` (or
            ``rediss+cluster://``) naming any node of a Redis Cluster, as
            ``cluster=True`` does, or ``"embedded"`` to start a private Redis Stack on
            demand. ``None`` reads
            ``REDIS_MEMORY_URL``, then ``REDIS_URL``, then uses
            ``redis://localhost:6379/0``, when a connection is first needed.
        prefix: The first segment of every key (default ``rmem``). Separate
            applications sharing one Redis use separate prefixes.
        ttl: How long each kind of data lives (:class:`TTLPolicy`).
        serializer: How values are encoded (JSON on orjson by default).
        socket_timeout: Seconds a command may take before it fails.
        socket_connect_timeout: Seconds a connection attempt may take.
        retries: How often a call failing on a connection error or timeout
            is retried, with exponential backoff and jitter (redis-py's ``Retry``).
            A call makes at most ``retries + 1`` attempts, each ending at the first
            reply that takes longer than ``socket_timeout`` (or the first connection
            attempt that takes longer than ``socket_connect_timeout``): a Redis
            that stops answering fails a call after ``(retries + 1) x
            socket_timeout`` plus the backoff, 20 s with the defaults.
        max_connections: Upper bound of each connection pool (``None``: 100); more
            concurrent calls wait for a free connection, up to ``socket_timeout``.
        connection_kwargs: Further keyword arguments for redis-py's client, e.g.
            ``{"ssl_ca_certs": "ca.pem"}`` or ``{"client_name": "worker-1"}``.
        replica_acks: Message-history writes (append, replace, archiving) wait
            until this many replicas have the write (``WAIT``, in the same round
            trip) and raise :class:`~redis_memory.errors.ReplicaAckError` when
            fewer confirm in time. ``0`` (default): no wait; Redis replicates
            asynchronously, so a failover can lose the newest acknowledged writes.
        replica_ack_timeout: Seconds a write waits for those replicas; less than
            ``socket_timeout``.
        max_value_bytes: The largest value (a message, a state value, a cache
            entry, a finding, an event, a job), once encoded, that is sent to
            Redis (default 8 MiB); a larger one is a ``ValueTooLargeError``
            before anything is written (a cache skips it with a warning).
            ``None``: no limit.
        cluster: The URL names one node of a Redis Cluster: connect with
            ``RedisCluster`` clients, which find the other nodes from it.

    Example:
        >>> from redis_memory import RedisMemoryConfig, TTLPolicy
        >>> config = RedisMemoryConfig(prefix="myapp", ttl=TTLPolicy(state=3600))
        >>> config.ttl.state
        TTL(3600)
        >>> config.replace(url="redis://:secret@db.internal:6379/0")  # passwords masked
        RedisMemoryConfig(url='redis://:***@db.internal:6379/0', prefix='myapp', ...)
    """

    url: str | None = field(default=None, repr=False)
    prefix: str = DEFAULT_PREFIX
    ttl: TTLPolicy = field(default_factory=TTLPolicy)
    serializer: Serializer = field(default_factory=JSONSerializer)
    socket_timeout: float | None = 5.0
    socket_connect_timeout: float | None = 5.0
    retries: int = 3
    max_connections: int | None = None
    connection_kwargs: Mapping[str, Any] = field(default_factory=dict)
    replica_acks: int = 0
    replica_ack_timeout: float = 1.0
    max_value_bytes: int | None = DEFAULT_MAX_VALUE_BYTES
    cluster: bool = False

    def __post_init__(self) -> None:
        if self.url is not None:
            object.__setattr__(self, "url", validate_url(self.url))
            if is_cluster_url(self.url):
                object.__setattr__(self, "cluster", True)
        try:
            validate_prefix(self.prefix)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(str(exc)) from None
        if not isinstance(self.ttl, TTLPolicy):
            raise ConfigurationError(f"ttl must be a TTLPolicy, not {type(self.ttl).__name__}")
        if not isinstance(self.serializer, Serializer):
            raise ConfigurationError("serializer must have dumps(value) -> bytes and loads(bytes)")
        for name in ("socket_timeout", "socket_connect_timeout"):
            seconds_or_none(name, getattr(self, name), error=ConfigurationError)
        whole("retries", self.retries, 0, error=ConfigurationError)
        for name in ("max_connections", "max_value_bytes"):  # None: no limit
            whole_or_none(name, getattr(self, name), 1, error=ConfigurationError)
        if not isinstance(self.connection_kwargs, Mapping):
            raise ConfigurationError("connection_kwargs must be a mapping of redis-py arguments")
        object.__setattr__(
            self, "connection_kwargs", MappingProxyType(dict(self.connection_kwargs))
        )
        if not isinstance(self.cluster, bool):
            raise ConfigurationError(f"cluster must be True or False, got {self.cluster!r}")
        if self.cluster and self.url is not None:
            _check_cluster_url(self.url)
        self._check_replica_acks()

    def _check_replica_acks(self) -> None:
        acks = self.replica_acks
        whole("replica_acks", acks, 0, error=ConfigurationError)
        timeout = seconds("replica_ack_timeout", self.replica_ack_timeout, error=ConfigurationError)
        if acks and self.socket_timeout is not None and timeout >= self.socket_timeout:
            raise ConfigurationError(
                f"replica_ack_timeout ({timeout:g} s) must be less than socket_timeout "
                f"({self.socket_timeout:g} s), or the socket gives up before the replicas answer"
            )

    def __repr__(self) -> str:
        url = "from environment" if self.url is None else repr(mask_url(self.url))
        return (
            f"RedisMemoryConfig(url={url}, prefix={self.prefix!r}, ttl={self.ttl!r}, "
            f"serializer={self.serializer!r}{', cluster=True' if self.cluster else ''})"
        )

    @property
    def keys(self) -> KeySchema:
        """The key schema for this prefix."""
        return KeySchema(self.prefix)

    @property
    def checked_serializer(self) -> SizeLimitedSerializer:
        """The serializer, refusing encoded values over :attr:`max_value_bytes`."""
        return SizeLimitedSerializer(self.serializer, self.max_value_bytes)

    def resolved_url(self, environ: Mapping[str, str] | None = None) -> str:
        """The URL to connect to: this config's, else the environment's, else the default."""
        if self.url is not None:
            return self.url
        env = os.environ if environ is None else environ
        url = validate_url(env.get(ENV_URL) or env.get(ENV_FALLBACK_URL) or DEFAULT_URL)
        if self.cluster:
            _check_cluster_url(url)
        return url

    def replace(self, **changes: Any) -> Self:
        """A copy with some settings changed.

        ``cluster`` that came from a ``redis+cluster://`` URL follows the URL: a new
        ``url`` of another scheme turns it off (unless ``cluster=`` is given too).
        """
        if "url" in changes and "cluster" not in changes and self.url and is_cluster_url(self.url):
            changes["cluster"] = False
        return replace(self, **changes)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Self:
        """A configuration from environment variables; keyword arguments win over them.

        ``REDIS_MEMORY_URL`` (or ``REDIS_URL``), ``REDIS_MEMORY_PREFIX``,
        ``REDIS_MEMORY_SOCKET_TIMEOUT``, ``REDIS_MEMORY_CONNECT_TIMEOUT``,
        ``REDIS_MEMORY_RETRIES``, ``REDIS_MEMORY_REPLICA_ACKS``,
        ``REDIS_MEMORY_REPLICA_ACK_TIMEOUT``, ``REDIS_MEMORY_MAX_VALUE_BYTES`` (bytes or
        ``none``) and ``REDIS_MEMORY_TTL_MESSAGES`` / ``_CACHE`` /
        ``_STATE`` / ``_CLAIMS``, whose values are seconds (``3600``), ``none``,
        or seconds with a mode (``3600:sliding``, ``3600:fixed``).
        """
        env = os.environ if environ is None else environ
        settings: dict[str, Any] = {}
        url = env.get(ENV_URL) or env.get(ENV_FALLBACK_URL)
        if url:
            settings["url"] = url
        if env.get(ENV_PREFIX):
            settings["prefix"] = env[ENV_PREFIX]
        for name, var in (
            ("socket_timeout", ENV_SOCKET_TIMEOUT),
            ("socket_connect_timeout", ENV_CONNECT_TIMEOUT),
            ("replica_ack_timeout", ENV_REPLICA_ACK_TIMEOUT),
        ):
            if env.get(var):
                settings[name] = _parse_float(var, env[var])
        if env.get(ENV_RETRIES):
            settings["retries"] = _parse_int(ENV_RETRIES, env[ENV_RETRIES])
        if env.get(ENV_REPLICA_ACKS):
            settings["replica_acks"] = _parse_int(ENV_REPLICA_ACKS, env[ENV_REPLICA_ACKS])
        if env.get(ENV_MAX_VALUE_BYTES):
            text = env[ENV_MAX_VALUE_BYTES]
            settings["max_value_bytes"] = (
                None if text.strip().lower() == "none" else _parse_int(ENV_MAX_VALUE_BYTES, text)
            )
        ttl_changes = {
            kind: _parse_ttl(var, env[var], getattr(TTLPolicy(), kind))
            for kind, var in ENV_TTL.items()
            if env.get(var)
        }
        if ttl_changes:
            settings["ttl"] = TTLPolicy(**ttl_changes)
        settings.update(overrides)
        return cls(**settings)


def _parse_float(var: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ConfigurationError(f"{var}={text!r} is not a number of seconds") from None


def _parse_int(var: str, text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise ConfigurationError(f"{var}={text!r} is not a whole number") from None


def _check_cluster_url(url: str) -> None:
    if url == EMBEDDED or url.startswith("unix://"):
        raise ConfigurationError(
            f"cluster=True needs the redis:// or rediss:// URL of a cluster node, not "
            f"{mask_url(url)!r}; for a local cluster start redis_memory.embedded.EmbeddedCluster "
            "and pass its url"
        )


def _parse_ttl(var: str, text: str, default: TTL) -> TTL:
    value, _, mode = text.strip().lower().partition(":")
    if value in ("none", "never", "0", ""):
        if mode:
            raise ConfigurationError(f"{var}={text!r}: a TTL of none has no mode")
        return TTL(None)
    if mode not in ("", "sliding", "fixed"):
        raise ConfigurationError(f"{var}={text!r}: the mode after ':' is 'sliding' or 'fixed'")
    sliding = default.sliding if not mode else mode == "sliding"
    try:
        return TTL(float(value), sliding=sliding)
    except ValueError as exc:
        raise ConfigurationError(
            f"{var}={text!r}: expected seconds, 'none', or seconds:sliding / seconds:fixed ({exc})"
        ) from None
