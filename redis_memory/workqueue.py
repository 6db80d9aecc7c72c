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
    >>> queue = WorkQueue("summaries", url="embedded")            # doctest: +SKIP
    >>> job_id = queue.put({"doc": "q3-report.pdf"})              # doctest: +SKIP
    >>> [job] = queue.get("worker-1")                             # doctest: +SKIP
    >>> job.payload, job.deliveries                               # doctest: +SKIP
    ({'doc': 'q3-report.pdf'}, 1)
    >>> queue.ack(job)                                            # doctest: +SKIP
    1
"""

from __future__ import annotations

import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

import redis

from . import _streams
from ._checks import whole
from ._execute import execute, execute_async
from ._flow import drive, drive_async
from ._plan import Plan, Script
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .errors import SerializationError
from .keys import KeySchema, escape_id

T = TypeVar("T")

DEFAULT_GROUP = "workers"
# No cap by default: MAXLEN trims undelivered jobs too, which would lose work.
DEFAULT_MAXLEN: int | None = None
PAYLOAD_FIELD = "payload"


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


@dataclass(frozen=True, slots=True)
class PendingSummary:
    """Jobs delivered and not yet acked: how many, their id range, and per consumer."""

    count: int
    first_id: str | None
    last_id: str | None
    consumers: dict[str, int] = field(default_factory=dict)


# XREADGROUP from id 0: the consumer's own pending jobs, with their delivery
# counts; entries trimmed away from the stream meanwhile are acked (they cannot
# be processed any more). KEYS[1] stream; ARGV group, consumer, count.
_RESUME = """
local reply = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', ARGV[3],
                         'STREAMS', KEYS[1], '0')
