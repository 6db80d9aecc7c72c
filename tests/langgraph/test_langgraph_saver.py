"""RedisSaver beyond the conformance suite: round trips, storage, pruning, the
message mirror, moving threads in from other savers, the CLI, and bad input."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import uuid
from typing import Annotated, TypedDict

import ormsgpack
import pytest
from _examples import code_blocks, run_example
from hypothesis import given
from hypothesis import strategies as st
from langchain_core.messages import AIMessage, HumanMessage
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.sqlite import SqliteSaver
from langgraph.graph import END, START, StateGraph
from langgraph.graph.message import add_messages

from langchain_redis_memory import (
    AsyncRedisSaver,
    RedisChatMessageHistory,
    RedisSaver,
    acopy_threads,
    copy_threads,
)
from redis_memory.checkpoints import CheckpointLog, msgpack_elements
from redis_memory.cli import main
from redis_memory.errors import ConfigurationError, SerializationError, UnexpectedDataError

pytestmark = pytest.mark.acl_user


class State(TypedDict):
    messages: Annotated[list, add_messages]


def _answer(state: State) -> dict:
    return {"messages": [AIMessage(f"you said: {state['messages'][-1].content}")]}


def _note(state: State) -> dict:
    return {"messages": [AIMessage(f"noted {len(state['messages'])} messages")]}


def _graph(checkpointer):
    builder = StateGraph(State)
    builder.add_node("answer", _answer)
    builder.add_node("note", _note)
    builder.add_edge(START, "answer")
    builder.add_edge("answer", "note")
    builder.add_edge("note", END)
    return builder.compile(checkpointer=checkpointer)


def _turns(graph, thread_id: str, n: int) -> dict:
    config = {"configurable": {"thread_id": thread_id}}
    for i in range(n):
        graph.invoke({"messages": [HumanMessage(f"question {i}")]}, config)
    return config


def _thread_keys(redis_client, config, thread_id):
    stem = config.keys.thread(thread_id)
    return sorted(redis_client.scan_iter(match=stem + ":*", count=1000))


# -- round trips -------------------------------------------------------------------
def test_a_super_step_is_two_round_trips_and_get_tuple_one(config, round_trips):
    saver = RedisSaver(client=round_trips.client, config=config)
    graph = _graph(saver)
    thread = {"configurable": {"thread_id": "rt"}}
    graph.invoke({"messages": [HumanMessage("warm up")]}, thread)  # loads the scripts

    latest = saver.get_tuple(thread)
    round_trips.count = 0
    saver.put_writes(latest.config, [("messages", [AIMessage("x")])], "task-1")
    assert round_trips.count == 1
    checkpoint = {**latest.checkpoint, "id": str(uuid.uuid4())}
    saver.put(latest.config, checkpoint, {"source": "loop", "step": 9}, {"messages": "9"})
    assert round_trips.count == 2

    round_trips.count = 0
    assert saver.get_tuple(thread) is not None
    assert round_trips.count == 1


def test_a_growing_conversation_stores_each_message_once(config, redis_client):
    saver = RedisSaver(config=config)
    _turns(_graph(saver), "grow", 10)
    elements = config.keys.thread("grow") + ":elements"
    # 10 questions, 10 answers, 10 notes: each message once, whatever the versions.
    assert redis_client.hlen(elements) == 30
    state = _graph(saver).get_state({"configurable": {"thread_id": "grow"}})
    assert [m.content for m in state.values["messages"]][:3] == [
        "question 0",
        "you said: question 0",
        "noted 2 messages",
    ]
    assert len(state.values["messages"]) == 30


def test_list_values_come_back_equal_whatever_their_elements(config):
    saver = RedisSaver(config=config)
    values = {
        "plain": [1, "two", 3.5, {"four": [4]}],
        "with_none": [None, 1],  # not msgpack element by element: stored whole
        "bytes": [b"\x00\x01", b""],
        "empty": [],
        "long": list(range(70_000)),  # past msgpack's 16-bit array header
        "scalar": "text",
    }
    versions = dict.fromkeys(values, "1")
    checkpoint = {
        "v": 4,
        "id": str(uuid.uuid4()),
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": values,
        "channel_versions": versions,
        "versions_seen": {},
        "updated_channels": None,
    }
    target = {"configurable": {"thread_id": "values", "checkpoint_ns": ""}}
    saved = saver.put(target, checkpoint, {"source": "input", "step": -1}, versions)
    assert saver.get_tuple(saved).checkpoint["channel_values"] == values


# -- keep_last and pruning -----------------------------------------------------------
def test_keep_last_bounds_a_thread_and_drops_values_no_checkpoint_needs(config, redis_client):
    saver = RedisSaver(config=config, keep_last=2)
    graph = _graph(saver)
    thread = _turns(graph, "short", 6)
    kept = list(saver.list(thread))
    assert len(kept) == 2
    assert kept[0].checkpoint["channel_values"]["messages"][-1].content == "noted 17 messages"

    stem = config.keys.thread("short")
    # Besides each version, the newest list of a channel is kept whole ("\x01" fields).
    blobs = {f for f in redis_client.hkeys(stem + ":blobs") if not f.startswith(b"\x01")}
    referenced = {
        f"\0{channel}\0{version}".encode()
        for found in kept
        for channel, version in found.checkpoint["channel_versions"].items()
    }
    assert blobs == referenced
    # Only the messages the two kept checkpoints hold are left.
    assert redis_client.hlen(stem + ":elements") == 18
    assert graph.invoke({"messages": [HumanMessage("more")]}, thread)["messages"][-1].content == (
        "noted 20 messages"
    )


def test_prune_keeps_the_newest_of_each_namespace_and_its_writes(config):
    log = CheckpointLog(config=config)
    for ns in ("", "child:1"):
        for n in range(3):
            log.put(
                "p",
                ns,
                f"id{n}",
                parent_id=None,
                record=("json", b"{}"),
                versions={"x": n},
                values={("x", n): ("json", str(n).encode())},
            )
    log.put_writes("p", "", "id2", [(0, "x", ("json", b"7"))], task_id="t")
    assert log.prune("p", 1) == 4
    assert [c.checkpoint_id for c in log.iter_checkpoints("p", None)] == ["id2", "id2"]
    newest = log.get("p")
    assert newest.values == {"x": ("json", b"2")}
    assert [w.value for w in newest.writes] == [("json", b"7")]
    assert log.info("p").values == 2


# -- the message mirror --------------------------------------------------------------
def test_mirror_appends_only_what_the_session_lacks_in_one_script(config, count_commands):
    saver = RedisSaver(config=config, mirror_messages=True)
    graph = _graph(saver)
    thread = _turns(graph, "chat", 2)
    history = RedisChatMessageHistory("chat", config=config)
    graph_messages = graph.get_state(thread).values["messages"]
    assert [(m.id, m.content) for m in history.messages] == [
        (m.id, m.content) for m in graph_messages
    ]
    # A second saver object (another process) sends every body once: no repeats.
    other = _graph(RedisSaver(config=config, mirror_messages=True))
    with count_commands() as counted:
        other.invoke({"messages": [HumanMessage("again")]}, thread)
    assert len(history.messages) == 9
    assert "rpush" in counted.by_name
    assert [m.content for m in history.messages][-3:] == [
        "again",
        "you said: again",
        "noted 8 messages",
    ]


def test_mirror_leaves_subgraph_namespaces_and_other_channels_alone(config):
    saver = RedisSaver(config=config, mirror_messages=True)
    checkpoint = {
        "v": 4,
        "id": "1",
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": {"messages": [HumanMessage("inside", id="m1")]},
        "channel_versions": {"messages": "1"},
        "versions_seen": {},
        "updated_channels": None,
    }
    inner = {"configurable": {"thread_id": "sub", "checkpoint_ns": "child:1"}}
    saver.put(inner, checkpoint, {}, {"messages": "1"})
    assert RedisChatMessageHistory("sub", config=config).messages == []


def test_mirror_refuses_what_is_not_a_message_before_writing(config):
    saver = RedisSaver(config=config, mirror_messages=True)
    checkpoint = {
        "v": 4,
        "id": "1",
        "ts": "2026-01-01T00:00:00+00:00",
        "channel_values": {"messages": ["just a string"]},
        "channel_versions": {"messages": "1"},
        "versions_seen": {},
        "updated_channels": None,
    }
    target = {"configurable": {"thread_id": "strings", "checkpoint_ns": ""}}
    with pytest.raises(TypeError, match="mirror_messages copies LangChain messages"):
        saver.put(target, checkpoint, {}, {"messages": "1"})
    assert saver.get_tuple(target) is None


# -- moving in -----------------------------------------------------------------------
def _same_history(source, target, thread_id):
    config = {"configurable": {"thread_id": thread_id}}
    left = [(t.checkpoint["id"], t.metadata.get("step")) for t in source.list(config)]
    right = [(t.checkpoint["id"], t.metadata.get("step")) for t in target.list(config)]
    assert left == right
    assert left


@pytest.mark.parametrize("peer", ["memory", "sqlite"])
def test_copy_threads_from_another_saver_keeps_every_checkpoint(config, peer, tmp_path):
    if peer == "memory":
        source = InMemorySaver()
    else:
        source = SqliteSaver(sqlite3.connect(tmp_path / "c.db", check_same_thread=False))
    _turns(_graph(source), "a", 3)
    _turns(_graph(source), "b", 1)
    target = RedisSaver(config=config)
    copied = copy_threads(source, target)
    assert copied == len(list(source.list(None)))
    for thread_id in ("a", "b"):
        _same_history(source, target, thread_id)
    # The copied thread goes on where it stopped.
    graph = _graph(target)
    result = graph.invoke(
        {"messages": [HumanMessage("go on")]}, {"configurable": {"thread_id": "a"}}
    )
    assert [m.content for m in result["messages"]][-3:] == [
        "go on",
        "you said: go on",
        "noted 11 messages",
    ]


@pytest.mark.search
def test_copy_threads_from_the_peer_redis_saver(config, redis_url):
    from langgraph.checkpoint.redis import RedisSaver as PeerSaver

    with PeerSaver.from_conn_string(redis_url) as peer:
        peer.setup()
        thread_id = f"peer-{uuid.uuid4()}"
        _turns(_graph(peer), thread_id, 2)
        target = RedisSaver(config=config)
        assert copy_threads(peer, target, thread_ids=[thread_id]) == 8
        peer_state = _graph(peer).get_state({"configurable": {"thread_id": thread_id}})
        ours = _graph(target).get_state({"configurable": {"thread_id": thread_id}})
        assert ours.values == peer_state.values
        peer.delete_thread(thread_id)


@pytest.mark.acl_user(enabled=False)
async def test_acopy_threads_between_two_prefixes(config):
    source = AsyncRedisSaver(config=config.replace(prefix=config.prefix + "-src"))
    graph = _graph(source)
    await graph.ainvoke({"messages": [HumanMessage("hi")]}, {"configurable": {"thread_id": "x"}})
    target = AsyncRedisSaver(config=config)
    assert await acopy_threads(source, target) == 4
    state = await _graph(target).aget_state({"configurable": {"thread_id": "x"}})
    assert [m.content for m in state.values["messages"]] == [
        "hi",
        "you said: hi",
        "noted 2 messages",
    ]
    await source.adelete_thread("x")


# -- bad input and damaged data -------------------------------------------------------
def test_a_serializer_that_allows_pickle_is_refused():
    with pytest.raises(ConfigurationError, match="never stores pickle"):
        RedisSaver(url="redis://localhost:1", serde=JsonPlusSerializer(pickle_fallback=True))


def test_a_stored_pickle_is_never_loaded(config, redis_client):
    saver = RedisSaver(config=config)
    thread = _turns(_graph(saver), "pickled", 1)
    key = config.keys.thread("pickled") + ":checkpoints"
    newest = max(redis_client.hkeys(key))
    redis_client.hset(key, newest, b"pickle\0\x80\x04K\x01.")
    with pytest.raises(SerializationError, match="never loads") as info:
        saver.get_tuple(thread)
    assert key in str(info.value)


def test_a_missing_list_element_names_the_key(config, redis_client):
    saver = RedisSaver(config=config)
    thread = _turns(_graph(saver), "holes", 2)
    key = config.keys.thread("holes") + ":elements"
    redis_client.hdel(key, *redis_client.hkeys(key))
    # The newest list is also kept whole; older checkpoints are put together from elements.
    assert len(saver.get_tuple(thread).checkpoint["channel_values"]["messages"]) == 6
    with pytest.raises(UnexpectedDataError, match="lacks an element") as info:
        list(saver.list(thread))
    assert key in str(info.value)


def test_a_config_without_thread_id_says_what_to_pass(config):
    saver = RedisSaver(config=config)
    with pytest.raises(ValueError, match=r'config\["configurable"\]\["thread_id"\]'):
        saver.get_tuple({"configurable": {}})
    with pytest.raises(ValueError, match="must not be empty"):
        saver.get_tuple({"configurable": {"thread_id": ""}})
    with pytest.raises(ValueError, match="prune"):
        saver.prune(["x"], strategy="everything")


# -- docs and imports ------------------------------------------------------------------
@pytest.mark.parametrize("cls", [RedisSaver, CheckpointLog])
def test_docstring_examples_run(cls):
    blocks = code_blocks(cls.__doc__)
    assert blocks
    for block in blocks:
        run_example(block)


def test_without_langgraph_the_import_names_the_extra():
    code = (
        "import sys; sys.modules['langgraph'] = None\n"
        "import langchain_redis_memory\n"
        "try:\n"
        "    langchain_redis_memory.RedisSaver\n"
        "except ModuleNotFoundError as exc:\n"
        "    print(exc)\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == (
        "RedisSaver needs LangGraph: pip install 'redis-memory-backend[langgraph]'"
    )


# -- the CLI -------------------------------------------------------------------------
@pytest.fixture
def run(redis_url, prefix, capsys):
    def running(*argv: str) -> tuple[int, str, str]:
        command, *rest = argv
        code = main([*command.split(), "--url", redis_url, "--prefix", prefix, *rest])
        out, err = capsys.readouterr()
        return code, out, err

    return running


@pytest.mark.acl_user(enabled=False)
def test_threads_list_show_prune_delete(run, config):
    saver = RedisSaver(config=config)
    _turns(_graph(saver), "cli:one", 2)
    _turns(_graph(saver), "cli two", 1)

    code, out, _ = run("threads list")
    assert code == 0
    assert "cli:one" in out
    assert "cli two" in out

    code, out, _ = run("threads show", "cli:one", "--last", "3")
    assert code == 0
    assert "8 checkpoints in 1 namespace(s)" in out
    assert len([line for line in out.splitlines() if "messages" in line]) == 3

    code, out, _ = run("threads prune", "cli:one", "--json")
    assert code == 0
    assert '"cli:one": 7' in out
    assert len(list(saver.list({"configurable": {"thread_id": "cli:one"}}))) == 1

    code, _, err = run("threads delete", "cli two", "nope", "--yes")
    assert code == 1
    assert "no thread 'nope'" in err
    code, out, _ = run("threads delete", "cli two", "--yes")
    assert code == 0
    assert "deleted thread 'cli two' (4 checkpoints)" in out
    assert saver.get_tuple({"configurable": {"thread_id": "cli two"}}) is None


# -- list elements ---------------------------------------------------------------------
_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(allow_nan=False),
    st.text(max_size=300),
    st.binary(max_size=300),
)


@given(st.lists(_scalars, max_size=40))
def test_msgpack_elements_cut_an_array_into_its_elements(values):
    data = ormsgpack.packb(values)
    parts = msgpack_elements(data)
    assert parts is not None
    assert [ormsgpack.unpackb(part) for part in parts] == values
    assert b"".join(parts) == data[len(data) - sum(map(len, parts)) :]


def test_msgpack_elements_leave_nested_and_foreign_data_to_the_caller():
    assert msgpack_elements(ormsgpack.packb([{"a": 1}])) is None
    assert msgpack_elements(ormsgpack.packb([[1]])) is None
    assert msgpack_elements(ormsgpack.packb({"a": 1})) is None
    assert msgpack_elements(ormsgpack.packb([1, 2])[:-1]) is None
    assert msgpack_elements(b"") is None
    messages = [HumanMessage("hi", id="1"), AIMessage("hello", id="2")]
    kind, data = JsonPlusSerializer().dumps_typed(messages)
    assert kind == "msgpack"
    assert len(msgpack_elements(data)) == 2


def test_from_conn_string_serves_with_and_async_with_as_the_peers_does(redis_url):
    with RedisSaver.from_conn_string(redis_url) as saver:
        assert isinstance(saver, RedisSaver)

    async def scenario():
        async with AsyncRedisSaver.from_conn_string(redis_url) as saver:
            return await saver.aget_tuple({"configurable": {"thread_id": "never-written"}})

    assert asyncio.run(scenario()) is None
