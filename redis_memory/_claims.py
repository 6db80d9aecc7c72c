"""Task claims (:class:`Claims`, :class:`AsyncClaims`); see :mod:`redis_memory.coordination`."""

from __future__ import annotations

import builtins
from collections.abc import Generator, Iterable
from typing import Any, TypeVar

from . import _holds, metrics
from ._checks import checked_name, text
from ._coordination_core import EXTEND, RELEASE, Core, milliseconds, ms_arg
from ._deprecation import meaning_changes
from ._engine import AsyncRunner, SyncRunner
from ._flow import drive, drive_async
from ._plan import Plan, Script, lua
from .errors import RedisMemoryError
from .ttl import NONE_MEANING_CHANGES, POLICY, TTLOption

T = TypeVar("T")
Flow = Generator[Plan[Any], Any, None]

MAX_CLAIM_ANY = 1000

# The claim scripts also keep the index of what agents hold (redis_memory._holds) when
# given its key as the last of KEYS: on one server only, since on a cluster it lives in
# another slot (the claim's flow then indexes in a second step).
CLAIM = Script(_holds.with_index(lua("claims_claim.lua")))
CLAIM_ANY = Script(_holds.with_index(lua("claims_claim_any.lua")))


class _ClaimsCore(Core):
    def _claim_plan(
        self, task_id: str, owner: str, expiry_ms: int | None, cluster: bool
    ) -> Plan[bool]:
        key = self.keys.task_owner(task_id)
        owner = checked_name(owner, "owner")
        if cluster and not self.publish_events:
            expiry = () if expiry_ms is None else ("PX", expiry_ms)
            command = ("SET", key, owner, "NX", *expiry)
            return Plan("claiming a task", key, lambda r: bool(r[0]), [command])
        channel, event = self._announce("claimed", task_id, owner)
        args = [owner, ms_arg(expiry_ms), channel, event]
        keys = [key]
        if not cluster:
            keys.append(self.keys.holds())
            args.append(_holds.member(_holds.CLAIM, task_id, owner))
        return Plan("claiming a task", key, lambda r: bool(r[0]), script=(CLAIM, keys, args))

    def _announce(self, event: str, task_id: str, owner: str) -> tuple[str, bytes | str]:
        if not self.publish_events:
            return "", ""
        return self.channel, self._event(event=event, task_id=task_id, owner=owner)

    def _indexed(self, won: bool, entry: str, expiry_ms: int | None, cluster: bool) -> Flow:
        """A cluster's second step after a claim or an extension: the holds index."""
        if won and cluster:
            yield from _holds.hold(self.keys, entry, expiry_ms)

    def _claim_flow(
        self, task_id: str, owner: str, ttl: TTLOption, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        expiry_ms = milliseconds(ttl, self.config.ttl.claims)
        won = bool((yield self._claim_plan(task_id, owner, expiry_ms, cluster)))
        metrics.claim(won)
        entry = _holds.member(_holds.CLAIM, task_id, owner)
        yield from self._indexed(won, entry, expiry_ms, cluster)
        return won

    def _plan_claim_any(
        self, ids: builtins.list[str], owner: str, expiry_ms: int | None
    ) -> Plan[str | None]:
        keys = [self.keys.task_owner(task_id) for task_id in ids]
        owner = checked_name(owner, "owner")
        if not keys:
            return Plan("claiming a task", "", lambda _: None, [])
        announced = [self._announce("claimed", task_id, owner) for task_id in ids]
        members = [_holds.member(_holds.CLAIM, task_id, owner) for task_id in ids]
        args = [owner, ms_arg(expiry_ms), announced[0][0], len(ids)]
        args += [event for _, event in announced] + members
        return Plan(
            "claiming a task",
            keys[0],
            lambda r: ids[int(r[0]) - 1] if int(r[0]) else None,
            script=(CLAIM_ANY, [*keys, self.keys.holds()], args),
        )

    def _claim_any_flow(
        self,
        task_ids: Iterable[str],
        owner: str,
        ttl: TTLOption,
        cluster: bool,
    ) -> Generator[Plan[Any], Any, str | None]:
        if isinstance(task_ids, str | bytes):
            raise TypeError("task_ids must be a list of task ids, not a single str")
        ids = builtins.list(task_ids)
        if len(ids) > MAX_CLAIM_ANY:
            raise ValueError(f"claim_any takes at most {MAX_CLAIM_ANY} task ids, got {len(ids)}")
        expiry_ms = milliseconds(ttl, self.config.ttl.claims)
        plan = self._plan_claim_any(ids, owner, expiry_ms)  # checks every id, sends nothing
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
        return Plan(
            "reading a task's owner",
            key,
            lambda r: None if r[0] is None else text(r[0]),
            [("GET", key)],
        )

    def _extend_flow(
        self, task_id: str, owner: str, ttl: TTLOption, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        key = self.keys.task_owner(task_id)
        expiry_ms = milliseconds(ttl, self.config.ttl.claims)
        entry = _holds.member(_holds.CLAIM, task_id, checked_name(owner, "owner"))
        keys, args = [key], [owner, ms_arg(expiry_ms)]
        if not cluster:
            keys.append(self.keys.holds())
            args.append(entry)
        plan = Plan("extending a claim", key, lambda r: bool(r[0]), script=(EXTEND, keys, args))
        extended = bool((yield plan))
        yield from self._indexed(extended, entry, expiry_ms, cluster)
        return extended

    def _release_flow(
        self, task_id: str, owner: str, cluster: bool
    ) -> Generator[Plan[Any], Any, bool]:
        key = self.keys.task_owner(task_id)
        entry = _holds.member(_holds.CLAIM, task_id, checked_name(owner, "owner"))
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


class Claims(_ClaimsCore, SyncRunner):
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

    ``ttl=`` arguments take seconds, a ``timedelta`` or a :class:`~redis_memory.TTL`
    (``TTL(None)``: the claim never expires); left out, they are
    ``config.ttl.claims`` (60 s by default). ``ttl=None`` is deprecated: today it
    is the default, and it will mean "never expires", as everywhere else in the
    package. Expiry is what frees the task of an agent that crashed: an agent
    working longer than the TTL calls :meth:`extend` from time to time.

    Example:
        >>> from redis_memory.coordination import Claims
        >>> claims = Claims()
        >>> claims.claim("summarize-doc-7", "agent-a", ttl=30)
        True
        >>> claims.claim("summarize-doc-7", "agent-b")
        False
        >>> claims.owner("summarize-doc-7")
        'agent-a'
        >>> claims.extend("summarize-doc-7", "agent-a", ttl=30)
        True
        >>> claims.release("summarize-doc-7", "agent-b")
        False
        >>> claims.release("summarize-doc-7", "agent-a")
        True
    """

    def _drive(self, flow: Generator[Plan[Any], Any, T]) -> T:
        return drive(flow, self._run, (RedisMemoryError,))

    def claim(self, task_id: str, owner: str, *, ttl: TTLOption = POLICY) -> bool:
        """Claim a free task for ``owner``; True if this call got it, False if it is taken."""
        if ttl is None:
            meaning_changes("Claims.claim()", NONE_MEANING_CHANGES)
        return self._drive(self._claim_flow(task_id, owner, ttl, self._cluster))

    def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTLOption = POLICY
    ) -> str | None:
        """Claim the first free task of ``task_ids`` (in order) in one atomic step.

        Returns the task id claimed, or None when all are taken. On Redis
        Cluster the tasks are tried one after another (they live in different slots).
        """
        if ttl is None:
            meaning_changes("Claims.claim_any()", NONE_MEANING_CHANGES)
        return self._drive(self._claim_any_flow(task_ids, owner, ttl, self._cluster))

    def owner(self, task_id: str) -> str | None:
        """Who holds the task now, or None if nobody does (never claimed, released, expired)."""
        return self._run(self._plan_owner(task_id))

    def extend(self, task_id: str, owner: str, *, ttl: TTLOption = POLICY) -> bool:
        """Restart the claim's lifetime (to ``ttl``); only while ``owner`` still holds it."""
        if ttl is None:
            meaning_changes("Claims.extend()", NONE_MEANING_CHANGES)
        return self._drive(self._extend_flow(task_id, owner, ttl, self._cluster))

    def release(self, task_id: str, owner: str) -> bool:
        """Free the task; only ``owner``'s own, live claim is released. True if it was."""
        return self._drive(self._release_flow(task_id, owner, self._cluster))


class AsyncClaims(_ClaimsCore, AsyncRunner):
    """Task claims on ``redis.asyncio``: :class:`Claims`' twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncClaims
        >>> async def main():
        ...     claims = AsyncClaims()
        ...     won = await claims.claim("task-9", "agent-a")
        ...     await claims.release("task-9", "agent-a")
        ...     return won
        >>> asyncio.run(main())
        True
    """

    async def _drive(self, flow: Generator[Plan[Any], Any, T]) -> T:
        return await drive_async(flow, self._run, (RedisMemoryError,))

    async def claim(self, task_id: str, owner: str, *, ttl: TTLOption = POLICY) -> bool:
        """Claim a free task for ``owner``; True if this call got it, False if it is taken."""
        if ttl is None:
            meaning_changes("AsyncClaims.claim()", NONE_MEANING_CHANGES)
        return await self._drive(self._claim_flow(task_id, owner, ttl, self._cluster))

    async def claim_any(
        self, task_ids: Iterable[str], owner: str, *, ttl: TTLOption = POLICY
    ) -> str | None:
        """Claim the first free task of ``task_ids`` (in order) in one atomic step."""
        if ttl is None:
            meaning_changes("AsyncClaims.claim_any()", NONE_MEANING_CHANGES)
        return await self._drive(self._claim_any_flow(task_ids, owner, ttl, self._cluster))

    async def owner(self, task_id: str) -> str | None:
        """Who holds the task now, or None if nobody does (never claimed, released, expired)."""
        return await self._run(self._plan_owner(task_id))

    async def extend(self, task_id: str, owner: str, *, ttl: TTLOption = POLICY) -> bool:
        """Restart the claim's lifetime (to ``ttl``); only while ``owner`` still holds it."""
        if ttl is None:
            meaning_changes("AsyncClaims.extend()", NONE_MEANING_CHANGES)
        return await self._drive(self._extend_flow(task_id, owner, ttl, self._cluster))

    async def release(self, task_id: str, owner: str) -> bool:
        """Free the task; only ``owner``'s own, live claim is released. True if it was."""
        return await self._drive(self._release_flow(task_id, owner, self._cluster))


__all__ = ["AsyncClaims", "Claims"]
