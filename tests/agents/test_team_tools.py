"""The team tools (issue 17): what an agent sees when it claims, reports and looks around.

Both frameworks' tools run against the real server, invoked the way each framework
invokes a tool (LangChain ``invoke``/``ainvoke`` with a tool call, LlamaIndex
``call``/``acall``), and each test asserts on the text the model would read. The
core desk behind them (redis_memory.agent_tools) has its own tests in
tests/agents/test_agent_tools.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from _examples import code_blocks, run_example
from langchain_core.messages import ToolMessage

from langchain_redis_memory import team_tools as langchain_team_tools
from llama_index_redis_memory import team_tools as llama_index_team_tools
from redis_memory import RedisMemoryConfig
from redis_memory.agent_tools import TEAM_TOOLS
from redis_memory.coordination import Claims, Findings
from redis_memory.presence import Presence

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

TEAM = "crew"


class Agent:
    """One agent's team tools in one framework: ``call`` returns what the model reads."""

    def __init__(self, framework: str, agent_id: str, config: RedisMemoryConfig, **kw: Any):
        self.framework = framework
        if framework == "langchain":
            tools = langchain_team_tools(agent_id, team=TEAM, config=config, **kw)
            self.tools = {tool.name: tool for tool in tools}
        else:
            tools = llama_index_team_tools(agent_id, team=TEAM, config=config, **kw)
            self.tools = {tool.metadata.name: tool for tool in tools}
        self.errors: list[str] = []

    def _read(self, result: Any) -> str:
        if self.framework == "langchain":
            assert isinstance(result, ToolMessage)
            text, failed = result.content, result.status == "error"
        else:
            text, failed = result.content, result.is_error
        assert isinstance(text, str)
        if failed:
            self.errors.append(text)
        return text

    def call(self, name: str, **args: Any) -> str:
        if self.framework == "langchain":  # as an agent does: a tool call, a ToolMessage back
            call = {"type": "tool_call", "id": "call-1", "name": name, "args": args}
            return self._read(self.tools[name].invoke(call))
        return self._read(self.tools[name].call(**args))

    async def acall(self, name: str, **args: Any) -> str:
        if self.framework == "langchain":
            call = {"type": "tool_call", "id": "call-1", "name": name, "args": args}
            return self._read(await self.tools[name].ainvoke(call))
        return self._read(await self.tools[name].acall(**args))

    def properties(self, name: str) -> set[str]:
        if self.framework == "langchain":
            return set(self.tools[name].tool_call_schema.model_json_schema()["properties"])
        return set(self.tools[name].metadata.get_parameters_dict()["properties"])


