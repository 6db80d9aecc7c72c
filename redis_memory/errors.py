"""Exceptions of redis-memory-backend.

Every error names what failed and what to do about it. Where a Redis error is
the cause, it is chained (``raise ... from exc``) so nothing is hidden.
"""

from __future__ import annotations


class RedisMemoryError(Exception):
    """Base class of every error this package raises on purpose."""


class ConfigurationError(RedisMemoryError, ValueError):
    """A setting is missing, malformed or contradicts another one."""


class SerializationError(RedisMemoryError, TypeError, ValueError):
    """A value could not be encoded for Redis, or stored bytes could not be decoded.

    Both a ``TypeError`` (the value is of a kind JSON cannot hold) and a
    ``ValueError`` (the stored bytes are not what was expected), so either
    ``except`` catches it.
    """


class ValueTooLargeError(RedisMemoryError, ValueError):
    """A value is larger, once encoded, than ``RedisMemoryConfig.max_value_bytes``.

    Raised before anything is sent to Redis, so nothing is written.
    """


class PermissionDeniedError(RedisMemoryError, PermissionError):
    """The Redis user may not run a command or touch a key (an ACL ``NOPERM`` reply)."""


class RedisUnavailableError(RedisMemoryError, ConnectionError):
    """Redis did not answer within the configured timeout and retries."""


class RedisOutOfMemoryError(RedisMemoryError):
    """Redis refused a write: it reached ``maxmemory`` and its eviction policy frees nothing.

    What ``maxmemory-policy noeviction`` (right for history and state) does when
    Redis is full; reads still work. The write was not applied.
    """


class EmbeddedServerError(RedisMemoryError, RuntimeError):
    """The embedded Redis server could not be found, started or stopped."""


class FeatureUnavailableError(RedisMemoryError, RuntimeError):
    """The connected Redis lacks something a feature needs (a module, a command)."""


class SearchModuleMissingError(FeatureUnavailableError):
    """The feature needs the Redis Search module (Redis Stack, Redis 8, or Redis Cloud)."""


class UnexpectedDataError(RedisMemoryError, ValueError):
    """A key under this package's prefix holds data this package did not write."""


class ReplicaAckError(RedisMemoryError):
    """A write was applied on the primary, but fewer replicas than required confirmed it.

    Raised by message-history writes when ``RedisMemoryConfig.replica_acks`` is
    set and ``WAIT`` timed out. The data is stored (on the primary), so do not
    write it again (that would duplicate it); it could be lost only if the
    primary fails before a replica catches up. ``result`` is what the call
    would have returned; ``acknowledged`` and ``required`` count replicas.
    """

    def __init__(self, message: str, *, result: object, acknowledged: int, required: int) -> None:
        super().__init__(message)
        self.result = result
        self.acknowledged = acknowledged
        self.required = required
