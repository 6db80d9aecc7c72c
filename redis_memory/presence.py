"""Agents that see each other: who is alive, what each can do, and what each holds.

- :class:`Presence`: an agent :meth:`~Presence.join`\\ s a team with an id,
  capabilities and free-form metadata, then sends heartbeats; it is alive while
  its last heartbeat is younger than ``ttl``. Nothing has to sweep: every read
  compares the heartbeat's deadline with the server's clock. Joins, leaves and
  expiries are announced on ``{prefix}:events:team:{<team>}``; an expiry is
  announced by the next join, heartbeat or leave of any agent of the team, which
  also clears the dead agent's record. ``with presence.running(...)`` keeps the
  heartbeat going on a thread (an asyncio task for :class:`AsyncPresence`) and
  leaves on exit, also on an exception.
- :meth:`Presence.can`: which live agents can do X, or X and Y together: one
  ``ZINTER`` of the live agents with each capability's set.
- :meth:`Presence.doing`: who is doing what: for each live agent the claims
  (:class:`~redis_memory.coordination.Claims`) and leases
  (:class:`~redis_memory.priorityqueue.PriorityQueue`) it holds, and the holds
  of agents that are no longer alive, visible before they expire. Claims and
  leases are matched to agents by owner or worker id: claim with the agent id.

Keys (one hash tag per team, so every operation on a team is one slot and one
round trip on a cluster)::

    {prefix}:team:{<team>}:alive        sorted set: agent -> heartbeat deadline (ms)
    {prefix}:team:{<team>}:agent:<id>   hash: id, capabilities, metadata, joined, seen
    {prefix}:team:{<team>}:can:<cap>    set of the agents that registered <cap>

A team's keys expire a day after the last heartbeat that touched them
(:data:`RETENTION`), so a team nobody runs any more leaves nothing behind.

Example:
    >>> from redis_memory.presence import Presence
    >>> team = Presence("research")
    >>> team.join("summariser-1", capabilities=["summarise", "en"])
    True
    >>> team.can("summarise")
    ['summariser-1']
    >>> [agent.id for agent in team.alive()]
    ['summariser-1']
    >>> team.leave("summariser-1")
    True
"""

from __future__ import annotations

import asyncio
import builtins
import contextlib
import logging
import threading
from collections.abc import AsyncIterator, Generator, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar

from . import _holds
from ._checks import distinct_names, milliseconds, seconds, text, whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._holds import Hold
from ._plan import Plan, Script, lua
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .errors import RedisMemoryError, SerializationError
from .keys import escape_id, unescape_id

# Permissions lived here until they had a module of their own; old imports still work.
from .permissions import AsyncPermissions, Permissions  # noqa: F401
from .ttl import MAX_SECONDS, TTL

T = TypeVar("T")
Seconds = int | float | timedelta

_log = logging.getLogger(__name__)

DEFAULT_TEAM = "default"
DEFAULT_TTL = 15.0
RETENTION = timedelta(days=1)
MAX_CAPABILITIES = 256
MAX_LISTED = 1000
_KEPT_QUERIES = 256
# Expired agents cleared (and announced) per write; the rest go with the next ones.
_SWEEP_BATCH = 100

# -- scripts -------------------------------------------------------------------------
# Every script starts from the server's clock; KEYS[1] is the team's alive set.
# Agents are stored by their escaped id (escape_id), so that a key can be built
# from a member; the hash keeps the id as given.
_NOW = lua("now.lua")

# What every write starts from: the team's keys, and its ARGV[1..5].
_HEAD = lua("presence_head.lua")

# Clears and announces the agents whose heartbeat ran out, and forgets the
# members not seen for the retention. Needs: alive, members, agent_stem,
# can_stem, channel ('' = quiet), team, retention (ms).
_SWEEP = lua("presence_sweep.lua").replace("SWEEP_BATCH", str(_SWEEP_BATCH))

# KEYS[1] alive, KEYS[2] members; ARGV: agent stem, capability stem, channel, team,
# retention ms (the sweep's), then [6] member, [7] id, [8] ttl ms, [9] capabilities
# (escaped, space separated), [10] metadata, [11] the 'joined' event.
# Returns 1 if the agent was not alive before.
_JOIN = _NOW + _HEAD + _SWEEP + lua("presence_join.lua")

