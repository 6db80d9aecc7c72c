"""A small work queue between agent services, on a Redis Stream with a consumer group.

Producers :meth:`~WorkQueue.put` JSON payloads; consumers :meth:`~WorkQueue.get`
jobs, each job going to exactly one consumer of the group, and
:meth:`~WorkQueue.ack` them when done. A job that was taken and never acked
(its consumer crashed) stays pending: another consumer takes it over with
:meth:`~WorkQueue.reclaim` once it has been idle long enough, and a consumer
that restarts under the same name gets its own unfinished jobs back with
:meth:`~WorkQueue.resume`. Nothing is lost between those steps.

The stream lives at ``{prefix}:queue:{<name>}`` (the name is escaped like every
id), with no expiry and, by default, no cap: a cap (``maxlen``) trims the oldest
entries whether or not a consumer has received them, so it is only for queues
whose consumers keep up.
Each entry holds the payload as JSON in one field, ``payload``. The consumer
group (``workers`` by default) is created on first use, with ``MKSTREAM``, and
starts at the beginning of the stream, so jobs put before any consumer
existed are delivered too.

:class:`WorkQueue` is the sync class and :class:`AsyncWorkQueue` its native
``redis.asyncio`` twin, with the same method names.

Example:
    >>> from redis_memory.workqueue import WorkQueue
    >>> queue = WorkQueue("summaries")
    >>> job_id = queue.put({"doc": "q3-report.pdf"})
    >>> [job] = queue.get("worker-1")
    >>> job.payload, job.deliveries
    ({'doc': 'q3-report.pdf'}, 1)
    >>> queue.ack(job)
    1
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from . import _streams
from ._checks import whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._groups import PendingSummary, StreamGroups, Wording, encode_object, xadd
from ._plan import Plan
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .keys import KeySchema, escape_id

DEFAULT_GROUP = "workers"
# No cap by default: MAXLEN trims undelivered jobs too, which would lose work.
DEFAULT_MAXLEN: int | None = None
PAYLOAD_FIELD = "payload"

_WORDING = Wording(
    create="creating the consumer group",
    read="taking jobs",
    ack="acknowledging jobs",
    pending="reading pending jobs",
    resume="resuming jobs",
    reclaim="reclaiming jobs",
)


@dataclass(frozen=True, slots=True)
class Job:
    """One job taken from the queue.

    ``deliveries`` counts how often the job was handed to a consumer, this time
    included: 1 for a new job, 2 or more when it was reclaimed or resumed after
    a consumer stopped without acking it.
    """

    id: str
    payload: dict[str, Any]
    deliveries: int = 1


# One class for both faces of the consumer-group core (the audit log calls it
# AuditPending); documented here, where it was first defined.
PendingSummary.__module__ = __name__


def queue_key(prefix: str, name: str) -> str:
    """The stream key of a work queue: ``{prefix}:queue:{<name>}``."""
    return KeySchema(prefix).queue(name)


class _WorkQueueCore(Engine):
    """The work queue's face of the consumer-group core (``_groups``): keys, jobs, checks."""

    def __init__(
        self,
        name: str,
        *,
        group: str = DEFAULT_GROUP,
        maxlen: int | None = DEFAULT_MAXLEN,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> None:
        super().__init__(url, client, config)
        self.name = name
        self.key = queue_key(self.config.prefix, name)
        escape_id(group, what="consumer group name")
        self.group = group
        self.maxlen = None if maxlen is None else whole("maxlen", maxlen, 1)
        self._groups = StreamGroups(self.key, _WORDING, self._job)

    def _job(self, job_id: Any, raw_fields: Any, deliveries: Any) -> Job:
        ident, payload = _streams.json_object(
            self._serializer, self.key, job_id, raw_fields, PAYLOAD_FIELD, "a job"
        )
        return Job(ident, payload, int(deliveries))

    def _plan_put(self, payload: Mapping[str, Any]) -> Plan[str]:
        encoded = encode_object(
            self._serializer, payload, "a job's payload", "the job's payload", "queued"
        )
        command = xadd(self.key, self.maxlen, PAYLOAD_FIELD, encoded)
        return Plan("queueing a job", self.key, lambda r: _streams.text(r[0]), [command])

    def _ack_ids(self, jobs: tuple[Job | str, ...]) -> list[str]:
        if not jobs:
            raise TypeError("ack() needs at least one job (or job id)")
        ids = []
        for job in jobs:
            ident = job.id if isinstance(job, Job) else job
            if not isinstance(ident, str):
                raise TypeError(f"ack() takes jobs or job ids, not {type(job).__name__}")
            ids.append(_streams.stream_id(ident, "a job id"))
        return ids


class WorkQueue(_WorkQueueCore, SyncRunner):
    """A work queue on a Redis Stream: each job goes to one consumer, until acked.

    Args:
        name: The queue's name; producers and consumers of one queue use the same.
        url, client, config: Where the data lives (as everywhere in this package).
        group: The consumer group: consumers of one group share the jobs; each
            group gets every job once.
        maxlen: Keep about this many entries in the stream (``MAXLEN ~``);
            ``None`` (the default) keeps all. Trimming drops the oldest entries
            even if no consumer received them yet: set it only when consumers
            keep up with producers.

    Consumers are named by the caller ("worker-1"); a consumer that restarts
    under the same name calls :meth:`resume` to finish what it had taken.

    Example:
        >>> from redis_memory.workqueue import WorkQueue
        >>> queue = WorkQueue("embeddings")
        >>> job_id = queue.put({"doc_id": 7})
        >>> for job in queue.get("worker-1", count=10, block_ms=1000):
        ...     print(job.payload)
        ...     _ = queue.ack(job)
        {'doc_id': 7}
        >>> queue.pending().count
        0
    """

    def put(self, payload: Mapping[str, Any]) -> str:
        """Queue a job (a dict of JSON values); returns its id. One ``XADD``.

        A payload JSON cannot hold raises a ``TypeError``
        (:class:`~redis_memory.errors.SerializationError`) and queues nothing.
        """
        return self._run(self._plan_put(payload))

    def get(self, consumer: str, *, count: int = 1, block_ms: int | None = None) -> list[Job]:
        """Take up to ``count`` new jobs for ``consumer``.

        ``block_ms`` waits up to that many milliseconds for a job when none is
        there (``0``: as long as it takes); ``None`` returns at once.
        """
        slice_ms = _streams.block_slice_ms(self._clients.sync)
        return self._drive(
            self._groups.read_flow(self.group, consumer, count, block_ms, ">", slice_ms)
        )

    def ack(self, *jobs: Job | str) -> int:
        """Mark jobs (or job ids) done; returns how many were pending. One ``XACK``."""
        return self._drive(self._groups.ack_flow(self.group, self._ack_ids(jobs)))

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 10) -> list[Job]:
        """Take over jobs that another consumer took and left idle for ``min_idle_ms``.

        The jobs now belong to ``consumer``; their ``deliveries`` count this one.
        One atomic round trip (``XAUTOCLAIM`` in a script).
        """
        return self._drive(self._groups.reclaim_flow(self.group, consumer, min_idle_ms, count))

    def resume(self, consumer: str, *, count: int = 100) -> list[Job]:
        """The jobs ``consumer`` took earlier and has not acked (e.g. before a restart)."""
        return self._drive(self._groups.resume_flow(self.group, consumer, count))

    def pending(self) -> PendingSummary:
        """How many jobs are taken and not acked, and by which consumers."""
        return self._drive(self._groups.pending_flow(self.group))


