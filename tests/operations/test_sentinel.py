"""Redis Sentinel and replica acknowledgements, against a real primary, replica and sentinels.

A failover under write load (the primary killed with SIGKILL) shows that the same
objects write to the new primary without a restart, and that with
``replica_acks=1`` no acknowledged message is lost by the failover.
"""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field

import pytest
import redis
import redis.asyncio.sentinel
import redis.sentinel
from _sentinel import SERVICE, SentinelGroup, wait_for

from redis_memory import (
    ConfigurationError,
    RedisClients,
    RedisMemoryConfig,
    RedisUnavailableError,
    ReplicaAckError,
    StateStore,
    mask_url,
)
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.sentinel import parse_sentinel_url


def user(text):
    return {"role": "user", "content": text}


def texts(messages):
    return [m["content"] for m in messages]


# -- the URL ----------------------------------------------------------------------------


def test_a_sentinel_url_names_the_sentinels_the_service_and_the_db():
    settings = parse_sentinel_url(
        "redis+sentinel://app:s3cret@10.0.0.1,10.0.0.2:26380,[::1]:26381/my%20master/3"
        "?sentinel_password=sp"
    )
    assert settings.sentinels == (("10.0.0.1", 26379), ("10.0.0.2", 26380), ("::1", 26381))
    assert settings.service_name == "my master"
    assert (settings.db, settings.username, settings.password) == (3, "app", "s3cret")
    assert settings.sentinel_password == "sp"
    assert RedisMemoryConfig(url="REDIS+SENTINEL://h/mymaster").url == (
        "redis+sentinel://h/mymaster"
    )


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("redis+sentinel://h:26379", "the service name"),
        ("redis+sentinel://h:26379/", "the service name"),
        ("redis+sentinel://h:port/mymaster", "'port' is not a port"),
        ("redis+sentinel://h:1,:2/mymaster", "every sentinel needs a host"),
        ("redis+sentinel://h/mymaster/x", "only a database number"),
        ("redis+sentinel://h/mymaster/0/1", "only a database number"),
        ("redis+sentinel://:pw@h/mymaster?db=1", "unknown option(s) db"),
    ],
)
def test_a_malformed_sentinel_url_is_a_configuration_error_without_the_password(url, why):
    with pytest.raises(ConfigurationError) as caught:
        RedisMemoryConfig(url=url)
    assert why in str(caught.value)
    assert "redis+sentinel://[[user]:password@]host[:port]" in str(caught.value)
    assert ":pw@" not in str(caught.value)


def test_the_sentinel_password_is_masked():
    url = "redis+sentinel://:pw@h1,h2/mymaster/0?sentinel_password=sp"
    assert mask_url(url) == "redis+sentinel://:***@h1,h2/mymaster/0?sentinel_password=***"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"replica_acks": -1}, "replica_acks must be a whole number >= 0"),
        ({"replica_acks": True}, "replica_acks must be a whole number >= 0"),
        ({"replica_acks": 1, "replica_ack_timeout": 0}, "replica_ack_timeout must be a positive"),
        (
            {"replica_acks": 1, "replica_ack_timeout": 5, "socket_timeout": 5},
            "must be less than socket_timeout",
        ),
    ],
)
def test_bad_replica_ack_settings_are_configuration_errors(settings, message):
    with pytest.raises(ConfigurationError, match=message):
        RedisMemoryConfig(**settings)


def test_replica_acks_from_the_environment():
    config = RedisMemoryConfig.from_env(
        {"REDIS_MEMORY_REPLICA_ACKS": "2", "REDIS_MEMORY_REPLICA_ACK_TIMEOUT": "0.25"}
    )
    assert (config.replica_acks, config.replica_ack_timeout) == (2, 0.25)
    assert RedisMemoryConfig().replica_acks == 0


