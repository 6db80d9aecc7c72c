"""The tools an agent of a team calls, for any agent framework: claim, report, look around.

Six tools let an agent work in a team of agents: ``claim_task``, ``release_task``,
``report_finding``, ``read_findings``, ``who_is_doing_what`` and ``find_agents``.
Everything about them but the framework's tool type lives here:

- :data:`TEAM_TOOLS`: each tool stated once, as a :class:`ToolSpec`: its name,
  the description a model reads, and its arguments (a pydantic model, with a
  description for each argument);
- :class:`TeamDesk`: one agent's desk, one method per tool, each doing its work
  through :class:`~redis_memory.coordination.Claims`,
  :class:`~redis_memory.coordination.Findings` and
  :class:`~redis_memory.presence.Presence` and returning the reply the model
  reads; :class:`AsyncTeamDesk` is its ``redis.asyncio`` twin, name for name.

The agent id is fixed when a desk is built: no tool takes an owner or an author,
so the model cannot act as another agent. Bad input raises ``ValueError`` or
``TypeError`` (pydantic's ``ValidationError`` is a ``ValueError``) and Redis
trouble the package's errors, all in :data:`TOOL_ERRORS`; a framework shows them
to the model as the tool's error result, worded by :meth:`ToolSpec.failed`.
:func:`langchain_redis_memory.team_tools` and
:func:`llama_index_redis_memory.team_tools` are those translations.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Generator, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar, TypedDict

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ._checks import whole
from ._flow import drive, drive_async
from ._holds import Hold
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .coordination import AsyncClaims, AsyncFindings, Claims, Findings
from .errors import RedisMemoryError
from .keys import escape_id
from .presence import DEFAULT_TEAM, AsyncPresence, Presence
from .ttl import POLICY, TTL, TTLOption, or_default

# What a tool shows the model as its error result: bad input (ValueError, TypeError,
# NoConflictError) and the package's errors (Redis down, ACL, damaged data).
TOOL_ERRORS: tuple[type[Exception], ...] = (RedisMemoryError, ValueError, TypeError, LookupError)

_SHOWN = 200  # the longest id, subject or verdict shown whole
_LISTED = 50  # the most agents, or orphaned holds, who_is_doing_what lists
_MOST_READ = 200  # the most findings read_findings shows


# -- the tools, stated once ---------------------------------------------------------------
class _Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid")  # an owner or author the model adds is refused


class _Task(_Arguments):
    task_id: str = Field(
        description="The task's id, exactly as you were given it or as another tool listed it."
    )


class _Report(_Task):
    finding: str = Field(description="What you found out, in a few self-contained sentences.")
    subject: str | None = Field(
        default=None,
        description="Optional, with verdict: the question your finding takes a side on, e.g. "
        "'root cause'. Use the same words as your team (read_findings shows theirs).",
    )
    verdict: str | None = Field(
        default=None,
        description="Optional, with subject: your short answer to it, e.g. 'yes', 'no', 'dns "
        "outage'. Agents giving different verdicts on one subject open a disagreement.",
    )


class _Read(_Task):
    last: int = Field(
        default=20,
        ge=1,
        le=_MOST_READ,
        description=f"Show at most this many findings, the newest (1 to {_MOST_READ}; default 20).",
    )


class _Find(_Arguments):
    capabilities: list[str] = Field(
        min_length=1,
        description="What the agents must all be able to do, e.g. ['translate', 'fr'].",
    )


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """One tool as a model sees it, in any framework.

    Attributes:
        name: The tool's name, also the name of its :class:`TeamDesk` method.
        description: When and why to call it, written for a model.
        args: Its arguments: a pydantic model (extra arguments are refused), whose
            fields carry their descriptions; its JSON schema is what a model sees.
    """

    name: str
    description: str
    args: type[BaseModel]

    def failed(self, error: BaseException) -> str:
        """The tool's error result, as the model reads it: what failed, and why."""
        if isinstance(error, ValidationError):
            problems = "; ".join(
                f"{'.'.join(str(part) for part in problem['loc']) or 'input'}: {problem['msg']}"
                for problem in error.errors()
            )
            return f"{self.name} failed: invalid arguments ({problems}). Check them and try again."
        return f"{self.name} failed: {error}"