@pytest.fixture(params=["langchain", "llama_index"])
def framework(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def agents(framework, config):
    return lambda agent_id, **kw: Agent(framework, agent_id, config, **kw)


@pytest.fixture
def team(config):
    return Presence(TEAM, config=config)


@pytest.fixture(params=["sync", "async"])
def use(request):
    """``await use(agent, tool, **args)``: the tool's sync or its async form."""

    async def invoke(agent: Agent, name: str, **args: Any) -> str:
        if request.param == "sync":
            return agent.call(name, **args)
        return await agent.acall(name, **args)

    return invoke


def rows(table: str, section: str) -> list[list[str]]:
    """The cells of the Markdown table that follows ``section`` in a reply."""
    lines = table.split(section, 1)[1].splitlines()[1:]
    out = []
    for line in lines:
        if not line.startswith("|"):
            if out:
                break
            continue
        cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
        if set(cells[0]) != {"-"}:
            out.append(cells)
    return out[1:]  # without the header


# -- the tools and their arguments ----------------------------------------------------------
def test_six_tools_and_no_argument_names_another_agent(agents):
    agent = agents("ana")
    assert list(agent.tools) == [spec.name for spec in TEAM_TOOLS]  # six, in that order
    assert agent.properties("claim_task") == {"task_id"}
    assert agent.properties("release_task") == {"task_id"}
    assert agent.properties("report_finding") == {"task_id", "finding", "subject", "verdict"}
    assert agent.properties("read_findings") == {"task_id", "last"}
    assert agent.properties("who_is_doing_what") == set()
    assert agent.properties("find_agents") == {"capabilities"}
    for name, tool in agent.tools.items():
        description = (
            tool.description if agent.framework == "langchain" else tool.metadata.description
        )
        assert len(description) > 60, name  # written for a model, not a signature


def test_a_bad_agent_id_or_claim_ttl_fails_when_the_tools_are_built(framework, config):
    with pytest.raises(ValueError, match="agent id must not be empty"):
        Agent(framework, "", config)
    with pytest.raises(ValueError, match=r"positive|seconds"):
        Agent(framework, "ana", config, claim_ttl=-1)


# -- claims -----------------------------------------------------------------------------------
async def test_a_claim_is_refused_to_a_second_agent_naming_the_holder(agents, config, use):
    ana, bob = agents("ana", claim_ttl=30), agents("bob")
    claims = Claims(config=config)
    got = await use(ana, "claim_task", task_id="fix-login")
    assert got.startswith("You claimed task 'fix-login'. It is yours for 30 s")
    assert claims.owner("fix-login") == "ana"
    refused = await use(bob, "claim_task", task_id="fix-login")
    assert refused == (
        "Task 'fix-login' is already held by 'ana': leave it to them and pick another task."
    )
    again = await use(ana, "claim_task", task_id="fix-login")
    assert again.startswith("You already hold task 'fix-login': renewed.")
    assert await use(bob, "release_task", task_id="fix-login") == (
        "You cannot release task 'fix-login': 'ana' holds it, not you."
    )
    assert claims.owner("fix-login") == "ana"
    assert await use(ana, "release_task", task_id="fix-login") == (
        "You released task 'fix-login': another agent may claim it now."
    )
    assert (await use(ana, "release_task", task_id="fix-login")).startswith(
        "You do not hold task 'fix-login', and nobody does"
    )
    assert (await use(bob, "claim_task", task_id="fix-login")).startswith("You claimed")
    assert claims.owner("fix-login") == "bob"
    assert ana.errors == bob.errors == []


async def test_the_agent_id_cannot_be_overridden_through_arguments(agents, config, use):
    mallory = agents("mallory")
    claims, findings = Claims(config=config), Findings(config=config)
    reply = await use(mallory, "claim_task", task_id="payroll", owner="ana")
    assert mallory.errors == [reply]
    assert "owner" in reply
    assert claims.owner("payroll") is None  # refused outright, not claimed for anyone
    await use(mallory, "report_finding", task_id="payroll", finding="all good", author="ana")
    assert len(mallory.errors) == 2
    assert findings.list("payroll") == []
    # Without the extra argument, everything is done as the agent the tools were built for.
    await use(mallory, "claim_task", task_id="payroll")
    await use(mallory, "report_finding", task_id="payroll", finding="checked")
    assert claims.owner("payroll") == "mallory"
    assert [f.author for f in findings.list("payroll")] == ["mallory"]


# -- who is doing what ----------------------------------------------------------------------
async def test_who_is_doing_what_shows_live_agents_their_holds_and_orphans(agents, team, use):
    team.join("ana", capabilities=["web", "fr"])
    team.join("bob", capabilities=["review"])
    team.join("carl", capabilities=["web"])
    ana, ghost, carl = agents("ana", claim_ttl=30), agents("ghost"), agents("carl")
    await use(ana, "claim_task", task_id="survey")
    await use(ghost, "claim_task", task_id="haunted")  # never joined
    await use(carl, "claim_task", task_id="abandoned")
    team.leave("carl")  # left, its claim still held

    seen = await use(ana, "who_is_doing_what")
    assert seen.startswith(f"Team '{TEAM}': 2 live agent(s).\n| agent | can | holds |")
    live = {row[0]: row[1:] for row in rows(seen, "live agent(s).")}
    assert set(live) == {"'ana' (you)", "'bob'"}
    assert live["'ana' (you)"][0] == "'fr', 'web'"
    assert re.fullmatch(r"claim 'survey' \((29|30) s left\)", live["'ana' (you)"][1])
    assert live["'bob'"] == ["'review'", "-"]
    orphans = rows(seen, "Orphaned holds")
    assert [(hold, holder) for hold, holder, _ in orphans] == [("claim 'abandoned'", "'carl'")]
    outside = rows(seen, "Held outside the team")  # by an agent that never joined it
    assert [(hold, holder) for hold, holder, _ in outside] == [("claim 'haunted'", "'ghost'")]
    assert "not among them" not in seen

    # An agent that is not alive is told so, and sees its own claim held outside the team.
    ghostly = await use(ghost, "who_is_doing_what")
    assert "You ('ghost') are not among them" in ghostly
    assert ["claim 'haunted'", "'ghost' (you)"] in [row[:2] for row in rows(ghostly, "outside")]
    assert ana.errors == ghost.errors == []


async def test_find_agents_by_capability(agents, team, use):
    team.join("ana", capabilities=["web", "fr"])
    team.join("bob", capabilities=["web"])
    ana = agents("ana")
    assert await use(ana, "find_agents", capabilities=["web"]) == (
        "Live agents that can 'web': 'ana' (you), 'bob'."
    )
    assert await use(ana, "find_agents", capabilities=["web", "fr"]) == (
        "Live agents that can 'web' and 'fr': 'ana' (you)."
    )
    assert await use(ana, "find_agents", capabilities=["cook"]) == (
        f"No live agent of team '{TEAM}' can 'cook'."
    )
    team.leave("bob")
    assert await use(ana, "find_agents", capabilities=["web"]) == (
        "Live agents that can 'web': 'ana' (you)."
    )
    await use(ana, "find_agents", capabilities=[])
    assert len(ana.errors) == 1
    assert "at least one capability" in ana.errors[0] or "at least 1" in ana.errors[0]


# -- findings and disagreements ---------------------------------------------------------------
async def test_differing_verdicts_open_a_disagreement_that_a_decision_settles(agents, config, use):
    ana, bob, carl = agents("ana"), agents("bob"), agents("carl")
    first = await use(
        ana,
        "report_finding",
        task_id="outage",
        finding="Lookups time out.",
        subject="root cause",
        verdict="dns",
    )
    assert first == (
        "Finding recorded on task 'outage' (1 so far). Your verdict 'dns' on 'root cause': "
        "no agent disagrees with it."
    )
    second = await use(
        bob,
        "report_finding",
        task_id="outage",
        finding="/var is full.",
        subject="root cause",
        verdict="disk",
    )
    assert second.startswith(
        "Finding recorded on task 'outage' (2 so far). Your verdict 'disk' on 'root cause' "
        "opened a disagreement: "
    )
    assert "'ana' says 'dns'" in second
    assert "'bob' (you) says 'disk'" in second
    third = await use(
        carl,
        "report_finding",
        task_id="outage",
        finding="Resolver logs show SERVFAIL.",
        subject=" root cause ",
        verdict="dns",
    )
    assert "Your verdict 'dns' on 'root cause' joined a disagreement" in third
    plain = await use(carl, "report_finding", task_id="outage", finding="Paged the on-call.")
    assert plain == "Finding recorded on task 'outage' (4 so far)."

    read = await use(ana, "read_findings", task_id="outage")
    assert read.splitlines()[:5] == [
        "Task 'outage', its findings, oldest first:",
        "1. 'ana' (you) ['root cause': 'dns']: Lookups time out.",
        "2. 'bob' ['root cause': 'disk']: /var is full.",
        "3. 'carl' ['root cause': 'dns']: Resolver logs show SERVFAIL.",
        "4. 'carl': Paged the on-call.",
    ]
    assert re.search(r"^OPEN DISAGREEMENT on 'root cause': .*'bob' says 'disk'", read, re.M)

    Findings(config=config).resolve(
        "outage", "root cause", "dns", decided_by="lead", reason="the resolver logs"
    )
    settled = await use(bob, "read_findings", task_id="outage")
    assert "OPEN DISAGREEMENT" not in settled
    assert settled.splitlines()[5] == "5. 'lead' decided 'dns' on 'root cause': the resolver logs"
    assert settled.splitlines()[-1] == (
        "Settled disagreement on 'root cause': 'dns' stands, decided by 'lead': the resolver logs"
    )
    # A differing verdict after the decision disputes it.
    again = await use(
        bob,
        "report_finding",
        task_id="outage",
        finding="Still full.",
        subject="root cause",
        verdict="disk",
    )
    assert "opened a disagreement" in again
    assert "It disputes 'dns', decided by 'lead'." in again
    assert ana.errors == bob.errors == carl.errors == []


async def test_read_findings_is_readable_text(agents, config, use):
    ana = agents("ana")
    assert await use(ana, "read_findings", task_id="new") == "Task 'new' has no findings yet."
    findings = Findings(config=config)
    findings.add("notes", {"pages": 12, "ok": True})  # by a program: no author, not text
    await use(ana, "report_finding", task_id="notes", finding="line one\nline two")
    await use(ana, "report_finding", task_id="notes", finding="third")
    read = await use(ana, "read_findings", task_id="notes")
    assert read == (
        "Task 'notes', its findings, oldest first:\n"
        '1. (no author): {"pages": 12, "ok": true}\n'
        "2. 'ana' (you): line one\n"
        "   line two\n"
        "3. 'ana' (you): third"
    )
    last = await use(ana, "read_findings", task_id="notes", last=1)
    assert last == "Task 'notes', the newest 1 findings, oldest first:\n1. 'ana' (you): third"
    assert ana.errors == []


# -- bad input, hostile ids, Redis down ---------------------------------------------------------
@pytest.mark.parametrize(
    ("tool", "args", "says"),
    [
        ("claim_task", {"task_id": ""}, "task id must not be empty"),
        ("claim_task", {"task_id": "x" * 513}, "at most 512 bytes"),
        ("claim_task", {}, "task_id"),
        ("release_task", {"task_id": "\ud800"}, "valid Unicode"),
        ("report_finding", {"task_id": "t", "finding": "  "}, "not blank"),
        ("report_finding", {"task_id": "t", "finding": "x", "subject": "s"}, "together"),
        ("report_finding", {"task_id": "t", "finding": "x", "verdict": "yes"}, "together"),
        ("read_findings", {"task_id": "t", "last": 0}, "last"),
        ("find_agents", {"capabilities": [""]}, "capability must not be empty"),
    ],
)
async def test_bad_input_is_an_error_result_the_model_can_act_on(
    agents, config, use, tool, args, says
):
    agent = agents("ana")
    reply = await use(agent, tool, **args)
    assert agent.errors == [reply]
    assert says in reply
    assert "Traceback" not in reply
    assert Findings(config=config).list("t") == []


HOSTILE = [
    "a:b",
    "{slot}",
    "*",
    "task?[x]",
    "t|2\nnext line",
    "../../etc",
    "ünïcødé ✓",
    " padded ",
    "'quoted\"",
    "x" * 512,
]


def outside(redis_client, prefix: str) -> set[bytes]:
    return {k for k in redis_client.scan_iter(count=1000) if not k.startswith(prefix.encode())}


@pytest.mark.parametrize("task_id", HOSTILE, ids=range(len(HOSTILE)))
async def test_hostile_task_ids_are_just_names(agents, config, redis_client, task_id, use, team):
    before = outside(redis_client, config.prefix + ":")
    team.join("ana")
    ana, bob = agents("ana"), agents("bob")
    shown = repr(task_id if len(task_id) <= 200 else task_id[:199] + "…")  # long ones cut
    assert (await use(ana, "claim_task", task_id=task_id)).startswith(f"You claimed task {shown}")
    assert Claims(config=config).owner(task_id) == "ana"
    assert (await use(bob, "claim_task", task_id="*")).startswith(
        "You claimed" if task_id != "*" else "Task '*' is already held by 'ana'"
    )
    await use(ana, "report_finding", task_id=task_id, finding="seen", subject=task_id, verdict="y")
    read = await use(bob, "read_findings", task_id=task_id)
    subject = repr(task_id.strip()[:199] + ("…" if len(task_id) > 200 else ""))  # stripped
    assert read.splitlines()[1] == f"1. 'ana' [{subject}: 'y']: seen"
    seen = await use(ana, "who_is_doing_what")
    hold = rows(seen, "live agent(s).")[0][2]
    assert hold.startswith(f"claim {shown}".replace("|", "\\|"))
    assert len(seen.splitlines()) == len(seen.split("\n"))  # no raw newline from the id
    assert "\n" not in hold
    assert (await use(ana, "release_task", task_id=task_id)).startswith("You released")
    assert ana.errors == bob.errors == []
    assert outside(redis_client, config.prefix + ":") == before  # every key under the prefix


@pytest.mark.parametrize("framework_name", ["langchain", "llama_index"])
async def test_redis_down_is_the_package_error_message(framework_name):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix="down", retries=0)
    agent = Agent(framework_name, "ana", down)
    reply = agent.call("claim_task", task_id="t")
    assert reply.startswith("claim_task failed: Redis at redis://127.0.0.1:1/0")
    assert agent.errors == [reply]
    assert (await agent.acall("who_is_doing_what")).startswith("who_is_doing_what failed: Redis")
    assert len(agent.errors) == 2


# -- docs ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "function", [langchain_team_tools, llama_index_team_tools], ids=["langchain", "llama_index"]
)
def test_the_docstring_example_runs(function):
    [block] = code_blocks(function.__doc__)
    run_example(block)
