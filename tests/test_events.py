"""Real-time events (redis_memory.events): pub/sub subscriptions and the audit stream.

Against the real Redis of the fixtures; the restart tests run their own
embedded server on a fixed port and stop and start it under a live subscriber.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import socket
import threading
import time

import orjson
import pytest
import redis
from _examples import code_blocks, run_example

from redis_memory import RedisMemoryConfig, RedisUnavailableError, SerializationError
from redis_memory.embedded import EmbeddedRedis
from redis_memory.events import (
    AsyncAuditLog,
    AsyncEventBus,
    AsyncSubscription,
    AuditEntry,
    AuditLog,
    AuditPending,
    Event,
    EventBus,
    Subscription,
)
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.state import AsyncStateStore, StateStore

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user
# Such a user may PSUBSCRIBE only to "{prefix}:*" (Redis compares patterns literally), so
# patterns are matched client-side for it: pattern tests run both ways.
BOTH_USERS = pytest.mark.parametrize("config", ["admin", "acl_user"], indirect=True)

QUIET = 0.3  # seconds without an event that end a test's iteration


@pytest.fixture
def bus(config):
    return EventBus(config=config)


@pytest.fixture
def abus(config):
    return AsyncEventBus(config=config)


@pytest.fixture
def audit(config):
    return AuditLog(config=config)


def numsub(redis_client, channel: str) -> int:
    if isinstance(redis_client, redis.RedisCluster):  # subscriptions are per node
        replies = redis_client.execute_command(
            "PUBSUB", "NUMSUB", channel, target_nodes=redis.RedisCluster.ALL_NODES
        )
        return sum(int(reply[1]) for reply in replies.values())
    return dict(redis_client.pubsub_numsub(channel))[channel.encode()]


async def numsub_settles_at(redis_client, channel: str, expected: int) -> bool:
    """Whether the server's count reaches ``expected`` within a second.

    redis.asyncio's cluster pub/sub leaves the closing of its socket to the
    event loop, so the server's count may lag by a loop turn or so there.
    """
    for _ in range(100):
        if numsub(redis_client, channel) == expected:
            return True
        await asyncio.sleep(0.01)
    return False


# -- publish and subscribe -----------------------------------------------------------------


EXACT = {
    "text": 'olá, 世界 \u2028 "quoted" \\ back',
    "int": 2**62,
    "float": 0.1,
    "nested": {"list": [1, None, True, {"deep": []}], "empty": {}},
}


async def test_a_sync_and_an_async_subscriber_receive_the_exact_json(bus, abus, redis_client):
    if isinstance(redis_client, redis.RedisCluster):
        # PUBLISH counts the receivers on its node: listen where the bus does.
        raw = redis_client.pubsub(node=redis_client.get_node_from_key(bus.keys.audit()))
    else:
        raw = redis_client.pubsub()
    raw.subscribe(bus.channel("news"))
    assert raw.get_message(timeout=5)["type"] == "subscribe"
    with bus.subscribe("news", timeout=5) as sync_events:
        async with abus.subscribe("news", timeout=5) as async_events:
            assert await abus.publish("news", EXACT) == 3
            sync_event = next(sync_events)
            async_event = await anext(async_events)
    wire = raw.get_message(timeout=5)
    raw.close()

    assert wire["data"] == orjson.dumps(EXACT)  # JSON on the wire, as published
    for event in (sync_event, async_event):
        assert isinstance(event, Event)
        assert event.data == EXACT
        assert event.topic == "news"
        assert event.channel == bus.channel("news") == f"{bus.config.prefix}:events:news"
        assert event.received_at > 0


def test_events_come_in_order_and_the_subscription_closes(bus, redis_client):
    channel = bus.channel("steps")
    with bus.subscribe("steps", timeout=QUIET) as events:
        assert numsub(redis_client, channel) == 1
        for n in range(50):
            bus.publish("steps", {"n": n})
        assert [event.data["n"] for event in events] == list(range(50))
    assert numsub(redis_client, channel) == 0
    assert events.closed
    assert list(events) == []


async def test_the_async_subscription_closes(abus, redis_client):
    channel = abus.channel("steps")
    async with abus.subscribe("steps", timeout=QUIET) as events:
        assert numsub(redis_client, channel) == 1
    assert await numsub_settles_at(redis_client, channel, 0)
    assert [event async for event in events] == []


async def test_an_awaited_async_subscription_is_live(abus, redis_client):
    events = await abus.subscribe("later", timeout=QUIET)
    try:
        assert await abus.publish("later", {"ok": True}) == 1
        assert [event.data async for event in events] == [{"ok": True}]
    finally:
        await events.aclose()
    assert await numsub_settles_at(redis_client, abus.channel("later"), 0)


def test_a_topic_is_a_channel_of_its_own(bus):
    with bus.subscribe("a", timeout=QUIET) as plain, bus.subscribe("a*", timeout=QUIET) as star:
        assert bus.publish("a:b", {"to": "a:b"}) == 0
        assert bus.publish("ab", {"to": "ab"}) == 0
        assert bus.publish("a", {"to": "a"}) == 1
        assert bus.publish("a*", {"to": "a*"}) == 1
        assert [e.data["to"] for e in plain] == ["a"]
        assert [(e.topic, e.data["to"]) for e in star] == [("a*", "a*")]
    assert bus.channel("a:b") == f"{bus.config.prefix}:events:a%3Ab"
    assert bus.channel("a*") == f"{bus.config.prefix}:events:a%2A"


@pytest.mark.acl_user(enabled=False)  # writes under other prefixes too
def test_a_pattern_cannot_reach_another_prefix(config, bus, redis_client):
    neighbours = [
        EventBus(config=config.replace(prefix=config.prefix + "x")),
        EventBus(config=config.replace(prefix=config.prefix + ":sub")),
        EventBus(config=config.replace(prefix="rmem")),
    ]
    sneaky = ["*", "*:*", "*:events:*", "\\*", "[*]", "..:*", "*}*", "*\\:*", "?*"]
    with bus.subscribe(patterns=sneaky, timeout=QUIET) as events:
        base = f"{config.prefix}:events:"
        assert all(pattern.startswith(base) for pattern in events.patterns)
        for other in neighbours:
            for topic in ["x", "a:b", "*", "events:x"]:
                other.publish(topic, {"from": other.config.prefix})
        redis_client.publish(f"{config.prefix}x:events:y", b"{}")
        redis_client.publish(f"{config.prefix}:sub:events:y", b"{}")
        bus.publish("mine", {"from": "here"})
        received = [event.data for event in events]
    assert received == [{"from": "here"}]


@BOTH_USERS
def test_patterns_match_topic_names(bus):
    cases = {
        "agent.*": (["agent.planner", "agent.", "agent.a:b"], ["agent", "agents.x"]),
        "x?y": (["x:y", "x y", "xzy", "x€y"], ["xy", "x::y"]),
        "job-[ab]": (["job-a", "job-b"], ["job-c", "job-ab"]),
        "job-[^ab]": (["job-c", "job-:"], ["job-a"]),
        "v[0-2]": (["v0", "v2"], ["v3"]),
        "lit\\*": (["lit*"], ["lit", "litx"]),
        "[:]x": ([":x"], ["%x", "3Ax"]),
        "100%": (["100%"], ["1000"]),
    }
    for pattern, (matching, other) in cases.items():
        with bus.subscribe(patterns=[pattern], timeout=QUIET) as events:
            for topic in other + matching:
                bus.publish(topic, {"topic": topic})
            got = [(event.topic, event.data["topic"]) for event in events]
        assert got == [(topic, topic) for topic in matching], pattern


@BOTH_USERS
def test_overlapping_subscriptions_deliver_each_event_once(bus):
    with bus.subscribe("agent.a", patterns=["agent.*", "agent.?", "*"], timeout=QUIET) as events:
        bus.publish("agent.a", {"n": 1})
        bus.publish("agent.b", {"n": 2})
        bus.publish("zzz", {"n": 3})
        assert [event.data["n"] for event in events] == [1, 2, 3]


@BOTH_USERS
def test_topic_patterns_do_not_match_session_and_state_channels(config, bus):
    with bus.subscribe(patterns=["*"], timeout=QUIET) as events:
        MessageLog(config=config).append("s1", [{"role": "user", "content": "hi"}])
        StateStore(config=config).set("u1", "k", 1)
        bus.publish("session", {"named": "session"})
        assert [(event.topic, event.data) for event in events] == [
            ("session", {"named": "session"})
        ]


def test_invalid_subscriptions_are_refused(bus):
    with pytest.raises(ValueError, match="subscribe to something"):
        bus.subscribe()
    with pytest.raises(TypeError):
        bus.subscribe(session_ids="abc")
    with pytest.raises(TypeError):
        bus.subscribe(patterns=[5])
    bad_patterns = {
        "": "must not be empty",
        "[ab": "without its ']'",
        "a\\": "lone",
        "x[]": "empty '\\[\\]'",
        "é" * 300: "at most 512 bytes",
    }
    for pattern, problem in bad_patterns.items():
        with pytest.raises(ValueError, match=problem):
            bus.subscribe(patterns=[pattern])
    for timeout in [-1, float("nan"), "1", True]:
        with pytest.raises(ValueError, match="timeout must be"):
            bus.subscribe("a", timeout=timeout)
    with pytest.raises(ValueError, match="event topic must not be empty"):
        bus.subscribe("")
    with pytest.raises(TypeError):
        bus.subscribe(b"a")


def test_subscribing_without_redis_is_a_clear_error():
    free = _free_port()
    config = RedisMemoryConfig(url=f"redis://127.0.0.1:{free}/0", prefix="down", retries=0)
    with pytest.raises(RedisUnavailableError, match=str(free)):
        EventBus(config=config).subscribe("a", timeout=1)


async def test_async_subscribing_without_redis_is_a_clear_error():
    free = _free_port()
    config = RedisMemoryConfig(url=f"redis://127.0.0.1:{free}/0", prefix="down", retries=0)
    subscription = AsyncEventBus(config=config).subscribe("a", timeout=1)
    with pytest.raises(RedisUnavailableError, match=str(free)):
        async with subscription:
            pass
    assert subscription.closed


def test_a_users_own_client_works(redis_client, config):
    bus = EventBus(client=redis_client, config=config)
    with bus.subscribe("own", timeout=QUIET) as events:
        assert bus.publish("own", {"a": 1}) == 1
        assert [event.data for event in events] == [{"a": 1}]


# -- the engines' events -------------------------------------------------------------------


def test_message_log_appends_arrive_by_session_id(config, bus):
    log = MessageLog(config=config)
    messages = [
        {"role": "user", "content": "secret question", "id": "m1"},
        {"role": "assistant", "content": "secret answer", "id": "m2"},
    ]
    with bus.subscribe(session_ids=["s:1", "other"], timeout=QUIET) as events:
        log.append("s:1", messages)
        log.append("s:1", [{"role": "user", "content": "more"}])
        log.append("unwatched", messages)
        received = list(events)
    assert [(event.topic, event.data) for event in received] == [
        (
            "session",
            {"event": "messages", "session_id": "s:1", "added": 2, "ids": ["m1", "m2"], "count": 2},
        ),
        (
            "session",
            {"event": "messages", "session_id": "s:1", "added": 1, "ids": [None], "count": 3},
        ),
    ]
    assert received[0].channel == config.keys.session_channel("s:1")
    assert all("secret" not in orjson.dumps(event.data).decode() for event in received)


async def test_async_message_log_appends_arrive_by_session_id(config, abus):
    log = AsyncMessageLog(config=config)
    async with abus.subscribe(session_ids=["s 2"], timeout=QUIET) as events:
        await log.append("s 2", [{"role": "user", "content": "hidden", "id": "x"}])
        received = [event.data async for event in events]
    assert received == [
        {"event": "messages", "session_id": "s 2", "added": 1, "ids": ["x"], "count": 1}
    ]


def test_state_changes_arrive_by_user_id(config, bus):
    state = StateStore(config=config)
    with bus.subscribe(user_ids=["u:1"], timeout=QUIET) as events:
        state.set("u:1", "profile", {"password": "hunter2"})
        state.set_many("u:1", {"a": 1, "b": 2})
        state.delete("u:1", "a", "missing")
        state.set("u:2", "profile", {"other": "user"})
        received = list(events)
    assert [(event.topic, event.data) for event in received] == [
        ("state", {"event": "state", "user_id": "u:1", "op": "set", "keys": ["profile"]}),
        ("state", {"event": "state", "user_id": "u:1", "op": "set", "keys": ["a", "b"]}),
        ("state", {"event": "state", "user_id": "u:1", "op": "delete", "keys": ["a"]}),
    ]
    assert received[0].channel == state.channel("u:1")
    assert all("hunter2" not in orjson.dumps(event.data).decode() for event in received)


async def test_async_state_changes_arrive_by_user_id(config, abus):
    state = AsyncStateStore(config=config)
    async with abus.subscribe("alerts", user_ids=["ana"], timeout=QUIET) as events:
        await state.update_fields("ana", "profile", {"lang": "pt"})
        await abus.publish("alerts", {"level": 1})
        received = [(event.topic, event.data) async for event in events]
    assert received == [
        ("state", {"event": "state", "user_id": "ana", "op": "update", "keys": ["profile"]}),
        ("alerts", {"level": 1}),
    ]


# -- timeouts ------------------------------------------------------------------------------


def test_a_timeout_ends_the_iteration(bus):
    with bus.subscribe("quiet", timeout=0.2) as events:
        assert list(events) == []
        with pytest.raises(StopIteration):
            next(events)
        # The subscription stayed open: what was published in between is there.
        bus.publish("quiet", {"n": 1})
        assert [event.data for event in events] == [{"n": 1}]


def test_a_zero_timeout_returns_what_is_there(bus):
    with bus.subscribe("now", timeout=0) as events:
        assert list(events) == []
        bus.publish("now", {"n": 1})
        deadline = time.monotonic() + 10
        received = []
        while not received and time.monotonic() < deadline:
            received = [event.data for event in events]
        assert received == [{"n": 1}]


async def test_a_timeout_ends_the_async_iteration(abus):
    async with abus.subscribe("quiet", timeout=0.2) as events:
        assert [event async for event in events] == []
        with pytest.raises(StopAsyncIteration):
            await anext(events)


# -- bad data ------------------------------------------------------------------------------


def test_publishing_what_json_cannot_hold_sends_nothing(bus, count_commands):
    with bus.subscribe("strict", timeout=QUIET) as events:
        with count_commands() as counted:
            with pytest.raises(TypeError):
                bus.publish("strict", {"value": object()})
            with pytest.raises(SerializationError):
                bus.publish("strict", {"value": object()}, audit=True)
            with pytest.raises(TypeError):
                bus.publish("strict", ["not", "a", "dict"])
            with pytest.raises(ValueError, match="event topic must not be empty"):
                bus.publish("", {"a": 1})
        assert counted.total == 0
        assert list(events) == []


def test_foreign_messages_that_are_not_json_objects_are_skipped(bus, redis_client, caplog):
    channel = bus.channel("mixed")
    with (
        caplog.at_level(logging.WARNING, logger="redis_memory.events"),
        bus.subscribe("mixed", timeout=QUIET) as events,
    ):
        redis_client.publish(channel, b"\xff\xfe not json")
        redis_client.publish(channel, b"[1, 2]")
        redis_client.publish(channel, b'"text"')
        bus.publish("mixed", {"fine": True})
        assert [event.data for event in events] == [{"fine": True}]
    warnings = [r for r in caplog.records if r.name == "redis_memory.events"]
    assert len(warnings) == 3
    assert all(channel in record.getMessage() for record in warnings)


async def test_async_subscriber_skips_foreign_messages(abus, redis_client):
    channel = abus.channel("mixed")
    async with abus.subscribe("mixed", timeout=QUIET) as events:
        redis_client.publish(channel, b"nope{")
        await abus.publish("mixed", {"fine": True})
        assert [event.data async for event in events] == [{"fine": True}]


# -- surviving a restart -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def restartable(tmp_path):
    """``start()`` runs an embedded Redis on one fixed port and data folder; stopped after."""
    port = _free_port()
    servers: list[EmbeddedRedis] = []

    def start() -> EmbeddedRedis:
        server = EmbeddedRedis(port=port, data_dir=tmp_path / "redis").start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def _publish_until_received(bus: EventBus, topic: str) -> dict:
    """Publish until one subscriber receives (it resubscribed); bounded."""
    for attempt in range(600):
        event = {"n": "after", "attempt": attempt}
        if bus.publish(topic, event) == 1:
            return event
        time.sleep(0.05)
    pytest.fail("the subscriber did not resubscribe after the restart")


@pytest.mark.standalone_only
def test_a_subscriber_survives_a_redis_restart(restartable):
    server = restartable()
    bus = EventBus(config=RedisMemoryConfig(url=server.url, prefix="restart"))
    received: queue.Queue = queue.Queue()
    with bus.subscribe("news", timeout=60) as events:

        def consume() -> None:
            for event in events:
                received.put(event.data)
                if event.data["n"] == "after":
                    return

        consumer = threading.Thread(target=consume, daemon=True)
        consumer.start()
        assert bus.publish("news", {"n": "before"}) == 1
        assert received.get(timeout=10) == {"n": "before"}

        server.stop()
        restartable()
        sent = _publish_until_received(bus, "news")

        assert received.get(timeout=10) == sent
        consumer.join(timeout=10)
        assert not consumer.is_alive()
        assert events.reconnects >= 1
        assert bus.publish("news", {"n": "still"}) == 1
        assert next(events).data == {"n": "still"}


@pytest.mark.standalone_only
async def test_an_async_subscriber_survives_a_redis_restart(restartable):
    server = await asyncio.to_thread(restartable)
    bus = AsyncEventBus(config=RedisMemoryConfig(url=server.url, prefix="restart"))
    received: asyncio.Queue = asyncio.Queue()
    async with bus.subscribe("news", timeout=60) as events:

        async def consume() -> None:
            async for event in events:
                await received.put(event.data)
                if event.data["n"] == "after":
                    return

        consumer = asyncio.create_task(consume())
        assert await bus.publish("news", {"n": "before"}) == 1
        assert await asyncio.wait_for(received.get(), 10) == {"n": "before"}

        await asyncio.to_thread(server.stop)
        await asyncio.to_thread(restartable)
        for attempt in range(600):
            sent = {"n": "after", "attempt": attempt}
            if await bus.publish("news", sent) == 1:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail("the subscriber did not resubscribe after the restart")

        assert await asyncio.wait_for(received.get(), 10) == sent
        await asyncio.wait_for(consumer, 10)
        assert events.reconnects >= 1


@pytest.mark.standalone_only
def test_a_timeout_bounds_the_wait_while_redis_is_down(restartable):
    server = restartable()
    bus = EventBus(config=RedisMemoryConfig(url=server.url, prefix="down"))
    with bus.subscribe("news", timeout=0.5) as events:
        server.stop()
        assert list(events) == []  # ends, although Redis never came back
        assert events.reconnects == 0


# -- the audit stream ----------------------------------------------------------------------


def test_audit_append_and_read_from_an_id(audit, count_commands):
    assert audit.length() == 0  # connected: the handshake is not an operation's cost
    with count_commands() as counted:
        first = audit.append({"n": 0})
    assert counted.by_name == {"xadd": 1}
    ids = [first] + [audit.append({"n": n, "who": "agent-é"}) for n in range(1, 5)]
    assert ids == sorted(ids, key=lambda i: tuple(map(int, i.split("-"))))

    with count_commands() as counted:
        everything = audit.read()
    assert counted.by_name == {"xrange": 1}
    assert everything == [
        AuditEntry(i, {"n": 0} if n == 0 else {"n": n, "who": "agent-é"}) for n, i in enumerate(ids)
    ]
    assert [entry.id for entry in audit.read(after=ids[1])] == ids[2:]
    assert [entry.id for entry in audit.read(after=ids[1], count=2)] == ids[2:4]
    assert audit.read(after=ids[-1]) == []
    entry_id, event = audit.read(count=1)[0]
    assert (entry_id, event) == (ids[0], {"n": 0})
    assert audit.length() == 5


def test_audit_refuses_bad_input(audit, count_commands):
    with count_commands() as counted:
        for bad in [{"x": object()}, [1, 2], "text"]:
            with pytest.raises(TypeError):
                audit.append(bad)
    assert counted.total == 0
    for after in ["", "abc", "1-2-3", ">"]:
        with pytest.raises(ValueError, match="after must be a stream id"):
            audit.read(after=after)
    with pytest.raises(TypeError):
        audit.read(after=0)
    with pytest.raises(ValueError, match="count must be"):
        audit.read(count=0)
    with pytest.raises(ValueError, match="consumer group name must not be empty"):
        audit.read_group("", "w")
    with pytest.raises(ValueError, match="id must be a stream id"):
        audit.read_group("g", "w", id="latest")
    with pytest.raises(TypeError):
        audit.ack("g")
    with pytest.raises(ValueError, match="maxlen must be"):
        AuditLog(maxlen=0)


def test_audit_maxlen_caps_the_stream_approximately(config):
    audit = AuditLog(config=config, maxlen=10)
    for n in range(1000):
        audit.append({"n": n})
    length = audit.length()
    assert 10 <= length < 300
    newest = audit.read(after="0", count=length)[-1]
    assert newest.event == {"n": 999}


def test_a_worker_that_died_gets_its_pending_entries_back(config):
    writer = AuditLog(config=config)
    ids = [writer.append({"n": n}) for n in range(5)]

    worker = AuditLog(config=config)
    taken = worker.read_group("auditors", "worker-1", count=5)
    assert [entry.id for entry in taken] == ids
    assert worker.ack("auditors", *ids[:3]) == 3
    del worker  # it dies with two entries unacked

    later = [writer.append({"n": n}) for n in range(5, 8)]
    revived = AuditLog(config=config)  # a new object, the same consumer name
    assert revived.pending("auditors") == AuditPending(2, ids[3], ids[4], {"worker-1": 2})
    pending = revived.read_group("auditors", "worker-1", id="0")
    assert pending == [AuditEntry(ids[3], {"n": 3}), AuditEntry(ids[4], {"n": 4})]
    new = revived.read_group("auditors", "worker-1", count=10)
    assert [entry.event["n"] for entry in new] == [5, 6, 7]
    assert [entry.id for entry in new] == later
    assert revived.ack("auditors", *ids[3:], *later) == 5
    assert revived.pending("auditors") == AuditPending(0, None, None, {})
    assert revived.read_group("auditors", "worker-1", id="0") == []
    assert revived.read_group("auditors", "worker-1") == []

    # Another group reads everything on its own, whatever the first one acked.
    other = revived.read_group("archivers", "a-1", count=100)
    assert [entry.id for entry in other] == ids + later
    assert revived.pending("archivers").count == 8
    assert revived.pending("auditors").count == 0


def test_audit_group_commands(audit, count_commands):
    audit.append({"n": 1})
    with count_commands() as counted:
        audit.read_group("g", "w", count=10)
    assert counted.by_name == {"xreadgroup": 2, "xgroup|create": 1}
    with count_commands() as counted:
        assert audit.read_group("g", "w", count=10) == []
    assert counted.by_name == {"xreadgroup": 1}
    assert audit.ack("missing-group", "1-0") == 0
    assert audit.pending("missing-group") == AuditPending(0, None, None, {})


def test_a_blocking_group_read_returns_what_arrives(audit):
    audit.read_group("live", "w")  # creates the group

    def later() -> None:
        time.sleep(0.2)
        AuditLog(config=audit.config).append({"late": True})

    thread = threading.Thread(target=later)
    thread.start()
    entries = audit.read_group("live", "w", block_ms=10_000)
    thread.join()
    assert [entry.event for entry in entries] == [{"late": True}]
    assert audit.read_group("live", "w", block_ms=50) == []


def test_pending_entries_trimmed_away_are_acked(config):
    audit = AuditLog(config=config, maxlen=1)
    audit.append({"n": 0})
    assert len(audit.read_group("g", "w", count=1)) == 1
    for n in range(1, 400):
        audit.append({"n": n})
    assert audit.pending("g").count == 1
    assert audit.read_group("g", "w", id="0") == []  # gone from the stream
    assert audit.pending("g").count == 0


def test_publish_with_audit_is_one_transaction(bus, audit, count_commands, redis_client):
    assert bus.publish("deploys", {"warm": "up"}) == 0  # connected before counting
    with bus.subscribe("deploys", timeout=QUIET) as events:
        with count_commands() as counted:
            assert bus.publish("deploys", {"version": "1.2"}, audit=True) == 1
        # On a cluster the PUBLISH inside MULTI goes through a one-line script (see _plan.py).
        on_cluster = {"eval": 1} if isinstance(redis_client, redis.RedisCluster) else {}
        assert counted.by_name == {"multi": 1, "publish": 1, "xadd": 1, "exec": 1, **on_cluster}
        with count_commands() as counted:
            assert bus.publish("deploys", {"version": "1.3"}) == 1
        assert counted.by_name == {"publish": 1}
        assert [event.data["version"] for event in events] == ["1.2", "1.3"]
    assert [entry.event for entry in audit.read()] == [
        {"topic": "deploys", "event": {"version": "1.2"}}
    ]


async def test_async_audit_log(config):
    audit = AsyncAuditLog(config=config, maxlen=50)
    ids = [await audit.append({"n": n}) for n in range(4)]
    assert [entry.id for entry in await audit.read(after=ids[0])] == ids[1:]
    taken = await audit.read_group("g", "w-1", count=4)
    assert [entry.id for entry in taken] == ids
    assert await audit.ack("g", *ids[:2]) == 2

    revived = AsyncAuditLog(config=config)
    assert (await revived.pending("g")).consumers == {"w-1": 2}
    assert [entry.id for entry in await revived.read_group("g", "w-1", id="0")] == ids[2:]
    newest = await audit.append({"n": 4})
    assert [entry.id for entry in await revived.read_group("g", "w-1", block_ms=1000)] == [newest]
    assert await revived.ack("g", *ids[2:], newest) == 3
    assert (await revived.pending("g")).count == 0
    assert await revived.length() == 5

    bus = AsyncEventBus(config=config)
    await bus.publish("t", {"audited": True}, audit=True)
    assert (await audit.read(after=newest))[0].event == {"topic": "t", "event": {"audited": True}}


# -- docs ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "cls",
    [
        Event,
        Subscription,
        AsyncSubscription,
        EventBus,
        AsyncEventBus,
        AuditEntry,
        AuditPending,
        AuditLog,
        AsyncAuditLog,
    ],
)
def test_docstring_examples_run(cls):
    blocks = code_blocks(cls.__doc__)
    assert blocks
    assert all('url="embedded"' in block for block in blocks)
    for block in blocks:
        run_example(block)


def test_subscribe_examples_end_by_a_timeout():
    for cls in (Event, Subscription, AsyncSubscription, EventBus, AsyncEventBus):
        for block in code_blocks(cls.__doc__):
            if "subscribe(" in block:
                assert "timeout=" in block, cls.__name__


def test_last_id_lets_a_reader_start_after_the_newest_entry(audit, config):
    assert audit.last_id() is None
    audit.append({"n": 1})
    newest = audit.append({"n": 2})
    assert audit.last_id() == newest
    assert audit.read(after=audit.last_id()) == []
    audit.append({"n": 3})
    assert [entry.event for entry in audit.read(after=newest)] == [{"n": 3}]
    assert asyncio.run(AsyncAuditLog(config=config).last_id()) == audit.last_id()
