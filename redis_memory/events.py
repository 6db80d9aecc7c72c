"""Real-time events between agents (pub/sub) and a durable audit trail (a stream).

**Events.** :class:`EventBus` publishes JSON events on topics, each topic a
pub/sub channel ``{prefix}:events:<topic>`` (the topic escaped like every id,
so ``"a:b"`` and ``"a*"`` are topics of their own and never reach another
topic's channel). :meth:`EventBus.subscribe` listens to any mix of

- named topics (``"alerts"``, or ``"tasks"``, where :mod:`redis_memory.coordination`
  announces claims),
- glob patterns over topic names (``"agent.*"``; ``\\`` makes the next character
  literal), which only ever match topics of this prefix,
- the message log's per-session channels (``session_ids=``), where each append
  is announced as ``{"event": "messages", "session_id", "added", "ids", "count"}``,
- the state store's per-user channels (``user_ids=``), where each change is
  announced as ``{"event": "state", "user_id", "op", "keys"}``,

and yields :class:`Event` objects. A subscription survives a Redis restart:
when its connection drops it reconnects with exponential backoff and jitter
(redis-py's backoff) and subscribes again, and iteration goes on. Pub/sub is
fire-and-forget: events published while no connection was subscribed (Redis
down, the subscriber reconnecting) are lost. Whatever must not be lost goes to
the audit stream as well (``publish(..., audit=True)``, or :class:`AuditLog`).

**Audit.** :class:`AuditLog` appends events to the Redis Stream
``{prefix}:audit``, capped at about ``maxlen`` entries (``XADD ... MAXLEN ~``).
Anyone reads it from an id onwards; workers read it through consumer groups,
so that a worker that was down misses nothing: it first reads its own pending
entries (``id="0"``), then new ones.

:class:`EventBus` / :class:`AuditLog` are sync; :class:`AsyncEventBus` /
:class:`AsyncAuditLog` are their native ``redis.asyncio`` twins, with the same
method names. Everything the twins share (channel names, pattern translation,
decoding, the reconnection and timeout logic) is written once: commands as
plans, subscriptions as flows of steps (connect, read, sleep, close) that a
small sync and a small async driver carry out.

Example:
    >>> from redis_memory.events import EventBus
    >>> bus = EventBus(url="embedded")                                  # doctest: +SKIP
    >>> with bus.subscribe("alerts", timeout=0.5) as events:           # doctest: +SKIP
    ...     bus.publish("alerts", {"level": "high"})
    ...     print([event.data for event in events])
    1
    [{'level': 'high'}]
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections import deque
from collections.abc import Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, NamedTuple, Self, TypeVar

import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff
from redis.retry import Retry

from . import _streams
from ._checks import whole
from ._execute import execute, execute_async
from ._flow import Sleep, drive, drive_async
from ._plan import Plan
from ._translate import redis_errors
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .errors import PermissionDeniedError, SerializationError
from .keys import MAX_ID_BYTES, KeySchema, escape_id, unescape_id

log = logging.getLogger("redis_memory.events")

T = TypeVar("T")

DEFAULT_AUDIT_MAXLEN = 100_000
EVENT_FIELD = "event"

# How long one read waits before the flow looks at the clock again (and, without
# a timeout, how long a silent connection goes unchecked).
_POLL_SECONDS = 1.0
_RECONNECT_BASE = 0.05
_RECONNECT_CAP = 2.0
_CONFIRM_SECONDS = 5.0
_CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
# A restricted ACL user may be refused a channel pattern: the open flow handles it.
_FLOW_ERRORS = (*_CONNECTION_ERRORS, redis.exceptions.NoPermissionError)
_BUILTIN_KINDS = ("session", "state")


def _timeout(value: Any) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise ValueError(f"timeout must be a number of seconds >= 0 or None, got {value!r}")
    return float(value)


def _str_list(value: Any, what: str) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of str, not {type(value).__name__}: {value!r}")
    return list(value)


def _encode_event(serializer: Any, event: Any, doing: str) -> bytes:
    if not isinstance(event, Mapping):
        raise TypeError(f"an event is a dict of JSON values, not {type(event).__name__}")
    try:
        return serializer.dumps(event)
    except SerializationError as exc:
        raise SerializationError(f"the event cannot be {doing}: {exc}") from exc


# -- events ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Event:
    """One event received by a subscription.

    ``channel`` is the pub/sub channel it came on; ``topic`` the topic name it
    was published to (``"session"`` for the message log's channels, ``"state"``
    for the state store's, whose ``data`` name the session or user); ``data``
    the decoded JSON object; ``received_at`` when it arrived (``time.time()``).

    Example:
        .. code-block:: python

            from redis_memory.events import EventBus

            bus = EventBus(url="embedded")
            with bus.subscribe("builds", timeout=0.5) as events:
                bus.publish("builds", {"status": "green"})
                event = next(events)
            assert (event.topic, event.data) == ("builds", {"status": "green"})
            assert event.channel == bus.channel("builds") == "rmem:events:builds"
    """

    channel: str
    topic: str
    data: dict[str, Any]
    received_at: float


@dataclass(frozen=True, slots=True)
class _TopicPattern:
    source: str  # as the user wrote it
    server: str  # the channel pattern subscribed to (a superset)
    regex: re.Pattern[str]  # the exact test, on the unescaped topic


def _literal(char: str) -> str:
    # Escaped exactly as KeySchema escapes topics; the result holds no glob
    # character (those are all escaped themselves).
    return escape_id(char, what="event pattern")


def _compile_pattern(base: str, pattern: Any) -> _TopicPattern:
    """A Redis-style glob over topic names, as a channel pattern under ``base``.

    Literal characters are escaped like topics, so a pattern only ever matches
    channels of this prefix's topics. ``?`` and ``[...]`` match one character of
    the topic, but an escaped character spans several of the channel name: the
    channel pattern uses ``*`` for them, and the exact test runs on the topic.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"an event pattern must be a str, not {type(pattern).__name__}")
    if not pattern:
        raise ValueError("an event pattern must not be empty")
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValueError(f"an event pattern must be at most {MAX_ID_BYTES} bytes of UTF-8")
    server: list[str] = []
    regex: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 == n:
                raise ValueError(f"event pattern {pattern!r} ends with a lone '\\'")
            server.append(_literal(pattern[i + 1]))
            regex.append(re.escape(pattern[i + 1]))
            i += 2
        elif char in "*?":
            if not server or server[-1] != "*":
                server.append("*")
            regex.append(".*" if char == "*" else ".")
            i += 1
        elif char == "[":
            i, klass = _char_class(pattern, i + 1)
            if not server or server[-1] != "*":
                server.append("*")
            regex.append(klass)
        else:
            server.append(_literal(char))
            regex.append(re.escape(char))
            i += 1
    return _TopicPattern(pattern, base + "".join(server), re.compile("".join(regex), re.DOTALL))


