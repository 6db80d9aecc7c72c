"""The value rule in every engine and both frameworks, on real Redis.

A value is stored only if it reads back equal (a tuple as a list, a pydantic
model as its JSON dump); anything else is a ``SerializationError`` naming where
it sits inside the value and what to store instead, and nothing is written. The
LLM cache is the exception to raising: it never breaks the LLM call, so such a
response is not cached, with a warning. The serializer itself is tested in
``test_serialization.py``; here, what a user of each engine sees.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import math
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest
from langchain_core.messages import AIMessage, ToolMessage
from langchain_core.outputs import ChatGeneration
from llama_index.core.llms import ChatMessage

from langchain_redis_memory.cache import RedisCache
from langchain_redis_memory.chat_history import RedisChatMessageHistory
from langchain_redis_memory.long_term import RedisLongTermStore
from llama_index_redis_memory.chat_store import RedisChatStore
from llama_index_redis_memory.kvstore import RedisKVStore
from redis_memory import SerializationError
from redis_memory.cache import AsyncResponseCache, ResponseCache
from redis_memory.events import AsyncEventBus, EventBus
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.state import AsyncStateStore, StateStore


class Color(enum.Enum):
    RED = 1


@dataclasses.dataclass
class Point:
    x: int
    y: int


SET = "a set, which JSON cannot hold (it would read back as a list); store a list instead, e.g. "
SET += "sorted(...) or list(...)"
DATETIME = (
    "a datetime, which JSON cannot hold (it would read back as a str); store .isoformat() and "
    "rebuild it with datetime.fromisoformat(), or a timestamp"
)
DATE = (
    "a date, which JSON cannot hold (it would read back as a str); store .isoformat() and "
    "rebuild it with date.fromisoformat()"
)
UUID_ = (
    "a UUID, which JSON cannot hold (it would read back as a str); store str(...) and rebuild "
    "it with UUID(...)"
)
NAN = (
    "NaN, which JSON cannot hold (it would read back as null); JSON has no NaN or infinity: "
    "store None or a str yourself"
)

# (a value JSON cannot hold exactly, what the error says after "<path> is ")
REFUSED = [
    pytest.param({"b", "a"}, SET, id="set"),
    pytest.param(
        frozenset({1}),
        "a frozenset, which JSON cannot hold (it would read back as a list); store a list "
        "instead, e.g. sorted(...) or list(...)",
        id="frozenset",
    ),
    pytest.param(datetime(2024, 5, 6, 7, 8, tzinfo=UTC), DATETIME, id="datetime"),
    pytest.param(date(2024, 5, 6), DATE, id="date"),
    pytest.param(UUID(int=7), UUID_, id="uuid"),
    pytest.param(
        Decimal("0.10"),
        "a Decimal, which JSON cannot hold; store str(...) to keep every digit, or float(...)",
        id="decimal",
    ),
    pytest.param(
        b"\x89PNG",
        "bytes, which JSON cannot hold; store text instead, e.g. base64.b64encode(...).decode()",
        id="bytes",
    ),
    pytest.param(math.nan, NAN, id="nan"),
    pytest.param(
        math.inf,
        "infinity, which JSON cannot hold (it would read back as null); JSON has no NaN or "
        "infinity: store None or a str yourself",
        id="infinity",
    ),
    pytest.param(
        {7: "seven"},
        "a dict with a key of type int (7), which JSON cannot hold (it would read back as a "
        "str key); JSON object keys are text: convert the keys yourself, e.g. "
        "{str(k): v for k, v in ....items()}",
        id="int-key",
    ),
    pytest.param(
        Color.RED,
        "an enum member (Color.RED), which JSON cannot hold (it would read back as its value); "
        "store .value or .name",
        id="enum",
    ),
    pytest.param(
        Point(1, 2),
        "a dataclass (Point), which JSON cannot hold (it would read back as a dict); store "
        "dataclasses.asdict(...)",
        id="dataclass",
    ),
]

PATH = "value['meta']['items'][1]"


def holding(bad) -> dict:
    """A value with ``bad`` at ``PATH``, beside data JSON holds."""
    return {"meta": {"items": ["ok", bad], "n": 1}}


def stored_keys(redis_client, config) -> list[bytes]:
    return list(redis_client.scan_iter(match=f"{config.prefix}:*"))


# -- the engines -------------------------------------------------------------------------------


@pytest.mark.parametrize(("bad", "problem"), REFUSED)
def test_history_append_refuses_and_writes_nothing(config, redis_client, bad, problem):
    log = MessageLog(config=config)
    message = {"role": "user", "content": "hi", **holding(bad)}
    with pytest.raises(SerializationError) as raised:
        log.append("s", [{"role": "user", "content": "fine"}, message])
    assert str(raised.value) == f"message 1 cannot be stored: {PATH} is {problem}"
    assert log.messages("s") == []
    assert stored_keys(redis_client, config) == []


@pytest.mark.parametrize(("bad", "problem"), REFUSED)
def test_state_set_refuses_and_writes_nothing(config, redis_client, bad, problem):
    state = StateStore(config=config)
    with pytest.raises(SerializationError) as raised:
        state.set("ana", "profile", holding(bad))
    assert str(raised.value) == f"state key 'profile' cannot be stored: {PATH} is {problem}"
    with pytest.raises(SerializationError) as raised:
        state.set_many("ana", {"ok": 1, "profile": holding(bad)})
    assert str(raised.value).endswith(f"{PATH} is {problem}")
    assert state.get("ana", "profile") is None
    assert stored_keys(redis_client, config) == []


@pytest.mark.parametrize(("bad", "problem"), REFUSED)
def test_cache_update_does_not_cache_and_says_why(config, redis_client, caplog, bad, problem):
    cache = ResponseCache(config=config)
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        cache.update("What is Redis?", "model", holding(bad))  # never raises: the call goes on
    assert [r.getMessage() for r in caplog.records] == [
        f"LLM cache: not caching a value JSON cannot hold: {PATH} is {problem}"
    ]
    assert cache.lookup("What is Redis?", "model") is None
    assert stored_keys(redis_client, config) == []


@pytest.mark.parametrize(("bad", "problem"), REFUSED)
def test_events_publish_refuses_and_sends_nothing(config, count_commands, bad, problem):
    bus = EventBus(config=config)
    with count_commands() as counted:
        for audit in (False, True):
            with pytest.raises(SerializationError) as raised:
                bus.publish("orders", holding(bad), audit=audit)
            assert str(raised.value) == f"the event cannot be published: {PATH} is {problem}"
    assert counted.total == 0


async def test_the_async_twins_refuse_alike(config, redis_client, caplog):
    with pytest.raises(SerializationError) as raised:
        await AsyncMessageLog(config=config).append(
            "s", [{"role": "user", "content": "hi", **holding(UUID(int=7))}]
        )
    assert str(raised.value) == f"message 0 cannot be stored: {PATH} is {UUID_}"
    with pytest.raises(SerializationError) as raised:
        await AsyncStateStore(config=config).set("ana", "profile", holding(math.nan))
    assert str(raised.value) == f"state key 'profile' cannot be stored: {PATH} is {NAN}"
    with pytest.raises(SerializationError) as raised:
        await AsyncEventBus(config=config).publish("orders", holding({"a"}))
    assert str(raised.value) == f"the event cannot be published: {PATH} is {SET}"
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        await AsyncResponseCache(config=config).update("q", "m", holding(datetime.now(UTC)))
    assert f"not caching a value JSON cannot hold: {PATH} is {DATETIME}" in caplog.text
    assert stored_keys(redis_client, config) == []


def test_tuples_are_stored_as_lists_in_every_engine_and_sets_refused(config, caplog):
    # The one documented conversion: a tuple's items come back, in order, as a list.
    value = {"point": (1.5, 2.5), "pairs": [("a", 1)]}
    as_read = {"point": [1.5, 2.5], "pairs": [["a", 1]]}
    log, state, cache = (
        MessageLog(config=config),
        StateStore(config=config),
        ResponseCache(config=config),
    )
    log.append("s", [{"role": "user", "content": "hi", **value}])
    assert {k: log.messages("s")[0][k] for k in value} == as_read
    state.set("ana", "k", value)
    assert state.get("ana", "k") == as_read
    cache.update("q", "m", value)
    assert cache.lookup("q", "m") == as_read
    with pytest.raises(SerializationError, match=r"^state key 'k' cannot be stored: value\["):
        state.set("ana", "k", {"point": {1.5, 2.5}})
    assert state.get("ana", "k") == as_read  # the stored value is left as it was


# -- the frameworks ------------------------------------------------------------------------------


def test_langchain_message_extras_follow_the_rule(config, redis_client):
    history = RedisChatMessageHistory("ana", config=config)
    sent = AIMessage("hi", additional_kwargs={"sent_at": datetime(2024, 5, 6, 7, 8, tzinfo=UTC)})
    with pytest.raises(SerializationError) as raised:
        history.add_messages([AIMessage("first"), sent])
    assert str(raised.value) == (
        f"message 1 cannot be stored: value['lc']['additional_kwargs']['sent_at'] is {DATETIME}"
    )
    scored = AIMessage("x", response_metadata={"logprobs": {"mean": math.nan}})
    with pytest.raises(SerializationError) as raised:
        history.add_message(scored)
    assert str(raised.value) == (
        f"message 0 cannot be stored: value['lc']['response_metadata']['logprobs']['mean'] is {NAN}"
    )
    artifact = ToolMessage("done", tool_call_id="c1", artifact={"ids": {1, 2}})
    with pytest.raises(SerializationError, match=r"value\['lc'\]\['artifact'\]\['ids'\] is a set"):
        history.add_message(artifact)
    assert history.messages == []
    assert stored_keys(redis_client, config) == []
    # What JSON holds comes back equal; tuples in tool-call arguments as lists.
    call = AIMessage(
        "", tool_calls=[{"name": "move", "args": {"to": (3, 4), "at": "now"}, "id": "c2"}]
    )
    history.add_message(call)
    assert history.messages[0].tool_calls[0]["args"] == {"to": [3, 4], "at": "now"}


def test_langchain_cache_does_not_cache_what_json_cannot_hold(config, caplog):
    cache = RedisCache(config=config)
    generation = ChatGeneration(
        message=AIMessage("Redis is a data store."), generation_info={"created": date(2024, 5, 6)}
    )
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        cache.update("What is Redis?", "llm", [generation])
    assert [r.getMessage() for r in caplog.records] == [
        f"LLM cache: not caching a value JSON cannot hold: value[0]['info']['created'] is {DATE}"
    ]
    assert cache.lookup("What is Redis?", "llm") is None


def test_langgraph_store_values_follow_the_rule(config, redis_client):
    store = RedisLongTermStore(config=config, search=False)
    with pytest.raises(SerializationError) as raised:
        store.put(("users", "ana"), "prefs", {"diet": {"vegan"}, "since": 2024})
    assert str(raised.value) == f"the value of 'prefs' cannot be stored: value['diet'] is {SET}"
    assert store.get(("users", "ana"), "prefs") is None
    assert stored_keys(redis_client, config) == []


def test_llama_index_message_extras_and_kv_values_follow_the_rule(config, redis_client):
    store = RedisChatStore(config=config)
    message = ChatMessage(role="user", content="hi", additional_kwargs={"ref": UUID(int=7)})
    with pytest.raises(SerializationError) as raised:
        store.add_message("ana", message)
    assert str(raised.value) == f"message 0 cannot be stored: value['li']['kw']['ref'] is {UUID_}"
    assert store.get_messages("ana") == []
    kv = RedisKVStore(config=config)
    with pytest.raises(SerializationError) as raised:
        kv.put("doc-1", {"score": math.nan})
    assert str(raised.value) == f"state key 'doc-1' cannot be stored: value['score'] is {NAN}"
    assert stored_keys(redis_client, config) == []
