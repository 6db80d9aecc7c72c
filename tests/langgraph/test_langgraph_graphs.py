"""RedisSaver under real LangGraph graphs: agents, interrupts, time travel, subgraphs.

Every test runs a compiled graph (or ``create_agent``) on the saver and asserts what
its user sees: the state read back, the history, a resume, the keys' expiry, the
shared message log. The chat model is a fake whose reply depends only on its input,
so a replayed or forked run answers as the first run did.
"""

from __future__ import annotations

import itertools
import json
import operator
import os
import subprocess
import sys
from collections import Counter
from typing import Annotated, Any, TypedDict

import pytest
from _hitl_resume import build_approval_graph
from _paths import TESTS
from langchain.agents import create_agent
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import (
    AIMessage,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    RemoveMessage,
    ToolMessage,
)
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Command, interrupt

from langchain_redis_memory import AsyncRedisSaver, RedisChatMessageHistory, RedisSaver
from redis_memory import TTL, TTLPolicy
from redis_memory.errors import RedisUnavailableError, SerializationError, UnexpectedDataError

# The saver needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

HITL_RESUME = TESTS / "langgraph" / "_hitl_resume.py"


def thread(thread_id: str, **configurable: Any) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, **configurable}}


def checkpoint_id(config: dict[str, Any]) -> str:
    return config["configurable"]["checkpoint_id"]


# -- an agent with a tool -----------------------------------------------------


@tool
def weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