TEAM_TOOLS: tuple[ToolSpec, ...] = (
    ToolSpec(
        "claim_task",
        "Claim a task before you work on it, so that no other agent of your team does the same "
        "work. Tells you whether you got it or which agent already holds it (then pick another "
        "task). Claims expire: claim a task you hold again to keep it longer.",
        _Task,
    ),
    ToolSpec(
        "release_task",
        "Release a task you claimed, once you finish it or give it up, so another agent may "
        "claim it.",
        _Task,
    ),
    ToolSpec(
        "report_finding",
        "Share what you found out about a task with your team. To take a side on a question, "
        "also give subject (the question) and verdict (your short answer): the reply tells you "
        "if another agent gave a different verdict, which opens a disagreement.",
        _Report,
    ),
    ToolSpec(
        "read_findings",
        "Read what your team found out about a task, oldest first, with the disagreements "
        "still open and those settled.",
        _Read,
    ),
    ToolSpec(
        "who_is_doing_what",
        "See your team: the live agents, what each can do and the tasks each holds, and the "
        "tasks still held by agents that are gone (orphaned).",
        _Arguments,
    ),
    ToolSpec(
        "find_agents",
        "Find the live agents of your team that can do all the given capabilities, e.g. to "
        "hand a task over.",
        _Find,
    ),
)
_SPECS = {spec.name: spec for spec in TEAM_TOOLS}


# -- the replies' text ----------------------------------------------------------------------
def _quoted(value: Any) -> str:
    """Data an agent reads (ids, subjects, verdicts): quoted, escapes visible, long ones cut."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return repr(text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…")


def _row(cells: Iterable[str]) -> str:
    """A row of a Markdown table."""
    return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"


def _left(seconds: float | None) -> str:
    return "no expiry" if seconds is None else f"{seconds:.0f} s left"


def _stripped(text: str | None) -> str | None:
    return (text.strip() or None) if isinstance(text, str) else text


def _arguments(name: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """A tool's arguments, checked against its spec (as a model sent them)."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"no team tool is named {name!r}; the tools: {', '.join(_SPECS)}")
    return dict(spec.args.model_validate(arguments))


class TeamDeskOptions(TypedDict, total=False):
    """The keyword arguments of :class:`TeamDesk` (and of the frameworks' ``team_tools``)."""

    team: str
    url: str | None
    client: SyncClient | AsyncClient | None
    config: RedisMemoryConfig | None
    claim_ttl: TTL | float | timedelta | None


# The flows: each tool's body, shared by both twins. A flow yields the engines' calls
# (their result on a sync desk, an awaitable on an async one), is sent back their
# results, and returns the reply; the twins run it with _plan.drive / drive_async.
_Flow = Generator[Any, Any, str]