def test_no_reachable_sentinel_is_one_short_clear_error():
    from redis_memory.embedded import _free_port

    url = f"redis+sentinel://:secret@127.0.0.1:{_free_port()}/mymaster"
    log = MessageLog(config=RedisMemoryConfig(url=url, retries=0, socket_connect_timeout=1))
    with pytest.raises(RedisUnavailableError) as caught:
        log.append("s", [user("a")])
    message = str(caught.value)
    assert message.startswith(f"no Sentinel of {mask_url(url)} named a reachable primary")
    assert "No master found for 'mymaster'" in message
    assert "service name" in message
    assert "secret" not in message
    assert "<redis.client" not in message
    alog = AsyncMessageLog(config=RedisMemoryConfig(url=url, retries=0))
    with pytest.raises(RedisUnavailableError, match="named a reachable primary"):
        asyncio.run(alog.messages("s"))


def test_the_sentinels_are_asked_with_the_configs_retries():
    clients = RedisClients(config=RedisMemoryConfig(url="redis+sentinel://h1,h2/m", retries=1))

    def retries(client) -> list[int]:
        return [
            s.get_retry().get_retries() for s in client.connection_pool.sentinel_manager.sentinels
        ]

    async def of_the_async_twin() -> list[int]:
        return retries(clients.async_)

    assert retries(clients.sync) == [1, 1]
    assert asyncio.run(of_the_async_twin()) == [1, 1]
    clients.close()


# -- WAIT after history writes ----------------------------------------------------------


def test_without_a_replica_an_acked_append_is_stored_and_raises_naming_what_happened(config):
    log = MessageLog(config=config.replace(replica_acks=1, replica_ack_timeout=0.05))
    with pytest.raises(ReplicaAckError) as caught:
        log.append("s", [user("a"), user("b")])
    error = caught.value
    assert (error.result, error.acknowledged, error.required) == (2, 0, 1)
    assert "only 0 of 1 replica(s) confirmed it within 0.05 s" in str(error)
    assert "do not repeat it" in str(error)
    with pytest.raises(ReplicaAckError) as archived:
        log.append_archived("s", [user("old")])
    assert archived.value.result == 1
    plain = MessageLog(config=config)
    assert texts(plain.messages("s", section="all")) == ["old", "a", "b"]

    alog = AsyncMessageLog(config=config.replace(replica_acks=1, replica_ack_timeout=0.05))
    with pytest.raises(ReplicaAckError):
        asyncio.run(alog.append("s", [user("c")]))
    assert texts(plain.messages("s")) == ["a", "b", "c"]


def test_replacing_with_nothing_waits_for_the_replicas_too(config):
    plain = MessageLog(config=config)
    plain.append("s", [user("a")])
    plain.append_archived("s", [user("old")])
    log = MessageLog(config=config.replace(replica_acks=1, replica_ack_timeout=0.05))
    with pytest.raises(ReplicaAckError) as caught:
        log.replace("s", [], clear_archive=True)
    assert caught.value.result == 0
    assert plain.count("s", section="all") == 0


@pytest.fixture(scope="module")
def group(tmp_path_factory):
    with SentinelGroup(tmp_path_factory.mktemp("sentinel")) as running:
        yield running


class _CountingConnection(redis.Connection):
    sent = 0

    def send_packed_command(self, command, check_health=True):
        type(self).sent += 1
        return super().send_packed_command(command, check_health)


def _calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def test_acked_appends_cost_one_round_trip_and_one_wait(group):
    pool = redis.ConnectionPool(
        host="127.0.0.1", port=group.primary.port, connection_class=_CountingConnection
    )
    client = redis.Redis(connection_pool=pool)
    config = RedisMemoryConfig(prefix="acks", replica_acks=1, replica_ack_timeout=2, retries=0)
    # No events here: the sentinels PUBLISH on the primary too, which would blur the count.
    log = MessageLog(client=client, config=config, publish_events=False)
    with group.primary.client() as admin:
        admin.script_flush()  # the first append also loads the script: still stored once
        assert log.append("s", [user("a")]) == 1
        log.append("s", [user("b")])
        before, _CountingConnection.sent = _calls(admin), 0
        assert log.append("s", [user(str(i)) for i in range(10)]) == 12
        assert _CountingConnection.sent == 1
        after = _calls(admin)
        # The replica's REPLCONF and the sentinels' INFO and PING land here too.
        ours = ("eval", "evalsha", "rpush", "pexpire", "ltrim", "wait")
        spent = {k: after.get(k, 0) - before.get(k, 0) for k in ours}
        assert spent == {"eval": 0, "evalsha": 1, "rpush": 1, "pexpire": 1, "ltrim": 0, "wait": 1}
        assert log.append_archived("s", [user("archived")]) == 1
        assert texts(log.archive_oldest("s", 2)) == ["a", "b"]
    with group.replica.client() as replica:
        wait_for(lambda: replica.llen("acks:session:{s}:messages") == 10, 5, "the replica")
        assert replica.llen("acks:session:{s}:archived") == 3
    client.close()


