"""A priority queue between agents: the most urgent task first, each one leased to one worker.

Producers :meth:`~PriorityQueue.put` tasks (any JSON value, with a priority and
an optional delay); workers :meth:`~PriorityQueue.take` the ready task of the
highest priority (first in, first out among equal priorities) under a *lease*:
the task is theirs until the lease runs out, and comes back to the queue when a
worker dies without :meth:`~PriorityQueue.ack`-ing it. A worker that cannot
finish gives the task back with :meth:`~PriorityQueue.nack`, extends its lease
for long work with :meth:`~PriorityQueue.extend`, and an operator puts any task
back with :meth:`~PriorityQueue.requeue`.

Keys (one queue is one Redis Cluster slot: its name is the hash tag), all under
``S = {prefix}:pqueue:{<name>}`` (:meth:`KeySchema.pqueue`):

- ``S:ready`` sorted set of the ready tasks, scored ``priority * 2**32 - seq``:
  :data:`MIN_PRIORITY` to :data:`MAX_PRIORITY` keeps every score an integer
  exact in a double, so ``ZPOPMAX`` pops the highest priority, and within it the
  smallest ``seq``, a per-queue counter (``S:seq``) drawn each time a task
  becomes ready. Order within a priority wraps after 2**32 entries into ready.
- ``S:delayed`` sorted set of tasks not to hand out yet, by due time (server ms).
- ``S:leased`` sorted set of the leased tasks, by lease expiry (server ms).
- ``S:payloads`` hash task id -> payload (JSON, written once by :meth:`put`).
- ``S:meta`` hash task id -> ``"<priority> <attempts> <token> <worker> <expiry>"``
  (the lease's, ``-`` for none); a task exists while it has an entry here.

Task ids and worker ids are stored escaped (:func:`~redis_memory.keys.escape_id`).
Every operation is one Lua script on those keys: one round trip, atomic, on the
server's clock (``TIME``), never the clients'. The keys have no expiry, as in
the stream :class:`~redis_memory.workqueue.WorkQueue`: expiring them would lose
work; :meth:`~PriorityQueue.clear` deletes a queue.

Guarantees:

- A task is leased to one worker at a time: taking is one atomic script that
  pops the task and records the lease (worker, random token, expiry). Each
  ready task is handed out exactly once per lease.
- A lease holds until its expiry (server time). After it, :meth:`ack`,
  :meth:`nack` and :meth:`extend` with it return False, whether or not another
  worker took the task meanwhile: the work may be done twice, never lost.
- Each take first moves the tasks whose delay has passed to ready, and the tasks
  whose lease ran out back to ready (``attempts`` counts every hand-out), at
  most :data:`SWEEP_LIMIT` of each per call; a task coming back to ready
  (delay over, lease lost, nack, requeue) goes to the back of its priority.
- :meth:`put` with a ``task_id`` that is already queued, delayed or leased
  changes nothing: putting is idempotent while the task exists.

Events: each operation that changes a task publishes one JSON message on
``{prefix}:events:tasks`` (the channel :class:`~redis_memory.coordination.Claims`
uses) in the same script: ``{"event": "queued" | "taken" | "acked" | "nacked" |
"requeued" | "lease_expired", "queue": <name>, "task_id": <id>, "worker": <id or
null>}``.

Who holds what: each lease is listed in the holds index ``{prefix}:holds``
(:mod:`redis_memory._holds`) until its expiry. On one server the queue's scripts
keep it; on a Redis Cluster, where it lives in another slot, a second round trip
after a take, ack, nack, extension or requeue does (a failure of that step is
logged, and the queue's own state stays right).

:class:`PriorityQueue` is the sync class and :class:`AsyncPriorityQueue` its
native ``redis.asyncio`` twin, with the same method names.

Example:
    >>> from redis_memory.priorityqueue import PriorityQueue
    >>> queue = PriorityQueue("reviews", lease=60)
    >>> queue.put({"doc": "minor.txt"}, priority=1)                  # a new id
    '...'
    >>> queue.put({"doc": "urgent.txt"}, priority=9, task_id="u-1")
    'u-1'
    >>> task = queue.take("worker-a")
    >>> task.payload, task.attempts
    ({'doc': 'urgent.txt'}, 1)
    >>> queue.ack(task)
    True
    >>> queue.counts()
    {'ready': 1, 'delayed': 0, 'leased': 0}
"""