class _TeamDeskCore:
    _engines: ClassVar[tuple[type[Any], type[Any], type[Any]]]

    def __init__(
        self,
        agent_id: str,
        *,
        team: str = DEFAULT_TEAM,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        claim_ttl: TTLOption = POLICY,
    ) -> None:
        escape_id(agent_id, what="agent id")
        claims, findings, presence = self._engines
        options: dict[str, Any] = {"url": url, "client": client, "config": config}
        self._claims, self._findings = claims(**options), findings(**options)
        self._presence = presence(team, **options)
        self.agent_id, self.team = agent_id, team
        self.claim_ttl: TTL = or_default(
            claim_ttl, self._claims.config.ttl.claims, f"{type(self).__name__}()"
        )
        self._lifetime = (
            "It is yours until you release it with release_task."
            if self.claim_ttl.seconds is None
            else f"It is yours for {self.claim_ttl.seconds:g} s: claim it again to keep it longer "
            "and call release_task when you are done."
        )

    def _who(self, agent_id: str | None) -> str:
        if agent_id is None:
            return "(no author)"
        return _quoted(agent_id) + (" (you)" if agent_id == self.agent_id else "")

    def _says(self, verdicts: dict[str, Any]) -> str:
        return ", ".join(f"{self._who(a)} says {_quoted(v)}" for a, v in verdicts.items())

    def _claim(self, task_id: str) -> _Flow:
        me, ttl = self.agent_id, self.claim_ttl
        if (yield self._claims.claim(task_id, me, ttl=ttl)):
            return f"You claimed task {_quoted(task_id)}. {self._lifetime}"
        for _ in range(2):  # it may change hands between two calls
            owner = yield self._claims.owner(task_id)
            if owner == me:
                if (yield self._claims.extend(task_id, me, ttl=ttl)):
                    return f"You already hold task {_quoted(task_id)}: renewed. {self._lifetime}"
            elif owner is not None:
                return (
                    f"Task {_quoted(task_id)} is already held by {_quoted(owner)}: "
                    "leave it to them and pick another task."
                )
            elif (yield self._claims.claim(task_id, me, ttl=ttl)):
                return f"You claimed task {_quoted(task_id)}. {self._lifetime}"
        return f"Task {_quoted(task_id)} changed hands while you claimed it: try again."

    def _release(self, task_id: str) -> _Flow:
        if (yield self._claims.release(task_id, self.agent_id)):
            return f"You released task {_quoted(task_id)}: another agent may claim it now."
        owner = yield self._claims.owner(task_id)
        if owner is None:
            return (
                f"You do not hold task {_quoted(task_id)}, and nobody does "
                "(never claimed, released, or its claim expired)."
            )
        return f"You cannot release task {_quoted(task_id)}: {_quoted(owner)} holds it, not you."

    def _report(
        self, task_id: str, finding: str, subject: str | None, verdict: str | None
    ) -> _Flow:
        if not isinstance(finding, str) or not finding.strip():
            raise ValueError("a finding is a text, not blank: what you found out")
        subject, verdict = _stripped(subject), _stripped(verdict)
        if (subject is None) != (verdict is None):
            raise ValueError("give subject and verdict together (a question and your answer)")
        if subject is None:
            count = yield self._findings.add(task_id, finding, author=self.agent_id)
            return f"Finding recorded on task {_quoted(task_id)} ({count} so far)."
        added = yield self._findings.add_verdict(
            task_id, finding, author=self.agent_id, subject=subject, verdict=verdict
        )
        reply = (
            f"Finding recorded on task {_quoted(task_id)} ({added.count} so far). "
            f"Your verdict {_quoted(verdict)} on {_quoted(subject)}"
        )
        conflict = added.conflict
        if conflict is None:
            return f"{reply}: no agent disagrees with it."
        verb = "opened" if added.opened else "joined"
        reply += f" {verb} a disagreement: {self._says(conflict.verdicts)}."
        if conflict.reopens is not None:
            d = conflict.reopens
            reply += f" It disputes {_quoted(d.verdict)}, decided by {_quoted(d.decided_by)}."
        return reply + " It stays open until it is resolved; read_findings lists it."

    def _read(self, task_id: str, last: int) -> _Flow:
        whole("last", last, 1, maximum=_MOST_READ)
        findings = yield self._findings.list(task_id, last=last + 1)
        conflicts = yield self._findings.conflicts(task_id, include_resolved=True)
        if not findings and not conflicts:
            return f"Task {_quoted(task_id)} has no findings yet."
        which = f"the newest {last} findings" if len(findings) > last else "its findings"
        lines = [f"Task {_quoted(task_id)}, {which}, oldest first:"]
        for number, found in enumerate(findings[-last:], 1):
            value, on = found.value, found.subject
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            side = "" if on is None else f" [{_quoted(on)}: {_quoted(found.verdict)}]"
            if found.decision:  # the finding Findings.resolve() records
                side = f" decided {_quoted(found.verdict)} on {_quoted(on)}"
                text = value.get("reason", text) if isinstance(value, dict) else text
            text = "\n   ".join(str(text).splitlines() or [""])  # indented under its number
            lines.append(f"{number}. {self._who(found.author)}{side}: {text}")
        for c in conflicts:
            if c.decision is None:
                lines.append(
                    f"OPEN DISAGREEMENT on {_quoted(c.subject)}: {self._says(c.verdicts)}."
                )
            else:
                lines.append(
                    f"Settled disagreement on {_quoted(c.subject)}: {_quoted(c.decision.verdict)} "
                    f"stands, decided by {self._who(c.decision.decided_by)}: {c.decision.reason}"
                )
        return "\n".join(lines)

    def _doing(self) -> _Flow:
        activity = yield self._presence.doing()
        agents = activity.agents
        lines = [f"Team {_quoted(self.team)}: {len(agents)} live agent(s)."]
        if all(entry.agent.id != self.agent_id for entry in agents):
            lines.append(
                f"You ({_quoted(self.agent_id)}) are not among them: your program has not joined "
                "the team, or its heartbeats stopped."
            )
        if agents:
            lines += ["| agent | can | holds |", "|---|---|---|"]
        for entry in agents[:_LISTED]:
            can = ", ".join(_quoted(c) for c in sorted(entry.agent.capabilities)) or "-"
            holds = "; ".join(
                f"{h.kind} {_quoted(h.name)} ({_left(h.expires_in)})" for h in entry.holds
            )
            lines.append(_row([self._who(entry.agent.id), can, holds or "-"]))
        if len(agents) > _LISTED:
            lines.append(f"... and {len(agents) - _LISTED} more live agents.")
        lines += self._holds(
            "Orphaned holds (the holder is not a live agent: nobody works on them until "
            "they expire):",
            activity.orphaned,
        )
        lines += self._holds(
            "Held outside the team (by agents of other teams, or programs that never joined it):",
            activity.others,
        )
        return "\n".join(lines)

    def _holds(self, title: str, holds: Sequence[Hold]) -> list[str]:
        """A table of holds under its title; none without holds."""
        if not holds:
            return []
        lines = [title, "| hold | holder | expires |", "|---|---|---|"]
        for h in holds[:_LISTED]:
            lines.append(
                _row([f"{h.kind} {_quoted(h.name)}", self._who(h.holder), _left(h.expires_in)])
            )
        if len(holds) > _LISTED:
            lines.append(f"... and {len(holds) - _LISTED} more.")
        return lines

    def _find(self, capabilities: Sequence[str]) -> _Flow:
        wanted = [capabilities] if isinstance(capabilities, str) else list(capabilities)
        if not wanted:
            raise ValueError("give at least one capability, e.g. ['translate']")
        found = yield self._presence.can(*wanted)
        need = " and ".join(_quoted(c) for c in wanted)
        if not found:
            return f"No live agent of team {_quoted(self.team)} can {need}."
        return f"Live agents that can {need}: {', '.join(self._who(a) for a in found)}."


