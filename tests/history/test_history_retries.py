"""A repeated append stores nothing: the tokens of a session's recent appends.

Each append carries a token (its messages' ids, an ``idempotency_key``, or one
generated per call), and the append script remembers the session's last
``REMEMBERED_APPENDS`` tokens. The ambiguous case is played for real: the server
is stopped (SIGSTOP) while an append is in flight, so the client times out and
redis-py's retry sends the same command again; the first one is applied once the
server continues (SIGCONT), before the retry.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from _waiting import wait_until
from langchain_core.messages import AIMessage, HumanMessage
from llama_index.core.base.llms.types import ChatMessage
from redis.crc import key_slot

from langchain_redis_memory import RedisChatMessageHistory
from llama_index_redis_memory import RedisChatStore
from redis_memory import RedisMemoryConfig, RedisUnavailableError
from redis_memory.embedded import EmbeddedRedis
from redis_memory.history import REMEMBERED_APPENDS, AsyncMessageLog, MessageLog

pytestmark = pytest.mark.acl_user


def user(text, **extra):
    return {"role": "user", "content": text, **extra}


def texts(messages):
    return [m["content"] for m in messages]


def test_an_append_with_ids_or_a_key_is_stored_once(config, redis_client):
    log = MessageLog(config=config)
    batch = [user("a", id="m1"), {"role": "assistant", "content": "b", "id": "m2"}]
    assert log.append("s", batch) == 2
    assert log.append("s", batch) == 2, "the same ids: nothing stored, the length returned"
    assert log.append("s", [user("c", id="m2")]) == 3, "other ids, another append"
    assert log.append("s", [user("d")], idempotency_key="order-7") == 4
    assert log.append("s", [user("d, written again")], idempotency_key="order-7") == 4
    assert log.append("s", [user("e")]) == 5
    assert log.append("s", [user("e")]) == 6, "no ids, no key: each call is its own append"
    assert log.append("s", [user("f"), user("g", id="m9")]) == 8, "one id missing: a new token"
    assert texts(log.messages("s")) == ["a", "b", "c", "d", "e", "e", "f", "g"]

    # The tokens live in the session's slot, with its TTL, 16 bytes each.
    appends = log.keys.session_appends("s")
    messages = log.keys.session_messages("s")
    assert key_slot(appends.encode()) == key_slot(messages.encode())
    assert len(redis_client.get(appends)) == 16 * 6
    assert abs(redis_client.pttl(appends) - redis_client.pttl(messages)) < 1000


def test_only_the_last_appends_are_remembered(config, redis_client):
    log = MessageLog(config=config)
    log.append("s", [user("first", id="first")])
    for i in range(REMEMBERED_APPENDS - 1):
        log.append("s", [user(str(i))])
    assert log.append("s", [user("first", id="first")]) == REMEMBERED_APPENDS, "still known"
    log.append("s", [user("one more")])
    assert len(redis_client.get(log.keys.session_appends("s"))) == 16 * REMEMBERED_APPENDS
    assert log.append("s", [user("first", id="first")]) == REMEMBERED_APPENDS + 2, "forgotten"


def test_clear_and_replace_forget_the_appends(config, redis_client, prefix):
    log = MessageLog(config=config)
    batch = [user("a", id="m1")]
    assert log.append("s", batch) == 1
    assert log.append("s", batch) == 1, "remembered"
    log.clear("s")
    assert list(redis_client.scan_iter(match=f"{prefix}:*")) == [], "nothing of the session left"
    assert log.append("s", batch) == 1, "after clear, the same ids are a new append"
    log.replace("s", [user("x")])
    assert log.append("s", batch) == 2, "after replace too"
    assert log.append("s", batch) == 2
    log.delete_oldest("s", 2)
    assert log.count("s") == 0
    assert "s" not in set(log.iter_sessions()), "remembered tokens alone are no session"


def test_the_async_log_stores_a_repeated_append_once(config):
    alog = AsyncMessageLog(config=config)

    async def scenario() -> list[str]:
        assert await alog.append("s", [user("a", id="m1")]) == 1
        assert await alog.append("s", [user("a", id="m1")]) == 1
        assert await alog.append("s", [user("b")], idempotency_key="k") == 2
        assert await alog.append("s", [user("b")], idempotency_key="k") == 2
        return texts(await alog.messages("s"))

    assert asyncio.run(scenario()) == ["a", "b"]


def test_langchain_messages_with_ids_are_stored_once(config):
    history = RedisChatMessageHistory("s", config=config)
    turn = [HumanMessage("hi", id="h1"), AIMessage("hello", id="a1")]
    history.add_messages(turn)
    history.add_messages(turn)
    asyncio.run(history.aadd_messages(turn))
    assert history.messages == turn
    history.add_messages([HumanMessage("no id")])
    history.add_messages([HumanMessage("no id")])
    assert len(history.messages) == 4, "messages without ids are appended each time"


def test_an_idempotency_key_must_be_a_non_empty_str(config):
    log = MessageLog(config=config)
    for bad in ("", 7, b"k"):
        with pytest.raises(TypeError, match="idempotency_key must be a non-empty str"):
            log.append("s", [user("a")], idempotency_key=bad)
    assert log.count("s") == 0


# -- the ambiguous case, for real -----------------------------------------------------


@pytest.fixture
def stoppable(tmp_path) -> Iterator[EmbeddedRedis]:
    """A private Redis this test may stop (SIGSTOP) and continue (SIGCONT)."""
    server = EmbeddedRedis(data_dir=tmp_path, load_modules=False).start()
    try:
        yield server
    finally:
        os.kill(server.pid, signal.SIGCONT)
        server.stop()


def _config(server: EmbeddedRedis, timeout: float, retries: int) -> RedisMemoryConfig:
    return RedisMemoryConfig(
        url=server.url, socket_timeout=timeout, socket_connect_timeout=timeout, retries=retries
    )


def _stopped_while(server: EmbeddedRedis, call, seconds: float):
    """Run ``call`` while the server is stopped, continuing it after ``seconds``.

    The client sends its command to the stopped server, times out, and redis-py
    retries on a new connection; the server, continued, applies the first command
    (its reply goes nowhere), then the retry's.
    """
    result: dict = {}

    def run() -> None:
        try:
            result["value"] = call()
        except Exception as exc:
            result["error"] = exc

    os.kill(server.pid, signal.SIGSTOP)
    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(seconds)
    os.kill(server.pid, signal.SIGCONT)
    thread.join(30)
    return result


@pytest.mark.standalone_only
@pytest.mark.acl_user(enabled=False)
@pytest.mark.parametrize("how", ["core", "core async", "LangChain", "LlamaIndex"])
def test_a_retry_after_a_lost_reply_does_not_duplicate_the_append(stoppable, how):
    config = _config(stoppable, timeout=0.5, retries=3)
    log = MessageLog(config=config)
    history = RedisChatMessageHistory("s", config=config)
    store = RedisChatStore(config=config)
    loop = asyncio.new_event_loop()
    alog = AsyncMessageLog(config=config)
    # Warm: the script loaded, the connections open.
    log.append("warm", [user("x")])
    RedisChatMessageHistory("warm-lc", config=config).add_messages([HumanMessage("x")])
    store.add_message("warm-li", ChatMessage(content="x"))
    loop.run_until_complete(alog.append("warm", [user("y")]))
    calls = {
        "core": lambda: log.append("s", [user("once")]),  # a token generated for the call
        "core async": lambda: loop.run_until_complete(alog.append("s", [user("once")])),
        "LangChain": lambda: history.add_messages([HumanMessage("once", id="h1")]),
        "LlamaIndex": lambda: store.add_message("s", ChatMessage(content="once")),
    }
    admin = stoppable.client()
    connections = admin.info("stats")["total_connections_received"]
    result = _stopped_while(stoppable, calls[how], seconds=0.8)
    loop.close()
    assert "error" not in result, result
    retried = admin.info("stats")["total_connections_received"] - connections
    admin.close()
    assert retried >= 1, "redis-py timed out and sent the append again on a new connection"
    assert texts(log.messages("s")) == ["once"], "the retry was recognised as a repeat"
    assert log.count("s") == 1


@pytest.mark.standalone_only
@pytest.mark.acl_user(enabled=False)
def test_the_error_says_what_is_known_and_repeating_as_told_is_safe(stoppable):
    config = _config(stoppable, timeout=0.3, retries=1)
    log = MessageLog(config=config)
    log.append("warm", [user("x")])
    batches = {"ids": [user("with ids", id="m1")], "none": [user("without ids")]}
    for kind, batch in batches.items():
        session = f"s-{kind}"
        result = _stopped_while(stoppable, lambda: log.append(session, batch), seconds=2.5)  # noqa: B023
        error = result["error"]
        assert isinstance(error, RedisUnavailableError)
        message = str(error)
        assert "may or may not have been stored" in message
        assert ".." not in message
        assert "Retry once Redis is back" not in message, "a blind retry is not advised"
        # The continued server applies the append that was sent.
        wait_until(
            lambda: log.count(session),  # noqa: B023
            attempts=200,
            pause=0.05,
            what="the append sent before the stop to be applied",
        )
        assert log.count(session) == 1
        if kind == "ids":
            assert "Repeating it with the same messages (the same ids) is safe" in message
            assert log.append(session, batch) == 1
        else:
            key = re.search(r"idempotency_key='([0-9a-f]{32})'", message)
            assert key, message
            assert log.append(session, batch, idempotency_key=key.group(1)) == 1
        assert log.count(session) == 1, "repeated as the error said: stored once"