def _char_class(pattern: str, i: int) -> tuple[int, str]:
    """Parse ``[...]`` from just after the ``[``: (index after ``]``, regex class)."""
    parts = ["["]
    if i < len(pattern) and pattern[i] == "^":
        parts.append("^")
        i += 1
    members = 0
    while True:
        if i >= len(pattern):
            raise ValueError(f"event pattern {pattern!r} has a '[' without its ']'")
        char = pattern[i]
        if char == "]":
            break
        if char == "\\" and i + 1 < len(pattern):
            char = pattern[i + 1]
            i += 1
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = sorted((char, pattern[i + 2]))
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            parts.append(re.escape(char))
            i += 1
        members += 1
    if not members:
        raise ValueError(f"event pattern {pattern!r} has an empty '[]'")
    return i + 1, "".join(parts) + "]"


class _Selection:
    """What one subscription listens to, and how its messages become events."""

    def __init__(
        self,
        schema: KeySchema,
        serializer: Any,
        topics: Iterable[str],
        patterns: Iterable[str],
        session_ids: Iterable[str],
        user_ids: Iterable[str],
    ) -> None:
        self.base = f"{schema.prefix}:events:"
        self.home = schema.audit()
        self._serializer = serializer
        channels = [schema.channel(topic) for topic in topics]
        channels += [schema.session_channel(i) for i in _str_list(session_ids, "session_ids")]
        channels += [schema.state_channel(i) for i in _str_list(user_ids, "user_ids")]
        self.channels = tuple(dict.fromkeys(channels))
        self._channel_set = frozenset(self.channels)
        self.patterns = [_compile_pattern(self.base, p) for p in _str_list(patterns, "patterns")]
        self.server_patterns = tuple(dict.fromkeys(p.server for p in self.patterns))
        self._namespace = f"{schema.prefix}:*"
        self._widened = False
        if not self.channels and not self.patterns:
            raise ValueError("subscribe to something: topics, patterns=, session_ids= or user_ids=")

    def widen(self) -> bool:
        """Listen to every channel of the prefix instead of the patterns; False if done.

        An ACL user limited to ``&{prefix}:*`` may ``PSUBSCRIBE`` to exactly that
        pattern and no narrower one (Redis compares patterns literally), so the
        patterns are then matched here, on each message.
        """
        if self._widened or not self.patterns:
            return False
        self._widened = True
        self.server_patterns = (self._namespace,)
        return True

    @property
    def confirmations(self) -> int:
        return len(self.channels) + len(self.server_patterns)

    def describe(self) -> str:
        return ", ".join([*self.channels, *self.server_patterns])

    def _topic(self, channel: str) -> tuple[str | None, bool]:
        """(topic, whether the channel is the message log's or the state store's)."""
        if not channel.startswith(self.base):
            return None, False
        rest = channel[len(self.base) :]
        kind, colon, _ = rest.partition(":")
        if colon:
            return (kind, True) if kind in _BUILTIN_KINDS else (None, True)
        try:
            return unescape_id(rest), False
        except ValueError:  # not UTF-8 once unescaped: a foreign channel name
            return None, False

    def event(self, message: Mapping[str, Any] | None) -> Event | None:
        """The event in a pub/sub message, or None (a confirmation, a duplicate, bad data)."""
        if not message or message.get("type") not in ("message", "pmessage"):
            return None
        channel = _streams.text(message["channel"])
        topic, builtin = self._topic(channel)
        if message["type"] == "pmessage":
            # A channel subscribed by name comes as a "message" too; a topic that
            # several patterns match comes once per pattern: keep the first one's.
            if channel in self._channel_set or builtin or topic is None:
                return None
            first = next((p for p in self.patterns if p.regex.fullmatch(topic)), None)
            server = self._namespace if self._widened else first and first.server
            if first is None or server != _streams.text(message["pattern"]):
                return None
        raw = message.get("data")
        try:
            data = self._serializer.loads(raw)
        except SerializationError as exc:
            log.warning("skipped a message on %s that is not JSON: %s", channel, exc)
            return None
        if not isinstance(data, dict):
            log.warning(
                "skipped a message on %s that is not a JSON object: %.80r",
                channel,
                _streams.text(raw),
            )
            return None
        return Event(channel, topic if topic is not None else channel, data, time.time())


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


