"""Disagreements between agents (issue 17, item 5): verdicts, conflicts and decisions.

Findings may carry a subject and a verdict; different verdicts of two authors on
one subject of a task are a conflict, listed by ``conflicts()``, announced once
on the task events channel, and settled by ``resolve()``, whose decision stays
with the findings. Against the real Redis of the fixtures (and its cluster).
"""

from __future__ import annotations

import asyncio
import json
import threading

import pytest
import redis

from redis_memory import SerializationError, UnexpectedDataError
from redis_memory.coordination import (
    AsyncFindings,
    Conflict,
    Decision,
    Finding,
    Findings,
    NoConflictError,
    VerdictAdded,
)

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


@pytest.fixture
def findings(config):
    return Findings(config=config)


@pytest.fixture
def events(redis_client, config):
    """The task events channel, subscribed: ``events()`` is everything published so far."""
    pubsub = redis_client.pubsub()
    pubsub.subscribe(config.keys.channel("tasks"))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    received: list[dict] = []

    def drain(task_id: str = "t", *, wait: float = 0.2) -> list[dict]:
        # A marker published last: once it arrives, everything before it has. On a
        # cluster it starts from the node of the task's keys, as the task's events did.
        marker = ("PUBLISH", config.keys.channel("tasks"), b'{"event": "marker"}')
        if isinstance(redis_client, redis.RedisCluster):
            node = redis_client.get_node_from_key(config.keys.task_findings(task_id))
            redis_client.execute_command(*marker, target_nodes=node)
        else:
            redis_client.execute_command(*marker)
        for _ in range(400):
            message = pubsub.get_message(ignore_subscribe_messages=True, timeout=wait)
            if message is None:
                continue
            event = json.loads(message["data"])
            if event == {"event": "marker"}:
                return list(received)
            received.append(event)
        pytest.fail("the marker event never arrived")

    yield drain
    pubsub.close()


def of_kind(events, kind):
    return [event for event in events if event["event"] == kind]


# -- agreement and conflict --------------------------------------------------------------
def test_same_verdict_is_no_conflict(findings, events):
    assert findings.add("t", "looks fine", author="a", subject="api", verdict="ok") == 1
    assert findings.add("t", "fine by me", author="b", subject="api", verdict="ok") == 2
    assert findings.conflicts("t") == []
    assert findings.conflicts("t", include_resolved=True) == []
    assert of_kind(events(), "conflict") == []
    with pytest.raises(NoConflictError, match="no open conflict"):
        findings.resolve("t", "api", "ok", decided_by="lead", reason="all agree")
    assert findings.count("t") == 2  # the refused decision wrote nothing


def test_different_verdicts_are_one_conflict_announced_once(findings, events):
    findings.add("t", "passes", author="a", subject="tests", verdict="pass")
    findings.add("t", "fails on 3.12", author="b", subject="tests", verdict="fail")
    findings.add("t", "flaky", author="c", subject="tests", verdict="flaky")
    findings.add("t", "changed my mind", author="a", subject="tests", verdict="fail")
    (conflict,) = findings.conflicts("t")
    assert isinstance(conflict, Conflict)
    assert conflict.task_id == "t"
    assert conflict.subject == "tests"
    assert conflict.verdicts == {"a": "fail", "b": "fail", "c": "flaky"}
    assert conflict.decision is None
    assert conflict.reopens is None
    assert not conflict.resolved
    assert isinstance(conflict.opened, float)
    listed = findings.list("t")
    assert conflict.opened == listed[1].ts  # opened by b's finding

    received = events()
    assert of_kind(received, "conflict") == [
        {
            "event": "conflict",
            "task_id": "t",
            "subject": "tests",
            "verdicts": {"a": "pass", "b": "fail"},
        }
    ]
    assert [event.get("subject") for event in of_kind(received, "finding")] == ["tests"] * 4


def test_findings_carry_their_subject_and_verdict(findings):
    findings.add("t", "plain")
    findings.add("t", {"why": "numbers"}, author="a", subject="s", verdict=3)
    plain, sided = findings.list("t")
    assert plain == Finding("plain", None, plain.ts)
    assert (plain.subject, plain.verdict, plain.decision) == (None, None, False)
    assert sided == Finding({"why": "numbers"}, "a", sided.ts, "s", 3)
    assert not sided.decision