# KEYS and ARGV[1..5] as for a join; ARGV[6] member, [7] ttl ms.
# Returns 0 if the agent is not alive (never joined, left, or expired: join again).
_HEARTBEAT = _NOW + _HEAD + _SWEEP + lua("presence_heartbeat.lua")

# KEYS and ARGV[1..5] as for a join; ARGV[6] member, [7] the 'left' event. The
# agent stays a member: what it still holds is orphaned, not someone else's.
_LEAVE = _NOW + _HEAD + _SWEEP + lua("presence_leave.lua")

# Reads only, so that a dashboard never writes. KEYS[1] alive; ARGV[1] agent stem;
# ARGV[2] at most this many; ARGV[3] one member, or '' for every live agent.
# Returns {now, member, deadline, id, can, meta, joined, seen, ...}.
_AGENTS = _NOW + lua("presence_agents.lua")

# KEYS[1] alive, KEYS[2..] one set per capability. Reads only. Returns the
# members alive now that are in every set.
_CAN = _NOW + lua("presence_can.lua")

JOIN = Script(_JOIN)
HEARTBEAT = Script(_HEARTBEAT)
LEAVE = Script(_LEAVE)
AGENTS = Script(_AGENTS)
CAN = Script(_CAN)


# -- results -------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Agent:
    """A live agent as its team sees it.

    ``joined`` and ``last_seen`` are the server's time (seconds since the
    epoch); ``expires_in`` is how long it stays alive without another heartbeat.
    """

    id: str
    capabilities: frozenset[str]
    metadata: dict[str, Any]
    joined: float
    last_seen: float
    expires_in: float


@dataclass(frozen=True, slots=True)
class AgentActivity:
    """One live agent and what it holds."""

    agent: Agent
    holds: list[Hold] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class TeamActivity:
    """Who is doing what: each live agent with its holds, and the holds of the dead.

    ``orphaned`` lists claims and leases whose holder was an agent of the team
    in the last day but is not alive now (it stopped sending heartbeats, or
    left without releasing): they stay held until they expire
    (``Hold.expires_in``), and nobody is working on them. ``others`` lists the
    holds of holders the team never saw: agents of other teams, or programs
    that claim without joining a team.
    """

    agents: list[AgentActivity]
    orphaned: list[Hold]
    others: list[Hold] = field(default_factory=list)

    def holder_of(self, kind: str, name: str) -> str | None:
        """Who holds a claim (``"claim"``, task id) or a lease (``"lease"``, ``"queue/task"``)."""
        for hold in self.holds:
            if hold.kind == kind and hold.name == name:
                return hold.holder
        return None

    @property
    def holds(self) -> builtins.list[Hold]:
        """Every hold: the live agents', the orphaned, the others'."""
        return [hold for entry in self.agents for hold in entry.holds] + self.orphaned + self.others


# -- helpers ---------------------------------------------------------------------------
def _milliseconds(name: str, value: TTL | Seconds) -> int:
    if isinstance(value, TTL) and value.milliseconds is not None:
        return value.milliseconds
    return milliseconds(name, value, maximum=MAX_SECONDS)  # TTL(None) is refused here