class AsyncWorkQueue(_WorkQueueCore, AsyncRunner):
    """The work queue on ``redis.asyncio``: :class:`WorkQueue`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.workqueue import AsyncWorkQueue
        >>> async def main():
        ...     queue = AsyncWorkQueue("embeddings")
        ...     await queue.put({"doc_id": 8})
        ...     [job] = await queue.get("worker-2", block_ms=1000)
        ...     await queue.ack(job)
        ...     return job.payload
        >>> asyncio.run(main())
        {'doc_id': 8}
    """

    async def put(self, payload: Mapping[str, Any]) -> str:
        """Queue a job (a dict of JSON values); returns its id. One ``XADD``."""
        return await self._run(self._plan_put(payload))

    async def get(self, consumer: str, *, count: int = 1, block_ms: int | None = None) -> list[Job]:
        """Take up to ``count`` new jobs for ``consumer``, waiting up to ``block_ms``."""
        slice_ms = _streams.block_slice_ms(self._clients.async_)
        return await self._drive(
            self._groups.read_flow(self.group, consumer, count, block_ms, ">", slice_ms)
        )

    async def ack(self, *jobs: Job | str) -> int:
        """Mark jobs (or job ids) done; returns how many were pending. One ``XACK``."""
        return await self._drive(self._groups.ack_flow(self.group, self._ack_ids(jobs)))

    async def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 10) -> list[Job]:
        """Take over jobs another consumer left idle for ``min_idle_ms`` (``XAUTOCLAIM``)."""
        return await self._drive(
            self._groups.reclaim_flow(self.group, consumer, min_idle_ms, count)
        )

    async def resume(self, consumer: str, *, count: int = 100) -> list[Job]:
        """The jobs ``consumer`` took earlier and has not acked (e.g. before a restart)."""
        return await self._drive(self._groups.resume_flow(self.group, consumer, count))

    async def pending(self) -> PendingSummary:
        """How many jobs are taken and not acked, and by which consumers."""
        return await self._drive(self._groups.pending_flow(self.group))


__all__ = ["AsyncWorkQueue", "Job", "PendingSummary", "WorkQueue", "queue_key"]
