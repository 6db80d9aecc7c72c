"""Outages: Redis stopped, hung, out of connections or full, in the middle of a run.

History and state raise :class:`RedisUnavailableError` (naming what failed, with
the password masked) within the configured timeout, and the same objects work
again once Redis is back, sync and async, with no restart. The cache fails open
(misses) and resumes by itself.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from contextlib import contextmanager

import pytest
import redis

from redis_memory import (
    AsyncStateStore,
    RedisMemoryConfig,
    RedisOutOfMemoryError,
    RedisUnavailableError,
    StateStore,
)
from redis_memory.cache import AsyncResponseCache, ResponseCache
from redis_memory.embedded import EmbeddedRedis, _free_port
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.memory import AsyncMemoryStore, MemoryStore

AOF = ["--appendonly", "yes"]
ANSWER = {"text": "cached"}


def user(text):
    return {"role": "user", "content": text}


def texts(messages):
    return [m["content"] for m in messages]


@pytest.fixture
def outage(tmp_path):
    """A server on a fixed port and folder (AOF on), and a config with short timeouts."""
    port = _free_port()
    servers: list[EmbeddedRedis] = []

    def start() -> EmbeddedRedis:
        server = EmbeddedRedis(port=port, data_dir=tmp_path, password="pw", extra_args=AOF)
        servers.append(server)
        return server.start()

    config = RedisMemoryConfig(
        url=f"redis://:pw@127.0.0.1:{port}/0",
        prefix="out",
        socket_timeout=0.5,
        socket_connect_timeout=0.5,
        retries=1,
    )
    yield start, config, port
    for server in servers:
        if server.pid is not None:
            os.kill(server.pid, signal.SIGCONT)
        server.stop()


def _unavailable(call, doing: str, port: int, hung: bool = False) -> None:
    with pytest.raises(RedisUnavailableError) as caught:
        call()
    message = str(caught.value)
    what = "did not answer in time" if hung else "could not be reached"
    assert f"Redis at redis://:***@127.0.0.1:{port}/0 {what} while {doing}" in message
    assert "pw@" not in message


def test_a_stopped_redis_is_a_clear_error_and_the_same_objects_recover(outage):
    start, config, port = outage
    server = start()
    state, log = StateStore(config=config), MessageLog(config=config)
    state.set("ana", "profile", {"lang": "pt"})
    log.append("s", [user("before")])
    server.stop()

    _unavailable(lambda: state.get("ana", "profile"), "reading state", port)
    _unavailable(lambda: state.set("ana", "profile", {}), "writing state", port)
    _unavailable(lambda: state.update_fields("ana", "profile", {"a": 1}), "update_fields", port)
    _unavailable(lambda: log.append("s", [user("during")]), "appending messages", port)
    _unavailable(lambda: log.messages("s"), "reading messages", port)

    start()  # the same port and data folder: what was written before is back (AOF)
    assert state.get("ana", "profile") == {"lang": "pt"}
    assert state.update_fields("ana", "profile", {"theme": "dark"}) == {
        "lang": "pt",
        "theme": "dark",
    }
    log.append("s", [user("after")])
    assert texts(log.messages("s")) == ["before", "after"]


def test_building_a_searchable_store_on_a_stopped_redis_is_a_clear_error(outage):
    # These are the objects that make a round trip when built: they check for the
    # Search module and create their index, so a Redis that is down fails there.
    _start, config, port = outage
    _unavailable(lambda: MemoryStore("notes", config=config), "creating the memory search", port)
    _unavailable(
        lambda: AsyncMemoryStore("notes", config=config), "creating the memory search", port
    )
    _unavailable(
        lambda: MessageLog(config=config, searchable=True), "checking for the Search", port
    )


def test_the_async_twins_fail_clearly_and_recover_within_one_event_loop(outage):
    start, config, _ = outage
    server = start()
    state, log = AsyncStateStore(config=config), AsyncMessageLog(config=config)

    async def scenario() -> None:
        await state.set("ana", "profile", {"lang": "pt"})
        await log.append("s", [user("before")])
        await asyncio.to_thread(server.stop)
        with pytest.raises(RedisUnavailableError, match="could not be reached while reading"):
            await state.get("ana", "profile")
        with pytest.raises(RedisUnavailableError, match="could not be reached while writing"):
            await state.set("ana", "other", 1)
        with pytest.raises(RedisUnavailableError, match="could not be reached while appending"):
            await log.append("s", [user("during")])
        await asyncio.to_thread(start)
        # The pooled connections of this loop died with the server; new ones are made.
        assert await state.get("ana", "profile") == {"lang": "pt"}
        assert await state.increment("ana", "counters", "visits") == 1
        await log.append("s", [user("after")])
        assert texts(await log.messages("s")) == ["before", "after"]

    asyncio.run(scenario())


@contextmanager
def _hung(server: EmbeddedRedis):
    """The server process stopped (SIGSTOP): it accepts connections but never answers."""
    assert server.pid is not None
    os.kill(server.pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(server.pid, signal.SIGCONT)


def test_a_hung_redis_is_a_timeout_error_and_the_same_objects_recover(outage):
    start, config, port = outage
    server = start()
    state, log = StateStore(config=config), MessageLog(config=config)
    astate = AsyncStateStore(config=config)
    state.set("ana", "profile", {"lang": "pt"})
    with _hung(server):
        _unavailable(lambda: state.get("ana", "profile"), "reading state", port, hung=True)
        _unavailable(lambda: log.append("s", [user("x")]), "appending messages", port, hung=True)
        with pytest.raises(RedisUnavailableError, match="did not answer in time while reading"):
            asyncio.run(astate.get("ana", "profile"))
    assert state.get("ana", "profile") == {"lang": "pt"}
    assert asyncio.run(astate.get("ana", "profile")) == {"lang": "pt"}
    # A write that timed out may still have been applied, as its error says.
    assert len(log.messages("s")) <= 1


def test_the_cache_fails_open_and_resumes_by_itself(outage, caplog):
    start, config, _ = outage
    server = start()
    cache, acache = ResponseCache(config=config), AsyncResponseCache(config=config)
    cache.update("q", "m", ANSWER)
    server.stop()
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        assert cache.lookup("q", "m") is None
        cache.update("q2", "m", ANSWER)  # dropped, not raised
        assert asyncio.run(acache.lookup("q", "m")) is None
        start()
        assert cache.lookup("q", "m") == ANSWER
        cache.update("q2", "m", ANSWER)
        assert asyncio.run(acache.lookup("q2", "m")) == ANSWER
    assert cache.stats.errors == 2
    assert "caching resumed" in caplog.text


def test_a_busy_pool_makes_callers_wait_then_says_what_to_change(redis_url, prefix):
    config = RedisMemoryConfig(url=redis_url, prefix=prefix, max_connections=1, socket_timeout=0.3)
    log = MessageLog(config=config)
    pool = log._clients.sync.connection_pool
    held = pool.get_connection()
    with pytest.raises(RedisUnavailableError) as caught:
        log.append("s", [user("waits for a connection")])
    assert "connection pool is full" in str(caught.value)
    assert "Raise max_connections" in str(caught.value)
    pool.release(held)
    assert log.append("s", [user("a connection is free")]) == 1


def test_a_full_redis_with_noeviction_refuses_writes_clearly_and_still_reads(prefix):
    # A server of its own: filling it must not disturb the other tests.
    with EmbeddedRedis() as server, server.client() as admin:
        config = RedisMemoryConfig(url=server.url, prefix=prefix)
        log, state, cache = (
            MessageLog(config=config),
            StateStore(config=config),
            ResponseCache(config=config),
        )
        log.append("s", [user("kept")])
        state.set("ana", "profile", {"lang": "pt"})
        used = int(admin.info("memory")["used_memory"])
        admin.config_set("maxmemory-policy", "noeviction")
        admin.config_set("maxmemory", used + 100_000)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for i in range(1000):
                admin.set(f"filler{i}", "x" * 1000)
        for write in (
            lambda: log.append("s", [user("refused")]),
            lambda: log.append_archived("s", [user("refused")]),
            lambda: state.set("ana", "profile", {}),
            lambda: state.update_fields("ana", "profile", {"theme": "dark"}),
        ):
            with pytest.raises(RedisOutOfMemoryError, match="it is full") as caught:
                write()
            assert "Nothing was written" in str(caught.value)
        cache.update("q", "m", ANSWER)  # a cache fails open: dropped, not raised
        assert texts(log.messages("s", section="all")) == ["kept"]
        assert state.get("ana", "profile") == {"lang": "pt"}
        admin.config_set("maxmemory", 0)
        assert log.append("s", [user("room again")]) == 2
