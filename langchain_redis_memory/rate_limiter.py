"""A LangChain rate limiter shared by every process: ``InMemoryRateLimiter``, in Redis.

:class:`RedisRateLimiter` is a ``langchain_core.rate_limiters.BaseRateLimiter``
over the core token bucket (:mod:`redis_memory.ratelimit`), so a chat model's
``rate_limiter=`` holds the budget of every worker, process and machine that
uses the same name, not just of one process. Every Redis command lives in the
core; this class only translates.
"""

from __future__ import annotations

from typing import Any

from langchain_core.rate_limiters import BaseRateLimiter

from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.ratelimit import AsyncRateLimit, RateLimit


class RedisRateLimiter(BaseRateLimiter):
    """A token bucket in Redis for chat models' ``rate_limiter=``, shared across processes.

    A drop-in for ``langchain_core.rate_limiters.InMemoryRateLimiter``: the same
    keyword arguments and the same ``acquire``/``aacquire``, but every limiter
    with the same ``name`` (and key prefix), in any process, draws from one
    bucket at ``{prefix}:ratelimit:<name>``, refilled by the Redis server's clock.

    Differences from ``InMemoryRateLimiter``: a new (or long idle) bucket is
    full, so the first request never waits; a blocked ``acquire`` sleeps exactly
    until the server says a token is there instead of polling, so
    ``check_every_n_seconds`` is accepted and unused. A bucket that another
    program overwrote with fields that are not numbers fails closed:
    ``acquire`` raises :class:`redis_memory.errors.UnexpectedDataError` naming
    the key (delete it to start again from a full bucket), and the model is not
    called.

    Args:
        name: The bucket; limiters with the same name (and prefix) share it, and
            every user of a name should give it the same rate: name each limit
            ("openai-gpt-4o") rather than rely on the shared ``"default"``.
        requests_per_second: Tokens added to the bucket per second (one request
            takes one token); 1 by default, as ``InMemoryRateLimiter``.
        max_bucket_size: The most tokens the bucket holds (the largest burst);
            at least 1. None: 1, as ``InMemoryRateLimiter``'s default.
        check_every_n_seconds: Accepted for compatibility; unused.
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a :class:`RedisMemoryConfig` with the prefix).

    Example:
        .. code-block:: python

            from langchain_core.language_models.fake_chat_models import (
                FakeMessagesListChatModel,
            )
            from langchain_core.messages import AIMessage
            from langchain_redis_memory.rate_limiter import RedisRateLimiter

            limiter = RedisRateLimiter(
                "example-chat", requests_per_second=4, max_bucket_size=2, url="embedded"
            )
            model = FakeMessagesListChatModel(responses=[AIMessage("hi")], rate_limiter=limiter)
            for _ in range(3):  # the third call waits ~0.25 s for a token
                assert model.invoke("hello").content == "hi"
            # Every process using "example-chat" shares these 4 requests per second.
    """

    def __init__(
        self,
        name: str = "default",
        *,
        requests_per_second: float = 1,
        max_bucket_size: float | None = None,
        check_every_n_seconds: float | None = None,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> None:
        capacity = 1 if max_bucket_size is None else max_bucket_size
        options: dict[str, Any] = {
            "rate": requests_per_second,
            "capacity": capacity,
            "url": url,
            "client": client,
            "config": config,
        }
        self._limit = RateLimit(name, **options)
        if self._limit.capacity < 1:
            raise ValueError(
                f"max_bucket_size must be at least 1 (one request takes one token), "
                f"got {max_bucket_size!r}"
            )
        self._alimit = AsyncRateLimit(name, **options)
        self.name = name
        self.requests_per_second = requests_per_second
        self.max_bucket_size = capacity
        self.check_every_n_seconds = check_every_n_seconds

    @property
    def config(self) -> RedisMemoryConfig:
        """Where the bucket lives: prefix and connection settings."""
        return self._limit.config

    @property
    def key(self) -> str:
        """The Redis key of the shared bucket."""
        return self._limit.key

    def __repr__(self) -> str:
        return (
            f"RedisRateLimiter({self.name!r}, requests_per_second={self.requests_per_second!r}, "
            f"max_bucket_size={self.max_bucket_size!r})"
        )

    def acquire(self, *, blocking: bool = True) -> bool:
        """Take one token; when ``blocking``, wait for it (``time.sleep``).

        Returns:
            True once a token is taken; with ``blocking=False``, False when the
            shared bucket is empty now.
        """
        return self._limit.acquire(blocking=blocking)

    async def aacquire(self, *, blocking: bool = True) -> bool:
        """Take one token; when ``blocking``, wait for it (``asyncio.sleep``)."""
        return await self._alimit.acquire(blocking=blocking)
