"""Shared findings and their disagreements (:class:`Findings`, :class:`AsyncFindings`).

See :mod:`redis_memory.coordination`.
"""

from __future__ import annotations

import builtins
import time
from dataclasses import dataclass
from typing import Any, TypeVar, Unpack

from ._checks import checked_name, text, whole
from ._coordination_core import Core, Where, ms_arg
from ._engine import AsyncRunner, SyncRunner
from ._plan import Plan, Script, lua
from .errors import RedisMemoryError, SerializationError
from .serialization import JSONSerializer
from .ttl import POLICY, TTL, TTLOption

T = TypeVar("T")

DEFAULT_MAX_FINDINGS = 1000


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
# The scripts keep each subject's verdicts in the task's verdicts hash; the record they
# write there (which _conflicts reads back) is described in findings_subject_record.lua.
_SUBJECT_RECORD = lua("findings_subject_record.lua")
ADD_VERDICT = Script(_SUBJECT_RECORD + lua("findings_add_verdict.lua"))
RESOLVE = Script(_SUBJECT_RECORD + lua("findings_resolve.lua"))

# Verdicts are compared by this encoding (keys sorted), and conflict events are built on it.
_CANONICAL = JSONSerializer(sort_keys=True)
_SUBJECT_FIELD = "s:"


def _decision(stored: Any) -> Decision | None:
    if stored is None:
        return None
    return Decision(_CANONICAL.loads(stored["v"]), stored["by"], stored["why"], float(stored["ts"]))


def _verdicts(stored: dict[str, str]) -> dict[str, Any]:
    return {author: _CANONICAL.loads(verdict) for author, verdict in stored.items()}


def _conflicts(task_id: str, key: str, reply: Any, include_resolved: bool) -> list[Conflict]:
    """The conflicts in a task's verdicts hash (HGETALL's reply), oldest first."""
    if isinstance(reply, list):  # a client without redis-py's reply callbacks
        reply = dict(zip(reply[::2], reply[1::2], strict=True))
    found: list[Conflict] = []
    for field, raw in (reply or {}).items():
        name = text(field)
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


class _FindingsCore(Core):
    def __init__(
        self,
        *,
        max_findings: int = DEFAULT_MAX_FINDINGS,
        ttl: TTLOption = POLICY,
        publish_events: bool = True,
        **where: Unpack[Where],
    ) -> None:
        super().__init__(publish_events=publish_events, **where)
        self.max_findings = whole("max_findings", max_findings, 1)
        self.ttl: TTL = self.config.ttl.claims if ttl == POLICY else TTL.of(ttl)

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
            checked_name(author, "author")
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
            checked_name(subject, "subject")
        if author is not None:
            checked_name(author, "author")
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
        canonical = self._verdict_text(verdict)
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
            ms_arg(self.ttl.milliseconds),
            field,
            author,
            canonical,
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
        checked_name(subject, "subject")
        checked_name(decided_by, "decided_by name")
        if verdict is None:
            raise ValueError("a decision needs a verdict (a JSON value; None is no verdict)")
        if not isinstance(reason, str):
            raise TypeError(f"reason must be a str, not {type(reason).__name__}: {reason!r}")
        if not reason.strip():
            raise ValueError("a decision needs a reason (reason=): why this verdict stands")
        canonical = self._verdict_text(verdict)
        ts = time.time()
        decision = Decision(_CANONICAL.loads(canonical), decided_by, reason, ts)
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
            ms_arg(self.ttl.milliseconds),
            _SUBJECT_FIELD + subject,
            decided_by,
            canonical,
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


class Findings(_FindingsCore, SyncRunner):
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
        >>> findings = Findings(ttl=None)
        >>> findings.add("task-1", {"source": "10-K", "revenue": 1.2e9},
        ...              author="researcher")
        1
        >>> [(f.author, f.value["source"]) for f in findings.list("task-1")]
        [('researcher', '10-K')]
        >>> findings.add("task-1", "the 10-K says 1.2bn", author="researcher",
        ...              subject="revenue", verdict=1.2e9)
        2
        >>> findings.add("task-1", "the 10-Q restated it", author="auditor",
        ...              subject="revenue", verdict=1.1e9)
        3
        >>> [(c.subject, c.verdicts) for c in findings.conflicts("task-1")]
        [('revenue', {'researcher': 1200000000.0, 'auditor': 1100000000.0})]
        >>> findings.resolve("task-1", "revenue", 1.1e9, decided_by="lead",
        ...                  reason="the restatement is newer")
        Decision(verdict=1100000000.0, decided_by='lead', reason='the restatement is newer', ts=...)
        >>> findings.conflicts("task-1")
        []
        >>> findings.list("task-1", last=1)[0].value
        {'decision': 1100000000.0, 'reason': 'the restatement is newer'}
    """

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


class AsyncFindings(_FindingsCore, AsyncRunner):
    """Shared findings on ``redis.asyncio``: :class:`Findings`' twin, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncFindings
        >>> async def main():
        ...     findings = AsyncFindings(ttl=None)
        ...     await findings.add("task-2", "the API rate-limits at 10 rps", author="a")
        ...     return [f.value for f in await findings.list("task-2", last=1)]
        >>> asyncio.run(main())
        ['the API rate-limits at 10 rps']
    """

    async def add(
        self,
        task_id: str,
        finding: Any,
        *,
        author: str | None = None,
        subject: str | None = None,
        verdict: Any = None,
    ) -> int:
        """Append a finding; returns how many the task has (:meth:`Findings.add`)."""
        return await self._run(self._plan_add(task_id, finding, author, subject, verdict))

    async def add_verdict(
        self, task_id: str, finding: Any, *, author: str, subject: str, verdict: Any
    ) -> VerdictAdded:
        """Add a finding with a verdict, telling what it did (:meth:`Findings.add_verdict`)."""
        return await self._run(self._plan_add_verdict(task_id, finding, author, subject, verdict))

    async def list(self, task_id: str, *, last: int | None = None) -> builtins.list[Finding]:
        """The task's findings, oldest first: all kept or the last N (:meth:`Findings.list`)."""
        return await self._run(self._plan_list(task_id, last))

    async def count(self, task_id: str) -> int:
        """How many findings the task has."""
        return await self._run(self._plan_count(task_id))

    async def clear(self, task_id: str) -> int:
        """Delete the task's findings and verdicts; returns how many findings there were."""
        return await self._run(self._plan_clear(task_id))

    async def conflicts(
        self, task_id: str, *, include_resolved: bool = False
    ) -> builtins.list[Conflict]:
        """The task's open conflicts, oldest first (:meth:`Findings.conflicts`)."""
        return await self._run(self._plan_conflicts(task_id, include_resolved))

    async def resolve(
        self, task_id: str, subject: str, verdict: Any, *, decided_by: str, reason: str
    ) -> Decision:
        """Settle the subject's open conflict with ``verdict`` (:meth:`Findings.resolve`)."""
        return await self._run(self._plan_resolve(task_id, subject, verdict, decided_by, reason))


__all__ = [
    "AsyncFindings",
    "Conflict",
    "Decision",
    "Finding",
    "Findings",
    "NoConflictError",
    "VerdictAdded",
]