def test_add_verdict_tells_what_the_verdict_did(findings):
    agree = findings.add_verdict("t", "fine", author="a", subject="api", verdict="ok")
    assert agree == VerdictAdded(1, None, False)
    opened = findings.add_verdict("t", "broken", author="b", subject="api", verdict="down")
    assert (opened.count, opened.opened) == (2, True)
    assert opened.conflict == findings.conflicts("t")[0]
    assert opened.conflict.verdicts == {"a": "ok", "b": "down"}
    joined = findings.add_verdict("t", "slow", author="c", subject="api", verdict="slow")
    assert (joined.count, joined.opened) == (3, False)
    assert joined.conflict.verdicts == {"a": "ok", "b": "down", "c": "slow"}
    assert joined.conflict.opened == opened.conflict.opened  # the same conflict
    other = findings.add_verdict("t", "", author="c", subject="db", verdict="ok")
    assert other == VerdictAdded(4, None, False)  # another subject, no conflict of its own

    decision = findings.resolve("t", "api", "down", decided_by="lead", reason="the pager")
    quiet = findings.add_verdict("t", "", author="d", subject="api", verdict="down")
    assert (quiet.conflict, quiet.opened) == (None, False)
    reopened = findings.add_verdict("t", "", author="e", subject="api", verdict="ok")
    assert reopened.opened
    assert reopened.conflict.reopens == decision
    assert reopened.conflict.verdicts == {"d": "down", "e": "ok"}
    assert findings.count("t") == 7

    with pytest.raises(ValueError, match="subject must not be empty"):
        findings.add_verdict("t", "", author="a", subject="", verdict="x")
    with pytest.raises(ValueError, match="needs a verdict"):
        findings.add_verdict("t", "", author="a", subject="s", verdict=None)
    assert findings.count("t") == 7


def test_only_the_decision_of_resolve_is_marked(findings):
    # A finding whose value looks like a decision is not one.
    look_alike = {"decision": "yes", "reason": "mine"}
    findings.add("t", look_alike, author="a", subject="s", verdict="yes")
    findings.add("t", look_alike, author="b")
    findings.add("t", "", author="c", subject="s", verdict="no")
    findings.resolve("t", "s", "yes", decided_by="lead", reason="r")
    assert [f.decision for f in findings.list("t")] == [False, False, False, True]


def test_verdicts_compare_by_their_json(findings):
    findings.add("t", "", author="a", subject="dict", verdict={"x": 1, "y": [1, 2]})
    findings.add("t", "", author="b", subject="dict", verdict={"y": [1, 2], "x": 1})
    findings.add("t", "", author="a", subject="bool", verdict=True)
    findings.add("t", "", author="b", subject="bool", verdict=1)
    findings.add("t", "", author="a", subject="float", verdict=0.1 + 0.2)
    findings.add("t", "", author="b", subject="float", verdict=0.30000000000000004)
    findings.add("t", "", author="a", subject="big", verdict=2**63 - 1)
    findings.add("t", "", author="b", subject="big", verdict=2**63 - 2)
    conflicts = {c.subject: c.verdicts for c in findings.conflicts("t")}
    assert conflicts == {
        "bool": {"a": True, "b": 1},
        "big": {"a": 2**63 - 1, "b": 2**63 - 2},  # exact: no rounding to doubles
    }
    assert type(conflicts["bool"]["a"]) is bool


def test_subjects_and_tasks_are_apart(findings):
    findings.add("t", "", author="a", subject="one", verdict="x")
    findings.add("t", "", author="b", subject="two", verdict="y")
    findings.add("u", "", author="b", subject="one", verdict="y")
    assert findings.conflicts("t") == []
    assert findings.conflicts("u") == []


