"""A rate limiter shared by every process that uses the same name: a token bucket in Redis.

A bucket holds up to ``capacity`` tokens and gains ``rate`` tokens per second;
each request takes tokens (one by default) or is refused. Its state is a hash at
``{prefix}:ratelimit:<name>`` with two fields, ``tokens`` (after the last
admission) and ``last`` (the server time of that admission, in microseconds).

Every attempt is one atomic Lua script (``EVALSHA``, one round trip) that reads
the server's clock (``TIME``), refills the bucket for the time passed, and takes
the tokens if there are enough. The clock is the Redis server's, never the
caller's, so machines with skewed clocks share one budget correctly. An
admission writes the bucket (``HSET``) and sets its expiry (``PEXPIRE``) to the
moment it would be full again: an idle bucket vanishes from Redis, and a missing
bucket is a full one, so nothing changes for the next caller. A refusal writes
nothing. A new bucket starts full, so up to ``capacity`` requests may go at once.
A bucket that is there but unreadable (a field that is not a number, a missing or
foreign field: another program wrote the key) fails closed: every attempt raises
:class:`~redis_memory.errors.UnexpectedDataError` naming the key, and admits nothing.

Over any interval of ``t`` seconds, a bucket admits at most
``capacity + rate * t`` tokens' worth of requests, however many processes,
threads or machines share it.

:class:`RateLimit` is the sync engine and :class:`AsyncRateLimit` its native
``redis.asyncio`` twin, with the same method names; both share every check and
plan in :class:`_RateLimitCore`. A blocking :meth:`RateLimit.acquire` sleeps
exactly as long as the script says the missing tokens take (``time.sleep``;
``asyncio.sleep`` in the async twin), then tries again.

Example:
    >>> from redis_memory.ratelimit import RateLimit
    >>> limit = RateLimit("openai", rate=1, capacity=2)
    >>> [limit.try_acquire() for _ in range(3)]
    [True, True, False]
    >>> limit.acquire(timeout=5)            # waits about a second
    True
"""

from __future__ import annotations

import math
import time
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any, TypeVar

from . import metrics
from ._checks import seconds, seconds_or_none
from ._engine import AsyncRunner, Engine, SyncRunner
from ._flow import Sleep
from ._plan import Plan, Script, lua
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .ttl import MAX_SECONDS

T = TypeVar("T")

# KEYS[1]: the bucket. ARGV: rate (tokens per second), capacity, tokens wanted
# (0: only look), the longest expiry (ms). Times are server microseconds; the
# numbers are written with 17 significant digits, so they read back exactly.
# Returns {admitted 0/1, tokens left (string), wait in us (0 if admitted), now}.
# A missing bucket is a full one; a bucket that is there but is not exactly the
# two numeric fields this script writes is an error (RMEM_DATA, see _plan), never
# taken for a new bucket: that would admit a full bucket's worth of requests.
_ATTEMPT = lua("ratelimit_attempt.lua")

ATTEMPT = Script(_ATTEMPT)

_LONGEST_EXPIRY_MS = MAX_SECONDS * 1000


@dataclass(frozen=True, slots=True)
class RateLimitResult:
    """What one attempt on a bucket found, as the Redis server saw it.

    Attributes:
        admitted: Whether the tokens were taken.
        remaining: Tokens left in the bucket after this attempt.
        retry_after: Seconds until enough tokens will be there, if nobody else
            takes them (0 when admitted).
        server_time_us: The server's clock at the attempt, in microseconds since
            the epoch (``TIME``), the time the bucket was refilled to.
    """

    admitted: bool
    remaining: float
    retry_after: float
    server_time_us: int

    @property
    def server_time(self) -> float:
        """The server's clock at the attempt, in seconds since the epoch."""
        return self.server_time_us / 1_000_000


def _result(replies: list[Any]) -> RateLimitResult:
    admitted, remaining, wait_us, now_us = replies[0]
    metrics.rate_limit(admitted=bool(int(admitted)))
    return RateLimitResult(
        admitted=bool(int(admitted)),
        remaining=float(remaining),
        retry_after=int(wait_us) / 1_000_000,
        server_time_us=int(now_us),
    )


Step = Plan[Any] | Sleep
Flow = Generator[Step, Any, T]


