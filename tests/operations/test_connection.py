"""RedisClients: url= / client= / config= turned into working sync and async clients."""

from __future__ import annotations

import asyncio
import ssl

import pytest
import redis
import redis.asyncio
import trustme

from redis_memory import (
    ConfigurationError,
    PermissionDeniedError,
    RedisClients,
    RedisMemoryConfig,
    RedisUnavailableError,
    StateStore,
)
from redis_memory.acl import acl_rules
from redis_memory.embedded import EmbeddedRedis
from redis_memory.history import AsyncMessageLog, MessageLog


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_construction_makes_no_connection():
    clients = RedisClients(url=f"redis://127.0.0.1:{_closed_port()}/0")
    assert "127.0.0.1" in repr(clients)
    with pytest.raises(redis.exceptions.ConnectionError):
        clients.sync.ping()


def test_url_gives_sync_and_async_clients_on_the_same_server(redis_url):
    clients = RedisClients(url=redis_url)
    clients.sync.set("t-conn:a", "1")

    async def read() -> bytes | None:
        try:
            return await clients.async_.get("t-conn:a")
        finally:
            await clients.aclose()

    assert asyncio.run(read()) == b"1"
    clients.sync.delete("t-conn:a")
    clients.close()


def test_each_event_loop_gets_its_own_async_client(redis_url):
    # LlamaIndex's sync wrappers run each call in a fresh loop; a client bound
    # to a closed loop would fail with "attached to a different loop".
    clients = RedisClients(url=redis_url)

    async def ping() -> tuple[bool, object]:
        return await clients.async_.ping(), clients.async_

    # Holding both clients keeps them alive: distinct objects, not recycled ids.
    first_ok, first = asyncio.run(ping())
    second_ok, second = asyncio.run(ping())
    assert first_ok
    assert second_ok
    assert first is not second


def test_timeouts_and_retries_come_from_the_config(redis_url):
    config = RedisMemoryConfig(url=redis_url, socket_timeout=2.5, retries=7, max_connections=9)
    clients = RedisClients(config=config)
    pool = clients.sync.connection_pool
    assert pool.connection_kwargs["socket_timeout"] == 2.5
    assert pool.max_connections == 9
    assert clients.sync.get_retry().get_retries() == 7

    async def retries() -> int:
        return clients.async_.get_retry().get_retries()

    assert asyncio.run(retries()) == 7


def test_a_users_sync_client_is_used_and_its_async_twin_reaches_the_same_server(redis_url):
    own = redis.Redis.from_url(redis_url)
    clients = RedisClients(client=own)
    assert clients.sync is own
    assert not clients.owns_connection
    own.set("t-conn:b", "from sync")

    async def read() -> bytes | None:
        return await clients.async_.get("t-conn:b")

    assert asyncio.run(read()) == b"from sync"
    clients.close()
    assert own.ping(), "a caller's client is never closed by the package"
    own.delete("t-conn:b")


def test_a_users_async_client_is_used_and_its_sync_twin_reaches_the_same_server(redis_url):
    async def scenario() -> None:
        own = redis.asyncio.Redis.from_url(redis_url)
        clients = RedisClients(client=own)
        assert clients.async_ is own
        await own.set("t-conn:c", "from async")
        assert clients.sync.get("t-conn:c") == b"from async"
        await own.delete("t-conn:c")
        await own.aclose()

    asyncio.run(scenario())


def test_bad_combinations_are_refused(redis_url):
    with pytest.raises(ConfigurationError, match="either url= or client="):
        RedisClients(url=redis_url, client=redis.Redis())
    with pytest.raises(ConfigurationError, match="redis-py client"):
        RedisClients(client="redis://localhost")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="RedisMemoryConfig"):
        RedisClients(config={"url": redis_url})  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unsupported Redis URL"):
        RedisClients(url="http://localhost:6379")


def test_url_wins_over_the_configs_and_prefix_is_kept(redis_url):
    config = RedisMemoryConfig(url="redis://elsewhere:6379/0", prefix="app")
    clients = RedisClients(url=redis_url, config=config)
    assert clients.url() == redis_url
    assert clients.config.prefix == "app"


def test_no_arguments_reads_the_environment(redis_url, monkeypatch):
    monkeypatch.setenv("REDIS_MEMORY_URL", redis_url)
    monkeypatch.setenv("REDIS_MEMORY_PREFIX", "fromenv")
    clients = RedisClients()
    assert clients.config.prefix == "fromenv"
    assert clients.sync.ping()


