"""The core of the team tools (redis_memory.agent_tools): the specs and the desk twins.

The frameworks' tools over them are tested in tests/agents/test_team_tools.py; here the
desks are called directly, as a program (or another framework) would, against the
real server.
"""

from __future__ import annotations

import asyncio
import inspect
import time
from typing import Any

import pytest
from _examples import code_blocks, run_example
from pydantic import ValidationError

from redis_memory import RedisMemoryConfig, RedisUnavailableError
from redis_memory import _findings as findings_module
from redis_memory.agent_tools import (
    TEAM_TOOLS,
    TOOL_ERRORS,
    AsyncTeamDesk,
    TeamDesk,
    TeamDeskOptions,
)
from redis_memory.coordination import Claims, Findings, NoConflictError

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

TEAM = "desk"


@pytest.fixture
def desk(config):
    return lambda agent_id, **kw: TeamDesk(agent_id, team=TEAM, config=config, **kw)


@pytest.fixture
def adesk(config):
    return lambda agent_id, **kw: AsyncTeamDesk(agent_id, team=TEAM, config=config, **kw)


# -- the specs ----------------------------------------------------------------------------------
def test_each_tool_is_one_spec_and_one_method_of_each_twin():
    assert [spec.name for spec in TEAM_TOOLS] == [
        "claim_task",
        "release_task",
        "report_finding",
        "read_findings",
        "who_is_doing_what",
        "find_agents",
    ]
    for spec in TEAM_TOOLS:
        assert len(spec.description) > 60, spec.name  # written for a model
        fields = spec.args.model_fields
        assert all(len(field.description or "") > 20 for field in fields.values()), spec.name
        for twin in (TeamDesk, AsyncTeamDesk):
            method = getattr(twin, spec.name)
            assert inspect.iscoroutinefunction(method) == (twin is AsyncTeamDesk)
            parameters = list(inspect.signature(method).parameters)[1:]
            assert parameters == list(fields), (twin.__name__, spec.name)
        schema = spec.args.model_json_schema()
        assert schema.get("additionalProperties") is False  # no owner, no author


def test_the_options_are_the_desks_keywords():
    keywords = [
        name
        for name, parameter in inspect.signature(TeamDesk).parameters.items()
        if parameter.kind is inspect.Parameter.KEYWORD_ONLY
    ]
    assert keywords == list(TeamDeskOptions.__annotations__)
    assert inspect.signature(AsyncTeamDesk) == inspect.signature(TeamDesk)


def test_failed_words_errors_for_a_model():
    spec = TEAM_TOOLS[0]
    try:
        spec.args.model_validate({"owner": "bob"})
    except ValidationError as exc:
        invalid = spec.failed(exc)
    assert invalid == (
        "claim_task failed: invalid arguments (task_id: Field required; owner: Extra inputs "
        "are not permitted). Check them and try again."
    )
    assert spec.failed(NoConflictError("nothing to settle")) == (
        "claim_task failed: nothing to settle"
    )


# -- the desks ----------------------------------------------------------------------------------
def test_a_desk_is_one_agent_doing_the_tools_work(desk, config):
    ana, bob = desk("ana", claim_ttl=30), desk("bob")
    assert (ana.agent_id, ana.team, ana.claim_ttl.seconds) == ("ana", TEAM, 30)
    assert bob.claim_ttl == config.ttl.claims
    assert ana.claim_task("t").startswith("You claimed task 't'. It is yours for 30 s")
    assert bob.claim_task("t").startswith("Task 't' is already held by 'ana'")
    assert Claims(config=config).owner("t") == "ana"
    assert ana.report_finding("t", "it works") == "Finding recorded on task 't' (1 so far)."
    assert [f.author for f in Findings(config=config).list("t")] == ["ana"]
    assert ana.release_task("t").startswith("You released task 't'")


async def test_the_twins_give_the_same_replies(desk, adesk):
    def scenario(ana: Any, bob: Any, task: str) -> list[Any]:
        return [
            ana.claim_task(task),
            bob.claim_task(task),
            ana.claim_task(task),
            bob.release_task(task),
            ana.report_finding(task, "a", subject="s", verdict="yes"),
            bob.report_finding(task, "b\nc", subject="s", verdict="no"),
            bob.report_finding(task, "plain"),
            ana.read_findings(task, last=2),
            ana.find_agents(["cook"]),
            ana.release_task(task),
        ]

    sync = scenario(desk("ana", claim_ttl=60), desk("bob"), "sync")
    on_async = scenario(adesk("ana", claim_ttl=60), adesk("bob"), "async")
    replies = [await reply for reply in on_async]  # one after another, as in the sync run
    assert [reply.replace("'async'", "'sync'") for reply in replies] == sync
    assert "opened a disagreement" in replies[5]
    assert replies[7].endswith(
        "2. 'bob': plain\nOPEN DISAGREEMENT on 's': 'ana' (you) says 'yes', 'bob' says 'no'."
    )