from __future__ import annotations

import operator
import os
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from . import _holds
from ._checks import milliseconds, text, whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._flow import drive, drive_async
from ._plan import Plan, Script, lua
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .errors import RedisMemoryError, SerializationError, UnexpectedDataError
from .keys import MAX_ID_BYTES, escape_id, unescape_id
from .serialization import fast_loads

T = TypeVar("T")
Seconds = int | float | timedelta
Flow = Generator[Plan[Any], Any, T]

MIN_PRIORITY = -(2**20)
MAX_PRIORITY = 2**20
DEFAULT_LEASE = 30.0
# At most this many due delayed tasks, and as many lost leases, go back to
# ready per take: a take never blocks Redis for long, however much is due.
SWEEP_LIMIT = 1000
MAX_TAKE = 1000
MAX_LEASED_LIMIT = 10_000
# Leases and delays up to ten years: every time stays an exact integer of ms.
MAX_SECONDS = 10 * 365 * 24 * 3600

# -- scripts ---------------------------------------------------------------------------
# Every script gets the same KEYS: ready, delayed, leased, payloads, meta, seq and,
# on one server only, the holds index; and the same first ARGV: the channel ('' =
# no events), the queue's name, the holds members' stem ("lease:<queue>:"). Task
# and worker ids arrive escaped (no spaces, no ':'), events carry them unescaped.
# Times and scores go through fmt('%.0f', x): Lua writes numbers with 14 digits.
# Each script defines only the helpers it uses (a Lua closure costs a little on
# every call).
_HEAD = lua("priorityqueue_head.lua")

# A task's meta: priority, attempts, then its lease's token, escaped worker and
# expiry (ms), each '-' when not leased. nil: no such task (an error if `needed`).
_META = lua("priorityqueue_meta.lua")

_EVENTS = lua("priorityqueue_events.lua")

_READY = lua("priorityqueue_ready.lua")

# Puts a task back (after a nack or a requeue): due now, or after d ms.
_BACK = _READY + lua("priorityqueue_back.lua")

# ARGV[4] id, ARGV[5] payload, ARGV[6] priority, ARGV[7] delay ms (0 = none).
# Returns 1 if queued, 0 if a task of that id exists already.
_PUT = _HEAD + _EVENTS + _READY + lua("priorityqueue_put.lua")

# ARGV[4] sweep limit, ARGV[5] escaped worker, ARGV[6] token, ARGV[7] lease ms,
# ARGV[8] how many. First due delayed tasks and lost leases go back to ready (at
# most ARGV[4] of each). Returns {expiry ms, n, then n / 2 lost leases as id and
# escaped worker, then the tasks taken as id, payload, priority, attempts}.
_TAKE = _HEAD + _META + _EVENTS + _READY + lua("priorityqueue_take.lua")

# ARGV[4] id, ARGV[5] token. Returns 1 if acked, 0 if the lease did not hold.
_ACK = _HEAD + _META + _EVENTS + lua("priorityqueue_ack.lua")

# ARGV[4] id, ARGV[5] token, ARGV[6] delay ms (0 = ready now).
_NACK = _HEAD + _META + _EVENTS + _BACK + lua("priorityqueue_nack.lua")

# ARGV[4] id, ARGV[5] token, ARGV[6] lease ms.
_EXTEND = _HEAD + _META + lua("priorityqueue_extend.lua")

# ARGV[4] id, ARGV[5] new priority ('' = keep), ARGV[6] delay ms (0 = ready now).
# Returns nil (no such task) or {1, the escaped worker whose lease was cancelled or ''}.
_REQUEUE = _HEAD + _META + _EVENTS + _BACK + lua("priorityqueue_requeue.lua")

# ARGV[4] id. Read only. Returns nil or {state, payload, priority, attempts,
# escaped worker or '', due time or lease expiry (ms) or ''}. A delay that has
# passed and a lease that ran out read as ready: the next take moves them.
_GET = _HEAD + _META + lua("priorityqueue_get.lua")

# Read only: {ready, delayed, leased} as the next take would see them.
_COUNTS = _HEAD + lua("priorityqueue_counts.lua")