# -- presence --------------------------------------------------------------------------
class _PresenceCore(Engine):
    def __init__(
        self,
        team: str = DEFAULT_TEAM,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        ttl: TTL | Seconds = DEFAULT_TTL,
        publish_events: bool = True,
    ) -> None:
        super().__init__(url, client, config)
        self.team = team
        self._alive = self.keys.team_alive(team)  # checks the name
        self._team_keys = [self._alive, self.keys.team_members(team)]
        # The keys of recent capability queries: an application asks the same few.
        self._can_keys: dict[tuple[str, ...], builtins.list[str]] = {}
        self._ms = _milliseconds("ttl", ttl)
        self._retention = int(RETENTION.total_seconds() * 1000)
        self.publish_events = bool(publish_events)
        self._stems = [
            self.keys.team_agent_stem(team),
            self.keys.team_capability_stem(team),
            self.channel if self.publish_events else "",
            team,
            self._retention,
        ]

    @property
    def ttl(self) -> float:
        """Seconds an agent stays alive after its last heartbeat."""
        return self._ms / 1000

    @property
    def channel(self) -> str:
        """The pub/sub channel of the team's ``joined``, ``left`` and ``expired`` events."""
        return self.keys.team_channel(self.team)

    def _event(self, event: str, agent_id: str) -> bytes:
        return self._serializer.dumps({"event": event, "team": self.team, "agent": agent_id})

    def _plan_join(
        self, agent_id: str, capabilities: Iterable[str], metadata: Mapping[str, Any] | None
    ) -> Plan[bool]:
        member = escape_id(agent_id, what="agent id")
        caps = distinct_names(capabilities, "capability")
        if len(caps) > MAX_CAPABILITIES:
            raise ValueError(
                f"an agent may register at most {MAX_CAPABILITIES} capabilities, got {len(caps)}"
            )
        if metadata is not None and not isinstance(metadata, Mapping):
            raise TypeError(f"metadata must be a dict, not {type(metadata).__name__}")
        try:
            meta = self._serializer.dumps(dict(metadata or {}))
        except SerializationError as exc:
            raise SerializationError(f"the agent's metadata cannot be stored: {exc}") from exc
        args = [
            *self._stems,
            member,
            agent_id,
            self._ms,
            " ".join(escape_id(cap, what="capability") for cap in caps),
            meta,
            self._event("joined", agent_id),
        ]
        return Plan(
            "registering an agent",
            self._alive,
            lambda r: bool(r[0]),
            script=(JOIN, self._team_keys, args),
        )

    def _plan_heartbeat(self, agent_id: str) -> Plan[bool]:
        member = escape_id(agent_id, what="agent id")
        args = [*self._stems, member, self._ms]
        return Plan(
            "sending an agent's heartbeat",
            self._alive,
            lambda r: bool(r[0]),
            script=(HEARTBEAT, self._team_keys, args),
        )

    def _plan_leave(self, agent_id: str) -> Plan[bool]:
        member = escape_id(agent_id, what="agent id")
        args = [*self._stems, member, self._event("left", agent_id)]
        return Plan(
            "removing an agent",
            self._alive,
            lambda r: bool(r[0]),
            script=(LEAVE, self._team_keys, args),
        )

    def _decode_agents(self, reply: list[Any]) -> builtins.list[Agent]:
        now, *flat = reply
        now_ms = int(now)
        agents = []
        for i in range(0, len(flat), 6):
            deadline, agent_id, caps, meta, joined, seen = flat[i : i + 6]
            try:
                metadata = self._serializer.loads(meta) if meta else {}
            except SerializationError:
                _log.warning("agent %r of team %r has unreadable metadata", agent_id, self.team)
                metadata = {}
            agents.append(
                Agent(
                    id=text(agent_id),
                    capabilities=frozenset(unescape_id(c) for c in text(caps).split()),
                    metadata=metadata,
                    joined=int(joined or now_ms) / 1000,
                    last_seen=int(seen or now_ms) / 1000,
                    expires_in=max(0.0, (float(deadline) - now_ms) / 1000),
                )
            )
        return agents

    def _plan_alive(self, limit: int) -> Plan[builtins.list[Agent]]:
        args = [self._stems[0], whole("limit", limit, 1), ""]
        return Plan(
            "listing live agents",
            self._alive,
            lambda r: self._decode_agents(r[0]),
            script=(AGENTS, [self._alive], args),
        )

    def _plan_get(self, agent_id: str) -> Plan[Agent | None]:
        args = [self._stems[0], 1, escape_id(agent_id, what="agent id")]

        def finish(replies: list[Any]) -> Agent | None:
            agents = self._decode_agents(replies[0])
            return agents[0] if agents else None

        return Plan("reading an agent", self._alive, finish, script=(AGENTS, [self._alive], args))

    def _plan_can(self, capabilities: tuple[str, ...]) -> Plan[builtins.list[str]]:
        try:
            keys = self._can_keys.get(capabilities)
        except TypeError:  # an unhashable argument: _names says what is wrong
            keys = None
        if keys is None:
            caps = distinct_names(capabilities, "capability")
            if not caps:
                raise ValueError("can() needs at least one capability, e.g. can('summarise')")
            keys = [self._alive, *(self.keys.team_capability(self.team, cap) for cap in caps)]
            if len(self._can_keys) < _KEPT_QUERIES:
                self._can_keys[capabilities] = keys
        return Plan(
            "finding agents by capability",
            self._alive,
            lambda r: sorted(unescape_id(text(member)) for member in r[0]),
            script=(CAN, keys, []),
        )

    def _plan_members(self, limit: int) -> Plan[set[str]]:
        key = self._team_keys[1]
        command = ("ZRANGE", key, "+inf", "-inf", "BYSCORE", "REV", "LIMIT", 0, limit)
        return Plan(
            "listing a team's members",
            key,
            lambda r: {unescape_id(text(member)) for member in r[0]},
            [command],
        )

    def _doing_flow(self, limit: int) -> Generator[Plan[Any], Any, TeamActivity]:
        agents: builtins.list[Agent] = yield self._plan_alive(limit)
        members: set[str] = yield self._plan_members(limit)
        _, holds = yield _holds.plan_held(self.keys, limit)
        mine: dict[str, builtins.list[Hold]] = {agent.id: [] for agent in agents}
        orphaned, others = [], []
        for hold in holds:
            if hold.holder in mine:
                mine[hold.holder].append(hold)
            elif hold.holder in members:
                orphaned.append(hold)
            else:
                others.append(hold)
        activity = [AgentActivity(agent, mine[agent.id]) for agent in agents]
        return TeamActivity(activity, orphaned, others)


