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

and yields :class:`Event` objects; ``idle_timeout=`` ends the iteration after
that many seconds without one. A subscription survives a Redis restart:
when its connection drops it reconnects with exponential backoff and jitter
(redis-py's backoff) and subscribes again, and iteration goes on. Pub/sub is
fire-and-forget: events published while no connection was subscribed (Redis
down, the subscriber reconnecting) are lost. Whatever must not be lost goes to
the audit stream as well (``publish(..., audit=True)``, or :class:`AuditLog`).

**Audit.** :class:`AuditLog` appends events to the Redis Stream
``{prefix}:audit``, capped at about ``maxlen`` entries (``XADD ... MAXLEN ~``).
Anyone reads it from an id onwards; workers read it through consumer groups,
so that a worker that was down misses nothing: it first reads its own pending
entries (``id="0"``), then new ones. Its consumer groups are the work queue's
(:mod:`redis_memory.workqueue`): one core, so :class:`AuditPending` is
:class:`~redis_memory.workqueue.PendingSummary` under another name.

:class:`EventBus` / :class:`AuditLog` are sync; :class:`AsyncEventBus` /
:class:`AsyncAuditLog` are their native ``redis.asyncio`` twins, with the same
method names. Everything the twins share (channel names, pattern translation,
decoding, the reconnection and timeout logic) is written once: commands as
plans, subscriptions as flows of steps (connect, read, sleep, close) that a
small sync and a small async driver carry out.

Renamed (the old names work, with a ``DeprecationWarning``): ``subscribe(...,
timeout=)`` is ``idle_timeout=``, and ``EventBus(audit_maxlen=)`` is ``maxlen=``.

This module is the public face; the code lives in private modules, one
concept each: ``_topics`` (topic names and globs as channels, messages as
events), ``_subscription`` (subscriptions that reconnect), ``_audit`` (the
audit stream, on the consumer-group core ``_groups``) and ``_bus`` (publishing).

Example:
    >>> from redis_memory.events import EventBus
    >>> bus = EventBus()
    >>> with bus.subscribe("alerts", idle_timeout=0.5) as events:
    ...     bus.publish("alerts", {"level": "high"})
    ...     print([event.data for event in events])
    1
    [{'level': 'high'}]
"""

from __future__ import annotations

from ._audit import (
    DEFAULT_AUDIT_MAXLEN,
    EVENT_FIELD,
    AsyncAuditLog,
    AuditEntry,
    AuditLog,
    AuditPending,
)
from ._bus import AsyncEventBus, EventBus
from ._subscription import AsyncSubscription, Subscription
from ._topics import Event
from ._topics import log as log  # the logger of every events module, as before

__all__ = [
    "DEFAULT_AUDIT_MAXLEN",
    "EVENT_FIELD",
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

# Documented, and shown in reprs and tracebacks, where users import them from
# (AuditPending is the work queue's PendingSummary, documented there).
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type) and _public is not AuditPending:
        _public.__module__ = __name__
del _name, _public