# ARGV[4] at most this many. Read only: {id, expiry ms, escaped worker, attempts, ...}
# of the leases that hold, soonest to run out first.
_LEASED = _HEAD + _META + lua("priorityqueue_leased.lua")

# Deletes the queue. Returns {how many tasks it had, id, escaped worker, ...} of its
# leases, so that a cluster's second step can drop them from the holds index.
_CLEAR = _HEAD + lua("priorityqueue_clear.lua")

PUT = Script(_PUT)
TAKE = Script(_TAKE)
ACK = Script(_ACK)
NACK = Script(_NACK)
EXTEND = Script(_EXTEND)
REQUEUE = Script(_REQUEUE)
GET = Script(_GET)
COUNTS = Script(_COUNTS)
LEASED = Script(_LEASED)
CLEAR = Script(_CLEAR)


# -- results ---------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class QueuedTask:
    """A task taken from a priority queue, under a lease for ``worker``.

    ``attempts`` counts how many times the task was handed out, this time
    included (2 or more after a lease ran out or a nack). ``token`` identifies
    this lease: :meth:`PriorityQueue.ack`, :meth:`~PriorityQueue.nack` and
    :meth:`~PriorityQueue.extend` work only while it holds. ``expires_at`` is
    when the lease runs out, in seconds since the epoch on the Redis server's
    clock, as of the take (an :meth:`~PriorityQueue.extend` does not change
    this object). ``queue`` is the name of the queue it came from.
    """

    id: str
    payload: Any
    priority: int
    attempts: int
    worker: str
    token: str
    expires_at: float
    queue: str


@dataclass(frozen=True, slots=True)
class TaskInfo:
    """What :meth:`PriorityQueue.get` says about a task.

    ``state`` is ``"ready"``, ``"delayed"`` or ``"leased"`` (a delay that has
    passed, or a lease that ran out, reads as ready: the next take moves it).
    ``worker`` and ``expires_at`` are set for a leased task, ``due_at`` for a
    delayed one; times are seconds since the epoch on the server's clock.
    """

    id: str
    payload: Any
    priority: int
    attempts: int
    state: str
    worker: str | None = None
    expires_at: float | None = None
    due_at: float | None = None


@dataclass(frozen=True, slots=True)
class Lease:
    """Who holds which task (:meth:`PriorityQueue.leased`), until ``expires_at`` (server time)."""

    task_id: str
    worker: str
    attempts: int
    expires_at: float


# -- small helpers -----------------------------------------------------------------------
def _unescaped(value: Any) -> str:
    decoded = text(value)
    return unescape_id(decoded) if "%" in decoded else decoded


def _escaped(value: Any, what: str) -> str:
    """:func:`escape_id`, with a fast path for ids that need no escaping (hex ids...)."""
    if type(value) is str and value.isalnum() and value.isascii() and len(value) <= MAX_ID_BYTES:
        return value
    return escape_id(value, what=what)


def _priority(value: Any) -> int:
    what = f"a priority is a whole number from {MIN_PRIORITY} to {MAX_PRIORITY} (higher first)"
    if isinstance(value, bool):
        raise TypeError(f"{what}, not a bool: {value!r}")
    try:
        number = operator.index(value)
    except TypeError:
        raise TypeError(f"{what}, not {type(value).__name__}: {value!r}") from None
    if not MIN_PRIORITY <= number <= MAX_PRIORITY:
        raise ValueError(f"{what}; got {number}")
    return number


def _milliseconds(name: str, value: Any, *, allow_zero: bool) -> int:
    """A duration (seconds or a timedelta, at most ten years) as whole milliseconds, checked."""
    return milliseconds(name, value, allow_zero=allow_zero, maximum=MAX_SECONDS)


