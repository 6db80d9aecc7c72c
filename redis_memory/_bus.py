"""The event bus: publishing events on topics (and to the audit stream), and subscribing.

:class:`EventBus` and :class:`AsyncEventBus` are thin: channel names and
selections come from :mod:`redis_memory._topics`, subscriptions from
:mod:`redis_memory._subscription`, and an audited event is appended as the
audit log (:mod:`redis_memory._audit`) appends, in the same round trip.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ._audit import DEFAULT_AUDIT_MAXLEN, EVENT_FIELD, encode_event
from ._checks import seconds_or_none, whole
from ._deprecation import MISSING, meaning_changes, renamed
from ._engine import AsyncRunner, Engine, SyncRunner
from ._groups import xadd
from ._plan import Plan
from ._subscription import AsyncSubscription, Subscription
from ._topics import Selection
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient


def _passed(value: Any, default: Any = None) -> Any:
    """``value``, or ``MISSING`` when it is the parameter's default.

    A renamed parameter's new name cannot tell "not passed" from its default;
    taking the default as "not passed" lets the old name alone work.
    """
    return MISSING if value == default else value


class _EventBusCore(Engine):
    """What the sync and async buses share: channel names, encoding, plans."""

    def __init__(
        self,
        *,
        maxlen: int | None = DEFAULT_AUDIT_MAXLEN,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        audit_maxlen: Any = MISSING,
    ) -> None:
        given = _passed(maxlen, DEFAULT_AUDIT_MAXLEN)
        given = renamed(f"{type(self).__name__}()", "audit_maxlen", audit_maxlen, "maxlen", given)
        maxlen = maxlen if given is MISSING else given
        super().__init__(url, client, config)
        self.maxlen = None if maxlen is None else whole("maxlen", maxlen, 1)

    @property
    def audit_maxlen(self) -> int | None:
        """Deprecated name of :attr:`maxlen`."""
        meaning_changes(f"{type(self).__name__}.audit_maxlen", "renamed maxlen; read that instead")
        return self.maxlen

    def channel(self, topic: str) -> str:
        """The pub/sub channel of a topic: ``{prefix}:events:<topic, escaped>``."""
        return self.keys.channel(topic)

    def _plan_publish(self, topic: str, event: Mapping[str, Any], audit: bool) -> Plan[int]:
        channel = self.keys.channel(topic)
        encoded = encode_event(self._serializer, event, "published")
        commands: list[tuple[Any, ...]] = [("PUBLISH", channel, encoded)]
        if audit:
            record = encode_event(self._serializer, {"topic": topic, "event": event}, "audited")
            commands.append(xadd(self.keys.audit(), self.maxlen, EVENT_FIELD, record))
        return Plan(
            "publishing an event",
            channel,
            lambda r: int(r[0]),
            commands,
            transaction=audit,
            route=self.keys.audit(),
        )

    def _subscription_args(
        self,
        topics: tuple[str, ...],
        patterns: Iterable[str],
        session_ids: Iterable[str],
        user_ids: Iterable[str],
        idle_timeout: Any,
    ) -> tuple[Any, Selection, float | None]:
        idle = None if idle_timeout is MISSING else idle_timeout
        idle = seconds_or_none("idle_timeout", idle, allow_zero=True)
        selection = Selection(self.keys, self._serializer, topics, patterns, session_ids, user_ids)
        return self._clients, selection, idle


class EventBus(_EventBusCore, SyncRunner):
    """Publish JSON events on topics and subscribe to them, sync. See :class:`AsyncEventBus`.

    Args:
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a :class:`RedisMemoryConfig`); the config's
            prefix scopes every channel.
        maxlen: The audit stream's approximate cap for ``publish(...,
            audit=True)`` (``None``: no cap), as :class:`AuditLog`'s ``maxlen``.
        audit_maxlen: Deprecated name of ``maxlen``.

    Pub/sub delivers to whoever is subscribed at that moment and keeps nothing:
    a subscriber that is down or reconnecting misses what is published
    meanwhile. ``publish(..., audit=True)`` also appends the event to the
    durable audit stream (:class:`AuditLog`), in the same round trip.

    Example:
        .. code-block:: python

            from redis_memory.events import EventBus
            from redis_memory.history import MessageLog

            bus = EventBus(url="embedded")
            with bus.subscribe("alerts", session_ids=["s-42"], idle_timeout=0.5) as events:
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
        return self._run(self._plan_publish(topic, event, audit))

    def subscribe(
        self,
        *topics: str,
        patterns: Iterable[str] = (),
        session_ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        idle_timeout: float | None = None,
        timeout: Any = MISSING,
    ) -> Subscription:
        """Subscribe, and return the live :class:`Subscription` to iterate.

        Args:
            topics: Topic names, exactly as published.
            patterns: Globs over topic names: ``*``, ``?``, ``[abc]``, ``[a-z]``,
                ``[^a]``; ``\\`` makes the next character literal. They match
                topics of this prefix only (not the session and user channels).
            session_ids: Sessions whose message appends to follow (ids and counts).
            user_ids: Users whose state changes to follow (keys, never values).
            idle_timeout: End the iteration after this many seconds without an
                event (``None``: never).
            timeout: Deprecated name of ``idle_timeout``.

        Raises:
            RedisUnavailableError: Redis did not answer.
        """
        idle = renamed(
            "EventBus.subscribe()", "timeout", timeout, "idle_timeout", _passed(idle_timeout)
        )
        args = self._subscription_args(topics, patterns, session_ids, user_ids, idle)
        return Subscription(*args)._start()


class AsyncEventBus(_EventBusCore, AsyncRunner):
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
                async with bus.subscribe(user_ids=["ana"], idle_timeout=0.5) as events:
                    await AsyncStateStore(url="embedded").set("ana", "lang", "pt")
                    received = [event.data async for event in events]
                assert received == [
                    {"event": "state", "user_id": "ana", "op": "set", "keys": ["lang"]}
                ]

            asyncio.run(main())
    """

    async def publish(self, topic: str, event: Mapping[str, Any], *, audit: bool = False) -> int:
        """Publish ``event`` on ``topic`` (and audit it); returns how many received it."""
        return await self._run(self._plan_publish(topic, event, audit))

    def subscribe(
        self,
        *topics: str,
        patterns: Iterable[str] = (),
        session_ids: Iterable[str] = (),
        user_ids: Iterable[str] = (),
        idle_timeout: float | None = None,
        timeout: Any = MISSING,
    ) -> AsyncSubscription:
        """The :class:`AsyncSubscription` to enter (``async with``); arguments as in
        :meth:`EventBus.subscribe`. No round trip until it is entered."""
        idle = renamed(
            "AsyncEventBus.subscribe()", "timeout", timeout, "idle_timeout", _passed(idle_timeout)
        )
        args = self._subscription_args(topics, patterns, session_ids, user_ids, idle)
        return AsyncSubscription(*args)
