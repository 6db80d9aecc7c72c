"""Security: ACL users confined to their prefix, and no secrets in errors, reprs or logs.

The main paths of every feature already run as an ACL user limited to the test's
prefix (the modules marked ``acl_user``, see ``tests/conftest.py``). Here: the rules
are docs/production.md's, a second prefix's user is refused the first one's data, the
index-creation caveat of Redis Search, and passwords never leak.
"""

from __future__ import annotations

import asyncio
import logging
import re
import socket
import threading
import traceback

import numpy as np
import pytest
import redis
from _paths import ROOT

from langchain_redis_memory import RedisCache
from llama_index_redis_memory import RedisChatStore
from redis_memory import (
    AsyncStateStore,
    AuditLog,
    ConfigurationError,
    EventBus,
    PermissionDeniedError,
    RedisClients,
    RedisMemoryConfig,
    RedisUnavailableError,
    StateStore,
)
from redis_memory.acl import COMMANDS, acl_rules
from redis_memory.cache import AsyncResponseCache, ResponseCache
from redis_memory.coordination import Claims, Findings
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.workqueue import WorkQueue

README = ROOT / "docs" / "production.md"  # its ACL section
SECRET = "hunter2-secret"


class AxisEmbedder:
    """Every text embeds to the same unit vector: each stored entry is a perfect neighbour."""

    def embed(self, text: str) -> list[float]:
        return [1.0, 0.0, 0.0, 0.0]

    async def aembed(self, text: str) -> list[float]:
        return self.embed(text)


def _semantic(config: RedisMemoryConfig) -> ResponseCache:
    return ResponseCache(config=config, embedder=AxisEmbedder(), verifier=None, timeout=1)


# -- ACL ---------------------------------------------------------------------------------


def test_the_readme_gives_the_rules_of_redis_memory_acl():
    text = " ".join(README.read_text(encoding="utf-8").split())  # long lines may wrap
    assert "ACL SETUSER myapp on >password " + " ".join(acl_rules("myapp")) in text
    rules = acl_rules("myapp", create_indexes=False)
    assert "ACL SETUSER myapp on >password " + " ".join(rules) in text
    assert len(set(COMMANDS)) == len(COMMANDS)
    assert not {"keys", "flushdb", "flushall", "config", "acl", "@all"} & set(COMMANDS)


def _write_everything(config: RedisMemoryConfig) -> None:
    MessageLog(config=config).append("s", [{"role": "user", "content": "private"}])
    StateStore(config=config).set("u", "k", {"private": True})
    cache = _semantic(config)
    cache.update("private prompt", "m", {"text": "private answer"})
    assert cache.stats.updates == 1
    Findings(config=config).add("t", {"private": True})
    Claims(config=config).claim("t", "agent-a")
    EventBus(config=config).publish("news", {"private": True}, audit=True)
    WorkQueue("jobs", config=config).put({"private": True})


def test_a_second_prefixs_user_cannot_read_the_first_ones_data(prefix, acl_user_url, redis_client):
    other = f"{prefix}b"
    first = RedisMemoryConfig(url=acl_user_url(prefix), prefix=prefix)
    second_url = acl_user_url(other)
    try:
        _write_everything(first)
        _write_everything(RedisMemoryConfig(url=second_url, prefix=other))
        # The second user, pointed at the first prefix, through the package:
        trespasser = RedisMemoryConfig(url=second_url, prefix=prefix)
        with pytest.raises(PermissionDeniedError, match="refused reading messages") as caught:
            MessageLog(config=trespasser).messages("s")
        assert isinstance(caught.value, PermissionError)
        assert "acl_rules" in str(caught.value)
        with pytest.raises(PermissionDeniedError):
            StateStore(config=trespasser).get("u", "k")
        with pytest.raises(PermissionDeniedError):
            Findings(config=trespasser).list("t")
        with pytest.raises(PermissionDeniedError):
            AuditLog(config=trespasser).read()
        with pytest.raises(PermissionDeniedError):
            Claims(config=trespasser).owner("t")
        with pytest.raises(PermissionDeniedError):
            MessageLog(config=trespasser).append("s", [{"role": "user", "content": "x"}])
        bus = EventBus(config=trespasser)
        with pytest.raises(PermissionDeniedError, match="refused subscribing"):
            bus.subscribe("news", idle_timeout=1)
        with pytest.raises(PermissionDeniedError, match="refused subscribing"):
            bus.subscribe(patterns=["n*"], idle_timeout=1)
        cache = _semantic(trespasser)
        assert cache.lookup("private prompt", "m") is None  # the cache fails open: a miss
        assert cache.stats.errors == 1
        # ... and with its own client, command by command:
        own = redis.Redis.from_url(second_url)
        first_keys = [k.decode() for k in redis_client.scan_iter(match=f"{prefix}:*")]
        assert len(first_keys) >= 7
        for key in first_keys:
            with pytest.raises(redis.exceptions.NoPermissionError):
                own.execute_command("TYPE", key)
        index = first.keys.cache_semantic_index("default")
        with pytest.raises(redis.exceptions.NoPermissionError):
            own.execute_command("FT.SEARCH", index, "*")
        pubsub = own.pubsub()
        with pytest.raises(redis.exceptions.NoPermissionError):
            pubsub.subscribe(first.keys.channel("news"))
            pubsub.get_message(timeout=1)
        pubsub.close()
        own.close()
        # while the first user's data is all there
        assert MessageLog(config=first).messages("s")[0]["content"] == "private"
        assert _semantic(first).lookup("another prompt", "m") == {"text": "private answer"}
    finally:
        for name in (prefix, other):
            redis_client.execute_command("FT.DROPINDEX", f"{name}:cache:sem:default:idx")
        leftovers = list(redis_client.scan_iter(match=f"{other}:*"))
        if leftovers:
            redis_client.unlink(*leftovers)