class _PriorityQueueCore(Engine):
    """What the sync and async priority queues share: keys, checks, plans and flows."""

    def __init__(
        self,
        name: str,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        lease: Seconds = DEFAULT_LEASE,
        publish_events: bool = True,
    ) -> None:
        escape_id(name, what="queue name")  # a bad name is named before anything else
        super().__init__(url, client, config)
        self.name = name
        self.key = self.keys.pqueue(name)
        self._lease_ms = _milliseconds("lease", lease, allow_zero=False)
        self.publish_events = bool(publish_events)
        self._loads = fast_loads(self._serializer)
        queue_keys = self.keys.pqueue_keys(name)
        self._cluster_keys = queue_keys
        self._server_keys = [*queue_keys, self.keys.holds()]
        channel = self.channel if self.publish_events else ""
        self._head = [channel, name, _holds.lease_prefix(name)]

    @property
    def lease(self) -> float:
        """The default lease, in seconds."""
        return self._lease_ms / 1000

    @property
    def channel(self) -> str:
        """The pub/sub channel on which task events are published."""
        return self.keys.tasks_channel()

    # -- plans ------------------------------------------------------------------------
    def _script(
        self,
        doing: str,
        script: Script,
        args: list[Any],
        finish: Callable[[list[Any]], T],
        cluster: bool,
        advice: str = "",
    ) -> Plan[T]:
        keys = self._cluster_keys if cluster else self._server_keys
        return Plan(
            doing, self.key, finish, script=(script, keys, [*self._head, *args]), advice=advice
        )

    def _decode(self, raw: Any, task_id: str) -> Any:
        try:
            return self._loads(raw)
        except Exception:
            try:
                return self._serializer.loads(raw)
            except Exception as exc:
                raise UnexpectedDataError(
                    f"{self.key}:payloads holds an unreadable payload for task {task_id!r}: {exc}"
                ) from exc

    def _plan_put(
        self,
        payload: Any,
        priority: int,
        delay: Seconds | None,
        task_id: str | None,
        cluster: bool,
    ) -> Plan[str]:
        ident = uuid.uuid4().hex if task_id is None else task_id
        escaped = _escaped(ident, "task id")
        level = _priority(priority)
        wait = 0 if delay is None else _milliseconds("delay", delay, allow_zero=True)
        try:
            encoded = self._serializer.dumps(payload)
        except SerializationError as exc:
            raise SerializationError(f"the task's payload cannot be queued: {exc}") from exc
        advice = (
            ""
            if task_id is not None
            else "The task may have been queued: pass task_id= to put() so that a retry "
            "cannot queue it twice."
        )
        return self._script(
            "queueing a task",
            PUT,
            [escaped, encoded, level, wait],
            lambda _: ident,
            cluster,
            advice,
        )

    def _lease(self, lease: Seconds | None) -> int:
        if lease is None:
            return self._lease_ms
        return _milliseconds("lease", lease, allow_zero=False)

    def _plan_take(
        self, worker: str, count: int, milliseconds: int, cluster: bool
    ) -> Plan[tuple[list[QueuedTask], list[Any]]]:
        """Take up to ``count`` tasks; also returns the lost leases (escaped id, worker, ...)."""
        escaped = _escaped(worker, "worker id")
        token = os.urandom(12).hex()
        name = self.name

        def finish(replies: list[Any]) -> tuple[list[QueuedTask], list[Any]]:
            reply = replies[0]
            expires_at = int(reply[0]) / 1000
            start = 2 + int(reply[1])
            tasks = []
            for i in range(start, len(reply), 4):
                ident = _unescaped(reply[i])
                tasks.append(
                    QueuedTask(
                        ident,
                        self._decode(reply[i + 1], ident),
                        int(reply[i + 2]),
                        int(reply[i + 3]),
                        worker,
                        token,
                        expires_at,
                        name,
                    )
                )
            return tasks, reply[2:start]

        return self._script(
            "taking a task",
            TAKE,
            [SWEEP_LIMIT, escaped, token, milliseconds, count],
            finish,
            cluster,
            "A task may have been leased to this worker without its knowing: it goes back "
            "to the queue when the lease runs out.",
        )

    def _held(self, task: Any) -> tuple[str, str]:
        """The escaped id of a task taken from this queue, and its token."""
        if not isinstance(task, QueuedTask):
            raise TypeError(
                "ack(), nack() and extend() take the QueuedTask that take() returned (it "
                f"carries the lease's token), not {type(task).__name__}: {task!r}"
            )
        if task.queue != self.name:
            raise ValueError(
                f"task {task.id!r} was taken from queue {task.queue!r}, not {self.name!r}: "
                "use that queue's object"
            )
        return _escaped(task.id, "task id"), task.token

    def _member(self, task_id: str, worker: str) -> str:
        return _holds.member(_holds.LEASE, task_id, worker, queue=self.name)

    # -- flows (on a cluster: the holds index in a second step) ---------------------------
    def _hold(self, member: str, milliseconds: int) -> Flow[None]:
        return _holds.hold(self.keys, member, milliseconds)

    def _let_go(self, member: str) -> Flow[None]:
        return _holds.let_go(self.keys, member)

    def _take_flow(
        self, worker: str, count: int, lease: Seconds | None, cluster: bool
    ) -> Flow[list[QueuedTask]]:
        milliseconds = self._lease(lease)
        tasks, lost = yield self._plan_take(worker, count, milliseconds, cluster)
        if cluster:
            for i in range(0, len(lost), 2):
                yield from self._let_go(self._member(_unescaped(lost[i]), _unescaped(lost[i + 1])))
            for task in tasks:
                yield from self._hold(self._member(task.id, worker), milliseconds)
        return tasks

    def _ack_flow(self, task: QueuedTask, cluster: bool) -> Flow[bool]:
        escaped, token = self._held(task)
        plan = self._script(
            "acknowledging a task", ACK, [escaped, token], lambda r: bool(r[0]), cluster
        )
        done: bool = yield plan
        if done and cluster:
            yield from self._let_go(self._member(task.id, task.worker))
        return done

    def _nack_flow(self, task: QueuedTask, delay: Seconds | None, cluster: bool) -> Flow[bool]:
        escaped, token = self._held(task)
        wait = 0 if delay is None else _milliseconds("delay", delay, allow_zero=True)
        plan = self._script(
            "giving a task back", NACK, [escaped, token, wait], lambda r: bool(r[0]), cluster
        )
        done: bool = yield plan
        if done and cluster:
            yield from self._let_go(self._member(task.id, task.worker))
        return done

    def _extend_flow(self, task: QueuedTask, lease: Seconds | None, cluster: bool) -> Flow[bool]:
        escaped, token = self._held(task)
        milliseconds = self._lease(lease)
        plan = self._script(
            "extending a lease",
            EXTEND,
            [escaped, token, milliseconds],
            lambda r: bool(r[0]),
            cluster,
        )
        done: bool = yield plan
        if done and cluster:
            yield from self._hold(self._member(task.id, task.worker), milliseconds)
        return done

    def _requeue_flow(
        self, task_id: str, priority: int | None, delay: Seconds | None, cluster: bool
    ) -> Flow[bool]:
        escaped = _escaped(task_id, "task id")
        level = "" if priority is None else _priority(priority)
        wait = 0 if delay is None else _milliseconds("delay", delay, allow_zero=True)
        reply = yield self._script(
            "requeueing a task", REQUEUE, [escaped, level, wait], lambda r: r[0], cluster
        )
        if reply is None:
            return False
        holder = _unescaped(reply[1])
        if holder and cluster:
            yield from self._let_go(self._member(task_id, holder))
        return True

    def _plan_get(self, task_id: str, cluster: bool) -> Plan[TaskInfo | None]:
        escaped = _escaped(task_id, "task id")

        def finish(replies: list[Any]) -> TaskInfo | None:
            reply = replies[0]
            if reply is None:
                return None
            state, raw, priority, attempts, worker, at = reply
            state = text(state)
            when = float(at) / 1000 if text(at) else None
            return TaskInfo(
                task_id,
                self._decode(raw, task_id),
                int(priority),
                int(attempts),
                state,
                _unescaped(worker) if state == "leased" else None,
                when if state == "leased" else None,
                when if state == "delayed" else None,
            )

        return self._script("reading a task", GET, [escaped], finish, cluster)

    def _plan_counts(self, cluster: bool) -> Plan[dict[str, int]]:
        def finish(replies: list[Any]) -> dict[str, int]:
            ready, delayed, leased = (int(n) for n in replies[0])
            return {"ready": ready, "delayed": delayed, "leased": leased}

        return self._script("counting tasks", COUNTS, [], finish, cluster)

    def _plan_leased(self, limit: int, cluster: bool) -> Plan[list[Lease]]:
        whole("limit", limit, 1)
        if limit > MAX_LEASED_LIMIT:
            raise ValueError(f"limit must be at most {MAX_LEASED_LIMIT}, got {limit}")

        def finish(replies: list[Any]) -> list[Lease]:
            flat = replies[0]
            return [
                Lease(
                    _unescaped(flat[i]),
                    _unescaped(flat[i + 2]),
                    int(flat[i + 3]),
                    float(flat[i + 1]) / 1000,
                )
                for i in range(0, len(flat), 4)
            ]

        return self._script("listing leases", LEASED, [limit], finish, cluster)

    def _clear_flow(self, cluster: bool) -> Flow[int]:
        reply = yield self._script("clearing a queue", CLEAR, [], lambda r: r[0], cluster)
        if cluster:
            for i in range(1, len(reply), 2):
                member = self._member(_unescaped(reply[i]), _unescaped(reply[i + 1]))
                yield from self._let_go(member)
        return int(reply[0])


