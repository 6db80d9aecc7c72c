"""Coordination between agents: task claims, shared findings, locks and events.

Several agents (threads, processes, machines) share one Redis and divide the
work between them:

- :class:`Claims`: an agent claims a task before working on it; exactly one
  claimant wins. A claim is ``SET {prefix}:task:{<id>}:owner <owner> NX PX <ttl>``
  and expires unless its owner extends it, so the task of an agent that died is
  free again after the claims TTL (``config.ttl.claims``, 60 s by default).
  Extending and releasing compare the owner inside a Lua script, so an owner
  whose claim expired can never extend or release a claim someone else took.
- :class:`Findings`: what the agents found out about a task, one JSON entry per
  finding (with its author and time) in the list ``{prefix}:task:{<id>}:findings``,
  capped to the newest ``max_findings``. A finding may carry a ``subject`` and a
  ``verdict``; when two authors file different verdicts on one subject of a task,
  that is a :class:`Conflict`: listed by ``conflicts(task_id)``, announced once,
  and settled by ``resolve(...)``, whose :class:`Decision` (who decided, which
  verdict, why) is kept with the subject (``{prefix}:task:{<id>}:verdicts``) and
  appended to the findings.
- :class:`DistributedLock`: a mutual-exclusion lock at ``{prefix}:lock:<name>``
  with an owner token and an expiry, used as ``with lock:``.
- Events: claiming, releasing and adding a finding announce themselves on the
  pub/sub channel ``{prefix}:events:tasks`` (:attr:`Claims.channel`) in the same
  round trip, as small JSON objects
  (``{"event": "claimed" | "released" | "finding" | "conflict" | "resolved",
  "task_id": ..., ...}``),
  so agents can follow each other without polling.

Each class has a native ``redis.asyncio`` twin with the same method names
(:class:`AsyncClaims`, :class:`AsyncFindings`, :class:`AsyncDistributedLock`);
both twins build their commands in one shared core.

Owners are plain strings chosen by the agents ("researcher-1"). Two agents
that use the same owner string are one owner to Redis: give each agent process
its own (a name plus a random suffix, for instance).

Example:
    >>> from redis_memory.coordination import Claims
    >>> claims = Claims(url="embedded")                      # doctest: +SKIP
    >>> claims.claim("task-1", "agent-a")                    # doctest: +SKIP
    True
    >>> claims.claim("task-1", "agent-b")                    # doctest: +SKIP
    False
    >>> claims.release("task-1", "agent-a")                  # doctest: +SKIP
    True
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import math
import random
import threading
import time
import uuid
from collections.abc import Generator, Hashable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import Any, Self, TypeVar

from . import _holds, metrics
from ._checks import whole
from ._cluster import is_cluster
from ._execute import execute, execute_async
from ._flow import Sleep, drive, drive_async
from ._plan import Plan, Script
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .errors import RedisMemoryError, RedisUnavailableError, SerializationError
from .keys import KeySchema, escape_id
from .serialization import JSONSerializer
from .ttl import TTL

T = TypeVar("T")
Seconds = int | float | timedelta
Flow = Generator[Plan[Any], Any, None]

TASKS_TOPIC = "tasks"
DEFAULT_MAX_FINDINGS = 1000
MAX_CLAIM_ANY = 1000


class LockError(RedisMemoryError, RuntimeError):
    """A lock was used in a way that cannot work (re-entered, or lost while held)."""


class LockLostError(LockError):
    """The lock expired while its block ran: another owner may have run at the same time.

    Raised when a ``with lock:`` block ends after the lock's ``timeout``. The
    other owner's lock (if any) is left alone. Give the lock a longer
    ``timeout``, or call :meth:`DistributedLock.extend` during long work.
    """


class LockTimeoutError(RedisMemoryError, TimeoutError):
    """The lock could not be acquired within ``blocking_timeout``."""


# -- scripts (shared by claims and locks) -------------------------------------------
# A claim's scripts also keep the index of what agents hold (redis_memory._holds)
# when given its key as the last of KEYS: on one server only, since on a cluster
# it lives in another slot (the claim's flow then indexes in a second step).

# KEYS[1] the key, KEYS[2] the holds index (optional); ARGV[1] the owner;
# ARGV[2] milliseconds ('' = no expiry); ARGV[3] the channel ('' = no event);
# ARGV[4] the event; ARGV[5] the index member.
_CLAIM = _holds.with_index("""
local ok
if ARGV[2] == '' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if not ok then return 0 end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
if KEYS[2] then
  local holds, member, ms = KEYS[2], ARGV[5], ARGV[2]
  --[[index]]
end
return 1
""")

# KEYS: the n candidate keys in order, then the holds index (optional);
# ARGV[1] owner, ARGV[2] ms, ARGV[3] channel, ARGV[4] n, ARGV[4 + i] the event of
# KEYS[i], ARGV[4 + n + i] its index member. Returns the 1-based index claimed, or 0.
_CLAIM_ANY = _holds.with_index("""
local n = tonumber(ARGV[4])
for i = 1, n do
  local ok
  if ARGV[2] == '' then
    ok = redis.call('SET', KEYS[i], ARGV[1], 'NX')
  else
    ok = redis.call('SET', KEYS[i], ARGV[1], 'NX', 'PX', ARGV[2])
  end
  if ok then
    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4 + i]) end
    if KEYS[n + 1] then
      local holds, member, ms = KEYS[n + 1], ARGV[4 + n + i], ARGV[2]
      --[[index]]
    end
    return i
  end
end
return 0
""")

# KEYS[1] the key, KEYS[2] the holds index (optional); ARGV[1] the owner;
# ARGV[2] channel ('' = none); ARGV[3] event; ARGV[4] the index member.
_RELEASE = _holds.with_index("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
if KEYS[2] then
  local holds, member = KEYS[2], ARGV[4]
  --[[unindex]]
end
return 1
""")

# KEYS[1] the key, KEYS[2] the holds index (optional); ARGV[1] the owner;
# ARGV[2] milliseconds ('' = no expiry); ARGV[3] the index member.
_EXTEND = _holds.with_index("""
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
if KEYS[2] then
  local holds, member, ms = KEYS[2], ARGV[3], ARGV[2]
  --[[index]]
end
return 1
""")

CLAIM = Script(_CLAIM)
CLAIM_ANY = Script(_CLAIM_ANY)
RELEASE = Script(_RELEASE)
EXTEND = Script(_EXTEND)


# -- small helpers -----------------------------------------------------------------
def _checked(value: str, what: str) -> str:
    """Validate a user-supplied name (str, non-empty, <= 512 bytes) and return it as is."""
    escape_id(value, what=what)
    return value


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def _milliseconds(ttl: TTL | Seconds | None, default: TTL) -> int | None:
    """The expiry in ms for a ``ttl=`` argument: None takes the default; a TTL(None) none."""
    if ttl is None:
        return default.milliseconds
    return TTL.of(ttl).milliseconds