# -- decisions -------------------------------------------------------------------------------
def test_resolve_records_who_which_and_why(findings, events):
    findings.add("t", "v1 is right", author="a", subject="version", verdict="v1")
    findings.add("t", "v2 is right", author="b", subject="version", verdict="v2")
    (opened,) = findings.conflicts("t")

    decision = findings.resolve(
        "t", "version", "v2", decided_by="lead", reason="v2 is the one released"
    )
    assert isinstance(decision, Decision)
    assert (decision.verdict, decision.decided_by, decision.reason) == (
        "v2",
        "lead",
        "v2 is the one released",
    )
    assert findings.conflicts("t") == []
    (resolved,) = findings.conflicts("t", include_resolved=True)
    assert resolved == Conflict("t", "version", {"a": "v1", "b": "v2"}, opened.opened, decision)
    assert resolved.resolved

    last = findings.list("t")[-1]
    assert last == Finding(
        {"decision": "v2", "reason": "v2 is the one released"},
        "lead",
        decision.ts,
        "version",
        "v2",
        decision=True,
    )
    assert findings.count("t") == 3

    assert of_kind(events(), "resolved") == [
        {
            "event": "resolved",
            "task_id": "t",
            "subject": "version",
            "verdict": "v2",
            "decided_by": "lead",
        }
    ]
    # Settled: a second decision finds nothing to settle, and writes nothing.
    with pytest.raises(NoConflictError) as caught:
        findings.resolve("t", "version", "v1", decided_by="other", reason="no")
    assert isinstance(caught.value, LookupError)
    assert findings.count("t") == 3


def test_a_decision_may_pick_a_verdict_nobody_proposed(findings):
    findings.add("t", "", author="a", subject="s", verdict="left")
    findings.add("t", "", author="b", subject="s", verdict="right")
    decision = findings.resolve("t", "s", "neither", decided_by="a", reason="compromise")
    assert decision.verdict == "neither"
    findings.add("t", "", author="b", subject="s", verdict="neither")
    assert findings.conflicts("t") == []


def test_after_a_decision_agreement_stays_quiet_and_dissent_reopens(findings, events):
    findings.add("t", "", author="a", subject="s", verdict="yes")
    findings.add("t", "", author="b", subject="s", verdict="no")
    first = findings.resolve("t", "s", "yes", decided_by="lead", reason="evidence")

    findings.add("t", "", author="c", subject="s", verdict="yes")
    findings.add("t", "", author="b", subject="s", verdict="yes")
    assert findings.conflicts("t") == []
    assert len(of_kind(events(), "conflict")) == 1

    findings.add("t", "", author="d", subject="s", verdict="no")
    findings.add("t", "", author="e", subject="s", verdict="maybe")  # recorded, not announced
    (reopened,) = findings.conflicts("t")
    assert reopened.verdicts == {"c": "yes", "b": "yes", "d": "no", "e": "maybe"}
    assert reopened.decision is None
    assert reopened.reopens == first
    conflict_events = of_kind(events(), "conflict")
    assert len(conflict_events) == 2
    assert conflict_events[1] == {
        "event": "conflict",
        "task_id": "t",
        "subject": "s",
        "verdicts": {"c": "yes", "b": "yes", "d": "no"},
        "decision": "yes",
    }

    # The decider itself dissenting from its decision reopens it too.
    second = findings.resolve("t", "s", "no", decided_by="lead", reason="new data")
    findings.add("t", "", author="lead", subject="s", verdict="yes")
    (again,) = findings.conflicts("t")
    assert again.verdicts == {"lead": "yes"}
    assert again.reopens == second
    resolved, still_open = findings.conflicts("t", include_resolved=True)
    assert resolved.decision == second
    assert resolved.reopens == first
    assert still_open == again


def test_concurrent_resolutions_one_wins(findings):
    findings.add("t", "", author="a", subject="s", verdict=1)
    findings.add("t", "", author="b", subject="s", verdict=2)
    outcomes: list[object] = []
    barrier = threading.Barrier(8)

    def decide(n: int) -> None:
        barrier.wait()
        try:
            outcomes.append(findings.resolve("t", "s", n, decided_by=f"d{n}", reason="mine"))
        except NoConflictError as exc:
            outcomes.append(exc)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    decisions = [o for o in outcomes if isinstance(o, Decision)]
    assert len(outcomes) == 8
    assert len(decisions) == 1
    (resolved,) = findings.conflicts("t", include_resolved=True)
    assert resolved.decision == decisions[0]
    assert findings.count("t") == 3


# -- hostile subjects and authors ------------------------------------------------------------
HOSTILE = [
    ": { } * ? [ ] \\ % \" '",
    "a:b",
    "a",
    "s:a",
    "with spaces and\nnewlines\r\t",
    "ünïcødé ✓ 🙂 漢字",
    "x" * 512,
    "é" * 256,
    "{tag}",
    "%3A",
    "null",
    "1",
    "__index",
]


def other(name):
    """Another author's name, as hostile, of at most 512 bytes too."""
    return "~" + (name if len(name.encode()) < 512 else name[1:])


