"""redis-py's errors turned into this package's, naming what failed and what to do."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import redis

from .errors import (
    PermissionDeniedError,
    RedisOutOfMemoryError,
    RedisUnavailableError,
    UnexpectedDataError,
)
from .sentinel import NO_PRIMARY, no_primary_reason

# How the package's Lua scripts report damaged data: error({err = DATA_ERROR .. what}).
DATA_ERROR = "RMEM_DATA "

# redis-py's words for a pool with no free connection (blocking / non-blocking pool).
_POOL_EXHAUSTED = frozenset({"No connection available.", "Too many connections"})


def said(what: object) -> str:
    """An error's text as one sentence: redis-py's often end with a period, some do not."""
    text = str(what).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@contextmanager
def redis_errors(doing: str, key: str, url: Callable[[], str], advice: str = "") -> Iterator[None]:
    """Turn redis-py's errors into this package's, naming the URL (masked) and key.

    ``advice`` replaces the generic advice after a connection failure or a
    timeout (see :attr:`Plan.advice`).
    """
    try:
        yield
    except redis.exceptions.TimeoutError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} did not answer in time while {doing} ({key}): {said(exc)} "
            + (
                advice
                or "The command may still have been applied: check before retrying a call "
                "that is not safe to repeat."
            )
        ) from exc
    except redis.exceptions.AuthenticationError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} refused the credentials while {doing} ({key}): {said(exc)} "
            "Check the user name and password of the URL (shown masked)."
        ) from exc
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel of {url()} named a reachable primary while {doing} ({key}): "
            f"{said(no_primary_reason(exc))} Check the sentinels' addresses and the service "
            "name; during a failover, retry once the sentinels have promoted a replica."
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.RedisClusterException) as exc:
        if (
            isinstance(exc, redis.exceptions.RedisClusterException)
            and not isinstance(
                exc.__cause__ or exc.__context__, OSError | redis.exceptions.ConnectionError
            )
            and "cannot be connected" not in str(exc)
        ):
            raise
        if isinstance(exc, redis.exceptions.MaxConnectionsError) or str(exc) in _POOL_EXHAUSTED:
            # Redis is fine: every connection of the client's pool stayed busy with
            # other concurrent commands.
            raise RedisUnavailableError(
                f"No free connection to Redis at {url()} while {doing} ({key}): the "
                f"connection pool is full ({str(exc).rstrip('.')}). Raise max_connections "
                "(RedisMemoryConfig) or lower the concurrency."
            ) from exc
        raise RedisUnavailableError(
            f"Redis at {url()} could not be reached while {doing} ({key}): {said(exc)} "
            + (advice or "Retry once Redis is back.")
        ) from exc
    except redis.exceptions.OutOfMemoryError as exc:
        raise RedisOutOfMemoryError(
            f"Redis at {url()} refused {doing} ({key}): it is full (maxmemory reached, and "
            f"its eviction policy frees nothing): {said(exc)} Nothing was written. Raise "
            "maxmemory, shorten TTLs or windows, or move the cache to its own Redis "
            "(docs/production.md: Eviction and separate databases)."
        ) from exc
    except redis.exceptions.NoPermissionError as exc:
        raise PermissionDeniedError(
            f"Redis at {url()} refused {doing} ({key}) to this connection's user: {exc}. "
            "Give the user the rules of redis_memory.acl.acl_rules(prefix), and check that "
            "the configured key prefix is the one its ACL allows."
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith(DATA_ERROR):
            # A script of this package found its own data damaged, and said where.
            message = str(exc)[len(DATA_ERROR) :].split(" script: ", 1)[0]
            raise UnexpectedDataError(message) from exc
        if "WRONGTYPE" in str(exc):
            raise UnexpectedDataError(
                f"{key} holds a different type of data than redis-memory-backend writes "
                "there (another program uses this key prefix); delete the key or choose "
                "another prefix"
            ) from exc
        raise