def _ms_arg(milliseconds: int | None) -> int | str:
    return "" if milliseconds is None else milliseconds


class _Core:
    """Connection, key schema and serializer: what every coordination twin starts from."""

    def __init__(
        self,
        *,
        url: str | None,
        client: SyncClient | AsyncClient | None,
        config: RedisMemoryConfig | None,
    ) -> None:
        self._clients = RedisClients.shared(url=url, client=client, config=config)
        self.config: RedisMemoryConfig = self._clients.config
        self.keys: KeySchema = self.config.keys
        self._serializer = self.config.checked_serializer

    def _url(self) -> str:
        return self._clients.masked_url()

    @property
    def channel(self) -> str:
        """The pub/sub channel on which task events are published."""
        return self.keys.channel(TASKS_TOPIC)

    def _event(self, **fields: Any) -> bytes:
        return self._serializer.dumps(fields)


# ===================================================================================
# Claims
# ===================================================================================
class _ClaimsCore(_Core):
    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        publish_events: bool = True,
    ) -> None:
        super().__init__(url=url, client=client, config=config)
        self.publish_events = bool(publish_events)
        self._ttl = self.config.ttl.claims

    def _claim_plan(
        self, task_id: str, owner: str, milliseconds: int | None, cluster: bool
    ) -> Plan[bool]:
        key = self.keys.task_owner(task_id)
        owner = _checked(owner, "owner")
        if cluster and not self.publish_events:
            expiry = () if milliseconds is None else ("PX", milliseconds)
            command = ("SET", key, owner, "NX", *expiry)
            return Plan("claiming a task", key, lambda r: bool(r[0]), [command])
        channel, event = self._announce("claimed", task_id, owner)
        args = [owner, _ms_arg(milliseconds), channel, event]
        keys = [key]
        if not cluster:
            keys.append(self.keys.holds())
            args.append(_holds.member(_holds.CLAIM, task_id, owner))
        return Plan("claiming a task", key, lambda r: bool(r[0]), script=(CLAIM, keys, args))

    def _announce(self, event: str, task_id: str, owner: str) -> tuple[str, bytes | str]:
        if not self.publish_events:
            return "", ""
        return self.channel, self._event(event=event, task_id=task_id, owner=owner)

    def _indexed(self, won: bool, entry: str, milliseconds: int | None, cluster: bool) -> Flow:
        """A cluster's second step after a claim or an extension: the holds index."""
        if won and cluster:
            yield from _holds.hold(self.keys, entry, milliseconds)

    def _claim_flow(
        self, task_id: str, owner: str, ttl: TTL | Seconds | None, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        milliseconds = _milliseconds(ttl, self._ttl)
        won = bool((yield self._claim_plan(task_id, owner, milliseconds, cluster)))
        metrics.claim(won)
        entry = _holds.member(_holds.CLAIM, task_id, owner)
        yield from self._indexed(won, entry, milliseconds, cluster)
        return won

    def _plan_claim_any(
        self, ids: builtins.list[str], owner: str, milliseconds: int | None
    ) -> Plan[str | None]:
        keys = [self.keys.task_owner(task_id) for task_id in ids]
        owner = _checked(owner, "owner")
        if not keys:
            return Plan("claiming a task", "", lambda _: None, [])
        announced = [self._announce("claimed", task_id, owner) for task_id in ids]
        members = [_holds.member(_holds.CLAIM, task_id, owner) for task_id in ids]
        args = [owner, _ms_arg(milliseconds), announced[0][0], len(ids)]
        args += [event for _, event in announced] + members
        return Plan(
            "claiming a task",
            keys[0],
            lambda r: ids[int(r[0]) - 1] if int(r[0]) else None,
            script=(CLAIM_ANY, [*keys, self.keys.holds()], args),
        )

    def _claim_any_flow(
        self, task_ids: Iterable[str], owner: str, ttl: TTL | Seconds | None, cluster: bool
    ) -> Generator[Plan[Any], Any, str | None]:
        if isinstance(task_ids, str | bytes):
            raise TypeError("task_ids must be a list of task ids, not a single str")
        ids = builtins.list(task_ids)
        if len(ids) > MAX_CLAIM_ANY:
            raise ValueError(f"claim_any takes at most {MAX_CLAIM_ANY} task ids, got {len(ids)}")
        milliseconds = _milliseconds(ttl, self._ttl)
        plan = self._plan_claim_any(ids, owner, milliseconds)  # checks every id, sends nothing
        if not cluster:
            claimed: str | None = yield plan
            metrics.claim(claimed is not None)
            return claimed
        # On a cluster each task's keys live in their own slot: one claim after another.
        for task_id in ids:
            if (yield from self._claim_flow(task_id, owner, ttl, cluster)):
                return task_id
        return None

    def _plan_owner(self, task_id: str) -> Plan[str | None]:
        key = self.keys.task_owner(task_id)
        return Plan("reading a task's owner", key, lambda r: _text(r[0]), [("GET", key)])

    def _extend_flow(
        self, task_id: str, owner: str, ttl: TTL | Seconds | None, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        key = self.keys.task_owner(task_id)
        milliseconds = _milliseconds(ttl, self._ttl)
        entry = _holds.member(_holds.CLAIM, task_id, _checked(owner, "owner"))
        keys, args = [key], [owner, _ms_arg(milliseconds)]
        if not cluster:
            keys.append(self.keys.holds())
            args.append(entry)
        plan = Plan("extending a claim", key, lambda r: bool(r[0]), script=(EXTEND, keys, args))
        extended = bool((yield plan))
        yield from self._indexed(extended, entry, milliseconds, cluster)
        return extended

    def _release_flow(
        self, task_id: str, owner: str, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        key = self.keys.task_owner(task_id)
        entry = _holds.member(_holds.CLAIM, task_id, _checked(owner, "owner"))
        channel, event = self._announce("released", task_id, owner)
        keys, args = [key], [owner, channel, event]
        if not cluster:
            keys.append(self.keys.holds())
            args.append(entry)
        plan = Plan("releasing a claim", key, lambda r: bool(r[0]), script=(RELEASE, keys, args))
        released = bool((yield plan))
        if released and cluster:
            yield from _holds.let_go(self.keys, entry)
        return released


class Claims(_ClaimsCore):
    """Task claims: exactly one agent owns a task until it releases it or the claim expires.

    Args:
        url, client, config: Where the data lives (as everywhere in this package).
        publish_events: Announce each successful claim and release on
            :attr:`channel` (``{prefix}:events:tasks``) as JSON
            ``{"event": "claimed" | "released", "task_id": ..., "owner": ...}``,
            in the same round trip.

    Each claim is also listed in the index of what agents hold
    (``{prefix}:holds``), which :meth:`Presence.doing
    <redis_memory.presence.Presence.doing>` reads: in the claim's own script on
    one server, in a second round trip on a cluster (the index lives in another
    slot), where a quiet claim is one plain ``SET ... NX PX``.

    ``ttl=`` arguments take seconds, a ``timedelta`` or a :class:`~redis_memory.TTL`;
    left out, they are ``config.ttl.claims`` (60 s by default). Expiry is what
    frees the task of an agent that crashed: an agent working longer than the
    TTL calls :meth:`extend` from time to time.

    Example:
        >>> from redis_memory.coordination import Claims
        >>> claims = Claims(url="embedded")                         # doctest: +SKIP
        >>> claims.claim("summarize-doc-7", "agent-a", ttl=30)      # doctest: +SKIP
        True
        >>> claims.claim("summarize-doc-7", "agent-b")              # doctest: +SKIP
        False
        >>> claims.owner("summarize-doc-7")                         # doctest: +SKIP
        'agent-a'
        >>> claims.extend("summarize-doc-7", "agent-a", ttl=30)     # doctest: +SKIP
        True
        >>> claims.release("summarize-doc-7", "agent-b")            # doctest: +SKIP
        False
        >>> claims.release("summarize-doc-7", "agent-a")            # doctest: +SKIP
        True
    """

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

    def _drive(self, flow: Generator[Plan[Any], Any, T]) -> T:
        return drive(flow, self._run, (RedisMemoryError,))

    @property
    def _cluster(self) -> bool:
        return is_cluster(self._clients.sync)

    def claim(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Claim a free task for ``owner``; True if this call got it, False if it is taken."""
        return self._drive(self._claim_flow(task_id, owner, ttl, self._cluster))

    def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTL | Seconds | None = None
    ) -> str | None:
        """Claim the first free task of ``task_ids`` (in order) in one atomic step.

        Returns the task id claimed, or None when all are taken. On Redis
        Cluster the tasks are tried one after another (they live in different slots).
        """
        return self._drive(self._claim_any_flow(task_ids, owner, ttl, self._cluster))

    def owner(self, task_id: str) -> str | None:
        """Who holds the task now, or None if nobody does (never claimed, released, expired)."""
        return self._run(self._plan_owner(task_id))

    def extend(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Restart the claim's lifetime (to ``ttl``); only while ``owner`` still holds it."""
        return self._drive(self._extend_flow(task_id, owner, ttl, self._cluster))

    def release(self, task_id: str, owner: str) -> bool:
        """Free the task; only ``owner``'s own, live claim is released. True if it was."""
        return self._drive(self._release_flow(task_id, owner, self._cluster))


class AsyncClaims(_ClaimsCore):
    """Task claims on ``redis.asyncio``: :class:`Claims`' twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncClaims
        >>> async def main():
        ...     claims = AsyncClaims(url="embedded")
        ...     won = await claims.claim("task-9", "agent-a")
        ...     await claims.release("task-9", "agent-a")
        ...     return won
        >>> asyncio.run(main())                                    # doctest: +SKIP
        True
    """

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self._url)

    async def _drive(self, flow: Generator[Plan[Any], Any, T]) -> T:
        return await drive_async(flow, self._run, (RedisMemoryError,))

    @property
    def _cluster(self) -> bool:
        return is_cluster(self._clients.async_)

    async def claim(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Claim a free task for ``owner``; True if this call got it, False if it is taken."""
        return await self._drive(self._claim_flow(task_id, owner, ttl, self._cluster))

    async def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTL | Seconds | None = None
    ) -> str | None:
        """Claim the first free task of ``task_ids`` (in order) in one atomic step."""
        return await self._drive(self._claim_any_flow(task_ids, owner, ttl, self._cluster))

    async def owner(self, task_id: str) -> str | None:
        """Who holds the task now, or None if nobody does (never claimed, released, expired)."""
        return await self._run(self._plan_owner(task_id))

    async def extend(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Restart the claim's lifetime (to ``ttl``); only while ``owner`` still holds it."""
        return await self._drive(self._extend_flow(task_id, owner, ttl, self._cluster))

    async def release(self, task_id: str, owner: str) -> bool:
        """Free the task; only ``owner``'s own, live claim is released. True if it was."""
        return await self._drive(self._release_flow(task_id, owner, self._cluster))


# ===================================================================================
# Findings
# ===================================================================================
@dataclass(frozen=True, slots=True)
class Finding:
    """One finding about a task: the value an agent shared, who shared it, and when.

    ``subject`` and ``verdict`` are set on a finding that takes a side on a
    subject (``Findings.add(..., subject=, verdict=)``) and on the finding that
    records a decision (:meth:`Findings.resolve`); None on any other finding.
    ``decision`` is True on the finding that records a decision (its value is
    ``{"decision": verdict, "reason": reason}``); entries written before it
    existed read as False.
    """

    value: Any
    author: str | None
    ts: float
    subject: str | None = None
    verdict: Any = None
    decision: bool = False


@dataclass(frozen=True, slots=True)
class Decision:
    """How a conflict was settled: the verdict that stands, who decided it, why, and when."""

    verdict: Any
    decided_by: str
    reason: str
    ts: float


@dataclass(frozen=True, slots=True)
class Conflict:
    """Agents filed different verdicts on one subject of a task.

    Attributes:
        task_id, subject: What the agents disagree about.
        verdicts: Each author's latest verdict on the subject since the last
            decision (authors who agree are listed too).
        opened: When the differing verdict came in (``time.time()``).
        decision: How the conflict was settled; None while it is open.
        reopens: The earlier decision that this conflict disputes (a verdict
            differing from it came in after it), or None.
    """

    task_id: str
    subject: str
    verdicts: dict[str, Any]
    opened: float
    decision: Decision | None = None
    reopens: Decision | None = None

    @property
    def resolved(self) -> bool:
        """Whether a decision settled the conflict."""
        return self.decision is not None


@dataclass(frozen=True, slots=True)
class VerdictAdded:
    """What a verdict did (:meth:`Findings.add_verdict`), as the script that recorded it saw it.

    Attributes:
        count: How many findings the task has now.
        conflict: The subject's open conflict after the verdict, or None when
            nobody differs from it (no author, no standing decision).
        opened: Whether this verdict opened ``conflict``; False when it joined
            a conflict already open, or when there is none.
    """

    count: int
    conflict: Conflict | None
    opened: bool


class NoConflictError(RedisMemoryError, LookupError):
    """A decision was asked for a subject that has no open conflict.

    Raised by ``resolve()``: nobody disagreed on that subject of that task, a
    decision settled it already (perhaps another agent's, a moment before), or
    its verdicts expired with the task's findings.
    """


# -- disagreements -------------------------------------------------------------------
# A task's verdicts hash ({prefix}:task:{<id>}:verdicts, the findings' slot) has one
# field per subject: "s:" followed by the subject itself (hash fields are binary-safe,
# so no subject reaches another's field, and authors live inside the value). The value
# is a JSON record written by the scripts with cjson; every leaf is a string, so cjson
# never rounds a number: verdicts are their canonical JSON text, times Python's repr.
#   {"v": {author: verdict, ...},     each author's latest verdict since the last decision
#    "c": time,                       while a conflict is open: when it opened
#    "r": {"v": {...}, "c": time,     the last resolved conflict: its verdicts, opening,
#          "d": {"v": verdict, "by": who, "why": reason, "ts": time},  its decision,
#          "p": {...}}}               and the earlier decision it reopened, if any
# A subject is in conflict when its verdicts and its standing decision ("r"."d"."v")
# hold two different texts. Both scripts read (and refuse a damaged record) before
# they write anything, and write the findings list first (the one write that may meet
# a key of another type), so a refusal leaves nothing half written.
# KEYS[1] the findings, KEYS[2] the verdicts; ARGV[1] the finding's entry, ARGV[2] the
# findings kept, ARGV[3] the TTL in ms ('' = none), ARGV[4] the subject's field.
_SUBJECT_RECORD = """
local function read_record()
  local raw = redis.call('HGET', KEYS[2], ARGV[4])
  if not raw then return nil end
  local ok, record = pcall(cjson.decode, raw)
  if not ok or type(record) ~= 'table' or type(record.v) ~= 'table' then
    error({err = 'RMEM_DATA ' .. KEYS[2] .. ' holds a record of a subject that '
      .. 'redis-memory-backend did not write; delete the key (the task verdicts)'})
  end
  return record
end
local function keep(record, entry)
  local n = redis.call('RPUSH', KEYS[1], entry)
  redis.call('LTRIM', KEYS[1], -tonumber(ARGV[2]), -1)
  local raw = cjson.encode(record)
  redis.call('HSET', KEYS[2], ARGV[4], raw)
  if ARGV[3] ~= '' then
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    redis.call('PEXPIRE', KEYS[2], ARGV[3])
  end
  return n, raw
end
"""

# ARGV[5] the author, ARGV[6] the verdict, ARGV[7] the time, ARGV[8] the channel ('' =
# no events), ARGV[9] the finding event, ARGV[10] the conflict event without its
# verdicts (a JSON object, whose closing brace the script replaces).
# Returns {how many findings the task has, 1 if this verdict opened a conflict else 0,
# the subject's record as written}.
_ADD_VERDICT = (
    _SUBJECT_RECORD
    + """
local record = read_record() or {v = {}}
record.v[ARGV[5]] = ARGV[6]
local standing = nil
if type(record.r) == 'table' and type(record.r.d) == 'table' then standing = record.r.d.v end
local opened = false
if not record.c then
  local first = standing
  for _, verdict in pairs(record.v) do
    if first == nil then first = verdict elseif verdict ~= first then opened = true end
  end
  if opened then record.c = ARGV[7] end
end
local n, raw = keep(record, ARGV[1])
if ARGV[8] ~= '' then
  redis.call('PUBLISH', ARGV[8], ARGV[9])
  if opened then
    local parts = {}
    for author, verdict in pairs(record.v) do
      parts[#parts + 1] = cjson.encode(author) .. ':' .. verdict
    end
    local tail = '}'
    if standing then tail = ',"decision":' .. standing .. '}' end
    redis.call('PUBLISH', ARGV[8], string.sub(ARGV[10], 1, -2) .. ',"verdicts":{'
      .. table.concat(parts, ',') .. '}' .. tail)
  end
end
return {n, opened and 1 or 0, raw}
"""
)

# ARGV[5] who decided, ARGV[6] the verdict, ARGV[7] the time, ARGV[8] the reason,
# ARGV[9] the channel ('' = no events), ARGV[10] the resolved event.
# Returns 1, or 0 (nothing written) when the subject has no open conflict.
_RESOLVE = (
    _SUBJECT_RECORD
    + """
local record = read_record()
if not record or not record.c then return 0 end
local previous = nil
if type(record.r) == 'table' then previous = record.r.d end
record.r = {v = record.v, c = record.c, p = previous,
  d = {v = ARGV[6], by = ARGV[5], why = ARGV[8], ts = ARGV[7]}}
record.v = {}
record.c = nil
keep(record, ARGV[1])
if ARGV[9] ~= '' then redis.call('PUBLISH', ARGV[9], ARGV[10]) end
return 1
"""
)

ADD_VERDICT = Script(_ADD_VERDICT)
RESOLVE = Script(_RESOLVE)

# Verdicts are compared by this encoding (keys sorted), and conflict events are built on it.
_CANONICAL = JSONSerializer(sort_keys=True)
_SUBJECT_FIELD = "s:"


def _decision(stored: Any) -> Decision | None:
    if stored is None:
        return None
    return Decision(_CANONICAL.loads(stored["v"]), stored["by"], stored["why"], float(stored["ts"]))


def _verdicts(stored: dict[str, str]) -> dict[str, Any]:
    return {author: _CANONICAL.loads(text) for author, text in stored.items()}


def _conflicts(task_id: str, key: str, reply: Any, include_resolved: bool) -> list[Conflict]:
    """The conflicts in a task's verdicts hash (HGETALL's reply), oldest first."""
    if isinstance(reply, list):  # a client without redis-py's reply callbacks
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    found: list[Conflict] = []
    for field, raw in (reply or {}).items():
        name = _text(field) or ""
        if not name.startswith(_SUBJECT_FIELD):
            continue
        subject = name[len(_SUBJECT_FIELD) :]
        try:
            record = _CANONICAL.loads(raw)
            resolved = record.get("r")
            if include_resolved and resolved is not None:
                found.append(
                    Conflict(
                        task_id,
                        subject,
                        _verdicts(resolved["v"]),
                        float(resolved["c"]),
                        _decision(resolved["d"]),
                        _decision(resolved.get("p")),
                    )
                )
            if "c" in record:
                standing = _decision(resolved["d"]) if resolved is not None else None
                found.append(
                    Conflict(
                        task_id, subject, _verdicts(record["v"]), float(record["c"]), None, standing
                    )
                )
        except (SerializationError, LookupError, TypeError, ValueError, AttributeError) as exc:
            raise SerializationError(
                f"{key} holds a record of subject {subject!r} that redis-memory-backend did not "
                f"write ({exc}); another program may write under this key prefix"
            ) from exc
    found.sort(key=lambda conflict: conflict.opened)
    return found


class _ClaimsTTL:
    def __repr__(self) -> str:
        return "config.ttl.claims"


_DEFAULT_TTL: Any = _ClaimsTTL()


class _FindingsCore(_Core):
    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        max_findings: int = DEFAULT_MAX_FINDINGS,
        ttl: TTL | Seconds | None = _DEFAULT_TTL,
        publish_events: bool = True,
    ) -> None:
        super().__init__(url=url, client=client, config=config)
        self.max_findings = whole("max_findings", max_findings, 1)
        self.ttl: TTL = self.config.ttl.claims if ttl is _DEFAULT_TTL else TTL.of(ttl)
        self.publish_events = bool(publish_events)

    def _encode(
        self,
        finding: Any,
        author: str | None,
        ts: float,
        subject: str | None = None,
        verdict: Any = None,
        decision: bool = False,
    ) -> bytes:
        if author is not None:
            _checked(author, "author")
        entry = {"finding": finding, "author": author, "ts": ts}
        if subject is not None:
            entry.update(subject=subject, verdict=verdict)
        if decision:
            entry["decision"] = True
        try:
            return self._serializer.dumps(entry)
        except SerializationError as exc:
            raise SerializationError(f"the finding cannot be stored: {exc}") from exc

    def _decode(self, raw: bytes | str, key: str) -> Finding:
        try:
            entry = self._serializer.loads(raw)
        except SerializationError as exc:
            raise SerializationError(
                f"{key} holds a value that is not a finding of redis-memory-backend ({exc})"
            ) from exc
        if not isinstance(entry, dict) or "finding" not in entry or "ts" not in entry:
            raise SerializationError(
                f"{key} holds {str(raw)[:80]!r}, which is not a finding of "
                "redis-memory-backend; another program may write under this key prefix"
            )
        return Finding(
            entry["finding"],
            entry.get("author"),
            entry["ts"],
            entry.get("subject"),
            entry.get("verdict"),
            entry.get("decision") is True,
        )

    def _plan_add(
        self,
        task_id: str,
        finding: Any,
        author: str | None,
        subject: str | None = None,
        verdict: Any = None,
    ) -> Plan[int]:
        key = self.keys.task_findings(task_id)
        if subject is not None or verdict is not None:
            full = self._plan_add_verdict(task_id, finding, author, subject, verdict)
            return Plan(full.doing, key, lambda r: full.finish(r).count, script=full.script)
        entry = self._encode(finding, author, time.time())
        commands: list[tuple[Any, ...]] = [
            ("RPUSH", key, entry),
            ("LTRIM", key, -self.max_findings, -1),
        ]
        if self.ttl.milliseconds is not None:
            # The verdicts live as long as the findings (a no-op while there are none).
            commands.append(("PEXPIRE", key, self.ttl.milliseconds))
            commands.append(("PEXPIRE", self.keys.task_verdicts(task_id), self.ttl.milliseconds))
        if self.publish_events:
            event = self._event(event="finding", task_id=task_id, author=author)
            commands.append(("PUBLISH", self.channel, event))
        cap = self.max_findings
        return Plan(
            "adding a finding", key, lambda r: min(int(r[0]), cap), commands, transaction=True
        )

    def _plan_list(self, task_id: str, last: int | None) -> Plan[builtins.list[Finding]]:
        key = self.keys.task_findings(task_id)
        count = (
            self.max_findings if last is None else min(whole("last", last, 1), self.max_findings)
        )
        return Plan(
            "reading findings",
            key,
            lambda r: [self._decode(raw, key) for raw in r[0] or ()],
            [("LRANGE", key, -count, -1)],
        )

    def _plan_count(self, task_id: str) -> Plan[int]:
        key = self.keys.task_findings(task_id)
        return Plan("counting findings", key, lambda r: int(r[0]), [("LLEN", key)])

    def _plan_clear(self, task_id: str) -> Plan[int]:
        key = self.keys.task_findings(task_id)
        return Plan(
            "clearing findings",
            key,
            lambda r: int(r[0]),
            [("LLEN", key), ("UNLINK", key, self.keys.task_verdicts(task_id))],
            transaction=True,
        )

    # -- disagreements ---------------------------------------------------------------
    @staticmethod
    def _verdict_text(verdict: Any) -> bytes:
        """The verdict's canonical JSON: what verdicts are compared by."""
        try:
            return _CANONICAL.dumps(verdict)
        except SerializationError as exc:
            raise SerializationError(f"the verdict cannot be stored: {exc}") from exc

    def _plan_add_verdict(
        self, task_id: str, finding: Any, author: str | None, subject: str | None, verdict: Any
    ) -> Plan[VerdictAdded]:
        key = self.keys.task_findings(task_id)
        if subject is not None:
            _checked(subject, "subject")
        if author is not None:
            _checked(author, "author")
        if subject is None:
            raise ValueError(
                "a verdict needs a subject: pass subject= (what the verdict is about) with verdict="
            )
        if verdict is None:
            raise ValueError(
                f"subject={subject!r} needs a verdict= (a JSON value; None is no verdict): "
                "a subject names what a verdict is about"
            )
        if author is None:
            raise ValueError(
                "a finding with a verdict needs its author (author=): a conflict is between "
                "the verdicts of different authors"
            )
        text = self._verdict_text(verdict)
        ts = time.time()
        entry = self._encode(finding, author, ts, subject, verdict)
        field = _SUBJECT_FIELD + subject
        if self.publish_events:
            channel = self.channel
            event = self._event(event="finding", task_id=task_id, author=author, subject=subject)
            head = _CANONICAL.dumps({"event": "conflict", "task_id": task_id, "subject": subject})
        else:
            channel, event, head = "", b"", b""
        args = [
            entry,
            self.max_findings,
            _ms_arg(self.ttl.milliseconds),
            field,
            author,
            text,
            repr(ts),
            channel,
            event,
            head,
        ]
        verdicts = self.keys.task_verdicts(task_id)

        def finish(replies: builtins.list[Any]) -> VerdictAdded:
            count, opened, record = replies[0]
            found = _conflicts(task_id, verdicts, {field: record}, False)
            conflict = next(iter(found), None)
            return VerdictAdded(min(int(count), self.max_findings), conflict, bool(opened))

        return Plan("adding a finding", key, finish, script=(ADD_VERDICT, [key, verdicts], args))

    def _plan_resolve(
        self, task_id: str, subject: str, verdict: Any, decided_by: str, reason: str
    ) -> Plan[Decision]:
        key = self.keys.task_findings(task_id)
        verdicts = self.keys.task_verdicts(task_id)
        _checked(subject, "subject")
        _checked(decided_by, "decided_by name")
        if verdict is None:
            raise ValueError("a decision needs a verdict (a JSON value; None is no verdict)")
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, not {type(reason).__name__}: {reason!r}")
        if not reason.strip():
            raise ValueError("a decision needs a reason (reason=): why this verdict stands")
        text = self._verdict_text(verdict)
        ts = time.time()
        decision = Decision(_CANONICAL.loads(text), decided_by, reason, ts)
        value = {"decision": verdict, "reason": reason}
        entry = self._encode(value, decided_by, ts, subject, verdict, decision=True)
        if self.publish_events:
            channel = self.channel
            event = self._event(
                event="resolved",
                task_id=task_id,
                subject=subject,
                verdict=decision.verdict,
                decided_by=decided_by,
            )
        else:
            channel, event = "", b""
        args = [
            entry,
            self.max_findings,
            _ms_arg(self.ttl.milliseconds),
            _SUBJECT_FIELD + subject,
            decided_by,
            text,
            repr(ts),
            reason,
            channel,
            event,
        ]

        def finish(replies: builtins.list[Any]) -> Decision:
            if not int(replies[0]):
                raise NoConflictError(
                    f"subject {subject!r} of task {task_id!r} has no open conflict to resolve "
                    f"({verdicts}): its authors agree, a decision settled it already, or its "
                    "verdicts expired. See conflicts(); record a plain verdict with add()."
                )
            return decision

        return Plan("resolving a conflict", key, finish, script=(RESOLVE, [key, verdicts], args))

    def _plan_conflicts(
        self, task_id: str, include_resolved: bool
    ) -> Plan[builtins.list[Conflict]]:
        key = self.keys.task_verdicts(task_id)
        return Plan(
            "reading conflicts",
            key,
            lambda r: _conflicts(task_id, key, r[0], include_resolved),
            [("HGETALL", key)],
        )


class Findings(_FindingsCore):
    """What agents found out about each task, shared, in the order they added it.

    Args:
        url, client, config: Where the data lives.
        max_findings: Keep the newest N findings per task (default 1000).
        ttl: How long a task's findings live after the last one was added:
            seconds, a ``timedelta``, a :class:`~redis_memory.TTL`, or ``None``
            for no expiry. Default: ``config.ttl.claims`` (findings go when the
            work on a task has been idle as long as an abandoned claim).
        publish_events: Announce each addition on ``{prefix}:events:tasks`` as
            ``{"event": "finding", "task_id": ..., "author": ...}`` (never the value;
            with ``"subject"`` when it has one), and disagreements (below).

    Findings are JSON values (dict, list, str, numbers, bools, None, pydantic
    models); each is stored with its ``author`` and a timestamp ``ts``.

    Disagreements: a finding may take a side, ``add(..., subject=, verdict=)``:
    a subject (a str, like an id) and a verdict (a JSON value, usually a str,
    number or bool; verdicts are compared by their JSON text, keys sorted, so
    ``1`` and ``1.0`` differ). When the authors of a task's findings hold
    different verdicts on one subject (each author's latest counts), that is a
    conflict: listed by :meth:`conflicts`, announced once as
    ``{"event": "conflict", "task_id", "subject", "verdicts": {author: verdict}}``
    (further differing verdicts are recorded, not announced again), and settled
    by :meth:`resolve`, which records who decided, which verdict and why, both
    with the subject and as a finding of its own (announced as ``{"event":
    "resolved", "task_id", "subject", "verdict", "decided_by"}``). After a
    decision, a verdict that agrees with it changes nothing; one that differs
    reopens the conflict (announced again, with the ``"decision"`` it
    disputes). The verdicts live in ``{prefix}:task:{<id>}:verdicts`` (the
    findings' slot, the findings' TTL); ``max_findings`` trims the findings,
    not the verdicts. :meth:`add_verdict` adds a verdict and tells what it did
    (a :class:`VerdictAdded`: opened a conflict, joined one, or neither).

    Example:
        >>> from redis_memory.coordination import Findings
        >>> findings = Findings(url="embedded", ttl=None)               # doctest: +SKIP
        >>> findings.add("task-1", {"source": "10-K", "revenue": 1.2e9},
        ...              author="researcher")                           # doctest: +SKIP
        1
        >>> [(f.author, f.value["source"]) for f in findings.list("task-1")]  # doctest: +SKIP
        [('researcher', '10-K')]
        >>> findings.add("task-1", "the 10-K says 1.2bn", author="researcher",
        ...              subject="revenue", verdict=1.2e9)              # doctest: +SKIP
        2
        >>> findings.add("task-1", "the 10-Q restated it", author="auditor",
        ...              subject="revenue", verdict=1.1e9)              # doctest: +SKIP
        3
        >>> [(c.subject, c.verdicts) for c in findings.conflicts("task-1")]  # doctest: +SKIP
        [('revenue', {'researcher': 1200000000.0, 'auditor': 1100000000.0})]
        >>> findings.resolve("task-1", "revenue", 1.1e9, decided_by="lead",
        ...                  reason="the restatement is newer")         # doctest: +SKIP
        Decision(verdict=1100000000.0, decided_by='lead', reason='the restatement is newer', ts=...)
        >>> findings.conflicts("task-1")                                # doctest: +SKIP
        []
        >>> findings.list("task-1", last=1)[0].value                    # doctest: +SKIP
        {'decision': 1100000000.0, 'reason': 'the restatement is newer'}
    """

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

    def add(
        self,
        task_id: str,
        finding: Any,
        *,
        author: str | None = None,
        subject: str | None = None,
        verdict: Any = None,
    ) -> int:
        """Append a finding (one atomic round trip); returns how many the task now has.

        ``subject`` and ``verdict`` go together, and need an ``author``: the
        finding then also records the author's verdict on the subject, and
        opens (and announces) a conflict when another author's verdict differs.

        Raises:
            ValueError: a verdict without a subject or author, a subject without
                a verdict, or an empty or oversized (> 512 bytes) subject or author.
            TypeError: a subject or author that is not a str.
            SerializationError: a finding or verdict that JSON cannot hold exactly.
        """
        return self._run(self._plan_add(task_id, finding, author, subject, verdict))

    def add_verdict(
        self, task_id: str, finding: Any, *, author: str, subject: str, verdict: Any
    ) -> VerdictAdded:
        """:meth:`add` with a verdict, telling what it did: opened a conflict, joined one, or none.

        The same one round trip and checks as :meth:`add`; the answer comes
        from the script that recorded the verdict, so no other agent's verdict
        can slip in between.
        """
        return self._run(self._plan_add_verdict(task_id, finding, author, subject, verdict))

    def list(self, task_id: str, *, last: int | None = None) -> builtins.list[Finding]:
        """The task's findings, oldest first: all kept (at most ``max_findings``) or the last N."""
        return self._run(self._plan_list(task_id, last))

    def count(self, task_id: str) -> int:
        """How many findings the task has."""
        return self._run(self._plan_count(task_id))

    def clear(self, task_id: str) -> int:
        """Delete the task's findings and verdicts; returns how many findings there were."""
        return self._run(self._plan_clear(task_id))

    def conflicts(self, task_id: str, *, include_resolved: bool = False) -> builtins.list[Conflict]:
        """The task's open conflicts, oldest first (one round trip).

        ``include_resolved=True`` adds the last resolved conflict of each
        subject, with its :class:`Decision` (earlier decisions stay in the
        findings).
        """
        return self._run(self._plan_conflicts(task_id, include_resolved))

    def resolve(
        self, task_id: str, subject: str, verdict: Any, *, decided_by: str, reason: str
    ) -> Decision:
        """Settle the subject's open conflict with ``verdict`` (one atomic round trip).

        Records the decision (who, which verdict, why) with the subject and
        appends it to the findings as a finding of ``decided_by`` whose value
        is ``{"decision": verdict, "reason": reason}``, marked as a decision
        (:attr:`Finding.decision`). The verdict may be one that no author proposed.

        Raises:
            NoConflictError: the subject has no open conflict (its authors
                agree, someone resolved it already, or it expired): nothing
                is written. Record a verdict without a conflict with :meth:`add`.
        """
        return self._run(self._plan_resolve(task_id, subject, verdict, decided_by, reason))


class AsyncFindings(_FindingsCore):
    """Shared findings on ``redis.asyncio``: :class:`Findings`' twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncFindings
        >>> async def main():
        ...     findings = AsyncFindings(url="embedded", ttl=None)
        ...     await findings.add("task-2", "the API rate-limits at 10 rps", author="a")
        ...     return [f.value for f in await findings.list("task-2", last=1)]
        >>> asyncio.run(main())                                     # doctest: +SKIP
        ['the API rate-limits at 10 rps']
    """

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self._url)

    async def add(
        self,
        task_id: str,
        finding: Any,
        *,
        author: str | None = None,
        subject: str | None = None,
        verdict: Any = None,
    ) -> int:
        return await self._run(self._plan_add(task_id, finding, author, subject, verdict))

    async def add_verdict(
        self, task_id: str, finding: Any, *, author: str, subject: str, verdict: Any
    ) -> VerdictAdded:
        return await self._run(self._plan_add_verdict(task_id, finding, author, subject, verdict))

    async def list(self, task_id: str, *, last: int | None = None) -> builtins.list[Finding]:
        return await self._run(self._plan_list(task_id, last))

    async def count(self, task_id: str) -> int:
        return await self._run(self._plan_count(task_id))

    async def clear(self, task_id: str) -> int:
        return await self._run(self._plan_clear(task_id))

    async def conflicts(
        self, task_id: str, *, include_resolved: bool = False
    ) -> builtins.list[Conflict]:
        return await self._run(self._plan_conflicts(task_id, include_resolved))

    async def resolve(
        self, task_id: str, subject: str, verdict: Any, *, decided_by: str, reason: str
    ) -> Decision:
        return await self._run(self._plan_resolve(task_id, subject, verdict, decided_by, reason))


# ===================================================================================
# Distributed lock
# ===================================================================================
LockFlow = Generator[Plan[Any] | Sleep, Any, bool]

_FIRST_RETRY = 0.002


class _LockCore(_Core):
    def __init__(
        self,
        name: str,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        timeout: TTL | Seconds | None = None,
        blocking_timeout: float | None = None,
        sleep: float = 0.05,
    ) -> None:
        super().__init__(url=url, client=client, config=config)
        self.name = _checked(name, "lock name")
        self.key = self.keys.lock(name)
        self._ms = _milliseconds(timeout, self.config.ttl.claims)
        self.blocking_timeout = _seconds("blocking_timeout", blocking_timeout, allow_zero=True)
        self.sleep = _seconds("sleep", sleep, allow_zero=False)
        # The token of each holder (a thread, or an asyncio task) of this object.
        self._tokens: dict[Hashable, str] = {}

    @property
    def timeout(self) -> float | None:
        """Seconds after which a held lock expires unless extended (None: never)."""
        return None if self._ms is None else self._ms / 1000

    def _plan_try(self, token: str) -> Plan[bool]:
        expiry = () if self._ms is None else ("PX", self._ms)
        command = ("SET", self.key, token, "NX", *expiry)
        return Plan("acquiring a lock", self.key, lambda r: bool(r[0]), [command])

    def _acquire_flow(self, token: str, blocking: bool, blocking_timeout: float | None) -> LockFlow:
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        wait = _seconds("blocking_timeout", wait, allow_zero=True)
        started = time.monotonic()
        deadline = None if wait is None else started + wait
        delay = min(_FIRST_RETRY, self.sleep)
        while True:
            if (yield self._plan_try(token)):
                metrics.lock_wait(time.monotonic() - started, True)
                return True
            now = time.monotonic()
            if not blocking or (deadline is not None and now >= deadline):
                metrics.lock_wait(now - started, False)
                return False
            # Exponential backoff with jitter, so that waiters do not try in lockstep.
            pause = delay * (0.5 + random.random())  # noqa: S311
            yield Sleep(pause if deadline is None else min(pause, deadline - now))
            delay = min(delay * 2, self.sleep)

    def _plan_release(self, token: str) -> Plan[bool]:
        return Plan(
            "releasing a lock",
            self.key,
            lambda r: bool(r[0]),
            script=(RELEASE, [self.key], [token, "", ""]),
        )

    def _plan_extend(self, token: str, ttl: TTL | Seconds | None) -> Plan[bool]:
        milliseconds = self._ms if ttl is None else TTL.of(ttl).milliseconds
        return Plan(
            "extending a lock",
            self.key,
            lambda r: bool(r[0]),
            script=(EXTEND, [self.key], [token, _ms_arg(milliseconds)]),
        )

    def _plan_locked(self) -> Plan[bool]:
        return Plan("reading a lock", self.key, lambda r: bool(r[0]), [("EXISTS", self.key)])

    def _plan_owned(self, token: str | None) -> Plan[bool]:
        return Plan(
            "reading a lock",
            self.key,
            lambda r: token is not None and _text(r[0]) == token,
            [("GET", self.key)],
        )

    def _new_token(self, holder: Hashable) -> str:
        if holder in self._tokens:
            raise LockError(
                f"lock {self.name!r} is already held by this "
                f"{'task' if isinstance(holder, asyncio.Task) else 'thread'}: a "
                "DistributedLock is not reentrant; release it first"
            )
        return uuid.uuid4().hex

    def _not_acquired(self, blocking_timeout: float | None) -> LockTimeoutError:
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        return LockTimeoutError(
            f"could not acquire lock {self.name!r} ({self.key}) within {wait} s: another "
            "owner holds it. Wait longer (blocking_timeout=) or retry later."
        )

    def _lost(self) -> LockLostError:
        return LockLostError(
            f"lock {self.name!r} ({self.key}) expired before its block ended (timeout "
            f"{self.timeout} s), so another owner may have held it meanwhile; its lock, if "
            "any, was left alone. Use a longer timeout= or call extend() during long work."
        )


def _seconds(name: str, value: Any, *, allow_zero: bool) -> float | None:
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} number of seconds or None, got {value!r}")
    return float(value)


class DistributedLock(_LockCore):
    """A lock shared by every process using the same Redis: one holder at a time.

    Each acquisition stores a random token at ``{prefix}:lock:<name>`` with
    ``SET NX PX``; releasing deletes the key only if it still holds that token
    (a Lua script), so a holder whose lock expired never releases the lock of
    whoever took it next. One object can be shared by threads: each thread's
    acquisition has its own token. The lock is not reentrant.

    Args:
        name: The lock's name; every object with that name (and prefix) is the same lock.
        url, client, config: Where the data lives.
        timeout: Seconds after which a held lock expires, freeing it if its holder
            died (default ``config.ttl.claims``, 60 s). Extend it with :meth:`extend`.
        blocking_timeout: How long ``with lock:`` and :meth:`acquire` wait for a held
            lock, in seconds; ``None`` (default) waits as long as it takes. ``with
            lock:`` raises :class:`LockTimeoutError` when the wait runs out.
        sleep: The longest pause between two attempts while waiting (seconds).

    ``with lock:`` raises :class:`LockLostError` at the end of a block that
    outlived the lock's timeout (unless the block raised an error of its own).

    Example:
        >>> from redis_memory.coordination import DistributedLock
        >>> lock = DistributedLock("reindex", url="embedded", timeout=30,
        ...                        blocking_timeout=5)                 # doctest: +SKIP
        >>> with lock:                                                 # doctest: +SKIP
        ...     lock.owned()
        True
        >>> lock.locked()                                              # doctest: +SKIP
        False
    """

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

    def _lock_step(self, step: Plan[Any] | Sleep) -> Any:
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        return self._run(step)

    @staticmethod
    def _holder() -> Hashable:
        return threading.get_ident()

    def acquire(self, *, blocking: bool = True, blocking_timeout: float | None = None) -> bool:
        """Take the lock for the calling thread; False if it was not free in time.

        ``blocking=False`` tries once; ``blocking_timeout`` overrides the object's.
        """
        holder = self._holder()
        token = self._new_token(holder)
        flow = self._acquire_flow(token, blocking, blocking_timeout)
        try:
            acquired = bool(drive(flow, self._lock_step))
        except RedisUnavailableError:
            # The SET may have been applied with its reply lost: give up our token,
            # if Redis lets us, so the lock is not held by nobody until it expires.
            with contextlib.suppress(RedisMemoryError):
                self._run(self._plan_release(token))
            raise
        if acquired:
            self._tokens[holder] = token
        return acquired

    def release(self) -> bool:
        """Release the calling thread's hold; False if it had expired (or was never taken).

        Another owner's lock is never released.
        """
        token = self._tokens.pop(self._holder(), None)
        if token is None:
            return False
        return self._run(self._plan_release(token))

    def extend(self, ttl: TTL | Seconds | None = None) -> bool:
        """Restart the held lock's lifetime (to ``ttl``, default ``timeout``); False if lost."""
        token = self._tokens.get(self._holder())
        return token is not None and self._run(self._plan_extend(token, ttl))

    def locked(self) -> bool:
        """Whether anyone holds the lock now."""
        return self._run(self._plan_locked())

    def owned(self) -> bool:
        """Whether the calling thread holds the lock now (it has not expired)."""
        return self._run(self._plan_owned(self._tokens.get(self._holder())))

    def __enter__(self) -> Self:
        if not self.acquire():
            raise self._not_acquired(None)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not self.release() and exc_type is None:
            raise self._lost()


class AsyncDistributedLock(_LockCore):
    """The distributed lock on ``redis.asyncio``: :class:`DistributedLock`'s twin.

    Each asyncio task's acquisition has its own token, so one object can be
    shared by many tasks. Used as ``async with lock:``.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncDistributedLock
        >>> async def main():
        ...     lock = AsyncDistributedLock("reindex", url="embedded", timeout=30)
        ...     async with lock:
        ...         return await lock.owned()
        >>> asyncio.run(main())                                       # doctest: +SKIP
        True
    """

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self._url)

    async def _lock_step(self, step: Plan[Any] | Sleep) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        return await self._run(step)

    @staticmethod
    def _holder() -> Hashable:
        task = asyncio.current_task()
        if task is None:
            raise LockError("an AsyncDistributedLock must be used from inside an asyncio task")
        return task

    async def acquire(
        self, *, blocking: bool = True, blocking_timeout: float | None = None
    ) -> bool:
        holder = self._holder()
        token = self._new_token(holder)
        flow = self._acquire_flow(token, blocking, blocking_timeout)
        try:
            acquired = bool(await drive_async(flow, self._lock_step))
        except RedisUnavailableError:
            with contextlib.suppress(RedisMemoryError):
                await self._run(self._plan_release(token))
            raise
        if acquired:
            self._tokens[holder] = token
        return acquired

    async def release(self) -> bool:
        token = self._tokens.pop(self._holder(), None)
        if token is None:
            return False
        return await self._run(self._plan_release(token))

    async def extend(self, ttl: TTL | Seconds | None = None) -> bool:
        token = self._tokens.get(self._holder())
        return token is not None and await self._run(self._plan_extend(token, ttl))

    async def locked(self) -> bool:
        return await self._run(self._plan_locked())

    async def owned(self) -> bool:
        return await self._run(self._plan_owned(self._tokens.get(self._holder())))

    async def __aenter__(self) -> Self:
        if not await self.acquire():
            raise self._not_acquired(None)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if not await self.release() and exc_type is None:
            raise self._lost()


__all__ = [
    "AsyncClaims",
    "AsyncDistributedLock",
    "AsyncFindings",
    "Claims",
    "Conflict",
    "Decision",
    "DistributedLock",
    "Finding",
    "Findings",
    "LockError",
    "LockLostError",
    "LockTimeoutError",
    "NoConflictError",
    "VerdictAdded",
]