def test_hostile_subjects_and_authors_stay_apart(findings, events, redis_client, config):
    for n, subject in enumerate(HOSTILE):
        findings.add("t", n, author=subject, subject=subject, verdict=f"first {n}")
        findings.add("t", n, author=other(subject), subject=subject, verdict=f"second {n}")
    # "a:b" with author "c" vs "a" with author "b:c": no collision either way.
    findings.add("u", "", author="c", subject="a:b", verdict="x")
    findings.add("u", "", author="b:c", subject="a", verdict="y")
    findings.add("u", "", author="b", subject="a:c", verdict="z")

    conflicts = {c.subject: c for c in findings.conflicts("t")}
    assert set(conflicts) == set(HOSTILE)
    for n, subject in enumerate(HOSTILE):
        assert conflicts[subject].verdicts == {
            subject: f"first {n}",
            other(subject): f"second {n}",
        }
    assert findings.conflicts("u") == []

    announced = {e["subject"]: e["verdicts"] for e in of_kind(events(), "conflict")}
    assert set(announced) == set(HOSTILE)
    assert announced["a:b"] == {"a:b": "first 1", "~a:b": "second 1"}

    for subject in HOSTILE:
        findings.resolve("t", subject, "final", decided_by=subject, reason=subject)
    assert findings.conflicts("t") == []
    resolved = {c.subject: c.decision for c in findings.conflicts("t", include_resolved=True)}
    assert {s: (d.decided_by, d.reason) for s, d in resolved.items()} == {
        s: (s, s) for s in HOSTILE
    }
    keys = {k.decode() for k in redis_client.scan_iter(match=f"{config.prefix}:*")}
    assert keys == {
        config.keys.task_findings("t"),
        config.keys.task_verdicts("t"),
        config.keys.task_findings("u"),
        config.keys.task_verdicts("u"),
    }


# -- bad input ---------------------------------------------------------------------------------
def test_bad_inputs_are_clear_errors(findings, redis_client, config):
    with pytest.raises(ValueError, match="needs a subject"):
        findings.add("t", "x", author="a", verdict="yes")
    with pytest.raises(ValueError, match="needs a verdict"):
        findings.add("t", "x", author="a", subject="s")
    with pytest.raises(ValueError, match="author="):
        findings.add("t", "x", subject="s", verdict="yes")
    with pytest.raises(TypeError, match="subject"):
        findings.add("t", "x", author="a", subject=7, verdict="yes")
    with pytest.raises(TypeError, match="subject"):
        findings.add("t", "x", author="a", subject=b"s", verdict="yes")
    with pytest.raises(ValueError, match="subject must not be empty"):
        findings.add("t", "x", author="a", subject="", verdict="yes")
    with pytest.raises(ValueError, match="512 bytes"):
        findings.add("t", "x", author="a", subject="x" * 513, verdict="yes")
    with pytest.raises(ValueError, match="author must not be empty"):
        findings.add("t", "x", author="", subject="s", verdict="yes")
    with pytest.raises(SerializationError, match="verdict"):
        findings.add("t", "x", author="a", subject="s", verdict={1, 2})
    with pytest.raises(SerializationError, match="verdict"):
        findings.add("t", "x", author="a", subject="s", verdict=float("nan"))

    with pytest.raises(ValueError, match="reason"):
        findings.resolve("t", "s", "yes", decided_by="lead", reason=" ")
    with pytest.raises(TypeError, match="reason"):
        findings.resolve("t", "s", "yes", decided_by="lead", reason=None)
    with pytest.raises(ValueError, match="decided_by"):
        findings.resolve("t", "s", "yes", decided_by="", reason="r")
    with pytest.raises(ValueError, match="verdict"):
        findings.resolve("t", "s", None, decided_by="lead", reason="r")
    with pytest.raises(TypeError, match="subject"):
        findings.resolve("t", None, "yes", decided_by="lead", reason="r")
    with pytest.raises(NoConflictError, match="no open conflict"):
        findings.resolve("t", "never seen", "yes", decided_by="lead", reason="r")
    assert list(redis_client.scan_iter(match=f"{config.prefix}:*")) == []  # nothing written