def test_without_index_creation_a_user_works_on_an_index_created_beforehand(
    prefix, config, acl_user_url, redis_client
):
    # Redis Stack 7.4 does not check FT.CREATE's PREFIX against the user's keys, so a
    # user allowed FT.CREATE could index another prefix: that is why it can be left out.
    restricted = RedisMemoryConfig(url=acl_user_url(prefix, create_indexes=False), prefix=prefix)
    try:
        _semantic(config).create_index()  # as an admin, once
        admin_async = AsyncResponseCache(config=config, embedder=AxisEmbedder(), verifier=None)
        asyncio.run(admin_async.create_index())  # the index exists: nothing to do
        with pytest.raises(ConfigurationError, match="without an embedder"):
            ResponseCache(config=config).create_index()
        cache = _semantic(restricted)
        cache.update("a prompt", "m", {"text": "an answer"})
        assert cache.lookup("another prompt", "m") == {"text": "an answer"}
        assert cache.stats.semantic_hits == 1
        assert cache.stats.errors == 0
        with pytest.raises(redis.exceptions.NoPermissionError):
            RedisClients(config=restricted).sync.execute_command(
                "FT.CREATE",
                f"{prefix}:cache:sem:x:idx",
                "PREFIX",
                1,
                "other:",
                "SCHEMA",
                "f",
                "TEXT",
            )
    finally:
        redis_client.execute_command("FT.DROPINDEX", f"{prefix}:cache:sem:default:idx")


# -- no secrets ----------------------------------------------------------------------------


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _no_secret(exc: BaseException) -> None:
    shown = "".join(traceback.format_exception(exc)) + repr(exc) + str(exc)
    assert SECRET not in shown, shown


@pytest.fixture
def silent_port():
    """A port that accepts connections and never answers: every command times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                accepted.append(server.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    server.close()


def _failing_urls(redis_server, silent_port) -> dict[str, str]:
    return {
        "refused": f"redis://admin:{SECRET}@127.0.0.1:{_closed_port()}/0",
        "timeout": f"redis://admin:{SECRET}@127.0.0.1:{silent_port}/0",
        "wrong password": f"redis://nobody:{SECRET}@127.0.0.1:{redis_server.port}/0",
        "query password": f"redis://127.0.0.1:{_closed_port()}/0?password={SECRET}",
    }


def test_no_password_in_errors_reprs_or_logs(redis_server, silent_port, prefix, caplog):
    caplog.set_level(logging.DEBUG)
    for case, url in _failing_urls(redis_server, silent_port).items():
        config = RedisMemoryConfig(
            url=url, prefix=prefix, socket_timeout=0.3, socket_connect_timeout=0.3, retries=0
        )
        for shown in (repr(config), str(config), repr(RedisClients(config=config))):
            assert SECRET not in shown
        with pytest.raises(RedisUnavailableError) as caught:
            MessageLog(config=config).append("s", [{"role": "user", "content": "hi"}])
        _no_secret(caught.value)
        assert "***" in str(caught.value) or case == "query password", case
        assert ("refused the credentials" in str(caught.value)) is (case == "wrong password")
        with pytest.raises(RedisUnavailableError) as caught:
            StateStore(config=config).get("u", "k")
        _no_secret(caught.value)
        with pytest.raises(RedisUnavailableError) as caught:
            RedisChatStore(config=config).get_messages("s")
        _no_secret(caught.value)
        with (
            pytest.raises(RedisUnavailableError) as caught,
            EventBus(config=config).subscribe("news", idle_timeout=0.3),
        ):
            pass
        _no_secret(caught.value)
        cache = RedisCache(config=config, timeout=0.3)
        assert cache.lookup("prompt", "llm") is None  # fails open, logs a warning
        assert SECRET not in repr(RedisChatStore(config=config))
    messages = [record.getMessage() for record in caplog.records]
    assert any("LLM cache" in message for message in messages)
    for record in caplog.records:
        assert SECRET not in record.getMessage()
        if record.exc_info:
            assert SECRET not in "".join(traceback.format_exception(*record.exc_info))


def test_no_password_in_async_errors(redis_server, silent_port, prefix):
    async def scenario() -> None:
        for url in _failing_urls(redis_server, silent_port).values():
            config = RedisMemoryConfig(
                url=url, prefix=prefix, socket_timeout=0.3, socket_connect_timeout=0.3, retries=0
            )
            with pytest.raises(RedisUnavailableError) as caught:
                await AsyncMessageLog(config=config).messages("s")
            _no_secret(caught.value)
            with pytest.raises(RedisUnavailableError) as caught:
                await AsyncStateStore(config=config).set("u", "k", 1)
            _no_secret(caught.value)

    asyncio.run(scenario())


def test_connection_kwargs_secrets_are_not_shown():
    config = RedisMemoryConfig(
        url=f"rediss://bob:{SECRET}@h:6380/0?ssl_password={SECRET}",
        connection_kwargs={"password": SECRET, "ssl_password": SECRET},
    )
    assert SECRET not in repr(config)
    assert SECRET not in repr(RedisClients(config=config))
    assert re.search(r"bob:\*\*\*@h:6380", repr(config))


def test_the_cache_index_and_its_entries_are_under_the_prefix(config):
    cache = _semantic(config)
    assert cache.index_name.startswith(config.prefix + ":")
    schema = cache._schema(4)
    assert all(p.startswith(config.prefix + ":") for p in schema.index.prefix.split(","))
    assert np.asarray(AxisEmbedder().embed("x")).shape == (4,)
