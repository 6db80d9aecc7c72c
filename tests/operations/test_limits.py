"""Values over ``RedisMemoryConfig.max_value_bytes`` are refused before they reach Redis.

Every engine encodes through ``config.checked_serializer``; these tests show, per
kind of data, that an oversized value raises :class:`ValueTooLargeError` (naming the
size and the limit), that no command reached the server, and that nothing was
written. The cache is the exception on purpose: it fails open, so an oversized
response is simply not cached, with a warning.
"""

from __future__ import annotations

import asyncio
import doctest
import logging

import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.outputs import Generation
from llama_index.core.llms import ChatMessage

from langchain_redis_memory import RedisCache, RedisChatMessageHistory
from llama_index_redis_memory import RedisChatStore
from redis_memory import (
    AsyncStateStore,
    AuditLog,
    ConfigurationError,
    EventBus,
    RedisMemoryConfig,
    StateStore,
    ValueTooLargeError,
    serialization,
)
from redis_memory.cache import ResponseCache
from redis_memory.coordination import Findings
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.workqueue import WorkQueue

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

LIMIT = 1000
BIG = "x" * LIMIT  # its JSON ("x...x" with quotes) is over the limit


@pytest.fixture
def small(config):
    return config.replace(max_value_bytes=LIMIT)


def _refused(caught: pytest.ExceptionInfo[ValueTooLargeError]) -> str:
    message = str(caught.value)
    assert isinstance(caught.value, ValueError)
    assert f"over the limit of {LIMIT:,} bytes" in message
    assert "max_value_bytes" in message
    assert "nothing was written" in message
    return message


def test_default_limit_env_and_validation():
    assert RedisMemoryConfig().max_value_bytes == 8 * 1024 * 1024
    env = {"REDIS_MEMORY_MAX_VALUE_BYTES": "4096"}
    assert RedisMemoryConfig.from_env(env).max_value_bytes == 4096
    env = {"REDIS_MEMORY_MAX_VALUE_BYTES": "none"}
    assert RedisMemoryConfig.from_env(env).max_value_bytes is None
    with pytest.raises(ConfigurationError, match="REDIS_MEMORY_MAX_VALUE_BYTES"):
        RedisMemoryConfig.from_env({"REDIS_MEMORY_MAX_VALUE_BYTES": "8MB"})
    for bad in (0, -1, 1.5, True, "100"):
        with pytest.raises(ConfigurationError, match="max_value_bytes"):
            RedisMemoryConfig(max_value_bytes=bad)


def test_serialization_module_examples():
    results = doctest.testmod(serialization, optionflags=doctest.ELLIPSIS)
    assert results.attempted
    assert not results.failed


def test_a_value_at_the_limit_is_stored(small, redis_client):
    store = StateStore(config=small)
    exact = "x" * (LIMIT - 2)  # plus two quotes: exactly LIMIT bytes of JSON
    store.set("u", "k", exact)
    assert store.get("u", "k") == exact
    with pytest.raises(ValueTooLargeError):
        store.set("u", "k", exact + "x")
    assert store.get("u", "k") == exact, "the refused write changed nothing"


def test_no_limit_stores_large_values(config):
    store = StateStore(config=config.replace(max_value_bytes=None))
    store.set("u", "k", BIG * 20)
    assert store.get("u", "k") == BIG * 20


def test_history_refuses_the_whole_batch_before_any_command(small, redis_client, count_commands):
    log = MessageLog(config=small)
    log.append("s", [{"role": "user", "content": "kept"}])
    batch = [{"role": "user", "content": "fine"}, {"role": "assistant", "content": BIG}]
    with count_commands() as counted, pytest.raises(ValueTooLargeError) as caught:
        log.append("s", batch)
    assert _refused(caught).startswith("message 1: ")
    assert counted.total == 0, "nothing reached Redis"
    assert [m["content"] for m in log.messages("s")] == ["kept"]
    with pytest.raises(ValueTooLargeError):
        log.replace("s", batch)
    assert [m["content"] for m in log.messages("s")] == ["kept"]

    async def async_append() -> None:
        with pytest.raises(ValueTooLargeError):
            await AsyncMessageLog(config=small).append("s", batch)

    asyncio.run(async_append())
    assert log.count("s") == 1


def test_framework_histories_refuse_and_write_nothing(small):
    history = RedisChatMessageHistory("lc", config=small)
    with pytest.raises(ValueTooLargeError):
        history.add_messages([HumanMessage("hi"), AIMessage(BIG)])
    assert history.messages == []
    store = RedisChatStore(config=small)
    with pytest.raises(ValueTooLargeError):
        store.set_messages("li", [ChatMessage(role="user", content=BIG)])
    with pytest.raises(ValueTooLargeError):
        store.add_message("li", ChatMessage(role="user", content=BIG))
    assert store.get_messages("li") == []


def test_state_values_json_fields_and_bytes_are_refused(small, count_commands):
    store = StateStore(config=small)
    with count_commands() as counted:
        with pytest.raises(ValueTooLargeError) as caught:
            store.set("u", "k", BIG)
        _refused(caught)
        with pytest.raises(ValueTooLargeError):
            store.set_many("u", {"a": 1, "b": BIG})
        with pytest.raises(ValueTooLargeError):
            store.update_fields("u", "doc", {"field": BIG})
        with pytest.raises(ValueTooLargeError) as caught:
            store.set_bytes("u", "blob", BIG.encode() + b"!")
        assert "state key 'blob'" in _refused(caught)
    assert counted.total == 0
    assert list(store.iter_keys("u")) == []

    async def async_set() -> None:
        with pytest.raises(ValueTooLargeError):
            await AsyncStateStore(config=small).set("u", "k", BIG)

    asyncio.run(async_set())


def test_findings_events_audit_and_jobs_are_refused(small, count_commands, redis_client):
    with count_commands() as counted:
        with pytest.raises(ValueTooLargeError):
            Findings(config=small).add("t", {"text": BIG}, author="a")
        with pytest.raises(ValueTooLargeError):
            EventBus(config=small).publish("news", {"text": BIG}, audit=True)
        with pytest.raises(ValueTooLargeError):
            AuditLog(config=small).append({"text": BIG})
        with pytest.raises(ValueTooLargeError):
            WorkQueue("jobs", config=small).put({"text": BIG})
    assert counted.total == 0
    assert list(redis_client.scan_iter(match=f"{small.prefix}:*")) == []


def test_an_oversized_response_is_not_cached_and_raises_nothing(small, caplog):
    cache = ResponseCache(config=small)
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        cache.update("prompt", "model", {"text": BIG})  # no exception: the cache fails open
    assert cache.lookup("prompt", "model") is None
    assert cache.stats.updates == 0
    assert cache.stats.errors == 0, "a refused value is not a Redis failure"
    assert any("not caching a response" in r.getMessage() for r in caplog.records)
    assert any(f"{LIMIT:,}" in r.getMessage() for r in caplog.records)


def test_langchain_cache_skips_an_oversized_generation(small):
    cache = RedisCache(config=small)
    cache.update("prompt", "llm", [Generation(text=BIG)])
    assert cache.lookup("prompt", "llm") is None
    cache.update("prompt", "llm", [Generation(text="small")])
    assert cache.lookup("prompt", "llm") == [Generation(text="small")]
