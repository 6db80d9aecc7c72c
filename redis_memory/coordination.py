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
  capped to the newest ``max_findings``.
- :class:`DistributedLock`: a mutual-exclusion lock at ``{prefix}:lock:<name>``
  with an owner token and an expiry, used as ``with lock:``.
- Events: claiming, releasing and adding a finding announce themselves on the
  pub/sub channel ``{prefix}:events:tasks`` (:attr:`Claims.channel`) in the same
  round trip, as small JSON objects
  (``{"event": "claimed" | "released" | "finding", "task_id": ..., ...}``),
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

import redis
import redis.asyncio

from ._checks import whole
from ._plan import Plan, Script, drive, drive_async, execute, execute_async
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .errors import RedisMemoryError, RedisUnavailableError, SerializationError
from .keys import KeySchema, escape_id
from .ttl import TTL

T = TypeVar("T")
Seconds = int | float | timedelta

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
# KEYS[1] the key; ARGV[1] the owner; ARGV[2] milliseconds ('' = no expiry);
# ARGV[3] the channel ('' = no event); ARGV[4] the event.
_CLAIM = """
local ok
if ARGV[2] == '' then
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX')
else
  ok = redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2])
end
if not ok then return 0 end
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[4]) end
return 1
"""

# KEYS: candidate keys in order; ARGV[1] owner, ARGV[2] ms, ARGV[3] channel,
# ARGV[3 + i] the event of KEYS[i]. Returns the 1-based index claimed, or 0.
_CLAIM_ANY = """
for i, key in ipairs(KEYS) do
  local ok
  if ARGV[2] == '' then
    ok = redis.call('SET', key, ARGV[1], 'NX')
  else
    ok = redis.call('SET', key, ARGV[1], 'NX', 'PX', ARGV[2])
  end
  if ok then
    if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[3], ARGV[3 + i]) end
    return i
  end
end
return 0
"""

# KEYS[1] the key; ARGV[1] the owner; ARGV[2] channel ('' = none); ARGV[3] event.
_RELEASE = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('DEL', KEYS[1])
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1
"""

# KEYS[1] the key; ARGV[1] the owner; ARGV[2] milliseconds ('' = no expiry).
_EXTEND = """
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then
  redis.call('PERSIST', KEYS[1])