class _RateLimitCore(Engine):
    """What the sync and async rate limits share: checks, the key, plans and flows."""

    def __init__(
        self,
        name: str,
        *,
        rate: float,
        capacity: float | None = None,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> None:
        self.rate = seconds("rate", rate, unit="tokens per second", type_error=TypeError)
        self.capacity = (
            max(1.0, self.rate)
            if capacity is None
            else seconds("capacity", capacity, unit="tokens", type_error=TypeError)
        )
        super().__init__(url, client, config)
        self.key: str = self.keys.ratelimit(name)  # a bad name fails here, with no round trip
        self.name = name

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.name!r}, rate={self.rate:g}, "
            f"capacity={self.capacity:g}, prefix={self.config.prefix!r})"
        )

    def _tokens(self, tokens: Any) -> float:
        wanted = seconds("tokens", tokens, unit="tokens", type_error=TypeError)
        if wanted > self.capacity:
            raise ValueError(
                f"tokens={tokens!r} can never be acquired: the bucket {self.name!r} holds at "
                f"most capacity={self.capacity:g}; ask for fewer or raise the capacity"
            )
        return wanted

    # -- plans ----------------------------------------------------------------------
    def _plan_attempt(self, wanted: float) -> Plan[RateLimitResult]:
        args = [repr(self.rate), repr(self.capacity), repr(wanted), _LONGEST_EXPIRY_MS]
        return Plan(
            "acquiring rate limit tokens" if wanted else "reading a rate limit",
            self.key,
            _result,
            script=(ATTEMPT, [self.key], args),
        )

    def _plan_reset(self) -> Plan[bool]:
        command = ("UNLINK", self.key)
        return Plan("resetting a rate limit", self.key, lambda r: bool(r[0]), [command])

    # -- flows ----------------------------------------------------------------------
    def _acquire_flow(self, tokens: Any, blocking: bool, timeout: Any) -> Flow[bool]:
        wanted = self._tokens(tokens)
        # None or infinity: wait as long as it takes.
        limit = seconds_or_none(
            "timeout", timeout, allow_zero=True, maximum=math.inf, type_error=TypeError
        )
        deadline = None if limit is None else time.monotonic() + limit
        while True:
            attempt: RateLimitResult = yield self._plan_attempt(wanted)
            if attempt.admitted:
                return True
            if not blocking:
                return False
            if deadline is not None and attempt.retry_after > deadline - time.monotonic():
                # Waiting cannot help: the tokens come no sooner than the server said.
                return False
            yield Sleep(attempt.retry_after)

    def _attempt_flow(self, tokens: Any) -> Flow[RateLimitResult]:
        return (yield self._plan_attempt(self._tokens(tokens)))


class RateLimit(_RateLimitCore, SyncRunner):
    """A token bucket in Redis, shared by every process using the same name; sync.

    :class:`AsyncRateLimit` mirrors it name for name.

    Args:
        name: The bucket's name: every ``RateLimit`` with this name (and key
            prefix), in any process on any machine, draws from one bucket.
            Escaped into the key ``{prefix}:ratelimit:<name>``.
        rate: Tokens added per second (``0.5``: one request every two seconds).
        capacity: The most tokens the bucket holds, so the largest burst;
            default ``max(1, rate)``. A new (or long idle) bucket is full.
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a :class:`RedisMemoryConfig` with the prefix).

    Every user of one name should pass the same ``rate`` and ``capacity``: each
    attempt refills and caps the bucket with the values of the caller.

    Example:
        .. code-block:: python

            from redis_memory.ratelimit import RateLimit

            limit = RateLimit("example-api", rate=1, capacity=2, url="embedded")
            limit.reset()  # start from a full bucket
            assert [limit.try_acquire() for _ in range(3)] == [True, True, False]
            assert limit.acquire(timeout=5)  # sleeps until the server refills a token
            assert not limit.acquire(2, timeout=0.1)  # 2 tokens take ~2 s: False at once
            assert limit.available() < 1
    """

    def try_acquire(self, tokens: float = 1) -> bool:
        """Take ``tokens`` if the bucket has them now; never waits (one round trip)."""
        return self._drive(self._acquire_flow(tokens, False, None))

    def acquire(
        self, tokens: float = 1, *, blocking: bool = True, timeout: float | None = None
    ) -> bool:
        """Take ``tokens``, waiting for them unless ``blocking`` is False.

        Waiting sleeps as long as the server says the missing tokens take, then
        tries again (another process may have taken them first). With a
        ``timeout`` (seconds), returns False as soon as the tokens cannot come
        in time; with None, waits as long as it takes.
        """
        return self._drive(self._acquire_flow(tokens, blocking, timeout))

    def attempt(self, tokens: float = 1) -> RateLimitResult:
        """Like :meth:`try_acquire`, with what the server saw: tokens left, wait, its time."""
        return self._drive(self._attempt_flow(tokens))

    def available(self) -> float:
        """How many tokens the bucket holds now (reads only; one round trip)."""
        return self._run(self._plan_attempt(0)).remaining

    def reset(self) -> bool:
        """Delete the bucket, so it is full again; returns whether it existed."""
        return self._run(self._plan_reset())


@twin_of(RateLimit)
class AsyncRateLimit(_RateLimitCore, AsyncRunner):
    """The rate limit on ``redis.asyncio``: :class:`RateLimit`'s twin, name for name.

    Waiting uses ``asyncio.sleep``, so a blocked :meth:`acquire` never blocks the
    event loop.

    Example:
        .. code-block:: python

            import asyncio

            from redis_memory.ratelimit import AsyncRateLimit

            async def main() -> None:
                limit = AsyncRateLimit("example-search", rate=10, url="embedded")
                await limit.reset()
                burst = [await limit.try_acquire() for _ in range(10)]
                assert burst == [True] * 10  # capacity defaults to max(1, rate)
                assert await limit.acquire()  # waits ~0.1 s without blocking the loop

            asyncio.run(main())
    """

    async def try_acquire(self, tokens: float = 1) -> bool:
        return await self._drive(self._acquire_flow(tokens, False, None))

    # The same signature as RateLimit.acquire: the timeout also decides to give up
    # early, when the server says the tokens cannot come in time.
    async def acquire(
        self,
        tokens: float = 1,
        *,
        blocking: bool = True,
        timeout: float | None = None,  # noqa: ASYNC109
    ) -> bool:
        return await self._drive(self._acquire_flow(tokens, blocking, timeout))

    async def attempt(self, tokens: float = 1) -> RateLimitResult:
        return await self._drive(self._attempt_flow(tokens))

    async def available(self) -> float:
        plan = self._plan_attempt(0)
        return (await self._run(plan)).remaining

    async def reset(self) -> bool:
        return await self._run(self._plan_reset())
