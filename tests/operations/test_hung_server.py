"""A hung Redis: every call fails within about ``(retries + 1) x socket_timeout``.

A server stopped with SIGSTOP is what a hung or frozen Redis looks like to a
client: the kernel still accepts connections, nothing ever answers. Each test
has a server of its own, so stopping it disturbs no other test.

Before the fix, redis-py's health-check PING ran its own retry loop (each of
whose attempts reconnected and PINGed again) inside the command's loop, so a new
connection cost ``(retries + 1)²`` socket timeouts: 82 s with the defaults,
4.8 s and more with the settings here, where the bound below is 3.4 s.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack, contextmanager
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage

from langchain_redis_memory import RedisChatMessageHistory
from redis_memory import RedisMemoryConfig, RedisUnavailableError
from redis_memory.embedded import EmbeddedRedis

pytestmark = pytest.mark.standalone_only

RETRIES = 3
TIMEOUT = 0.3
# The documented bound (README: Errors; docs/reference.md) is (retries + 1) x
# socket_timeout plus the backoff between
# attempts (at most 0.7 s here); twice that, and a second more, for a loaded machine.
BOUND = 2 * (RETRIES + 1) * TIMEOUT + 1.0

Hang = Callable[[], AbstractContextManager[None]]


@contextmanager
def _private_server(
    *extra_args: str,
) -> Iterator[tuple[RedisMemoryConfig, Hang, EmbeddedRedis]]:
    """A private server, a config of short timeouts, and ``hang()``: the server stopped.

    No password: with one, the handshake's first command (AUTH) skips the health
    check, which hid the nested retries on a new connection.
    """
    server = EmbeddedRedis(load_modules=False, extra_args=extra_args).start()
    pid = server.pid
    assert pid is not None

    @contextmanager
    def hang() -> Iterator[None]:
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    config = RedisMemoryConfig(
        url=server.url,
        prefix="hung",
        socket_timeout=TIMEOUT,
        socket_connect_timeout=TIMEOUT,
        retries=RETRIES,
    )
    try:
        yield config, hang, server
    finally:
        os.kill(pid, signal.SIGCONT)  # also when a test failed while the server was stopped
        server.stop()


@pytest.fixture
def hung_redis() -> Iterator[tuple[RedisMemoryConfig, Hang, EmbeddedRedis]]:
    with _private_server() as private:
        yield private


def _fails_in_time(call: Callable[[], Any]) -> float:
    """Run ``call``; it must raise RedisUnavailableError (a timeout) within BOUND seconds."""
    start = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="did not answer in time"):
        call()
    elapsed = time.monotonic() - start
    assert elapsed < BOUND, f"took {elapsed:.2f} s; the bound is {BOUND:.2f} s"
    return elapsed


async def _afails_in_time(call: Callable[[], Any]) -> float:
    start = time.monotonic()
    with pytest.raises(RedisUnavailableError, match="did not answer in time"):
        await call()
    elapsed = time.monotonic() - start
    assert elapsed < BOUND, f"took {elapsed:.2f} s; the bound is {BOUND:.2f} s"
    return elapsed


def test_reading_on_a_new_connection_fails_within_the_bound(hung_redis):
    config, hang, _ = hung_redis
    history = RedisChatMessageHistory("s", config=config)  # no connection yet
    with hang():
        _fails_in_time(lambda: history.messages)
    assert history.messages == []  # the same object works once Redis answers again


def test_adding_on_a_live_connection_fails_within_the_bound(hung_redis):
    config, hang, _ = hung_redis
    history = RedisChatMessageHistory("s", config=config)
    history.add_messages([HumanMessage("before")])
    with hang():
        _fails_in_time(lambda: history.add_messages([HumanMessage("during")]))
        _fails_in_time(lambda: history.messages)  # the connection was replaced: a new one
    # A write that timed out may still have been applied, as its error says.
    assert [m.content for m in history.messages][:1] == ["before"]


def test_async_calls_fail_within_the_bound_on_a_new_and_a_live_connection(hung_redis):
    config, hang, _ = hung_redis
    history = RedisChatMessageHistory("s", config=config)

    async def scenario() -> None:
        with hang():  # the event loop's first connection
            await _afails_in_time(history.aget_messages)
        await history.aadd_messages([HumanMessage("q"), AIMessage("a")])
        with hang():  # a live connection
            await _afails_in_time(lambda: history.aadd_messages([HumanMessage("during")]))
            await _afails_in_time(history.aget_messages)
        assert [m.content for m in await history.aget_messages()][:2] == ["q", "a"]

    asyncio.run(scenario())


def test_a_live_connection_to_a_server_that_accepts_no_connection_fails_within_the_bound():
    # Hung, with its queue of connections not yet accepted full: a new connection
    # times out (socket_connect_timeout) instead of its first reply. Each retry
    # of a command reconnects, and redis-py retried that connect in a loop of its
    # own: socket_timeout + retries x (retries + 1) x socket_connect_timeout.
    with _private_server("--tcp-backlog", "1") as (config, hang, server):
        history = RedisChatMessageHistory("s", config=config)
        history.add_messages([HumanMessage("before")])
        with hang(), ExitStack() as fillers:
            for _ in range(4):  # more than a backlog of 1 holds: later connects go unanswered
                filler = fillers.enter_context(socket.socket())
                filler.setblocking(False)
                filler.connect_ex(("127.0.0.1", server.port))
            _fails_in_time(lambda: history.add_messages([HumanMessage("during")]))
        assert [m.content for m in history.messages][:1] == ["before"]


def test_a_connection_idle_past_the_health_check_interval_fails_within_the_bound(hung_redis):
    # Its next command is preceded by a health-check PING, which had a retry loop
    # of its own: 35 s instead of 20 with the defaults. A 1 s interval keeps this short.
    config, hang, _ = hung_redis
    config = config.replace(connection_kwargs={"health_check_interval": 1})
    history = RedisChatMessageHistory("s", config=config)
    history.add_messages([HumanMessage("before")])
    time.sleep(1.1)
    with hang():
        _fails_in_time(lambda: history.messages)
    assert [m.content for m in history.messages] == ["before"]


def test_a_connection_closed_while_idle_is_noticed_and_the_call_goes_through(hung_redis):
    # What the health checks are for: a pooled connection that Redis (or a proxy,
    # or a restart) closed while it sat idle. redis-py 8.1's async pool does not
    # test a connection it hands out, so there the PING notices it; its failure
    # is one attempt of the call, whose next attempt takes a new connection.
    config, _, server = hung_redis
    config = config.replace(retries=1, connection_kwargs={"health_check_interval": 1})
    history = RedisChatMessageHistory("s", config=config)
    history.add_messages([HumanMessage("sync")])

    async def scenario() -> None:
        await history.aadd_messages([HumanMessage("async")])
        with server.client() as admin:
            assert admin.client_kill_filter(_type="normal", skipme=True) >= 2
        await asyncio.sleep(1.1)  # idle past the health-check interval
        assert len(await history.aget_messages()) == 2

    asyncio.run(scenario())
    assert [m.content for m in history.messages] == ["sync", "async"]