local entries = (reply and reply[1] and reply[1][2]) or {}
local jobs, counts = {}, {}
for _, entry in ipairs(entries) do
  if entry[2] then
    jobs[#jobs + 1] = entry
    local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
    counts[#counts + 1] = p[1] and p[1][4] or 1
  else
    redis.call('XACK', KEYS[1], ARGV[1], entry[1])
  end
end
return {jobs, counts}
"""

# XAUTOCLAIM (entries idle >= min_idle go to the consumer; their delivery count
# rises by one) and the delivery counts. KEYS[1] stream; ARGV group, consumer,
# min_idle_ms, count.
_RECLAIM = """
local jobs, counts = {}, {}
local cursor, want = '0-0', tonumber(ARGV[4])
-- XAUTOCLAIM scans at most COUNT*10 pending entries per call: follow its cursor
-- (a bounded number of passes) so idle jobs behind busy ones are reached too.
for _ = 1, 50 do
  local claimed = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor,
                             'COUNT', want - #jobs)
  for _, entry in ipairs(claimed[2]) do
    if entry[2] then
      jobs[#jobs + 1] = entry
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], entry[1], entry[1], 1)
      counts[#counts + 1] = p[1] and p[1][4] or 1
    end
  end
  cursor = claimed[1]
  if #jobs >= want or cursor == '0-0' then break end
end
return {jobs, counts}
"""

RESUME = Script(_RESUME)
RECLAIM = Script(_RECLAIM)

Flow = Generator[Plan[Any], Any, T]


def queue_key(prefix: str, name: str) -> str:
    """The stream key of a work queue: ``{prefix}:queue:{<name>}``."""
    return KeySchema(prefix).queue(name)


class _WorkQueueCore:
    """What the sync and async work queues share: keys, encoding, checks, plans, flows."""

    def __init__(
        self,
        name: str,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        group: str = DEFAULT_GROUP,
        maxlen: int | None = DEFAULT_MAXLEN,
    ) -> None:
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config: RedisMemoryConfig = self._clients.config
        self.name = name
        self.key = queue_key(self.config.prefix, name)
        escape_id(group, what="consumer group name")
        self.group = group
        self.maxlen = None if maxlen is None else whole("maxlen", maxlen, 1)
        self._serializer = self.config.checked_serializer

    def _url(self) -> str:
        return self._clients.masked_url()

    # -- encoding -------------------------------------------------------------------
    def _encode(self, payload: Mapping[str, Any]) -> bytes:
        if not isinstance(payload, Mapping):
            raise TypeError(
                f"a job's payload is a dict of JSON values, not {type(payload).__name__}"
            )
        try:
            return self._serializer.dumps(payload)
        except SerializationError as exc:
            raise SerializationError(f"the job's payload cannot be queued: {exc}") from exc

    def _job(self, job_id: Any, raw_fields: Any, deliveries: Any) -> Job:
        ident, payload = _streams.json_object(
            self._serializer, self.key, job_id, raw_fields, PAYLOAD_FIELD, "a job"
        )
        return Job(ident, payload, int(deliveries))

    # -- plans ----------------------------------------------------------------------
    def _plan_put(self, payload: Mapping[str, Any]) -> Plan[str]:
        encoded = self._encode(payload)
        trim = () if self.maxlen is None else ("MAXLEN", "~", self.maxlen)
        command = ("XADD", self.key, *trim, "*", PAYLOAD_FIELD, encoded)
        return Plan("queueing a job", self.key, lambda r: _streams.text(r[0]), [command])

    def _plan_read(self, consumer: str, count: int, block_ms: int | None) -> Plan[list[Job]]:
        block = () if block_ms is None else ("BLOCK", block_ms)
        command = (
            "XREADGROUP", "GROUP", self.group, consumer, "COUNT", count, *block,
            "STREAMS", self.key, ">",
        )  # fmt: skip
        return Plan(
            "taking jobs",
            self.key,
            lambda r: [self._job(i, f, 1) for i, f in _streams.entries(r[0]) if i is not None],
            [command],
        )

    def _plan_create_group(self) -> Plan[None]:
        command = ("XGROUP", "CREATE", self.key, self.group, "0", "MKSTREAM")
        return Plan("creating the consumer group", self.key, lambda _: None, [command])

    def _plan_scripted(self, doing: str, script: Script, args: list[Any]) -> Plan[list[Job]]:
        def finish(replies: list[Any]) -> list[Job]:
            entries, counts = replies[0]
            return [
                self._job(entry[0], entry[1], n) for entry, n in zip(entries, counts, strict=True)
            ]

        return Plan(doing, self.key, finish, script=(script, [self.key], args))

    def _plan_ack(self, ids: list[str]) -> Plan[int]:
        return Plan(
            "acknowledging jobs",
            self.key,
            lambda r: int(r[0]),
            [("XACK", self.key, self.group, *ids)],
        )

    def _plan_pending(self) -> Plan[PendingSummary]:
        def finish(replies: list[Any]) -> PendingSummary:
            return PendingSummary(*_streams.pending_summary(replies[0]))

        return Plan("reading pending jobs", self.key, finish, [("XPENDING", self.key, self.group)])

    # -- flows (a missing group is created, or means "nothing pending") -----------------
    def _consumer(self, consumer: str) -> str:
        escape_id(consumer, what="consumer name")
        return consumer

    def _create_group_flow(self) -> Flow[None]:
        try:
            yield self._plan_create_group()
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "BUSYGROUP"):  # another consumer created it first
                raise

    def _get_flow(
        self, consumer: str, count: int, block_ms: int | None, slice_ms: int | None
    ) -> Flow[list[Job]]:
        consumer = self._consumer(consumer)
        whole("count", count, 1)
        if block_ms is not None:
            whole("block_ms", block_ms, 0)
        # block_ms=0 waits for a job as long as it takes. Long waits go in slices
        # shorter than the socket timeout, so that the client never times out.
        deadline = None if not block_ms else time.monotonic() + block_ms / 1000
        created = False
        while True:
            block: int | None = None
            if block_ms is not None:
                block = _streams.next_block_ms(deadline, slice_ms)
            try:
                jobs = yield self._plan_read(consumer, count, block)
            except redis.exceptions.ResponseError as exc:
                if created or not _streams.is_error(exc, "NOGROUP"):
                    raise
                yield from self._create_group_flow()
                created = True
                continue
            if jobs or block_ms is None or (deadline is not None and time.monotonic() >= deadline):
                return jobs

    def _scripted_flow(self, doing: str, script: Script, args: list[Any]) -> Flow[list[Job]]:
        try:
            return (yield self._plan_scripted(doing, script, args))
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "NOGROUP"):
                raise
            return []  # no group yet: nothing was ever delivered

    def _resume_flow(self, consumer: str, count: int) -> Flow[list[Job]]:
        args = [self.group, self._consumer(consumer), whole("count", count, 1)]
        return (yield from self._scripted_flow("resuming jobs", RESUME, args))

    def _reclaim_flow(self, consumer: str, min_idle_ms: int, count: int) -> Flow[list[Job]]:
        args = [
            self.group,
            self._consumer(consumer),
            whole("min_idle_ms", min_idle_ms, 0),
            whole("count", count, 1),
        ]
        return (yield from self._scripted_flow("reclaiming jobs", RECLAIM, args))

    def _pending_flow(self) -> Flow[PendingSummary]:
        try:
            return (yield self._plan_pending())
        except redis.exceptions.ResponseError as exc:
            if not _streams.is_error(exc, "NOGROUP"):
                raise
            return PendingSummary(0, None, None, {})

    def _ack_plan(self, jobs: tuple[Job | str, ...]) -> Plan[int]:
        if not jobs:
            raise TypeError("ack() needs at least one job (or job id)")
        ids = []
        for job in jobs:
            ident = job.id if isinstance(job, Job) else job
            if not isinstance(ident, str):
                raise TypeError(f"ack() takes jobs or job ids, not {type(job).__name__}")
            ids.append(_streams.stream_id(ident, "a job id"))
        return self._plan_ack(ids)


class WorkQueue(_WorkQueueCore):
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
        >>> queue = WorkQueue("embeddings", url="embedded")           # doctest: +SKIP
        >>> job_id = queue.put({"doc_id": 7})                         # doctest: +SKIP
        >>> for job in queue.get("worker-1", count=10, block_ms=1000):  # doctest: +SKIP
        ...     print(job.payload)
        ...     _ = queue.ack(job)
        {'doc_id': 7}
        >>> queue.pending().count                                     # doctest: +SKIP
        0
    """

    def _drive(self, flow: Flow[T]) -> T:
        return drive(flow, self._execute, (redis.exceptions.ResponseError,))

    def _execute(self, plan: Plan[Any]) -> Any:
        return execute(self._clients.sync, plan, self._url)

    def put(self, payload: Mapping[str, Any]) -> str:
        """Queue a job (a dict of JSON values); returns its id. One ``XADD``.

        A payload JSON cannot hold raises a ``TypeError``
        (:class:`~redis_memory.errors.SerializationError`) and queues nothing.
        """
        return execute(self._clients.sync, self._plan_put(payload), self._url)

    def get(self, consumer: str, *, count: int = 1, block_ms: int | None = None) -> list[Job]:
        """Take up to ``count`` new jobs for ``consumer``.

        ``block_ms`` waits up to that many milliseconds for a job when none is
        there (``0``: as long as it takes); ``None`` returns at once.
        """
        return self._drive(
            self._get_flow(consumer, count, block_ms, _streams.block_slice_ms(self._clients.sync))
        )

    def ack(self, *jobs: Job | str) -> int:
        """Mark jobs (or job ids) done; returns how many were pending. One ``XACK``."""
        return execute(self._clients.sync, self._ack_plan(jobs), self._url)

    def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 10) -> list[Job]:
        """Take over jobs that another consumer took and left idle for ``min_idle_ms``.

        The jobs now belong to ``consumer``; their ``deliveries`` count this one.
        One atomic round trip (``XAUTOCLAIM`` in a script).
        """
        return self._drive(self._reclaim_flow(consumer, min_idle_ms, count))

    def resume(self, consumer: str, *, count: int = 100) -> list[Job]:
        """The jobs ``consumer`` took earlier and has not acked (e.g. before a restart)."""
        return self._drive(self._resume_flow(consumer, count))

    def pending(self) -> PendingSummary:
        """How many jobs are taken and not acked, and by which consumers."""
        return self._drive(self._pending_flow())


class AsyncWorkQueue(_WorkQueueCore):
    """The work queue on ``redis.asyncio``: :class:`WorkQueue`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.workqueue import AsyncWorkQueue
        >>> async def main():
        ...     queue = AsyncWorkQueue("embeddings", url="embedded")
        ...     await queue.put({"doc_id": 8})
        ...     [job] = await queue.get("worker-2", block_ms=1000)
        ...     await queue.ack(job)
        ...     return job.payload
        >>> asyncio.run(main())                                        # doctest: +SKIP
        {'doc_id': 8}
    """

    async def _drive(self, flow: Flow[T]) -> T:
        return await drive_async(flow, self._execute, (redis.exceptions.ResponseError,))

    async def _execute(self, plan: Plan[Any]) -> Any:
        return await execute_async(self._clients.async_, plan, self._url)

    async def put(self, payload: Mapping[str, Any]) -> str:
        return await execute_async(self._clients.async_, self._plan_put(payload), self._url)

    async def get(self, consumer: str, *, count: int = 1, block_ms: int | None = None) -> list[Job]:
        return await self._drive(
            self._get_flow(consumer, count, block_ms, _streams.block_slice_ms(self._clients.async_))
        )

    async def ack(self, *jobs: Job | str) -> int:
        return await execute_async(self._clients.async_, self._ack_plan(jobs), self._url)

    async def reclaim(self, consumer: str, *, min_idle_ms: int, count: int = 10) -> list[Job]:
        return await self._drive(self._reclaim_flow(consumer, min_idle_ms, count))

    async def resume(self, consumer: str, *, count: int = 100) -> list[Job]:
        return await self._drive(self._resume_flow(consumer, count))

    async def pending(self) -> PendingSummary:
        return await self._drive(self._pending_flow())


__all__ = ["AsyncWorkQueue", "Job", "PendingSummary", "WorkQueue", "queue_key"]