def test_a_sentinel_url_reaches_the_primary_sync_and_async(group):
    config = RedisMemoryConfig(url=group.url(), prefix="viaurl", replica_acks=1)
    log, alog = MessageLog(config=config), AsyncMessageLog(config=config)
    log.append("s", [user("sync")])
    asyncio.run(alog.append("s", [user("async")]))
    StateStore(config=config).set("ana", "profile", {"lang": "pt"})
    with group.primary.client() as primary:
        assert primary.llen("viaurl:session:{s}:messages") == 2
        assert primary.exists("viaurl:state:{ana}:profile")
    assert texts(asyncio.run(alog.messages("s"))) == ["sync", "async"]


def test_a_users_sentinel_client_is_used_and_its_twin_follows_the_same_sentinels(group):
    addresses = [("127.0.0.1", s.port) for s in group.sentinels]
    own = redis.sentinel.Sentinel(addresses, socket_timeout=2).master_for(SERVICE)
    clients = RedisClients(client=own, config=RedisMemoryConfig(prefix="own"))
    assert clients.sync is own
    MessageLog(client=own, config=clients.config).append("s", [user("from sync")])

    async def through_the_twin():
        twin = clients.async_
        assert isinstance(twin.connection_pool, redis.asyncio.sentinel.SentinelConnectionPool)
        alog = AsyncMessageLog(client=own, config=clients.config)
        await alog.append("s", [user("from async")])
        stored = await alog.messages("s")
        await clients.aclose()
        return stored

    assert texts(asyncio.run(through_the_twin())) == ["from sync", "from async"]

    async def from_an_async_sentinel_client():
        sentinel = redis.asyncio.sentinel.Sentinel(addresses, socket_timeout=2)
        own_async = sentinel.master_for(SERVICE)
        synced = RedisClients(client=own_async).sync
        stored = synced.lrange("own:session:{s}:messages", 0, -1)
        await own_async.aclose()
        synced.close()
        return len(stored)

    assert asyncio.run(from_an_async_sentinel_client()) == 2
    own.close()


# -- failover under load ----------------------------------------------------------------


@dataclass
class Writer:
    """Appends 0, 1, 2... to its own session until told to stop; keeps what was acknowledged."""

    name: str
    acked: list[tuple[int, float]] = field(default_factory=list)
    unconfirmed: list[int] = field(default_factory=list)
    unavailable: list[float] = field(default_factory=list)

    def acked_after(self, moment: float) -> int:
        return sum(1 for _, at in self.acked if at > moment)

    def first_failure_after(self, moment: float) -> float:
        """When this writer first failed after ``moment`` (inf if it did not)."""
        return min((at for at in self.unavailable if at > moment), default=float("inf"))

    def record(self, seq: int, outcome: str) -> int:
        if outcome == "acked":
            self.acked.append((seq, time.monotonic()))
        elif outcome == "unconfirmed":
            self.unconfirmed.append(seq)
        else:
            self.unavailable.append(time.monotonic())
            return seq  # the same message again: it may or may not have been stored
        return seq + 1


def _write_sync(log: MessageLog, writer: Writer, stop: threading.Event) -> None:
    seq = 0
    while not stop.is_set():
        try:
            log.append(writer.name, [user(str(seq))])
            seq = writer.record(seq, "acked")
        except ReplicaAckError:
            seq = writer.record(seq, "unconfirmed")
        except RedisUnavailableError:
            seq = writer.record(seq, "unavailable")
            time.sleep(0.05)


def _write_async(config: RedisMemoryConfig, writer: Writer, stop: threading.Event) -> None:
    async def loop() -> None:
        alog = AsyncMessageLog(config=config)
        seq = 0
        while not stop.is_set():
            try:
                await alog.append(writer.name, [user(str(seq))])
                seq = writer.record(seq, "acked")
            except ReplicaAckError:
                seq = writer.record(seq, "unconfirmed")
            except RedisUnavailableError:
                seq = writer.record(seq, "unavailable")
                await asyncio.sleep(0.05)

    asyncio.run(loop())