def _count(count: int) -> int:
    return whole("count", count, 1, maximum=MAX_TAKE)


def _one(tasks: list[QueuedTask]) -> QueuedTask | None:
    return tasks[0] if tasks else None


class PriorityQueue(_PriorityQueueCore, SyncRunner):
    """A priority queue of leased tasks between agents (see :mod:`redis_memory.priorityqueue`).

    Args:
        name: The queue's name; producers and workers of one queue use the same.
        url, client, config: Where the data lives (as everywhere in this package).
        lease: How long a taken task stays with its worker unless extended, in
            seconds or a ``timedelta`` (30 s by default); ``take(lease=)``
            overrides it per call.
        publish_events: Announce every change on :attr:`channel`
            (``{prefix}:events:tasks``) in the same round trip.

    Workers are named by the caller ("worker-1"). Priorities are whole numbers
    from :data:`MIN_PRIORITY` to :data:`MAX_PRIORITY`; higher goes first.

    Example:
        >>> from redis_memory.priorityqueue import PriorityQueue
        >>> queue = PriorityQueue("triage", lease=30)
        >>> _ = queue.put({"ticket": 1}, priority=0)
        >>> _ = queue.put({"ticket": 2}, priority=5)
        >>> task = queue.take("agent-a")
        >>> task.payload
        {'ticket': 2}
        >>> queue.extend(task, lease=60)
        True
        >>> queue.nack(task, delay=5)     # not now: back to the queue in 5 s
        True
        >>> queue.ack(task)               # that lease is over
        False
    """

    def _drive(self, flow: Flow[T]) -> T:
        return drive(flow, self._run, (RedisMemoryError,))

    def put(
        self,
        payload: Any,
        *,
        priority: int = 0,
        delay: Seconds | None = None,
        task_id: str | None = None,
    ) -> str:
        """Queue a task (any JSON value that reads back equal); returns its id.

        ``priority``: higher is taken first; equal priorities first in, first
        out. ``delay`` (seconds or a ``timedelta``): not handed out before it
        has passed. ``task_id``: your own id (any non-empty str up to 512
        bytes), else a random one; putting an id that is queued, delayed or
        leased already returns it and changes nothing (idempotent), so a put
        with an id is safe to retry. A payload that cannot be stored raises
        :class:`~redis_memory.errors.SerializationError` and queues nothing.
        """
        return self._run(self._plan_put(payload, priority, delay, task_id, self._cluster))

    def take(self, worker: str, *, lease: Seconds | None = None) -> QueuedTask | None:
        """Lease the ready task of the highest priority to ``worker``; None if none is ready.

        Due delayed tasks and tasks whose lease ran out are made ready first, in
        the same atomic round trip. ``lease`` overrides the queue's default.
        """
        return _one(self._drive(self._take_flow(worker, 1, lease, self._cluster)))

    def take_many(
        self, worker: str, count: int, *, lease: Seconds | None = None
    ) -> list[QueuedTask]:
        """Lease up to ``count`` (at most 1,000) ready tasks at once, highest priority first.

        One round trip; on a Redis Cluster each lease is then indexed in the
        holds index in a round trip of its own.
        """
        return self._drive(self._take_flow(worker, _count(count), lease, self._cluster))

    def ack(self, task: QueuedTask) -> bool:
        """The task is done: delete it. Only while its lease holds.

        False when the lease is over (it ran out, or the task was requeued or
        cleared): the task may have been handed to another worker meanwhile.
        """
        return self._drive(self._ack_flow(task, self._cluster))

    def nack(self, task: QueuedTask, *, delay: Seconds | None = None) -> bool:
        """Give the task back: ready again now, or after ``delay``. Only while its lease holds."""
        return self._drive(self._nack_flow(task, delay, self._cluster))

    def extend(self, task: QueuedTask, *, lease: Seconds | None = None) -> bool:
        """Restart the task's lease (to ``lease``, else the queue's); False if it is over."""
        return self._drive(self._extend_flow(task, lease, self._cluster))

    def requeue(
        self, task_id: str, *, priority: int | None = None, delay: Seconds | None = None
    ) -> bool:
        """Put a task back to ready (or delayed by ``delay``), whoever holds it.

        For operators: a leased task's lease is cancelled (its worker's ack
        returns False), a delayed task is ready at once; ``priority`` sets a new
        priority. The task goes to the back of its priority. False if there is no
        such task.
        """
        return self._drive(self._requeue_flow(task_id, priority, delay, self._cluster))

    def get(self, task_id: str) -> TaskInfo | None:
        """A task's payload, priority, attempts and state; None if there is no such task."""
        return self._run(self._plan_get(task_id, self._cluster))

    def counts(self) -> dict[str, int]:
        """``{"ready": n, "delayed": n, "leased": n}`` as the next take would find them."""
        return self._run(self._plan_counts(self._cluster))

    def leased(self, *, limit: int = 100) -> list[Lease]:
        """Who holds which task: up to ``limit`` live leases, soonest to run out first."""
        return self._run(self._plan_leased(limit, self._cluster))

    def clear(self) -> int:
        """Delete the queue and all its tasks; returns how many there were."""
        return self._drive(self._clear_flow(self._cluster))