def test_damaged_verdicts_are_named(findings, redis_client, config):
    key = config.keys.task_verdicts("t")
    redis_client.hset(key, "s:s", b"not json")
    with pytest.raises(SerializationError, match="did not write"):
        findings.conflicts("t")
    with pytest.raises(UnexpectedDataError, match="did not write"):
        findings.add("t", "x", author="a", subject="s", verdict=1)
    assert findings.count("t") == 0  # refused before anything was written
    redis_client.hset(key, "other", b"ignored")
    redis_client.hdel(key, "s:s")
    assert findings.conflicts("t") == []

    # A findings key of another type: refused before the verdicts change.
    redis_client.set(config.keys.task_findings("t"), b"a string")
    with pytest.raises(UnexpectedDataError, match="different type"):
        findings.add("t", "x", author="a", subject="s", verdict=1)
    assert redis_client.hgetall(key) == {b"other": b"ignored"}


# -- storage: TTL, clear, old entries --------------------------------------------------------
def test_verdicts_live_as_long_as_the_findings(config, redis_client):
    findings_key, verdicts_key = config.keys.task_findings("t"), config.keys.task_verdicts("t")
    Findings(config=config).add("t", 1, author="a", subject="s", verdict="x")
    assert 0 < redis_client.pttl(verdicts_key) <= 60_000  # the claims TTL by default
    assert 0 < redis_client.pttl(findings_key) <= 60_000

    hour = Findings(config=config, ttl=3600)
    hour.add("t", 2)  # a finding without a verdict keeps the verdicts alive as well
    assert 60_000 < redis_client.pttl(verdicts_key) <= 3_600_000
    redis_client.pexpire(verdicts_key, 1000)
    hour.add("t", 3, author="b", subject="s", verdict="y")
    assert 60_000 < redis_client.pttl(verdicts_key) <= 3_600_000
    redis_client.pexpire(verdicts_key, 1000)
    hour.resolve("t", "s", "x", decided_by="lead", reason="r")
    assert 60_000 < redis_client.pttl(verdicts_key) <= 3_600_000
    assert 60_000 < redis_client.pttl(findings_key) <= 3_600_000

    forever = Findings(config=config, ttl=None)
    forever.add("u", 1, author="a", subject="s", verdict="x")
    assert redis_client.pttl(config.keys.task_verdicts("u")) == -1
    assert redis_client.pttl(config.keys.task_findings("u")) == -1


def test_clear_removes_the_verdicts(findings, redis_client, config):
    findings.add("t", "", author="a", subject="s", verdict=1)
    findings.add("t", "", author="b", subject="s", verdict=2)
    assert findings.clear("t") == 2
    assert redis_client.exists(config.keys.task_verdicts("t")) == 0
    assert findings.conflicts("t", include_resolved=True) == []
    findings.add("t", "", author="a", subject="s", verdict=3)  # a fresh start: no conflict
    assert findings.conflicts("t") == []


def test_findings_are_trimmed_the_verdicts_are_not(config):
    capped = Findings(config=config, max_findings=2)
    capped.add("t", "", author="a", subject="s", verdict=1)
    for i in range(5):
        capped.add("t", i)
    capped.add("t", "", author="b", subject="s", verdict=2)
    assert capped.count("t") == 2
    (conflict,) = capped.conflicts("t")
    assert conflict.verdicts == {"a": 1, "b": 2}
    capped.resolve("t", "s", 2, decided_by="lead", reason="r")
    assert [f.value for f in capped.list("t")][-1] == {"decision": 2, "reason": "r"}


def test_old_entries_without_a_subject_still_read(findings, redis_client, config):
    redis_client.rpush(
        config.keys.task_findings("t"),
        b'{"finding": "old", "author": "a", "ts": 1.5}',
        b'{"finding": "older", "ts": 1.0}',
        # A decision recorded before decisions were marked: a finding with a verdict.
        b'{"finding": {"decision": "x", "reason": "r"}, "author": "lead", "ts": 2.0,'
        b' "subject": "s", "verdict": "x"}',
    )
    assert findings.list("t") == [
        Finding("old", "a", 1.5),
        Finding("older", None, 1.0),
        Finding({"decision": "x", "reason": "r"}, "lead", 2.0, "s", "x", decision=False),
    ]


def test_quiet_findings_publish_nothing(config, events):
    quiet = Findings(config=config, publish_events=False)
    quiet.add("t", "", author="a", subject="s", verdict=1)
    quiet.add("t", "", author="b", subject="s", verdict=2)
    assert len(quiet.conflicts("t")) == 1
    quiet.resolve("t", "s", 1, decided_by="lead", reason="r")
    assert events() == []


