"""The audit stream ``{prefix}:audit``: the audit log's face of the consumer-group core.

Appending and paging (``XADD``, ``XRANGE``) are the audit log's own; reading
through consumer groups, acking and the pending summary are
:class:`~redis_memory._groups.StreamGroups`, shared with the work queue.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

from . import _streams
from ._checks import checked_name, whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._groups import PendingSummary, StreamGroups, Wording, encode_object, xadd
from ._plan import Plan
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient

DEFAULT_AUDIT_MAXLEN = 100_000
EVENT_FIELD = "event"

_WORDING = Wording(
    create="creating an audit consumer group",
    read="reading the audit log",
    ack="acknowledging audit entries",
    pending="reading pending audit entries",
)

#: The audit log's name for :class:`~redis_memory.workqueue.PendingSummary`:
#: the same class (``count``, ``first_id``, ``last_id``, ``consumers``), as the
#: audit log's consumer groups are the work queue's.
AuditPending = PendingSummary


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


def encode_event(serializer: Any, event: Any, doing: str) -> bytes:
    """An event (a dict of JSON values) as JSON, to be ``doing`` ("published", "audited")."""
    return encode_object(serializer, event, "an event", "the event", doing)


class _AuditCore(Engine):
    """What the sync and async audit logs share: the key, encoding, checks and plans."""

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        maxlen: int | None = DEFAULT_AUDIT_MAXLEN,
    ) -> None:
        super().__init__(url, client, config)
        self.key = self.keys.audit()
        self.maxlen = None if maxlen is None else whole("maxlen", maxlen, 1)
        self._groups = StreamGroups(self.key, _WORDING, self._entry)

    def _entry(self, entry_id: Any, raw_fields: Any, _deliveries: int = 1) -> AuditEntry:
        ident, event = _streams.json_object(
            self._serializer, self.key, entry_id, raw_fields, EVENT_FIELD, "an event"
        )
        return AuditEntry(ident, event)

    def _plan_append(self, event: Mapping[str, Any]) -> Plan[str]:
        command = xadd(
            self.key, self.maxlen, EVENT_FIELD, encode_event(self._serializer, event, "audited")
        )
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

    def _ack_ids(self, group: str, ids: tuple[str, ...]) -> tuple[str, ...]:
        checked_name(group, "consumer group name")
        if not ids:
            raise TypeError("ack() needs at least one entry id")
        for ident in ids:
            _streams.stream_id(ident, "an entry id")
        return ids

    def _plan_last_id(self) -> Plan[str | None]:
        return Plan(
            "reading the audit log",
            self.key,
            lambda r: _streams.text(r[0][0][0]) if r[0] else None,
            [("XREVRANGE", self.key, "+", "-", "COUNT", 1)],
        )

    def _plan_length(self) -> Plan[int]:
        return Plan("reading the audit log", self.key, lambda r: int(r[0]), [("XLEN", self.key)])


class AuditLog(_AuditCore, SyncRunner):
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

    def append(self, event: Mapping[str, Any]) -> str:
        """Append an event (a dict of JSON values); returns its stream id. One ``XADD``."""
        return self._run(self._plan_append(event))

    def read(self, after: str = "0", count: int = 100) -> list[AuditEntry]:
        """Up to ``count`` entries with ids after ``after`` ("0": from the start), oldest first.

        Pass the last id read to get the next page. One ``XRANGE``.
        """
        return self._run(self._plan_read(after, count))

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
        slice_ms = _streams.block_slice_ms(self._clients.sync)
        return self._drive(self._groups.read_flow(group, consumer, count, block_ms, id, slice_ms))

    def ack(self, group: str, *ids: str) -> int:
        """Mark entries done for ``group``; returns how many were pending. One ``XACK``."""
        return self._drive(self._groups.ack_flow(group, self._ack_ids(group, ids)))

    def pending(self, group: str) -> AuditPending:
        """How many entries the group's consumers hold unacked, and which consumers."""
        return self._drive(self._groups.pending_flow(group))

    def length(self) -> int:
        """How many entries the stream holds (``XLEN``)."""
        return self._run(self._plan_length())

    def last_id(self) -> str | None:
        """The id of the newest entry (None when the stream is empty): pass it to
        :meth:`read` as ``after`` to read only what comes next. One ``XREVRANGE``."""
        return self._run(self._plan_last_id())


class AsyncAuditLog(_AuditCore, AsyncRunner):
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

    async def append(self, event: Mapping[str, Any]) -> str:
        """Append an event (a dict of JSON values); returns its stream id. One ``XADD``."""
        return await self._run(self._plan_append(event))

    async def read(self, after: str = "0", count: int = 100) -> list[AuditEntry]:
        """Up to ``count`` entries with ids after ``after`` ("0": from the start), oldest first."""
        return await self._run(self._plan_read(after, count))

    async def read_group(
        self,
        group: str,
        consumer: str,
        count: int = 10,
        block_ms: int | None = None,
        *,
        id: str = ">",
    ) -> list[AuditEntry]:
        """Entries for ``consumer`` of ``group`` (created on first use): new ones, or pending."""
        slice_ms = _streams.block_slice_ms(self._clients.async_)
        return await self._drive(
            self._groups.read_flow(group, consumer, count, block_ms, id, slice_ms)
        )

    async def ack(self, group: str, *ids: str) -> int:
        """Mark entries done for ``group``; returns how many were pending. One ``XACK``."""
        return await self._drive(self._groups.ack_flow(group, self._ack_ids(group, ids)))

    async def pending(self, group: str) -> AuditPending:
        """How many entries the group's consumers hold unacked, and which consumers."""
        return await self._drive(self._groups.pending_flow(group))

    async def length(self) -> int:
        """How many entries the stream holds (``XLEN``)."""
        return await self._run(self._plan_length())

    async def last_id(self) -> str | None:
        """The id of the newest entry (None when the stream is empty). One ``XREVRANGE``."""
        return await self._run(self._plan_last_id())