def test_call_runs_a_tool_by_name_with_the_arguments_a_model_sent(desk, config):
    ana = desk("ana")
    assert ana.call("claim_task", task_id="t").startswith("You claimed task 't'.")
    assert ana.call("read_findings", task_id="t") == "Task 't' has no findings yet."
    with pytest.raises(ValidationError, match="owner"):
        ana.call("release_task", task_id="t", owner="bob")
    with pytest.raises(ValidationError, match="less than or equal to 200"):
        ana.call("read_findings", task_id="t", last=201)
    with pytest.raises(ValueError, match="no team tool is named 'call'"):
        ana.call("call", task_id="t")
    assert Claims(config=config).owner("t") == "ana"  # the refused release changed nothing


async def test_the_async_call_checks_the_same_way(adesk):
    ana = adesk("ana")
    assert (await ana.call("find_agents", capabilities=["x"])).startswith("No live agent")
    with pytest.raises(ValidationError, match="capabilities"):
        await ana.call("find_agents", capabilities=[])


@pytest.mark.parametrize(
    ("tool", "args", "error", "says"),
    [
        ("claim_task", ("",), ValueError, "task id must not be empty"),
        ("report_finding", ("t", " "), ValueError, "not blank"),
        ("report_finding", ("t", "x", "s"), ValueError, "together"),
        ("read_findings", ("t", 0), ValueError, "from 1 to 200"),
        ("read_findings", ("t", True), ValueError, "whole number"),
        ("find_agents", ([],), ValueError, "at least one capability"),
    ],
)
async def test_bad_input_raises_what_tool_errors_catches(desk, adesk, tool, args, error, says):
    with pytest.raises(error, match=says) as sync:
        getattr(desk("ana"), tool)(*args)
    with pytest.raises(error, match=says) as async_:
        await getattr(adesk("ana"), tool)(*args)
    assert isinstance(sync.value, TOOL_ERRORS)
    assert str(sync.value) == str(async_.value)


def test_a_bad_agent_id_or_claim_ttl_fails_at_once(config):
    with pytest.raises(ValueError, match="agent id must not be empty"):
        TeamDesk("", config=config)
    with pytest.raises(ValueError, match=r"positive|seconds"):
        AsyncTeamDesk("ana", config=config, claim_ttl=-1)


async def test_redis_down_is_the_package_error():
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix="down", retries=0)
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1/"):
        TeamDesk("ana", config=down).claim_task("t")
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1/"):
        await AsyncTeamDesk("ana", config=down).who_is_doing_what()


# -- disagreements: exact, whatever the clocks ----------------------------------------------------
class _ClockAhead:
    """The time module of a machine whose clock runs 1000 s ahead."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def time() -> float:
        return time.time() + 1000


def test_opened_or_joined_does_not_trust_clocks(desk, monkeypatch):
    ana, bob, carl = desk("ana"), desk("bob"), desk("carl")
    ana.report_finding("t", "a", subject="s", verdict="yes")
    with monkeypatch.context() as ahead:
        ahead.setattr(findings_module, "time", _ClockAhead())
        opened = bob.report_finding("t", "b", subject="s", verdict="no")
    assert " opened a disagreement: " in opened
    # carl's clock is 1000 s behind the conflict's opening: it joined all the same.
    joined = carl.report_finding("t", "c", subject="s", verdict="maybe")
    assert "Your verdict 'maybe' on 's' joined a disagreement: " in joined


async def test_agents_disagreeing_at_once_one_opens_the_others_join(adesk):
    agents = [adesk(f"agent{i}") for i in range(12)]
    replies = await asyncio.gather(
        *(a.report_finding("t", "mine", subject="s", verdict=f"v{i}") for i, a in enumerate(agents))
    )
    assert sum(" opened a disagreement" in reply for reply in replies) == 1
    assert sum(" joined a disagreement" in reply for reply in replies) == 10
    assert sum("no agent disagrees" in reply for reply in replies) == 1


def test_a_verdict_costs_one_round_trip(config, round_trips):
    ana = TeamDesk("ana", team=TEAM, client=round_trips.client, config=config)
    bob = TeamDesk("bob", team=TEAM, client=round_trips.client, config=config)
    ana.report_finding("warm", "a", subject="s", verdict="yes")  # loads the script
    round_trips.count = 0
    assert "opened" in bob.report_finding("warm", "b", subject="s", verdict="no")
    assert round_trips.count == 1


def test_read_findings_knows_a_decision_by_its_mark(desk, config):
    findings = Findings(config=config)
    ana, bob = desk("ana"), desk("bob")
    ana.report_finding("t", "a", subject="s", verdict="yes")
    # A finding shaped like a decision, by a program: shown as what it is.
    findings.add("t", {"decision": "no", "reason": "r"}, author="bob", subject="s", verdict="no")
    findings.resolve("t", "s", "yes", decided_by="lead", reason="the logs")
    assert bob.read_findings("t").splitlines() == [
        "Task 't', its findings, oldest first:",
        "1. 'ana' ['s': 'yes']: a",
        '2. \'bob\' (you) [\'s\': \'no\']: {"decision": "no", "reason": "r"}',
        "3. 'lead' decided 'yes' on 's': the logs",
        "Settled disagreement on 's': 'yes' stands, decided by 'lead': the logs",
    ]


def test_the_docstring_example_runs():
    [block] = code_blocks(TeamDesk.__doc__)
    run_example(block)