def _stored_in_order(log: MessageLog, session: str) -> list[int]:
    stored = [int(t) for t in texts(log.messages(session))]
    # A write retried after a lost reply may be stored twice, one after the other.
    deduplicated = [s for i, s in enumerate(stored) if i == 0 or stored[i - 1] != s]
    assert deduplicated == sorted(set(deduplicated)), f"{session} out of order"
    return deduplicated


def test_a_failover_under_write_load_resumes_on_the_new_primary_and_acked_writes_survive(
    tmp_path,
):
    with SentinelGroup(tmp_path) as group:
        base = RedisMemoryConfig(
            url=group.url(), prefix="fo", socket_timeout=2, socket_connect_timeout=1, retries=2
        )
        acked_config = base.replace(replica_acks=1, replica_ack_timeout=0.5)
        plain, acked = MessageLog(config=base), MessageLog(config=acked_config)
        writers = {
            "sync-plain": [Writer(f"plain{i}") for i in range(3)],
            "sync-acked": [Writer(f"acked{i}") for i in range(3)],
            "async-acked": [Writer("async-acked")],
        }
        stop = threading.Event()
        threads = [
            threading.Thread(target=_write_sync, args=(plain, w, stop))
            for w in writers["sync-plain"]
        ]
        threads += [
            threading.Thread(target=_write_sync, args=(acked, w, stop))
            for w in writers["sync-acked"]
        ]
        threads += [
            threading.Thread(target=_write_async, args=(acked_config, w, stop))
            for w in writers["async-acked"]
        ]
        everyone = [w for group_ in writers.values() for w in group_]
        try:
            for thread in threads:
                thread.start()
            wait_for(lambda: all(len(w.acked) >= 20 for w in everyone), 30, "the writers")

            killed_at = time.monotonic()
            group.kill(group.primary)
            wait_for(lambda: group.primary_port() == group.replica.port, 30, "the failover")
            # The application is not restarted: the same objects reach the new primary.
            # What a writer has acknowledged after its first failure since the kill
            # came from the new primary (the old one is dead by then).
            wait_for(
                lambda: all(
                    w.acked_after(w.first_failure_after(killed_at)) >= 5
                    for w in writers["sync-plain"]
                ),
                30,
                "plain writes to resume on the new primary",
            )
            resumed = min(
                at
                for w in writers["sync-plain"]
                for _, at in w.acked
                if at > w.first_failure_after(killed_at)
            )

            # Acked writers need a replica again: the old primary comes back as one.
            back_at = time.monotonic()
            group.restart_as_replica(group.primary, group.replica.port)
            acked_writers = writers["sync-acked"] + writers["async-acked"]
            wait_for(
                lambda: all(w.acked_after(back_at) >= 5 for w in acked_writers),
                30,
                "acked writes to resume once a replica is back",
            )
        finally:
            stop.set()
            for thread in threads:
                thread.join(timeout=30)

        lost_plain = 0
        for writer in everyone:
            stored = set(_stored_in_order(plain, writer.name))
            lost = [seq for seq, _ in writer.acked if seq not in stored]
            if writer in writers["sync-plain"]:
                # Asynchronous replication: what the primary acknowledged in its last
                # moments may never have reached the replica. Not so after the failover.
                since = writer.first_failure_after(killed_at)
                assert not [s for s, at in writer.acked if at > since and s not in stored]
                lost_plain += len(lost)
            else:
                assert lost == [], f"{writer.name} lost acknowledged messages {lost}"
            assert writer.acked_after(writer.first_failure_after(killed_at)) >= 5
        print(
            f"\nfailover: writes resumed {resumed - killed_at:.2f} s after SIGKILL; "
            f"unavailable errors {sum(len(w.unavailable) for w in everyone)}; "
            f"acked then lost without replica_acks: {lost_plain}; "
            f"stored but unconfirmed with replica_acks: "
            f"{sum(len(w.unconfirmed) for w in everyone)}"
        )