class ToolCallingFakeModel(GenericFakeChatModel):
    """A fake chat model that calls ``weather`` when asked about it, else echoes.

    Each reply starts with ``[n]``, the number of human messages the model was
    given: a reply shows whether the checkpointer fed it the whole conversation.
    """

    messages: Any = iter(())

    def bind_tools(self, tools: Any, **kwargs: Any) -> ToolCallingFakeModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        seen = sum(isinstance(m, HumanMessage) for m in messages)
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"[{seen}] the tool says: {last.content}")
        elif isinstance(last, HumanMessage) and last.content.startswith("weather in "):
            city = last.content.removeprefix("weather in ")
            reply = AIMessage(
                "", tool_calls=[{"name": "weather", "args": {"city": city}, "id": f"call-{city}"}]
            )
        else:
            reply = AIMessage(f"[{seen}] echo: {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def build_agent(saver: Any) -> Any:
    return create_agent(ToolCallingFakeModel(), tools=[weather], checkpointer=saver)


def agent_question(turn: int) -> str:
    return f"weather in city{turn}" if turn % 2 == 0 else f"hello {turn}"


def expected_transcript(turns: range) -> list[tuple[str, str]]:
    """(type, content) of every message an agent run of these turns leaves, in order."""
    rows: list[tuple[str, str]] = []
    for turn in turns:
        question = agent_question(turn)
        rows.append(("human", question))
        if turn % 2 == 0:
            rows += [
                ("ai", ""),
                ("tool", f"sunny in city{turn}"),
                ("ai", f"[{turn + 1}] the tool says: sunny in city{turn}"),
            ]
        else:
            rows.append(("ai", f"[{turn + 1}] echo: {question}"))
    return rows


def transcript(messages: list[AnyMessage]) -> list[tuple[str, str]]:
    return [(m.type, m.content) for m in messages]


def test_agent_ten_turns_then_a_new_saver_reads_the_same_state(config):
    agent = build_agent(RedisSaver(config=config))
    cfg = thread("user:7 / chat")
    for turn in range(10):
        out = agent.invoke({"messages": [HumanMessage(agent_question(turn))]}, cfg)
        assert transcript(out["messages"]) == expected_transcript(range(turn + 1))

    state = agent.get_state(cfg)
    messages = state.values["messages"]
    assert transcript(messages) == expected_transcript(range(10))
    assert len({m.id for m in messages}) == len(messages) == 30
    tool_calls = [m.tool_calls for m in messages if isinstance(m, AIMessage) and m.tool_calls]
    assert [calls[0]["args"] for calls in tool_calls] == [
        {"city": f"city{turn}"} for turn in range(0, 10, 2)
    ]
    assert state.next == ()

    # Another saver object (as another process would build) sees the same thread.
    again = build_agent(RedisSaver(config=config))
    read_back = again.get_state(cfg)
    assert read_back.values["messages"] == messages
    assert read_back.config == state.config
    assert read_back.metadata == state.metadata
    out = again.invoke({"messages": [HumanMessage("still there?")]}, cfg)
    assert out["messages"][-1].content == "[11] echo: still there?"
    assert out["messages"][:30] == messages


async def test_agent_async_turns_with_the_same_saver(config):
    saver = AsyncRedisSaver(config=config)
    agent = build_agent(saver)
    cfg = thread("async-chat")
    agent.invoke({"messages": [HumanMessage(agent_question(0))]}, cfg)  # a sync turn first
    for turn in range(1, 5):
        out = await agent.ainvoke({"messages": [HumanMessage(agent_question(turn))]}, cfg)
        assert transcript(out["messages"]) == expected_transcript(range(turn + 1))

    state = await agent.aget_state(cfg)
    assert transcript(state.values["messages"]) == expected_transcript(range(5))
    history = [snapshot async for snapshot in agent.aget_state_history(cfg)]
    assert history[0].config == state.config
    # The sync face of the same object, and a new object, read what async wrote.
    assert agent.get_state(cfg).values == state.values
    assert (await build_agent(RedisSaver(config=config)).aget_state(cfg)).values == state.values
    assert isinstance(saver, RedisSaver)


# -- human in the loop, resumed by another process -----------------------------


def test_interrupt_in_this_process_resume_in_a_second_process(config):
    runs: Counter[str] = Counter()
    graph = build_approval_graph(RedisSaver(config=config), runs)
    tid = "approval:42 {ops}"
    cfg = thread(tid)

    first = graph.invoke({"request": "  deploy v2 "}, cfg)
    assert [i.value for i in first["__interrupt__"]] == [{"question": "approve deploy v2?"}]
    paused = graph.get_state(cfg)
    assert paused.next == ("ask",)
    assert [i.value for i in paused.interrupts] == [{"question": "approve deploy v2?"}]
    assert paused.values == {"request": "deploy v2", "log": ["prep"]}

    done = subprocess.run(
        [sys.executable, str(HITL_RESUME), config.url, config.prefix, tid, "yes"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["pid"] != os.getpid()
    # The second process ran only what was left: the interrupted node and the next.
    assert report["runs"] == {"ask": 1, "act": 1}
    final_values = {
        "request": "deploy v2",
        "answer": "yes",
        "outcome": "done: deploy v2",
        "log": ["prep", "ask:yes", "act"],
    }
    assert report["result"] == final_values

    final = graph.get_state(cfg)
    assert final.values == final_values
    assert final.next == ()
    assert final.interrupts == ()
    assert runs == {"prep": 1, "ask": 1}


# -- time travel: history, fork, replay ---------------------------------------


class Steps(TypedDict):
    steps: Annotated[list[str], operator.add]


def build_abc(saver: Any, runs: Counter[str]) -> Any:
    def node(name: str) -> Any:
        def run(state: Steps) -> Steps:
            runs[name] += 1
            return {"steps": [name]}

        return run

    builder = StateGraph(Steps)
    for name in "abc":
        builder.add_node(name, node(name))
    builder.add_edge(START, "a")
    builder.add_edge("a", "b")
    builder.add_edge("b", "c")
    builder.add_edge("c", END)
    return builder.compile(checkpointer=saver)


def test_history_update_state_forks_and_replay_reruns(config):
    runs: Counter[str] = Counter()
    graph = build_abc(RedisSaver(config=config), runs)
    cfg = thread("travel")
    assert graph.invoke({"steps": ["start"]}, cfg) == {"steps": ["start", "a", "b", "c"]}

    history = list(graph.get_state_history(cfg))
    assert [s.metadata["step"] for s in history] == [3, 2, 1, 0, -1]
    assert [s.next for s in history] == [(), ("c",), ("b",), ("a",), ("__start__",)]
    assert [s.values.get("steps") for s in history] == [
        ["start", "a", "b", "c"],
        ["start", "a", "b"],
        ["start", "a"],
        ["start"],
        [],
    ]
    for newer, older in itertools.pairwise(history):
        assert checkpoint_id(newer.parent_config) == checkpoint_id(older.config)
    assert history[-1].parent_config is None
    assert list(graph.get_state_history(cfg, limit=2)) == history[:2]
    assert list(graph.get_state_history(cfg, before=history[1].config)) == history[2:]
    original_ids = [checkpoint_id(s.config) for s in history]

    # Fork: edit the state after "a"; running the fork continues from the edit.
    after_a = history[2]
    fork_cfg = graph.update_state(after_a.config, {"steps": ["edited"]})
    fork = graph.get_state(fork_cfg)
    assert fork.values == {"steps": ["start", "a", "edited"]}
    assert fork.next == ("b",)
    assert checkpoint_id(fork.parent_config) == checkpoint_id(after_a.config)
    before = runs.copy()
    assert graph.invoke(None, fork_cfg) == {"steps": ["start", "a", "edited", "b", "c"]}
    assert runs - before == Counter(b=1, c=1)
    assert graph.get_state(cfg).values == {"steps": ["start", "a", "edited", "b", "c"]}

    # Replay from the checkpoint after "a": b and c run again, a does not.
    before = runs.copy()
    assert graph.invoke(None, after_a.config) == {"steps": ["start", "a", "b", "c"]}
    assert runs - before == Counter(b=1, c=1)
    latest = graph.get_state(cfg)
    assert latest.values == {"steps": ["start", "a", "b", "c"]}
    assert checkpoint_id(latest.config) not in original_ids

    # The old branch is still there, checkpoint by checkpoint.
    for snapshot in history:
        assert graph.get_state(snapshot.config).values == snapshot.values
    everything = list(graph.get_state_history(cfg))
    ids = [checkpoint_id(s.config) for s in everything]
    # original run 5, fork 3 (update, b, c), replay 3 (a copy of after_a, b, c)
    assert len(ids) == len(set(ids)) == 5 + 3 + 3
    assert ids == sorted(ids, reverse=True)
    assert ids[6:] == original_ids
    assert [s.metadata["source"] for s in everything[:6]] == [
        "loop", "loop", "fork", "loop", "loop", "update"
    ]  # fmt: skip
    assert checkpoint_id(everything[2].parent_config) == checkpoint_id(after_a.config)
    assert checkpoint_id(everything[5].parent_config) == checkpoint_id(after_a.config)


# -- subgraphs -----------------------------------------------------------------


class Article(TypedDict, total=False):
    topic: str
    draft: str
    result: str


def build_publisher(saver: Any, runs: Counter[str]) -> Any:
    def draft(state: Article) -> Article:
        runs["draft"] += 1
        return {"draft": f"draft on {state['topic']}"}

    def review(state: Article) -> Article:
        runs["review"] += 1
        verdict = interrupt({"review": state["draft"]})
        return {"result": f"{state['draft']} ({verdict})"}

    child = StateGraph(Article)
    child.add_node("draft", draft)
    child.add_node("review", review)
    child.add_edge(START, "draft")
    child.add_edge("draft", "review")
    child.add_edge("review", END)

    def prep(state: Article) -> Article:
        runs["prep"] += 1
        return {"topic": state["topic"].upper()}

    def publish(state: Article) -> Article:
        runs["publish"] += 1
        return {"result": f"{state['result']}, published"}

    parent = StateGraph(Article)
    parent.add_node("prep", prep)
    parent.add_node("writer", child.compile())  # no checkpointer of its own
    parent.add_node("publish", publish)
    parent.add_edge(START, "prep")
    parent.add_edge("prep", "writer")
    parent.add_edge("writer", "publish")
    parent.add_edge("publish", END)
    return parent.compile(checkpointer=saver)


def test_subgraph_interrupt_state_and_resume(config):
    saver = RedisSaver(config=config)
    runs: Counter[str] = Counter()
    graph = build_publisher(saver, runs)
    cfg = thread("articles/1")

    out = graph.invoke({"topic": "redis"}, cfg)
    assert [i.value for i in out["__interrupt__"]] == [{"review": "draft on REDIS"}]

    state = graph.get_state(cfg, subgraphs=True)
    assert state.next == ("writer",)
    assert state.values == {"topic": "REDIS"}
    (task,) = state.tasks
    assert task.name == "writer"
    assert [i.value for i in task.interrupts] == [{"review": "draft on REDIS"}]
    sub = task.state
    assert sub.values == {"topic": "REDIS", "draft": "draft on REDIS"}
    assert sub.next == ("review",)
    assert sub.config["configurable"]["checkpoint_ns"].startswith("writer:")
    # Without subgraphs=True the task points at the subgraph's config instead.
    assert "checkpoint_ns" in graph.get_state(cfg).tasks[0].state["configurable"]

    # The subgraph's checkpoints are stored in their own namespace of the thread.
    namespaces = {c.config["configurable"]["checkpoint_ns"] for c in saver.list(cfg)}
    assert "" in namespaces
    assert sub.config["configurable"]["checkpoint_ns"] in namespaces

    done = graph.invoke(Command(resume="approved"), cfg)
    assert done == {
        "topic": "REDIS",
        "draft": "draft on REDIS",
        "result": "draft on REDIS (approved), published",
    }
    assert runs == {"prep": 1, "draft": 1, "review": 2, "publish": 1}
    final = graph.get_state(cfg, subgraphs=True)
    assert final.next == ()
    assert final.tasks == ()
    assert final.values == done


# -- TTL: every key of a thread expires ---------------------------------------


def thread_keys(redis_client: Any, config: Any, thread_id: str) -> list[bytes]:
    return list(redis_client.scan_iter(match=config.keys.thread(thread_id) + ":*", count=1000))


def assert_every_key_expires(redis_client: Any, config: Any, thread_id: str) -> None:
    keys = thread_keys(redis_client, config, thread_id)
    assert keys, f"no key of thread {thread_id!r}"
    ttls = {key: redis_client.pttl(key) for key in keys}
    assert all(0 < ttl <= 3_600_000 for ttl in ttls.values()), ttls


def test_every_key_of_a_thread_expires_after_every_kind_of_write(config, redis_client):
    config = config.replace(ttl=TTLPolicy(threads=TTL(3600)))
    saver = RedisSaver(config=config)
    agent = build_agent(saver)
    tid = "ttl:thread 1"

    agent.invoke({"messages": [HumanMessage("weather in Oslo")]}, thread(tid))  # put + writes
    assert_every_key_expires(redis_client, config, tid)

    latest = saver.get_tuple(thread(tid)).config
    saver.put_writes(latest, [("extra", {"note": 1})], task_id="task-x", task_path="x")
    assert ("task-x", "extra", {"note": 1}) in saver.get_tuple(latest).pending_writes
    assert_every_key_expires(redis_client, config, tid)

    saver.copy_thread(tid, "ttl:copy")
    assert saver.get_tuple(thread("ttl:copy")).checkpoint == saver.get_tuple(latest).checkpoint
    assert_every_key_expires(redis_client, config, "ttl:copy")
    assert_every_key_expires(redis_client, config, tid)

    graph = build_approval_graph(saver)
    graph.invoke({"request": "expire me"}, thread("ttl:hitl"))  # an interrupt
    assert graph.get_state(thread("ttl:hitl")).next == ("ask",)
    assert_every_key_expires(redis_client, config, "ttl:hitl")
    graph.invoke(Command(resume="no"), thread("ttl:hitl"))
    assert graph.get_state(thread("ttl:hitl")).values["outcome"] == "refused: expire me"
    assert_every_key_expires(redis_client, config, "ttl:hitl")

    # Subgraph namespaces live under the thread too.
    build_publisher(saver, Counter()).invoke({"topic": "ttl"}, thread("ttl:sub"))
    assert_every_key_expires(redis_client, config, "ttl:sub")


async def test_every_key_expires_after_async_writes(config, redis_client):
    config = config.replace(ttl=TTLPolicy(threads=TTL(3600)))
    saver = RedisSaver(config=config)
    tid = "ttl:async"
    await build_agent(saver).ainvoke({"messages": [HumanMessage("weather in Rome")]}, thread(tid))
    latest = (await saver.aget_tuple(thread(tid))).config
    await saver.aput_writes(latest, [("extra", 2)], task_id="task-y")
    await saver.acopy_thread(tid, "ttl:async-copy")
    assert_every_key_expires(redis_client, config, tid)
    assert_every_key_expires(redis_client, config, "ttl:async-copy")


# -- keep_last -----------------------------------------------------------------


class Chat(TypedDict, total=False):
    name: str
    messages: Annotated[list[AnyMessage], add_messages]
    review: bool
    verdict: str


def build_chat(saver: Any) -> Any:
    def respond(state: Chat) -> Chat:
        last = state["messages"][-1]
        return {"messages": [AIMessage(f"{state['name']}, you said {last.content}")]}

    def review(state: Chat) -> Chat:
        if not state.get("review"):
            return {}
        return {"verdict": interrupt("is this fine?"), "review": False}

    builder = StateGraph(Chat)
    builder.add_node("respond", respond)
    builder.add_node("review", review)
    builder.add_edge(START, "respond")
    builder.add_edge("respond", "review")
    builder.add_edge("review", END)
    return builder.compile(checkpointer=saver)


def test_keep_last_keeps_the_newest_checkpoints_and_the_graph_resumes(config):
    saver = RedisSaver(config=config, keep_last=3)
    graph = build_chat(saver)
    tid = "kept"
    cfg = thread(tid)
    seen: list[str] = []
    for turn in range(10):
        start: Chat = {"messages": [HumanMessage(f"m{turn}")]}
        if turn == 0:
            start["name"] = "Ada"  # written once, by the first turn only
        for item in graph.stream(start, cfg, stream_mode="checkpoints"):
            if checkpoint_id(item["config"]) not in seen:
                seen.append(checkpoint_id(item["config"]))

    kept = list(saver.list({"configurable": {"thread_id": tid, "checkpoint_ns": ""}}))
    assert [checkpoint_id(c.config) for c in kept] == seen[::-1][:3]
    assert len(seen) > 30

    # The newest checkpoint still has everything, including the channel from turn one.
    state = graph.get_state(cfg)
    assert state.values["name"] == "Ada"
    assert [m.content for m in state.values["messages"]] == [
        text for turn in range(10) for text in (f"m{turn}", f"Ada, you said m{turn}")
    ]
    out = graph.invoke({"messages": [HumanMessage("m10")], "review": True}, cfg)
    assert [i.value for i in out["__interrupt__"]] == ["is this fine?"]
    assert len(list(saver.list(thread(tid, checkpoint_ns="")))) == 3
    done = graph.invoke(Command(resume="fine"), cfg)
    assert done["verdict"] == "fine"
    assert done["messages"][-1].content == "Ada, you said m10"
    assert len(done["messages"]) == 22
    assert len(list(saver.list(thread(tid, checkpoint_ns="")))) == 3


class Counted(TypedDict, total=False):
    turn: int
    payload: str


def thread_memory(redis_client: Any, config: Any, thread_id: str) -> int:
    keys = thread_keys(redis_client, config, thread_id)
    return sum(redis_client.memory_usage(key, samples=0) or 0 for key in keys)


def test_keep_last_frees_the_blobs_and_writes_of_pruned_checkpoints(config, redis_client):
    def step(state: Counted) -> Counted:
        return {"turn": state.get("turn", 0) + 1, "payload": state["payload"].upper()}

    builder = StateGraph(Counted)
    builder.add_node("step", step)
    builder.add_edge(START, "step")
    builder.add_edge("step", END)
    kept = builder.compile(checkpointer=RedisSaver(config=config, keep_last=3))
    unbounded = builder.compile(checkpointer=RedisSaver(config=config))

    def run(graph: Any, thread_id: str, turns: range) -> None:
        for turn in turns:
            graph.invoke({"payload": f"turn {turn} " + "x" * 2000}, thread(thread_id))

    run(kept, "pruned", range(10))
    run(unbounded, "whole", range(10))
    pruned_at_10 = thread_memory(redis_client, config, "pruned")
    whole_at_10 = thread_memory(redis_client, config, "whole")
    run(kept, "pruned", range(10, 20))
    run(unbounded, "whole", range(10, 20))
    pruned_at_20 = thread_memory(redis_client, config, "pruned")
    whole_at_20 = thread_memory(redis_client, config, "whole")

    assert pruned_at_20 < 1.5 * pruned_at_10, (pruned_at_10, pruned_at_20)
    # The measure sees growth where there is some: without keep_last it nearly doubles.
    assert whole_at_20 > 1.7 * whole_at_10, (whole_at_10, whole_at_20)
    assert kept.get_state(thread("pruned")).values["turn"] == 20


# -- mirror_messages -------------------------------------------------------------


def test_mirror_messages_copies_the_agent_conversation_to_the_session(config):
    from llama_index_redis_memory import RedisChatStore

    agent = build_agent(RedisSaver(config=config, mirror_messages=True))
    tid = "mirrored:1"
    for turn in range(3):
        agent.invoke({"messages": [HumanMessage(agent_question(turn))]}, thread(tid))
    messages = agent.get_state(thread(tid)).values["messages"]
    assert transcript(messages) == expected_transcript(range(3))

    session = RedisChatMessageHistory(tid, config=config).messages
    assert [(m.id, m.type, m.content) for m in session] == [
        (m.id, m.type, m.content) for m in messages
    ]
    assert session == messages
    # LlamaIndex reads the same session (an AI message of only tool calls has no text).
    llama = RedisChatStore(config=config).get_messages(tid)
    roles = {"human": "user", "ai": "assistant", "tool": "tool"}
    assert [(m.role.value, m.content or "") for m in llama] == [
        (roles[m.type], m.content) for m in messages
    ]


def build_forgetful_chat(saver: Any) -> Any:
    def chat(state: Chat) -> Chat:
        last = state["messages"][-1]
        if last.content == "forget the first":
            first = state["messages"][0]
            return {"messages": [RemoveMessage(id=first.id), AIMessage("forgotten")]}
        return {"messages": [AIMessage(f"echo: {last.content}")]}

    builder = StateGraph(Chat)
    builder.add_node("chat", chat)
    builder.add_edge(START, "chat")
    builder.add_edge("chat", END)
    return builder.compile(checkpointer=saver)


def test_mirrored_session_never_loses_messages_and_a_fork_appends_only_its_own(config):
    graph = build_forgetful_chat(RedisSaver(config=config, mirror_messages=True))
    tid = "mirrored:2"
    cfg = thread(tid)
    session = RedisChatMessageHistory(tid, config=config)
    for text in ("one", "two", "three"):
        graph.invoke({"messages": [HumanMessage(text)]}, cfg)
    before = graph.get_state(cfg).values["messages"]
    assert [m.content for m in before] == ["one", "echo: one", "two", "echo: two", "three",
                                           "echo: three"]  # fmt: skip
    assert session.messages == before

    # A RemoveMessage by update_state changes the graph's state, not the session.
    graph.update_state(cfg, {"messages": [RemoveMessage(id=before[1].id)]})
    assert [m.id for m in graph.get_state(cfg).values["messages"]] == [
        m.id for m in before if m.id != before[1].id
    ]
    assert session.messages == before

    # A RemoveMessage by a node: the session keeps the removed message, adds the new ones.
    out = graph.invoke({"messages": [HumanMessage("forget the first")]}, cfg)
    assert before[0].id not in [m.id for m in out["messages"]]
    assert [m.content for m in out["messages"][-2:]] == ["forget the first", "forgotten"]
    grown = session.messages
    assert grown[:6] == before
    assert [m.id for m in grown[6:]] == [m.id for m in out["messages"][-2:]]

    # A fork from after the first turn: only the fork's new messages are appended.
    after_first = next(
        s
        for s in graph.get_state_history(cfg)
        if len(s.values.get("messages", ())) == 2 and s.next == ()
    )
    fork_cfg = graph.update_state(after_first.config, {"messages": [HumanMessage("edit")]})
    forked = graph.invoke({"messages": [HumanMessage("fork")]}, fork_cfg)
    assert [m.content for m in forked["messages"]] == [
        "one", "echo: one", "edit", "fork", "echo: fork"
    ]  # fmt: skip
    final = session.messages
    assert final[: len(grown)] == grown
    assert [(m.id, m.content) for m in final[len(grown) :]] == [
        (m.id, m.content) for m in forked["messages"][2:]
    ]


# -- errors ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bad_id", "message"),
    [("", "must not be empty"), ("x" * 513, "got 513 bytes"), ("é" * 257, "got 514 bytes")],
    ids=["empty", "513-ascii", "514-bytes"],
)
def test_an_empty_or_oversized_thread_id_is_a_value_error(config, bad_id, message):
    saver = RedisSaver(config=config)
    with pytest.raises(ValueError, match=message):
        saver.put(thread(bad_id, checkpoint_ns=""), empty_checkpoint(), {}, {})
    with pytest.raises(ValueError, match=message):
        saver.get_tuple(thread(bad_id))
    with pytest.raises(ValueError, match=message):
        build_abc(saver, Counter()).invoke({"steps": ["start"]}, thread(bad_id))


def test_a_thread_id_of_512_bytes_is_accepted(config):
    graph = build_abc(RedisSaver(config=config), Counter())
    tid = "é" * 256
    assert graph.invoke({"steps": []}, thread(tid)) == {"steps": ["a", "b", "c"]}
    assert graph.get_state(thread(tid)).values == {"steps": ["a", "b", "c"]}


async def test_redis_down_is_an_unavailable_error_naming_the_thread(config):
    saver = RedisSaver(url="redis://127.0.0.1:1", config=config.replace(retries=0))
    tid = "down-thread-7"
    with pytest.raises(RedisUnavailableError, match=tid):
        saver.get_tuple(thread(tid))
    with pytest.raises(RedisUnavailableError, match=tid):
        saver.put(thread(tid, checkpoint_ns=""), empty_checkpoint(), {}, {})
    with pytest.raises(RedisUnavailableError, match=tid):
        await saver.aget_tuple(thread(tid))
    with pytest.raises(RedisUnavailableError, match=tid):
        build_abc(saver, Counter()).invoke({"steps": []}, thread(tid))


def test_a_corrupt_checkpoint_is_a_named_error(config, redis_client):
    graph = build_abc(RedisSaver(config=config), Counter())
    tid = "corrupt"
    graph.invoke({"steps": ["start"]}, thread(tid))
    key = config.keys.thread(tid) + ":checkpoints"
    fields = redis_client.hkeys(key)
    assert fields, f"no hash at {key}"
    redis_client.hset(key, mapping=dict.fromkeys(fields, b"garbage"))

    fresh = RedisSaver(config=config)
    with pytest.raises((SerializationError, UnexpectedDataError)) as caught:
        fresh.get_tuple(thread(tid))
    assert key in str(caught.value)
    with pytest.raises((SerializationError, UnexpectedDataError)) as caught:
        build_abc(fresh, Counter()).get_state(thread(tid))
    assert key in str(caught.value)
    with pytest.raises((SerializationError, UnexpectedDataError)) as caught:
        list(fresh.list(thread(tid)))
    assert key in str(caught.value)