def _home_node(client: Any, selection: _Selection) -> dict[str, Any]:
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

    def __init__(self, clients: RedisClients, selection: _Selection, timeout: float | None) -> None:
        self._clients = clients
        self._selection = selection
        self.timeout = timeout
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
        return self._closed

    def _url(self) -> str:
        return self._clients.masked_url()

    def _pool_kwargs(self, pool: Any, retry: Any) -> dict[str, Any]:
        """The connection settings of ``pool``, for a pool of this subscription's own.

        Without retries: a failed read ends in this module, which reconnects
        with its own backoff and within the subscription's timeout.
        """
        kwargs = dict(pool.connection_kwargs)
        kwargs["retry"] = retry
        if self.timeout:
            current = kwargs.get("socket_connect_timeout")
            kwargs["socket_connect_timeout"] = min(current or self.timeout, self.timeout)
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
        """The next event; None when ``timeout`` seconds passed without one."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
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
    after that reaches it, in order. With a ``timeout``, iteration ends
    (``StopIteration``) when no event came for that many seconds; iterating
    again waits again (the subscription stays open meanwhile, so nothing
    published in between is missed). Without one it goes on until closed.

    When the connection drops (Redis restarts, a failover, a network cut), the
    subscription reconnects with exponential backoff and jitter, subscribes
    again and goes on yielding; with a ``timeout``, it gives up once that time
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
            with bus.subscribe("jobs", patterns=["agent.*"], timeout=0.5) as events:
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

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncSubscription(_SubscriptionCore):
    """:class:`Subscription`'s twin on ``redis.asyncio``: ``async with`` and ``async for``.

    :meth:`AsyncEventBus.subscribe` costs no round trip; the subscription is
    live once entered (``async with``), awaited (``sub = await bus.subscribe(...)``)
    or first iterated. Iteration ends (``StopAsyncIteration``) after ``timeout``
    seconds without an event; a dropped connection is reconnected and
    resubscribed as in :class:`Subscription`, and the same events are lost.

    Example:
        .. code-block:: python

            import asyncio
            from redis_memory.events import AsyncEventBus

            async def main() -> None:
                bus = AsyncEventBus(url="embedded")
                async with bus.subscribe("jobs", timeout=0.5) as events:
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

    async def aclose(self) -> None:
        """Unsubscribe and close the connection. Idempotent."""
        self._closed = True
        await self._drop()
        self._buffer.clear()
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.disconnect()

    async def __aenter__(self) -> Self:
        return await self._start()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()