else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
"""

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


def _is_cluster(client: object) -> bool:
    return isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster)


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

    def _plan_claim(self, task_id: str, owner: str, ttl: TTL | Seconds | None) -> Plan[bool]:
        key = self.keys.task_owner(task_id)
        owner = _checked(owner, "owner")
        milliseconds = _milliseconds(ttl, self._ttl)
        if not self.publish_events:
            expiry = () if milliseconds is None else ("PX", milliseconds)
            command = ("SET", key, owner, "NX", *expiry)
            return Plan("claiming a task", key, lambda r: bool(r[0]), [command])
        event = self._event(event="claimed", task_id=task_id, owner=owner)
        args = [owner, _ms_arg(milliseconds), self.channel, event]
        return Plan("claiming a task", key, lambda r: bool(r[0]), script=(CLAIM, [key], args))

    def _plan_claim_any(
        self, ids: builtins.list[str], owner: str, ttl: TTL | Seconds | None
    ) -> Plan[str | None]:
        keys = [self.keys.task_owner(task_id) for task_id in ids]
        owner = _checked(owner, "owner")
        if not keys:
            return Plan("claiming a task", "", lambda _: None, [])
        channel = self.channel if self.publish_events else ""
        events = (
            [self._event(event="claimed", task_id=task_id, owner=owner) for task_id in ids]
            if self.publish_events
            else []
        )
        args = [owner, _ms_arg(_milliseconds(ttl, self._ttl)), channel, *events]
        return Plan(
            "claiming a task",
            keys[0],
            lambda r: ids[int(r[0]) - 1] if int(r[0]) else None,
            script=(CLAIM_ANY, keys, args),
        )

    def _claim_any_flow(
        self, task_ids: Iterable[str], owner: str, ttl: TTL | Seconds | None, cluster: bool
    ) -> Generator[Plan[Any], Any, str | None]:
        if isinstance(task_ids, str | bytes):
            raise TypeError("task_ids must be a list of task ids, not a single str")
        ids = builtins.list(task_ids)
        if len(ids) > MAX_CLAIM_ANY:
            raise ValueError(f"claim_any takes at most {MAX_CLAIM_ANY} task ids, got {len(ids)}")
        plan = self._plan_claim_any(ids, owner, ttl)  # checks every id, sends nothing yet
        if not cluster:
            return (yield plan)
        # On a cluster each task's keys live in their own slot: one claim after another.
        for task_id in ids:
            if (yield self._plan_claim(task_id, owner, ttl)):
                return task_id
        return None

    def _plan_owner(self, task_id: str) -> Plan[str | None]:
        key = self.keys.task_owner(task_id)
        return Plan("reading a task's owner", key, lambda r: _text(r[0]), [("GET", key)])

    def _plan_extend(self, task_id: str, owner: str, ttl: TTL | Seconds | None) -> Plan[bool]:
        key = self.keys.task_owner(task_id)
        args = [_checked(owner, "owner"), _ms_arg(_milliseconds(ttl, self._ttl))]
        return Plan("extending a claim", key, lambda r: bool(r[0]), script=(EXTEND, [key], args))

    def _plan_release(self, task_id: str, owner: str) -> Plan[bool]:
        key = self.keys.task_owner(task_id)
        owner = _checked(owner, "owner")
        if self.publish_events:
            args: list[Any] = [
                owner,
                self.channel,
                self._event(event="released", task_id=task_id, owner=owner),
            ]
        else:
            args = [owner, "", ""]
        return Plan("releasing a claim", key, lambda r: bool(r[0]), script=(RELEASE, [key], args))


class Claims(_ClaimsCore):
    """Task claims: exactly one agent owns a task until it releases it or the claim expires.

    Args:
        url, client, config: Where the data lives (as everywhere in this package).
        publish_events: Announce each successful claim and release on
            :attr:`channel` (``{prefix}:events:tasks``) as JSON
            ``{"event": "claimed" | "released", "task_id": ..., "owner": ...}``,
            in the same round trip. Without events a claim is one plain
            ``SET ... NX PX`` command.

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

    def claim(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Claim a free task for ``owner``; True if this call got it, False if it is taken."""
        return self._run(self._plan_claim(task_id, owner, ttl))

    def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTL | Seconds | None = None
    ) -> str | None:
        """Claim the first free task of ``task_ids`` (in order) in one atomic step.

        Returns the task id claimed, or None when all are taken. On Redis
        Cluster the tasks are tried one after another (they live in different slots).
        """
        flow = self._claim_any_flow(task_ids, owner, ttl, _is_cluster(self._clients.sync))
        return drive(flow, self._run)

    def owner(self, task_id: str) -> str | None:
        """Who holds the task now, or None if nobody does (never claimed, released, expired)."""
        return self._run(self._plan_owner(task_id))

    def extend(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        """Restart the claim's lifetime (to ``ttl``); only while ``owner`` still holds it."""
        return self._run(self._plan_extend(task_id, owner, ttl))

    def release(self, task_id: str, owner: str) -> bool:
        """Free the task; only ``owner``'s own, live claim is released. True if it was."""
        return self._run(self._plan_release(task_id, owner))


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

    async def claim(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        return await self._run(self._plan_claim(task_id, owner, ttl))

    async def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTL | Seconds | None = None
    ) -> str | None:
        flow = self._claim_any_flow(task_ids, owner, ttl, _is_cluster(self._clients.async_))
        return await drive_async(flow, self._run)

    async def owner(self, task_id: str) -> str | None:
        return await self._run(self._plan_owner(task_id))

    async def extend(self, task_id: str, owner: str, *, ttl: TTL | Seconds | None = None) -> bool:
        return await self._run(self._plan_extend(task_id, owner, ttl))

    async def release(self, task_id: str, owner: str) -> bool:
        return await self._run(self._plan_release(task_id, owner))


# ===================================================================================
# Findings
# ===================================================================================
@dataclass(frozen=True, slots=True)
class Finding:
    """One finding about a task: the value an agent shared, who shared it, and when."""

    value: Any
    author: str | None
    ts: float


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

    def _encode(self, finding: Any, author: str | None) -> bytes:
        if author is not None:
            _checked(author, "author")
        try:
            return self._serializer.dumps({"finding": finding, "author": author, "ts": time.time()})
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
        return Finding(entry["finding"], entry.get("author"), entry["ts"])

    def _plan_add(self, task_id: str, finding: Any, author: str | None) -> Plan[int]:
        key = self.keys.task_findings(task_id)
        entry = self._encode(finding, author)
        commands: list[tuple[Any, ...]] = [
            ("RPUSH", key, entry),
            ("LTRIM", key, -self.max_findings, -1),
        ]
        if self.ttl.milliseconds is not None:
            commands.append(("PEXPIRE", key, self.ttl.milliseconds))
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
            [("LLEN", key), ("UNLINK", key)],
            transaction=True,
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
            ``{"event": "finding", "task_id": ..., "author": ...}`` (never the value).

    Findings are JSON values (dict, list, str, numbers, bools, None, pydantic
    models); each is stored with its ``author`` and a timestamp ``ts``.

    Example:
        >>> from redis_memory.coordination import Findings
        >>> findings = Findings(url="embedded", ttl=None)               # doctest: +SKIP
        >>> findings.add("task-1", {"source": "10-K", "revenue": 1.2e9},
        ...              author="researcher")                           # doctest: +SKIP
        1
        >>> [(f.author, f.value["source"]) for f in findings.list("task-1")]  # doctest: +SKIP
        [('researcher', '10-K')]
    """

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

    def add(self, task_id: str, finding: Any, *, author: str | None = None) -> int:
        """Append a finding (one atomic round trip); returns how many the task now has."""
        return self._run(self._plan_add(task_id, finding, author))

    def list(self, task_id: str, *, last: int | None = None) -> builtins.list[Finding]:
        """The task's findings, oldest first: all kept (at most ``max_findings``) or the last N."""
        return self._run(self._plan_list(task_id, last))

    def count(self, task_id: str) -> int:
        """How many findings the task has."""
        return self._run(self._plan_count(task_id))

    def clear(self, task_id: str) -> int:
        """Delete the task's findings; returns how many there were."""
        return self._run(self._plan_clear(task_id))


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

    async def add(self, task_id: str, finding: Any, *, author: str | None = None) -> int:
        return await self._run(self._plan_add(task_id, finding, author))

    async def list(self, task_id: str, *, last: int | None = None) -> builtins.list[Finding]:
        return await self._run(self._plan_list(task_id, last))

    async def count(self, task_id: str) -> int:
        return await self._run(self._plan_count(task_id))

    async def clear(self, task_id: str) -> int:
        return await self._run(self._plan_clear(task_id))


# ===================================================================================
# Distributed lock
# ===================================================================================
@dataclass(frozen=True, slots=True)
class _Sleep:
    """A step of the acquire flow: wait this many seconds before trying again."""

    seconds: float


LockFlow = Generator[Plan[Any] | _Sleep, Any, bool]

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
        deadline = None if wait is None else time.monotonic() + wait
        delay = min(_FIRST_RETRY, self.sleep)
        while True:
            if (yield self._plan_try(token)):
                return True
            if not blocking:
                return False
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            # Exponential backoff with jitter, so that waiters do not try in lockstep.
            pause = delay * (0.5 + random.random())  # noqa: S311
            yield _Sleep(pause if deadline is None else min(pause, deadline - now))
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

    def _lock_step(self, step: Plan[Any] | _Sleep) -> Any:
        if isinstance(step, _Sleep):
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

    async def _lock_step(self, step: Plan[Any] | _Sleep) -> Any:
        if isinstance(step, _Sleep):
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
    "DistributedLock",
    "Finding",
    "Findings",
    "LockError",
    "LockLostError",
    "LockTimeoutError",
]