def test_username_and_password_in_the_url(redis_server, redis_client, prefix):
    redis_client.acl_setuser(
        prefix, enabled=True, passwords=["+s3cret"], keys=[f"{prefix}:*"], commands=["+@all"]
    )
    try:
        url = f"redis://{prefix}:s3cret@127.0.0.1:{redis_server.port}/0"
        clients = RedisClients(url=url)
        clients.sync.set(f"{prefix}:k", "v")
        assert clients.sync.acl_whoami() == prefix
        assert "s3cret" not in clients.masked_url()
        assert prefix in clients.masked_url()
        with pytest.raises(redis.exceptions.NoPermissionError):
            clients.sync.get("outside:the:prefix")
        wrong = RedisClients(url=f"redis://{prefix}:wrong@127.0.0.1:{redis_server.port}/0")
        with pytest.raises(redis.exceptions.AuthenticationError):
            wrong.sync.ping()
    finally:
        redis_client.acl_deluser(prefix)


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    ca_file, cert_file, key_file = folder / "ca.pem", folder / "server.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(ca_file)
    cert.cert_chain_pems[0].write_to_path(cert_file)
    cert.private_key_pem.write_to_path(key_file)
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        tls_port = sock.getsockname()[1]
    args = [
        "--tls-port", str(tls_port),
        "--tls-cert-file", str(cert_file),
        "--tls-key-file", str(key_file),
        "--tls-ca-cert-file", str(ca_file),
        "--tls-auth-clients", "no",
    ]  # fmt: skip
    with EmbeddedRedis(extra_args=args) as server:
        yield tls_port, ca_file, server


@pytest.mark.standalone_only
def test_rediss_url_with_certificate_verification(tls_server):
    tls_port, ca_file, _ = tls_server
    config = RedisMemoryConfig(
        url=f"rediss://127.0.0.1:{tls_port}/0", connection_kwargs={"ssl_ca_certs": str(ca_file)}
    )
    clients = RedisClients(config=config)
    assert clients.sync.ping()

    async def async_ping() -> bool:
        try:
            return await clients.async_.ping()
        finally:
            await clients.aclose()

    assert asyncio.run(async_ping())

    unverified = RedisClients(url=f"rediss://127.0.0.1:{tls_port}/0")
    with pytest.raises(redis.exceptions.ConnectionError) as caught:
        unverified.sync.ping()
    assert "certificate verify failed" in str(caught.value) or isinstance(
        caught.value.__cause__, ssl.SSLError
    )


def test_shared_clients_with_the_same_connection_settings_share_one_pool(redis_url):
    a = RedisClients.shared(config=RedisMemoryConfig(url=redis_url, prefix="one"))
    b = RedisClients.shared(config=RedisMemoryConfig(url=redis_url, prefix="two"))
    c = RedisClients.shared(config=RedisMemoryConfig(url=redis_url, socket_timeout=1.5))
    assert a.sync is b.sync, "a history object per request must not open a pool per request"
    assert a.config.prefix == "one"
    assert b.config.prefix == "two"
    assert c.sync is not a.sync
    own = redis.Redis.from_url(redis_url)
    assert RedisClients.shared(client=own).sync is own


def test_the_engines_over_tls_as_an_acl_user_with_the_ca_in_the_url(tls_server):
    # The production set-up, configurable from the environment alone: TLS with a
    # private CA (verification on) and an ACL user limited to the prefix.
    tls_port, ca_file, server = tls_server
    admin = server.client()
    admin.execute_command("ACL", "SETUSER", "tlsapp", "on", ">s3cret", *acl_rules("tlsapp"))
    url = f"rediss://tlsapp:s3cret@localhost:{tls_port}/0?ssl_ca_certs={ca_file}"
    try:
        config = RedisMemoryConfig.from_env(
            {"REDIS_MEMORY_URL": url, "REDIS_MEMORY_PREFIX": "tlsapp"}
        )
        log = MessageLog(config=config)
        log.append("s", [{"role": "user", "content": "over TLS"}])
        StateStore(config=config).set("u", "k", [1, 2])

        async def read_async() -> list[object]:
            alog = AsyncMessageLog(config=config)
            return [m["content"] for m in await alog.messages("s")]

        assert asyncio.run(read_async()) == ["over TLS"]
        assert StateStore(config=config).get("u", "k") == [1, 2]
        assert "s3cret" not in RedisClients(config=config).masked_url()
        assert admin.client_list()  # the admin's plain port still works alongside
        with pytest.raises(PermissionDeniedError):
            MessageLog(config=config.replace(prefix="other")).messages("s")
        wrong_ca = trustme.CA()
        other_ca_file = ca_file.parent / "other-ca.pem"
        wrong_ca.cert_pem.write_to_path(other_ca_file)
        untrusted = config.replace(url=url.replace(str(ca_file), str(other_ca_file)), retries=0)
        with pytest.raises(RedisUnavailableError, match="certificate verify failed"):
            MessageLog(config=untrusted).messages("s")
    finally:
        admin.execute_command("ACL", "DELUSER", "tlsapp")
        admin.close()