def _xadd(key: str, maxlen: int | None, encoded: bytes) -> tuple[Any, ...]:
    trim = () if maxlen is None else ("MAXLEN", "~", maxlen)
    return ("XADD", key, *trim, "*", EVENT_FIELD, encoded)


class _EventBusCore:
    """What the sync and async buses share: channel names, encoding, plans."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        audit_maxlen: int | None = DEFAULT_AUDIT_MAXLEN,
    ) -> None:
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config: RedisMemoryConfig = self._clients.config
        self.keys: KeySchema = self.config.keys
        self.audit_maxlen = None if audit_maxlen is None else whole("audit_maxlen", audit_maxlen, 1)
        self._serializer = self.config.checked_serializer

    def _url(self) -> str:
        return self._clients.masked_url()

    def channel(self, topic: str) -> str:
        """The pub/sub channel of a topic: ``{prefix}:events:<topic, escaped>``."""
        return self.keys.channel(topic)

    def _plan_publish(self, topic: str, event: Mapping[str, Any], audit: bool) -> Plan[int]:
        channel = self.keys.channel(topic)
        encoded = _encode_event(self._serializer, event, "published")
        commands: list[tuple[Any, ...]] = [("PUBLISH", channel, encoded)]
        if audit:
            record = _encode_event(self._serializer, {"topic": topic, "event": event}, "audited")
            commands.append(_xadd(self.keys.audit(), self.audit_maxlen, record))
        return Plan(
            "publishing an event",
            channel,
            lambda r: int(r[0]),
            commands,
            transaction=audit,
            route=self.keys.audit(),
        )

    def _selection(
        self,
        topics: tuple[str, ...],
        patterns: Iterable[str],
        session_ids: Iterable[str],
        user_ids: Iterable[str],
    ) -> _Selection:
        return _Selection(self.keys, self._serializer, topics, patterns, session_ids, user_ids)


class EventBus(_EventBusCore):
    """Publish JSON events on topics and subscribe to them, sync. See :class:`AsyncEventBus`.

    Args:
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a :class:`RedisMemoryConfig`); the config's
            prefix scopes every channel.
        audit_maxlen: The audit stream's approximate cap for ``publish(...,
            audit=True)`` (``None``: no cap).

    Pub/sub delivers to whoever is subscribed at that moment and keeps nothing:
    a subscriber that is down or reconnecting misses what is published
    meanwhile. ``publish(..., audit=True)`` also appends the event to the
    durable audit stream (:class:`AuditLog`), in the same round trip.

    Example:
        .. code-block:: python

            from redis_memory.events import EventBus
            from redis_memory.history import MessageLog

            bus = EventBus(url="embedded")
            with bus.subscribe("alerts", session_ids=["s-42"], timeout=0.5) as events:
                assert bus.publish("alerts", {"level": "high"}) == 1   # one receiver
                MessageLog(url="embedded").append("s-42", [{"role": "user", "content": "hi"}])
                received = [(event.topic, event.data) for event in events]
            assert received[0] == ("alerts", {"level": "high"})
            topic, data = received[1]
            assert (topic, data["session_id"], data["added"]) == ("session", "s-42", 1)
    """

    def publish(self, topic: str, event: Mapping[str, Any], *, audit: bool = False) -> int:
        """Publish ``event`` (a dict of JSON values) on ``topic``; returns how many received it.

        An event JSON cannot hold raises a ``TypeError``
        (:class:`~redis_memory.errors.SerializationError`) and sends nothing.
        With ``audit``, the event is also appended to the audit stream as
        ``{"topic": topic, "event": event}``, atomically (``MULTI``/``EXEC``).
        """
        return execute(self._clients.sync, self._plan_publish(topic, event, audit), self._url)

    def subscribe(
        self,
        *topics: str,
        patterns: Iterable[str] = (),
        session_ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        timeout: float | None = None,
    ) -> Subscription:
        """Subscribe, and return the live :class:`Subscription` to iterate.

        Args:
            topics: Topic names, exactly as published.
            patterns: Globs over topic names: ``*``, ``?``, ``[abc]``, ``[a-z]``,
                ``[^a]``; ``\\`` makes the next character literal. They match
                topics of this prefix only (not the session and user channels).
            session_ids: Sessions whose message appends to follow (ids and counts).
            user_ids: Users whose state changes to follow (keys, never values).
            timeout: End the iteration after this many seconds without an
                event (``None``: never).

        Raises:
            RedisUnavailableError: Redis did not answer.
        """
        selection = self._selection(topics, patterns, session_ids, user_ids)
        return Subscription(self._clients, selection, _timeout(timeout))._start()


class AsyncEventBus(_EventBusCore):
    """The event bus on ``redis.asyncio``: :class:`EventBus`'s twin, name for name.

    :meth:`subscribe` returns an :class:`AsyncSubscription` at once; it
    subscribes when entered with ``async with`` (or awaited, or first iterated).

    Example:
        .. code-block:: python

            import asyncio
            from redis_memory.events import AsyncEventBus
            from redis_memory.state import AsyncStateStore

            async def main() -> None:
                bus = AsyncEventBus(url="embedded")
                async with bus.subscribe(user_ids=["ana"], timeout=0.5) as events:
                    await AsyncStateStore(url="embedded").set("ana", "lang", "pt")
                    received = [event.data async for event in events]
                assert received == [
                    {"event": "state", "user_id": "ana", "op": "set", "keys": ["lang"]}
                ]

            asyncio.run(main())
    """

    async def publish(self, topic: str, event: Mapping[str, Any], *, audit: bool = False) -> int:
        return await execute_async(
            self._clients.async_, self._plan_publish(topic, event, audit), self._url
        )

    def subscribe(
        self,
        *topics: str,
        patterns: Iterable[str] = (),
        session_ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        timeout: float | None = None,
    ) -> AsyncSubscription:
        selection = self._selection(topics, patterns, session_ids, user_ids)
        return AsyncSubscription(self._clients, selection, _timeout(timeout))


# -- audit -------------------------------------------------------------------------------


class AuditEntry(NamedTuple):
    """One entry of the audit stream: unpacks as ``(id, event)``.

    Example:
        .. code-block:: python

            from redis_memory.events import AuditLog

            audit = AuditLog(url="embedded")
            before = audit.append({"agent": "planner", "did": "started"})
            entry_id = audit.append({"agent": "planner", "did": "claimed task 7"})
            entry = audit.read(after=before, count=1)[0]
            same_id, event = entry
            assert same_id == entry.id == entry_id
            assert event == entry.event == {"agent": "planner", "did": "claimed task 7"}
    """

    id: str
    event: dict[str, Any]


@dataclass(frozen=True, slots=True)
class AuditPending:
    """Entries delivered to a consumer group and not yet acked: how many, which, whose.

    Example:
        .. code-block:: python

            from redis_memory.events import AuditLog

            audit = AuditLog(url="embedded")
            audit.append({"step": "pending example"})
            entries = audit.read_group("pending-example", "worker-1", count=1000)
            pending = audit.pending("pending-example")
            assert pending.consumers["worker-1"] == pending.count >= len(entries) > 0
            audit.ack("pending-example", *(entry.id for entry in entries))
            assert audit.pending("pending-example").count == 0
    """

    count: int
    first_id: str | None
    last_id: str | None
    consumers: dict[str, int] = field(default_factory=dict)


_AuditFlow = Generator[Plan[Any], Any, T]


class _AuditCore:
    """What the sync and async audit logs share: the key, encoding, checks, plans, flows."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        maxlen: int | None = DEFAULT_AUDIT_MAXLEN,
    ) -> None:
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config: RedisMemoryConfig = self._clients.config
        self.key = self.config.keys.audit()
        self.maxlen = None if maxlen is None else whole("maxlen", maxlen, 1)
        self._serializer = self.config.checked_serializer

    def _url(self) -> str:
        return self._clients.masked_url()

    def _entry(self, entry_id: Any, raw_fields: Any) -> AuditEntry:
        ident, event = _streams.json_object(
            self._serializer, self.key, entry_id, raw_fields, EVENT_FIELD, "an event"
        )
        return AuditEntry(ident, event)

    @staticmethod
    def _name(value: Any, what: str) -> str:
        escape_id(value, what=what)  # a non-empty str of at most 512 bytes
        return value

    # -- plans ----------------------------------------------------------------------
    def _plan_append(self, event: Mapping[str, Any]) -> Plan[str]:
        encoded = _encode_event(self._serializer, event, "audited")
        command = _xadd(self.key, self.maxlen, encoded)
        return Plan(
            "appending to the audit log", self.key, lambda r: _streams.text(r[0]), [command]
        )

    def _plan_read(self, after: str, count: int) -> Plan[list[AuditEntry]]:
        start = _streams.stream_id(after, "after")
        whole("count", count, 1)
        command = ("XRANGE", self.key, f"({start}" if start != "0" else "-", "+", "COUNT", count)
        return Plan(
            "reading the audit log",
            self.key,
            lambda r: [self._entry(i, f) for i, f in r[0] or ()],
            [command],
        )

    def _plan_read_group(
        self, group: str, consumer: str, count: int, block_ms: int | None, start: str
    ) -> Plan[tuple[list[AuditEntry], list[str]]]:
        block = () if block_ms is None else ("BLOCK", block_ms)
        command = (
            "XREADGROUP", "GROUP", group, consumer, "COUNT", count, *block,
            "STREAMS", self.key, start,
        )  # fmt: skip

        def finish(replies: list[Any]) -> tuple[list[AuditEntry], list[str]]:
            entries, trimmed = [], []
            for entry_id, raw in _streams.entries(replies[0]):
                if entry_id is None:
                    continue
                if not raw:  # pending, but trimmed from the stream since (no fields)
                    trimmed.append(_streams.text(entry_id))
                else:
                    entries.append(self._entry(entry_id, raw))
            return entries, trimmed

        return Plan("reading the audit log", self.key, finish, [command])

    def _plan_create_group(self, group: str) -> Plan[None]:
        command = ("XGROUP", "CREATE", self.key, group, "0", "MKSTREAM")
        return Plan("creating an audit consumer group", self.key, lambda _: None, [command])

    def _plan_ack(self, group: str, ids: tuple[str, ...]) -> Plan[int]:
        self._name(group, "consumer group name")
        if not ids:
            raise TypeError("ack() needs at least one entry id")
        for ident in ids:
            _streams.stream_id(ident, "an entry id")
        command = ("XACK", self.key, group, *ids)
        return Plan("acknowledging audit entries", self.key, lambda r: int(r[0]), [command])

    def _plan_pending(self, group: str) -> Plan[AuditPending]:
        def finish(replies: list[Any]) -> AuditPending:
            return AuditPending(*_streams.pending_summary(replies[0]))

        command = ("XPENDING", self.key, self._name(group, "consumer group name"))
        return Plan("reading pending audit entries", self.key, finish, [command])

    def _plan_last_id(self) -> Plan[str | None]:
        return Plan(
            "reading the audit log",
            self.key,
            lambda r: _streams.text(r[0][0][0]) if r[0] else None,
            [("XREVRANGE", self.key, "+", "-", "COUNT", 1)],
        )

    def _plan_length(self) -> Plan[int]:
        return Plan("reading the audit log", self.key, lambda r: int(r[0]), [("XLEN", self.key)])

    # -- flows ------------------------------------------------------------------------
    def _create_group_flow(self, group: str) -> _AuditFlow[None]:
        try:
            yield self._plan_create_group(group)
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "BUSYGROUP"):  # another worker created it first: fine
                raise

    def _read_group_flow(
        self,
        group: str,
        consumer: str,
        count: int,
        block_ms: int | None,
        start: str,
        slice_ms: int | None,
    ) -> _AuditFlow[list[AuditEntry]]:
        self._name(group, "consumer group name")
        self._name(consumer, "consumer name")
        whole("count", count, 1)
        start = _streams.stream_id(start, "id", new=True)
        if block_ms is not None:
            whole("block_ms", block_ms, 0)
        # Only new entries can be waited for. A long wait goes in slices shorter
        # than the socket timeout, so that the client never times out.
        wait = block_ms if start == ">" else None
        deadline = None if not wait else time.monotonic() + wait / 1000
        created = False
        while True:
            block: int | None = None
            if wait is not None:
                block = _streams.next_block_ms(deadline, slice_ms)
            try:
                entries, trimmed = yield self._plan_read_group(group, consumer, count, block, start)
            except redis.exceptions.ResponseError as exc:
                if created or not _streams.is_error(exc, "NOGROUP"):
                    raise
                yield from self._create_group_flow(group)
                created = True
                continue
            if trimmed:  # gone from the stream: they can never be processed
                yield self._plan_ack(group, tuple(trimmed))
            if entries or wait is None or (deadline is not None and time.monotonic() >= deadline):
                return entries

    def _pending_flow(self, group: str) -> _AuditFlow[AuditPending]:
        try:
            return (yield self._plan_pending(group))
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "NOGROUP"):
                raise
            return AuditPending(0, None, None, {})

    def _ack_flow(self, group: str, ids: tuple[str, ...]) -> _AuditFlow[int]:
        plan = self._plan_ack(group, ids)
        try:
            return (yield plan)
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "NOGROUP"):
                raise
            return 0


