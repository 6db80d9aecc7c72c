"""Pub/sub subscriptions that survive a dropped connection: the flows and the two drivers.

A subscription is a flow of steps (open a connection and subscribe, read a
message, sleep, close) written once in :class:`_SubscriptionCore`;
:class:`Subscription` carries the steps out on redis-py's sync client and
:class:`AsyncSubscription` on ``redis.asyncio``. When the connection drops,
the flow reconnects with exponential backoff and jitter and subscribes again.
``idle_timeout`` ends an iteration after that many seconds without an event.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any, Self, TypeVar

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

from ._deprecation import meaning_changes
from ._flow import Sleep, drive, drive_async
from ._topics import Event, Selection, log
from ._translate import redis_errors
from .connection import RedisClients
from .errors import PermissionDeniedError

T = TypeVar("T")

# How long one read waits before the flow looks at the clock again (and, without
# an idle timeout, how long a silent connection goes unchecked).
_POLL_SECONDS = 1.0
_RECONNECT_BASE = 0.05
_RECONNECT_CAP = 2.0
_CONFIRM_SECONDS = 5.0
_CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
# A restricted ACL user may be refused a channel pattern: the open flow handles it.
_FLOW_ERRORS = (*_CONNECTION_ERRORS, redis.exceptions.NoPermissionError)


@dataclass(frozen=True, slots=True)
class _Open:
    """A step: open a fresh pub/sub connection and send the (P)SUBSCRIBE commands."""


@dataclass(frozen=True, slots=True)
class _Read:
    """A step: the next pub/sub message within ``timeout`` seconds, or None."""

    timeout: float


@dataclass(frozen=True, slots=True)
class _Close:
    """A step: drop the pub/sub connection (it is broken, or we are done)."""


_Step = _Open | _Read | Sleep | _Close
Flow = Generator[Any, Any, T]


def _home_node(client: Any, selection: Selection) -> dict[str, Any]:
    """On a cluster, the node every subscription of a prefix listens on.

    Classic pub/sub reaches every node of a cluster, so any node would do; one
    per prefix (the primary of the audit stream, where :meth:`EventBus.publish`
    runs too) keeps the events of one publisher in order across topics, and
    makes the receiver count ``publish`` returns exact for them.
    """
    if not isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster):
        return {}
    return {"node": client.get_node_from_key(selection.home)}


class _SubscriptionCore:
    """What the sync and async subscriptions share: the flows of steps and the state."""

    def __init__(
        self, clients: RedisClients, selection: Selection, idle_timeout: float | None
    ) -> None:
        self._clients = clients
        self._selection = selection
        self.idle_timeout = idle_timeout
        self.reconnects = 0
        self._buffer: deque[Event] = deque()
        self._backoff = ExponentialWithJitterBackoff(cap=_RECONNECT_CAP, base=_RECONNECT_BASE)
        self._pubsub: Any = None
        self._pool: Any = None
        self._live = False  # subscribed, on a connection that has not failed
        self._closed = False
        config = clients.config
        self._confirm_seconds = config.socket_timeout or _CONFIRM_SECONDS

    @property
    def channels(self) -> tuple[str, ...]:
        """The channels subscribed by name (topics, sessions, users)."""
        return self._selection.channels

    @property
    def patterns(self) -> tuple[str, ...]:
        """The channel patterns subscribed (each under ``{prefix}:events:``)."""
        return self._selection.server_patterns

    @property
    def closed(self) -> bool:
        """Whether the subscription was closed (its iteration then ends at once)."""
        return self._closed

    @property
    def timeout(self) -> float | None:
        """Deprecated name of :attr:`idle_timeout`."""
        meaning_changes(f"{type(self).__name__}.timeout", "renamed idle_timeout; read that instead")
        return self.idle_timeout

    def _url(self) -> str:
        return self._clients.masked_url()

    def _pool_kwargs(self, pool: Any, retry: Any) -> dict[str, Any]:
        """The connection settings of ``pool``, for a pool of this subscription's own.

        Without retries: a failed read ends in this module, which reconnects
        with its own backoff and within the subscription's idle timeout.
        """
        kwargs = dict(pool.connection_kwargs)
        kwargs["retry"] = retry
        if self.idle_timeout:
            current = kwargs.get("socket_connect_timeout")
            kwargs["socket_connect_timeout"] = min(current or self.idle_timeout, self.idle_timeout)
        return kwargs

    # -- flows ------------------------------------------------------------------------
    def _open_flow(self, deadline: float | None) -> Flow[None]:
        """Subscribe on a new connection; wait until Redis confirmed every subscription."""
        yield _Open()
        limit = time.monotonic() + self._confirm_seconds
        if deadline is not None:
            limit = min(limit, deadline)
        seen = 0
        while seen < self._selection.confirmations:
            remaining = limit - time.monotonic()
            if remaining <= 0:
                raise redis.exceptions.TimeoutError(
                    f"Redis did not confirm the subscription to {self._selection.describe()}"
                )
            try:
                message = yield _Read(remaining)
            except redis.exceptions.NoPermissionError as exc:
                if not self._selection.widen():
                    raise PermissionDeniedError(
                        f"Redis at {self._url()} refused subscribing to "
                        f"{self._selection.describe()} to this connection's user: {exc}. Give "
                        "the user the rules of redis_memory.acl.acl_rules(prefix), and check "
                        "that the configured key prefix is the one its ACL allows."
                    ) from exc
                log.info(
                    "Redis refused the channel patterns (an ACL user's PSUBSCRIBE must match "
                    "one of its channel rules literally); subscribed to %s and matching here",
                    self._selection.describe(),
                )
                yield _Close()
                yield from self._open_flow(deadline)
                return
            if message is None:
                continue
            if message.get("type") in ("subscribe", "psubscribe"):
                seen += 1
                continue
            event = self._selection.event(message)
            if event is not None:  # published between two confirmations
                self._buffer.append(event)
        self._live = True

    def _reconnect_flow(self, deadline: float | None) -> Flow[bool]:
        """Reconnect and subscribe again, with backoff; False once ``deadline`` passed."""
        failures = 0
        while True:
            failures += 1
            pause = self._backoff.compute(failures)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                pause = min(pause, remaining)
            yield Sleep(pause)
            if deadline is not None and time.monotonic() >= deadline:
                return False
            try:
                yield from self._open_flow(deadline)
            except _CONNECTION_ERRORS as exc:
                yield _Close()
                if failures == 1 or failures % 20 == 0:
                    log.warning(
                        "Redis at %s is unreachable (%s); still trying to resubscribe to %s",
                        self._url(),
                        exc,
                        self._selection.describe(),
                    )
                continue
            self.reconnects += 1
            log.info("resubscribed to %s after %d attempt(s)", self._selection.describe(), failures)
            return True

    def _next_flow(self) -> Flow[Event | None]:
        """The next event; None when ``idle_timeout`` seconds passed without one."""
        deadline = None if self.idle_timeout is None else time.monotonic() + self.idle_timeout
        while True:
            if self._buffer:
                return self._buffer.popleft()
            if not self._live:
                if not (yield from self._reconnect_flow(deadline)):
                    return None
                continue
            remaining = _POLL_SECONDS if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                message = yield _Read(min(_POLL_SECONDS, remaining))
            except _CONNECTION_ERRORS as exc:
                log.warning(
                    "lost the pub/sub connection to Redis at %s (%s); resubscribing to %s. "
                    "Events published until it is back are lost (AuditLog keeps events durably)",
                    self._url(),
                    exc,
                    self._selection.describe(),
                )
                self._live = False
                yield _Close()
                continue
            event = self._selection.event(message)
            if event is not None:
                return event
            if deadline is not None and time.monotonic() >= deadline:
                return None


class Subscription(_SubscriptionCore):
    """Events of an :meth:`EventBus.subscribe` call: iterate it, in a ``with`` block.

    Live as soon as :meth:`EventBus.subscribe` returns: every event published
    after that reaches it, in order. With an ``idle_timeout``, iteration ends
    (``StopIteration``) when no event came for that many seconds; iterating
    again waits again (the subscription stays open meanwhile, so nothing
    published in between is missed). Without one it goes on until closed.

    When the connection drops (Redis restarts, a failover, a network cut), the
    subscription reconnects with exponential backoff and jitter, subscribes
    again and goes on yielding; with an ``idle_timeout``, it gives up once that time
    has passed without an event (the iteration ends). Pub/sub does not keep
    messages: events published while it was not subscribed are lost. Publish
    with ``audit=True`` (or use :class:`AuditLog`) for events that must not be.
    :attr:`reconnects` counts the reconnections.

    Use it from one thread. Closing (``with`` exit, :meth:`close`)
    unsubscribes and closes its connection.

    Example:
        .. code-block:: python

            from redis_memory.events import EventBus

            bus = EventBus(url="embedded")
            with bus.subscribe("jobs", patterns=["agent.*"], idle_timeout=0.5) as events:
                bus.publish("jobs", {"job": 1})
                bus.publish("agent.planner", {"thought": "split the task"})
                bus.publish("other", {"ignored": True})
                received = [(event.topic, event.data) for event in events]
            assert received == [
                ("jobs", {"job": 1}),
                ("agent.planner", {"thought": "split the task"}),
            ]
    """

    def _start(self) -> Self:
        try:
            with redis_errors("subscribing to events", self._selection.describe(), self._url):
                self._drive(self._open_flow(None))
        except BaseException:
            self.close()
            raise
        return self

    def _new_pool(self, client: Any) -> Any:
        pool = getattr(client, "connection_pool", None)
        if pool is None:  # a cluster client: its own pub/sub, with its own retries
            return None
        return redis.ConnectionPool(
            connection_class=pool.connection_class,
            **self._pool_kwargs(pool, Retry(NoBackoff(), 0)),
        )

    def _step(self, step: _Step) -> Any:
        if isinstance(step, _Read):
            return self._pubsub.get_message(timeout=step.timeout)
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        if isinstance(step, _Open):
            self._drop()
            client = self._clients.sync
            if self._pool is None:
                self._pool = self._new_pool(client)
            owner = client if self._pool is None else redis.Redis(connection_pool=self._pool)
            self._pubsub = owner.pubsub(**_home_node(client, self._selection))
            if self._selection.channels:
                self._pubsub.subscribe(*self._selection.channels)
            if self._selection.server_patterns:
                self._pubsub.psubscribe(*self._selection.server_patterns)
            return None
        self._drop()
        return None

    def _drive(self, flow: Flow[T]) -> T:
        return drive(flow, self._step, _FLOW_ERRORS)

    def _drop(self) -> None:
        pubsub, self._pubsub, self._live = self._pubsub, None, False
        if pubsub is not None:
            try:
                pubsub.close()
            except _CONNECTION_ERRORS:
                log.debug("closing a broken pub/sub connection failed", exc_info=True)

    def __iter__(self) -> Iterator[Event]:
        return self

    def __next__(self) -> Event:
        if self._closed:
            raise StopIteration
        event = self._drive(self._next_flow())
        if event is None:
            raise StopIteration
        return event

    def close(self) -> None:
        """Unsubscribe and close the connection. Idempotent."""
        self._closed = True
        self._drop()
        self._buffer.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            pool.disconnect()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class AsyncSubscription(_SubscriptionCore):
    """:class:`Subscription`'s twin on ``redis.asyncio``: ``async with`` and ``async for``.

    :meth:`AsyncEventBus.subscribe` costs no round trip; the subscription is
    live once entered (``async with``), awaited (``sub = await bus.subscribe(...)``)
    or first iterated. Iteration ends (``StopAsyncIteration``) after ``idle_timeout``
    seconds without an event; a dropped connection is reconnected and
    resubscribed as in :class:`Subscription`, and the same events are lost.

    Example:
        .. code-block:: python

            import asyncio
            from redis_memory.events import AsyncEventBus

            async def main() -> None:
                bus = AsyncEventBus(url="embedded")
                async with bus.subscribe("jobs", idle_timeout=0.5) as events:
                    await bus.publish("jobs", {"job": 2})
                    received = [event.data async for event in events]
                assert received == [{"job": 2}]

            asyncio.run(main())
    """

    _started = False

    async def _start(self) -> Self:
        if not self._started:
            self._started = True
            try:
                with redis_errors("subscribing to events", self._selection.describe(), self._url):
                    await self._drive(self._open_flow(None))
            except BaseException:
                await self.aclose()
                raise
        return self

    def __await__(self) -> Generator[Any, None, Self]:
        return self._start().__await__()

    def _new_pool(self, client: Any) -> Any:
        pool = getattr(client, "connection_pool", None)
        if pool is None:
            return None
        retry = redis.asyncio.retry.Retry(NoBackoff(), 0)
        return redis.asyncio.ConnectionPool(
            connection_class=pool.connection_class, **self._pool_kwargs(pool, retry)
        )

    async def _step(self, step: _Step) -> Any:
        if isinstance(step, _Read):
            return await self._pubsub.get_message(timeout=step.timeout)
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        if isinstance(step, _Open):
            await self._drop()
            client = self._clients.async_
            if isinstance(client, redis.asyncio.RedisCluster):
                await client.initialize()  # its pub/sub needs the slot map; a no-op once known
            if self._pool is None:
                self._pool = self._new_pool(client)
            owner = (
                client if self._pool is None else redis.asyncio.Redis(connection_pool=self._pool)
            )
            self._pubsub = owner.pubsub(**_home_node(client, self._selection))
            if self._selection.channels:
                await self._pubsub.subscribe(*self._selection.channels)
            if self._selection.server_patterns:
                await self._pubsub.psubscribe(*self._selection.server_patterns)
            return None
        await self._drop()
        return None

    async def _drive(self, flow: Flow[T]) -> T:
        return await drive_async(flow, self._step, _FLOW_ERRORS)

    async def _drop(self) -> None:
        pubsub, self._pubsub, self._live = self._pubsub, None, False
        if pubsub is not None:
            try:
                await pubsub.aclose()
            except _CONNECTION_ERRORS:
                log.debug("closing a broken pub/sub connection failed", exc_info=True)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Event:
        if self._closed:
            raise StopAsyncIteration
        await self._start()
        event = await self._drive(self._next_flow())
        if event is None:
            raise StopAsyncIteration
        return event

    async def close(self) -> None:
        """Unsubscribe and close the connection. Idempotent."""
        self._closed = True
        await self._drop()
        self._buffer.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.disconnect()

    async def aclose(self) -> None:
        """:meth:`close`, under the name ``contextlib.aclosing`` and async generators use."""
        await self.close()

    async def __aenter__(self) -> Self:
        return await self._start()

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