# -- budgets -------------------------------------------------------------------------------------
def test_verdicts_cost_one_round_trip(config, count_commands, round_trips):
    findings = Findings(client=round_trips.client, config=config)
    findings.add("warm", "", author="a", subject="s", verdict=1)  # loads the scripts
    findings.add("warm", "", author="b", subject="s", verdict=2)
    findings.resolve("warm", "s", 1, decided_by="lead", reason="r")
    findings.conflicts("warm")

    round_trips.count = 0
    with count_commands() as agree:
        assert findings.add("t", {"x": 1}, author="a", subject="s", verdict="yes") == 1
    assert round_trips.count == 1
    assert agree.by_name == {
        "evalsha": 1,
        "hget": 1,
        "hset": 1,
        "rpush": 1,
        "ltrim": 1,
        "pexpire": 2,
        "publish": 1,
    }

    round_trips.count = 0
    with count_commands() as differ:
        assert findings.add("t", {"x": 2}, author="b", subject="s", verdict="no") == 2
    assert round_trips.count == 1
    assert differ.by_name == {**agree.by_name, "publish": 2}  # the finding and the conflict

    round_trips.count = 0
    with count_commands() as told:  # add_verdict: the same round trip, told what it did
        assert findings.add_verdict("t", "", author="c", subject="s", verdict="no").count == 3
    assert round_trips.count == 1
    assert told.by_name == agree.by_name  # joined: no second conflict event

    round_trips.count = 0
    with count_commands() as listed:
        assert len(findings.conflicts("t", include_resolved=True)) == 1
    assert round_trips.count == 1
    assert listed.by_name == {"hgetall": 1}

    round_trips.count = 0
    with count_commands() as resolve:
        findings.resolve("t", "s", "yes", decided_by="lead", reason="r")
    assert round_trips.count == 1
    assert resolve.by_name == {**agree.by_name}


# -- async twin --------------------------------------------------------------------------------
async def test_async_disagreements(config, events):
    findings = AsyncFindings(config=config)
    await findings.add("t", "", author="a", subject="s", verdict="yes")
    await findings.add("t", "", author="b", subject="s", verdict="yes")
    assert await findings.conflicts("t") == []
    await findings.add("t", "", author="c", subject="s", verdict="no")
    (conflict,) = await findings.conflicts("t")
    assert conflict.verdicts == {"a": "yes", "b": "yes", "c": "no"}
    with pytest.raises(ValueError, match="author="):
        await findings.add("t", "", subject="s", verdict="no")

    decision = await findings.resolve("t", "s", "no", decided_by="lead", reason="c is right")
    assert (decision.verdict, decision.decided_by, decision.reason) == ("no", "lead", "c is right")
    assert await findings.conflicts("t") == []
    (resolved,) = await findings.conflicts("t", include_resolved=True)
    assert resolved.decision == decision
    last = (await findings.list("t", last=1))[0]
    assert (last.author, last.subject, last.verdict) == ("lead", "s", "no")
    with pytest.raises(NoConflictError):
        await findings.resolve("t", "s", "no", decided_by="lead", reason="again")

    await findings.add("t", "", author="a", subject="s", verdict="yes")  # reopens
    assert len(await findings.conflicts("t")) == 1
    assert len(of_kind(events(), "conflict")) == 2
    assert await findings.clear("t") == 5
    assert await findings.conflicts("t", include_resolved=True) == []


async def test_async_agents_disagreeing_at_once_open_one_conflict(config, events):
    findings = AsyncFindings(config=config)
    added = await asyncio.gather(
        *(
            findings.add_verdict("t", i, author=f"agent{i}", subject="s", verdict=i % 3)
            for i in range(30)
        )
    )
    (conflict,) = await findings.conflicts("t")
    assert conflict.verdicts == {f"agent{i}": i % 3 for i in range(30)}
    assert len(of_kind(events(), "conflict")) == 1
    assert await findings.count("t") == 30
    # Exactly one verdict opened it, whatever the clocks: the one that came in first with a
    # differing verdict; every later one joined it, every earlier one found no conflict.
    assert sum(a.opened for a in added) == 1
    assert sorted(a.count for a in added) == list(range(1, 31))
    first = next(a.count for a in added if a.opened)
    assert all((a.conflict is None) == (a.count < first) for a in added)
    assert all(a.conflict.opened == conflict.opened for a in added if a.count >= first)