class AuditLog(_AuditCore):
    """A durable audit trail on the Redis Stream ``{prefix}:audit``, sync.

    Args:
        url, client, config: Where the data lives (as everywhere in this package).
        maxlen: Keep about this many entries (``XADD ... MAXLEN ~``, which keeps
            appends O(1)); ``None``: keep all.

    Each entry holds one event (a dict of JSON values). :meth:`read` pages
    through the stream from an id; consumer groups (:meth:`read_group`) give
    each group every entry and each entry to one consumer of the group, until
    acked: a worker that restarts reads its pending entries first
    (``id="0"``), then new ones (``id=">"``), and misses nothing.

    Example:
        .. code-block:: python

            from redis_memory.events import AuditLog

            audit = AuditLog(url="embedded", maxlen=10_000)
            first = audit.append({"agent": "planner", "did": "started"})
            audit.append({"agent": "planner", "did": "finished"})
            assert [entry.event["did"] for entry in audit.read(after=first)][:1] == ["finished"]

            entries = audit.read_group("auditors", "auditor-1", count=1000)
            assert audit.ack("auditors", *(entry.id for entry in entries)) == len(entries)
            assert audit.read_group("auditors", "auditor-1", id="0") == []   # nothing pending
    """

    def _drive(self, flow: _AuditFlow[T]) -> T:
        return drive(flow, self._execute, (redis.exceptions.ResponseError,))

    def _execute(self, plan: Plan[Any]) -> Any:
        return execute(self._clients.sync, plan, self._url)

    def append(self, event: Mapping[str, Any]) -> str:
        """Append an event (a dict of JSON values); returns its stream id. One ``XADD``."""
        return execute(self._clients.sync, self._plan_append(event), self._url)

    def read(self, after: str = "0", count: int = 100) -> list[AuditEntry]:
        """Up to ``count`` entries with ids after ``after`` ("0": from the start), oldest first.

        Pass the last id read to get the next page. One ``XRANGE``.
        """
        return execute(self._clients.sync, self._plan_read(after, count), self._url)

    def read_group(
        self,
        group: str,
        consumer: str,
        count: int = 10,
        block_ms: int | None = None,
        *,
        id: str = ">",
    ) -> list[AuditEntry]:
        """Entries for ``consumer`` of ``group``, which is created on first use.

        ``id=">"`` (default): entries never delivered to the group, waiting up
        to ``block_ms`` for one (``0``: as long as it takes; ``None``: not at
        all). ``id="0"`` (or a later id): this consumer's own pending entries,
        delivered before and not acked (after a restart, read these first).
        A new group starts at the beginning of the stream.
        """
        return self._drive(
            self._read_group_flow(
                group, consumer, count, block_ms, id, _streams.block_slice_ms(self._clients.sync)
            )
        )

    def ack(self, group: str, *ids: str) -> int:
        """Mark entries done for ``group``; returns how many were pending. One ``XACK``."""
        return self._drive(self._ack_flow(group, ids))

    def pending(self, group: str) -> AuditPending:
        """How many entries the group's consumers hold unacked, and which consumers."""
        return self._drive(self._pending_flow(group))

    def length(self) -> int:
        """How many entries the stream holds (``XLEN``)."""
        return execute(self._clients.sync, self._plan_length(), self._url)

    def last_id(self) -> str | None:
        """The id of the newest entry (None when the stream is empty): pass it to
        :meth:`read` as ``after`` to read only what comes next. One ``XREVRANGE``."""
        return execute(self._clients.sync, self._plan_last_id(), self._url)


