"""Consumer groups on a Redis Stream: one core behind the audit log and the work queue.

:class:`~redis_memory.events.AuditLog` and :class:`~redis_memory.workqueue.WorkQueue`
are two faces of the same machinery: a stream of JSON objects, appended with
``XADD ... MAXLEN ~``, read by consumer groups (``XREADGROUP``), acked
(``XACK``), summed up (``XPENDING``) and taken over when stale (``XAUTOCLAIM``).
:class:`StreamGroups` holds that machinery for one stream key as plans and flows
(``_plan``, ``_flow``); each face adds its own names, checks and entry type.

A group is created on first use. Every command that names a group can meet
``NOGROUP`` (no such group, or no stream yet); :func:`on_nogroup` is the one way
the flows handle it: create the group and run the command again (reading), or
take the answer "nothing" (nothing was ever delivered to a group that does not
exist: nothing pending, nothing to ack, nothing to claim).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis

from . import _streams
from ._checks import checked_name, whole
from ._plan import Plan, Script, lua
from .errors import SerializationError

T = TypeVar("T")
E = TypeVar("E")

GroupFlow = Generator[Plan[Any], Any, T]
# (entry id, raw fields, delivery count) -> the face's entry (AuditEntry, Job).
Decode = Callable[[Any, Any, int], E]


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """Entries delivered to a consumer group and not yet acked: how many, which, whose.

    ``count`` entries are pending, from ``first_id`` to ``last_id`` (None when
    there are none), and ``consumers`` says how many each consumer holds. The
    work queue's ``pending()`` and the audit log's ``pending(group)`` both
    return it (``AuditPending`` is this class under the audit log's name).

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


# XREADGROUP from id 0: the consumer's own pending entries, with their delivery
# counts; entries trimmed away from the stream meanwhile are acked (they cannot
# be processed any more). KEYS[1] stream; ARGV group, consumer, count.
RESUME = Script(lua("groups_resume.lua"))

# XAUTOCLAIM (entries idle >= min_idle go to the consumer; their delivery count
# rises by one) and the delivery counts. KEYS[1] stream; ARGV group, consumer,
# min_idle_ms, count.
RECLAIM = Script(lua("groups_reclaim.lua"))


def encode_object(serializer: Any, value: Any, a: str, the: str, doing: str) -> bytes:
    """``value`` (a dict of JSON values) as JSON; ``a``/``the`` name it in errors.

    Anything else is a ``TypeError`` (a :class:`SerializationError` when JSON
    cannot hold what the dict holds) and nothing is sent.
    """
    if not isinstance(value, Mapping):
        raise TypeError(f"{a} is a dict of JSON values, not {type(value).__name__}")
    try:
        return serializer.dumps(value)
    except SerializationError as exc:
        raise SerializationError(f"{the} cannot be {doing}: {exc}") from exc


def xadd(key: str, maxlen: int | None, name: str, encoded: bytes) -> tuple[Any, ...]:
    """The ``XADD`` of one entry of one field, trimming to about ``maxlen`` (None: never)."""
    trim = () if maxlen is None else ("MAXLEN", "~", maxlen)
    return ("XADD", key, *trim, "*", name, encoded)


def _unless(plan: Plan[T], code: str) -> GroupFlow[tuple[bool, T | None]]:
    """Run ``plan``: ``(True, result)``, or ``(False, None)`` when Redis answered ``code``."""
    try:
        return True, (yield plan)
    except redis.exceptions.ResponseError as exc:
        if not _streams.is_error(exc, code):
            raise
        return False, None


def on_nogroup(
    plan: Plan[T], *, create: Plan[None] | None = None, otherwise: Any = None
) -> GroupFlow[T]:
    """``plan`` as a flow that handles a missing group (``NOGROUP``).

    With ``create``: create the group (a group another consumer created first
    is as good) and run ``plan`` again, once. Without: the result is
    ``otherwise``, what a group to which nothing was ever delivered answers.
    """
    done, result = yield from _unless(plan, "NOGROUP")
    if done:
        return result  # type: ignore[return-value]
    if create is None:
        return otherwise
    yield from _unless(create, "BUSYGROUP")
    return (yield plan)


@dataclass(frozen=True, slots=True)
class Wording:
    """What each command of a face does, in its words (error messages, metrics)."""

    create: str
    read: str
    ack: str
    pending: str
    resume: str = "resuming entries"
    reclaim: str = "reclaiming entries"


class StreamGroups(Generic[E]):
    """The consumer-group plans and flows of the stream at ``key``.

    ``decode`` turns an entry (id, raw fields, delivery count) into the face's
    type; a group and a consumer are named per call, and checked like ids.
    """

    def __init__(self, key: str, wording: Wording, decode: Decode[E]) -> None:
        self.key = key
        self._wording = wording
        self._decode = decode

    # -- plans ----------------------------------------------------------------------
    def plan_create(self, group: str) -> Plan[None]:
        """``XGROUP CREATE ... MKSTREAM`` at the start of the stream: old entries count too."""
        command = ("XGROUP", "CREATE", self.key, group, "0", "MKSTREAM")
        return Plan(self._wording.create, self.key, lambda _: None, [command])

    def plan_read(
        self, group: str, consumer: str, count: int, block_ms: int | None, start: str
    ) -> Plan[tuple[list[E], list[str]]]:
        """``XREADGROUP``: (the entries, the ids of pending entries trimmed from the stream)."""
        block = () if block_ms is None else ("BLOCK", block_ms)
        command = (
            "XREADGROUP", "GROUP", group, consumer, "COUNT", count, *block,
            "STREAMS", self.key, start,
        )  # fmt: skip

        def finish(replies: list[Any]) -> tuple[list[E], list[str]]:
            entries, trimmed = [], []
            for entry_id, raw in _streams.entries(replies[0]):
                if entry_id is None:
                    continue
                if not raw:  # pending, but trimmed from the stream since (no fields)
                    trimmed.append(_streams.text(entry_id))
                else:
                    entries.append(self._decode(entry_id, raw, 1))
            return entries, trimmed

        return Plan(self._wording.read, self.key, finish, [command])

    def plan_ack(self, group: str, ids: tuple[str, ...] | list[str]) -> Plan[int]:
        """``XACK`` of ids already checked."""
        command = ("XACK", self.key, checked_name(group, "consumer group name"), *ids)
        return Plan(self._wording.ack, self.key, lambda r: int(r[0]), [command])

    def plan_pending(self, group: str) -> Plan[PendingSummary]:
        """The ``XPENDING`` summary of ``group``."""

        def finish(replies: list[Any]) -> PendingSummary:
            return PendingSummary(*_streams.pending_summary(replies[0]))

        command = ("XPENDING", self.key, checked_name(group, "consumer group name"))
        return Plan(self._wording.pending, self.key, finish, [command])

    def _plan_scripted(self, doing: str, script: Script, args: list[Any]) -> Plan[list[E]]:
        def finish(replies: list[Any]) -> list[E]:
            entries, counts = replies[0]
            return [self._decode(e[0], e[1], int(n)) for e, n in zip(entries, counts, strict=True)]

        return Plan(doing, self.key, finish, script=(script, [self.key], args))

    # -- flows ----------------------------------------------------------------------
    def create_flow(self, group: str) -> GroupFlow[None]:
        """Create ``group``; one that another consumer created first is as good."""
        yield from _unless(self.plan_create(group), "BUSYGROUP")

    def read_flow(
        self,
        group: str,
        consumer: str,
        count: int,
        block_ms: int | None,
        start: str,
        slice_ms: int | None,
    ) -> GroupFlow[list[E]]:
        """Entries for ``consumer`` of ``group`` (created on first use).

        ``start=">"``: new entries, waiting up to ``block_ms`` for one (``0``: as
        long as it takes; None: not at all); an id: the consumer's own pending
        entries after it, which are there or not, so never waited for.
        """
        checked_name(group, "consumer group name")
        checked_name(consumer, "consumer name")
        whole("count", count, 1)
        start = _streams.stream_id(start, "id", new=True)
        if block_ms is not None:
            whole("block_ms", block_ms, 0)
        # A long wait goes in slices shorter than the socket timeout, so that the
        # client never times out.
        wait = block_ms if start == ">" else None
        deadline = None if not wait else time.monotonic() + wait / 1000
        create = self.plan_create(group)
        while True:
            block = None if wait is None else _streams.next_block_ms(deadline, slice_ms)
            plan = self.plan_read(group, consumer, count, block, start)
            entries, trimmed = yield from on_nogroup(plan, create=create)
            if trimmed:  # gone from the stream: they can never be processed
                yield self.plan_ack(group, trimmed)
            if entries or wait is None or (deadline is not None and time.monotonic() >= deadline):
                return entries

    def ack_flow(self, group: str, ids: tuple[str, ...] | list[str]) -> GroupFlow[int]:
        """Ack ids already checked; how many were pending (0 without a group)."""
        return (yield from on_nogroup(self.plan_ack(group, ids), otherwise=0))

    def pending_flow(self, group: str) -> GroupFlow[PendingSummary]:
        """The group's pending summary (nothing pending without a group)."""
        empty = PendingSummary(0, None, None, {})
        return (yield from on_nogroup(self.plan_pending(group), otherwise=empty))

    def resume_flow(self, group: str, consumer: str, count: int) -> GroupFlow[list[E]]:
        """The consumer's own pending entries with their delivery counts (one script)."""
        args = [group, checked_name(consumer, "consumer name"), whole("count", count, 1)]
        plan = self._plan_scripted(self._wording.resume, RESUME, args)
        return (yield from on_nogroup(plan, otherwise=[]))

    def reclaim_flow(
        self, group: str, consumer: str, min_idle_ms: int, count: int
    ) -> GroupFlow[list[E]]:
        """Entries idle for ``min_idle_ms`` taken over by ``consumer`` (``XAUTOCLAIM``)."""
        args = [
            group,
            checked_name(consumer, "consumer name"),
            whole("min_idle_ms", min_idle_ms, 0),
            whole("count", count, 1),
        ]
        plan = self._plan_scripted(self._wording.reclaim, RECLAIM, args)
        return (yield from on_nogroup(plan, otherwise=[]))