def _result(value: Any) -> Any:
    return value  # a sync engine's call has run by the time the flow yields it


def _awaited(pending: Awaitable[Any]) -> Awaitable[Any]:
    return pending  # drive_async awaits it


class TeamDesk(_TeamDeskCore):
    """One agent's team tools, as methods: each does the tool's work and returns its reply.

    Args:
        agent_id: Who calls the tools: the owner of its claims, the author of its
            findings, the id it joined the team with.
        team: The :class:`~redis_memory.presence.Presence` team.
        url, client, config: Where the data lives (as everywhere in this package).
        claim_ttl: How long a claim lasts without renewal (seconds, a
            ``timedelta`` or a :class:`~redis_memory.TTL`); default
            ``config.ttl.claims``.

    Each method is the tool of its name in :data:`TEAM_TOOLS`; :meth:`call` runs
    one by name with the arguments a model sent (checked against the tool's
    ``args``). The program keeps the agent alive in the team
    (``Presence(team).running(agent_id, capabilities=...)``); the desk only reads
    presence. Errors: :data:`TOOL_ERRORS`.

    Example:
        .. code-block:: python

            from redis_memory.agent_tools import TeamDesk
            from redis_memory.presence import Presence

            with Presence("research", url="embedded").running("ana", capabilities=["web"]):
                ana = TeamDesk("ana", team="research", url="embedded", claim_ttl=30)
                assert ana.claim_task("survey-2") == (
                    "You claimed task 'survey-2'. It is yours for 30 s: claim it again to "
                    "keep it longer and call release_task when you are done."
                )
                bob = TeamDesk("bob", team="research", url="embedded")
                assert bob.call("claim_task", task_id="survey-2").startswith(
                    "Task 'survey-2' is already held by 'ana'"
                )
                assert bob.find_agents(["web"]) == "Live agents that can 'web': 'ana'."
                ana.release_task("survey-2")
    """

    _engines = (Claims, Findings, Presence)

    def call(self, name: str, /, **arguments: Any) -> str:
        """Run the tool ``name`` with the arguments a model sent (checked by its spec)."""
        checked = _arguments(name, arguments)
        return getattr(self, name)(**checked)

    def claim_task(self, task_id: str) -> str:
        """Claim the task for this agent; says who holds it if another agent does."""
        return drive(self._claim(task_id), _result)

    def release_task(self, task_id: str) -> str:
        """Release this agent's claim on the task; says who holds it if not this agent."""
        return drive(self._release(task_id), _result)

    def report_finding(
        self, task_id: str, finding: str, subject: str | None = None, verdict: str | None = None
    ) -> str:
        """Add a finding, maybe a verdict on a subject: says if it opened or joined a dispute."""
        return drive(self._report(task_id, finding, subject, verdict), _result)

    def read_findings(self, task_id: str, last: int = 20) -> str:
        """The task's newest findings, one a line, with its open and settled disagreements."""
        return drive(self._read(task_id, last), _result)

    def who_is_doing_what(self) -> str:
        """A table of the team's live agents, their capabilities and holds, and the orphans."""
        return drive(self._doing(), _result)

    def find_agents(self, capabilities: Sequence[str]) -> str:
        """The live agents of the team that can do every one of ``capabilities``."""
        return drive(self._find(capabilities), _result)