class Presence(_PresenceCore, SyncRunner):
    """Which agents of a team are alive, what they can do and what they hold.

    Args:
        team: The team's name; agents of different teams never see each other.
        url, client, config: Where the data lives (as everywhere in this package).
        ttl: Seconds an agent stays alive after its last heartbeat (15 by
            default). Send heartbeats a few times per ``ttl``:
            :meth:`running` does, every ``ttl / 3``.
        publish_events: Announce ``joined``, ``left`` and ``expired`` on
            :attr:`channel` as JSON ``{"event": ..., "team": ..., "agent": ...}``.

    Agent ids are the names the agents use everywhere: claim tasks and take
    queued tasks with the agent id as owner or worker, and :meth:`doing`
    matches them. Two processes with one agent id are one agent.

    Example:
        >>> from redis_memory.presence import Presence
        >>> team = Presence("support", ttl=10)
        >>> with team.running("triage-1", capabilities=["triage", "fr"]):
        ...     print(team.can("triage", "fr"))
        ['triage-1']
        >>> team.get("triage-1") is None
        True
    """

    def join(
        self,
        agent_id: str,
        *,
        capabilities: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Register (or re-register) an agent as alive; True if it was not alive before.

        Its capabilities and metadata replace those of an earlier join.
        """
        return self._run(self._plan_join(agent_id, capabilities, metadata))

    def heartbeat(self, agent_id: str) -> bool:
        """Keep an agent alive for another ``ttl``; False if it is not alive (join again)."""
        return self._run(self._plan_heartbeat(agent_id))

    def leave(self, agent_id: str) -> bool:
        """Remove an agent now; True if it was alive."""
        return self._run(self._plan_leave(agent_id))

    def alive(self, *, limit: int = MAX_LISTED) -> list[Agent]:
        """The live agents (at most ``limit``), soonest to expire first."""
        return self._run(self._plan_alive(limit))

    def get(self, agent_id: str) -> Agent | None:
        """One agent, or None if it is not alive."""
        return self._run(self._plan_get(agent_id))

    def can(self, *capabilities: str) -> list[str]:
        """The ids of the live agents that registered every one of ``capabilities``."""
        return self._run(self._plan_can(capabilities))

    def doing(self, *, limit: int = MAX_LISTED) -> TeamActivity:
        """Who is doing what: each live agent's claims and leases, and the orphaned ones.

        Three round trips (live agents, members, the holds index); at most
        ``limit`` of each.
        """
        return self._drive(self._doing_flow(limit))

    @contextlib.contextmanager
    def running(
        self,
        agent_id: str,
        *,
        capabilities: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        interval: float | None = None,
    ) -> Iterator[Presence]:
        """Be alive for the block: join, heartbeat on a thread, leave on exit.

        ``interval`` defaults to ``ttl / 3``. A heartbeat that fails is logged
        and tried again at the next interval; one that finds the agent expired
        (a long pause) joins again. The agent leaves when the block ends, also
        on an exception.
        """
        caps = distinct_names(capabilities, "capability")
        every = _interval(interval, self.ttl)
        self.join(agent_id, capabilities=caps, metadata=metadata)
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(every):
                try:
                    if not self.heartbeat(agent_id):
                        self.join(agent_id, capabilities=caps, metadata=metadata)
                except RedisMemoryError as exc:
                    _log.warning("heartbeat of agent %r failed: %s", agent_id, exc)

        thread = threading.Thread(target=beat, name=f"heartbeat {agent_id}", daemon=True)
        thread.start()
        try:
            yield self
        finally:
            stop.set()
            thread.join()
            self.leave(agent_id)


@twin_of(Presence)
class AsyncPresence(_PresenceCore, AsyncRunner):
    """:class:`Presence` on ``redis.asyncio``, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.presence import AsyncPresence
        >>> async def main():
        ...     team = AsyncPresence("support")
        ...     async with team.running("triage-1", capabilities=["triage"]):
        ...         return await team.can("triage")
        >>> asyncio.run(main())
        ['triage-1']
    """

    async def join(
        self,
        agent_id: str,
        *,
        capabilities: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
    ) -> bool:
        """Register (or re-register) an agent as alive; True if it was not alive before."""
        return await self._run(self._plan_join(agent_id, capabilities, metadata))

    async def heartbeat(self, agent_id: str) -> bool:
        """Keep an agent alive for another ``ttl``; False if it is not alive (join again)."""
        return await self._run(self._plan_heartbeat(agent_id))

    async def leave(self, agent_id: str) -> bool:
        """Remove an agent now; True if it was alive."""
        return await self._run(self._plan_leave(agent_id))

    async def alive(self, *, limit: int = MAX_LISTED) -> list[Agent]:
        """The live agents (at most ``limit``), soonest to expire first."""
        return await self._run(self._plan_alive(limit))

    async def get(self, agent_id: str) -> Agent | None:
        """One agent, or None if it is not alive."""
        return await self._run(self._plan_get(agent_id))

    async def can(self, *capabilities: str) -> list[str]:
        """The ids of the live agents that registered every one of ``capabilities``."""
        return await self._run(self._plan_can(capabilities))

    async def doing(self, *, limit: int = MAX_LISTED) -> TeamActivity:
        """Who is doing what: each live agent's claims and leases, and the orphaned ones."""
        return await self._drive(self._doing_flow(limit))

    @contextlib.asynccontextmanager
    async def running(
        self,
        agent_id: str,
        *,
        capabilities: Iterable[str] = (),
        metadata: Mapping[str, Any] | None = None,
        interval: float | None = None,
    ) -> AsyncIterator[AsyncPresence]:
        """Be alive for the block: join, heartbeat on a task, leave on exit."""
        caps = distinct_names(capabilities, "capability")
        every = _interval(interval, self.ttl)
        await self.join(agent_id, capabilities=caps, metadata=metadata)
        stopping = False

        async def beat() -> None:
            # The flag as well as the cancel: redis-py may turn a cancel that
            # lands during a command into a connection error, which this loop
            # logs and would otherwise outlive.
            while not stopping:
                await asyncio.sleep(every)
                try:
                    if not await self.heartbeat(agent_id):
                        await self.join(agent_id, capabilities=caps, metadata=metadata)
                except RedisMemoryError as exc:
                    if not stopping:
                        _log.warning("heartbeat of agent %r failed: %s", agent_id, exc)

        task = asyncio.create_task(beat(), name=f"heartbeat {agent_id}")
        try:
            yield self
        finally:
            stopping = True
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.leave(agent_id)


def _interval(interval: float | None, ttl: float) -> float:
    if interval is None:
        return ttl / 3
    every = seconds("interval", interval)
    if every >= ttl:
        raise ValueError(
            f"interval ({interval} s) must be shorter than the presence ttl ({ttl} s), or "
            "the agent expires between heartbeats"
        )
    return every