class AsyncAuditLog(_AuditCore):
    """The audit log on ``redis.asyncio``: :class:`AuditLog`'s twin, name for name.

    Example:
        .. code-block:: python

            import asyncio
            from redis_memory.events import AsyncAuditLog

            async def main() -> None:
                audit = AsyncAuditLog(url="embedded")
                entry_id = await audit.append({"agent": "critic", "did": "reviewed"})
                entries = await audit.read_group("async-auditors", "a-1", count=1000)
                assert entry_id in [entry.id for entry in entries]
                await audit.ack("async-auditors", *(entry.id for entry in entries))
                assert (await audit.pending("async-auditors")).count == 0

            asyncio.run(main())
    """

    async def _drive(self, flow: _AuditFlow[T]) -> T:
        return await drive_async(flow, self._execute, (redis.exceptions.ResponseError,))

    async def _execute(self, plan: Plan[Any]) -> Any:
        return await execute_async(self._clients.async_, plan, self._url)

    async def append(self, event: Mapping[str, Any]) -> str:
        return await execute_async(self._clients.async_, self._plan_append(event), self._url)

    async def read(self, after: str = "0", count: int = 100) -> list[AuditEntry]:
        return await execute_async(self._clients.async_, self._plan_read(after, count), self._url)

    async def read_group(
        self,
        group: str,
        consumer: str,
        count: int = 10,
        block_ms: int | None = None,
        *,
        id: str = ">",
    ) -> list[AuditEntry]:
        return await self._drive(
            self._read_group_flow(
                group, consumer, count, block_ms, id, _streams.block_slice_ms(self._clients.async_)
            )
        )

    async def ack(self, group: str, *ids: str) -> int:
        return await self._drive(self._ack_flow(group, ids))

    async def pending(self, group: str) -> AuditPending:
        return await self._drive(self._pending_flow(group))

    async def length(self) -> int:
        return await execute_async(self._clients.async_, self._plan_length(), self._url)

    async def last_id(self) -> str | None:
        return await execute_async(self._clients.async_, self._plan_last_id(), self._url)


__all__ = [
    "DEFAULT_AUDIT_MAXLEN",
    "AsyncAuditLog",
    "AsyncEventBus",
    "AsyncSubscription",
    "AuditEntry",
    "AuditLog",
    "AuditPending",
    "Event",
    "EventBus",
    "Subscription",
]