@twin_of(TeamDesk)
class AsyncTeamDesk(_TeamDeskCore):
    """One agent's team tools on ``redis.asyncio``: :class:`TeamDesk`'s twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.agent_tools import AsyncTeamDesk
        >>> async def main():
        ...     desk = AsyncTeamDesk("ana", team="research", claim_ttl=30)
        ...     claimed = await desk.call("claim_task", task_id="survey-3")
        ...     await desk.release_task("survey-3")
        ...     return claimed
        >>> print(asyncio.run(main()))
        You claimed task 'survey-3'. It is yours for 30 s: claim it again to keep it
        longer and call release_task when you are done.
    """

    _engines = (AsyncClaims, AsyncFindings, AsyncPresence)

    async def call(self, name: str, /, **arguments: Any) -> str:
        checked = _arguments(name, arguments)
        return await getattr(self, name)(**checked)

    async def claim_task(self, task_id: str) -> str:
        return await drive_async(self._claim(task_id), _awaited)

    async def release_task(self, task_id: str) -> str:
        return await drive_async(self._release(task_id), _awaited)

    async def report_finding(
        self, task_id: str, finding: str, subject: str | None = None, verdict: str | None = None
    ) -> str:
        return await drive_async(self._report(task_id, finding, subject, verdict), _awaited)

    async def read_findings(self, task_id: str, last: int = 20) -> str:
        return await drive_async(self._read(task_id, last), _awaited)

    async def who_is_doing_what(self) -> str:
        return await drive_async(self._doing(), _awaited)

    async def find_agents(self, capabilities: Sequence[str]) -> str:
        return await drive_async(self._find(capabilities), _awaited)


__all__ = ["TEAM_TOOLS", "TOOL_ERRORS", "AsyncTeamDesk", "TeamDesk", "TeamDeskOptions", "ToolSpec"]