@twin_of(PriorityQueue)
class AsyncPriorityQueue(_PriorityQueueCore, AsyncRunner):
    """The priority queue on ``redis.asyncio``: :class:`PriorityQueue`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.priorityqueue import AsyncPriorityQueue
        >>> async def main():
        ...     queue = AsyncPriorityQueue("triage")
        ...     await queue.put({"ticket": 3}, priority=2)
        ...     task = await queue.take("agent-b")
        ...     await queue.ack(task)
        ...     return task.payload
        >>> asyncio.run(main())
        {'ticket': 3}
    """

    async def _drive(self, flow: Flow[T]) -> T:
        return await drive_async(flow, self._run, (RedisMemoryError,))

    async def put(
        self,
        payload: Any,
        *,
        priority: int = 0,
        delay: Seconds | None = None,
        task_id: str | None = None,
    ) -> str:
        return await self._run(self._plan_put(payload, priority, delay, task_id, self._cluster))

    async def take(self, worker: str, *, lease: Seconds | None = None) -> QueuedTask | None:
        return _one(await self._drive(self._take_flow(worker, 1, lease, self._cluster)))

    async def take_many(
        self, worker: str, count: int, *, lease: Seconds | None = None
    ) -> list[QueuedTask]:
        return await self._drive(self._take_flow(worker, _count(count), lease, self._cluster))

    async def ack(self, task: QueuedTask) -> bool:
        return await self._drive(self._ack_flow(task, self._cluster))

    async def nack(self, task: QueuedTask, *, delay: Seconds | None = None) -> bool:
        return await self._drive(self._nack_flow(task, delay, self._cluster))

    async def extend(self, task: QueuedTask, *, lease: Seconds | None = None) -> bool:
        return await self._drive(self._extend_flow(task, lease, self._cluster))

    async def requeue(
        self, task_id: str, *, priority: int | None = None, delay: Seconds | None = None
    ) -> bool:
        return await self._drive(self._requeue_flow(task_id, priority, delay, self._cluster))

    async def get(self, task_id: str) -> TaskInfo | None:
        return await self._run(self._plan_get(task_id, self._cluster))

    async def counts(self) -> dict[str, int]:
        return await self._run(self._plan_counts(self._cluster))

    async def leased(self, *, limit: int = 100) -> list[Lease]:
        return await self._run(self._plan_leased(limit, self._cluster))

    async def clear(self) -> int:
        return await self._drive(self._clear_flow(self._cluster))


__all__ = [
    "MAX_PRIORITY",
    "MIN_PRIORITY",
    "AsyncPriorityQueue",
    "Lease",
    "PriorityQueue",
    "QueuedTask",
    "TaskInfo",
]
