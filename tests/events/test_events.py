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

import orjson
import pytest
import redis
from _examples import code_blocks, run_example
from _waiting import wait_until

from redis_memory import RedisMemoryConfig, RedisUnavailableError, SerializationError
from redis_memory.embedded import EmbeddedRedis
from redis_memory.events import (
    DEFAULT_AUDIT_MAXLEN,
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
from redis_memory.workqueue import PendingSummary

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user
# Such a user may PSUBSCRIBE only to "{prefix}:*" (Redis compares patterns literally), so
# patterns are matched client-side for it: pattern tests run both ways.
BOTH_USERS = pytest.mark.parametrize("config", ["admin", "acl_user"], indirect=True)

# A safety net only: a test never waits for a quiet period to decide that nothing
# more arrives; it publishes a sentinel after the rest and checks it comes next.
LONG = 30
SENTINEL = {"sentinel": True}


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
    """Whether the server's count reaches ``expected``.

    redis.asyncio's cluster pub/sub leaves the closing of its socket to the
    event loop, so the server's count may lag by a loop turn or so there: the
    polling runs in a thread, leaving the loop free to close it.
    """
    return await asyncio.to_thread(wait_until, lambda: numsub(redis_client, channel) == expected)


def take(events, n: int) -> list[Event]:
    """The next ``n`` events (the subscription's idle timeout guards against a hang)."""
    return [next(events) for _ in range(n)]


async def atake(events, n: int) -> list[Event]:
    """:func:`take` for an async subscription."""
    return [await anext(events) for _ in range(n)]


def nothing_more(bus, events, topic: str) -> None:
    """Nothing arrived besides what the test took: a sentinel published now comes next."""
    bus.publish(topic, SENTINEL)
    assert next(events).data == SENTINEL


async def anothing_more(bus, events, topic: str) -> None:
    """:func:`nothing_more` for an async bus and subscription."""
    await bus.publish(topic, SENTINEL)
    assert (await anext(events)).data == SENTINEL


def home_publish(redis_client, bus, channel: str, data: bytes) -> None:
    """PUBLISH where the bus publishes (on a cluster, its home node), so that order holds."""
    if isinstance(redis_client, redis.RedisCluster):
        node = redis_client.get_node_from_key(bus.keys.audit())
        redis_client.execute_command("PUBLISH", channel, data, target_nodes=node)
    else:
        redis_client.publish(channel, data)


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
    with bus.subscribe("news", idle_timeout=5) as sync_events:
        async with abus.subscribe("news", idle_timeout=5) as async_events:
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
    with bus.subscribe("steps", idle_timeout=LONG) as events:
        assert numsub(redis_client, channel) == 1
        for n in range(50):
            bus.publish("steps", {"n": n})
        assert [event.data["n"] for event in take(events, 50)] == list(range(50))
        nothing_more(bus, events, "steps")
    assert numsub(redis_client, channel) == 0
    assert events.closed
    assert list(events) == []


async def test_the_async_subscription_closes(abus, redis_client):
    channel = abus.channel("steps")
    async with abus.subscribe("steps", idle_timeout=LONG) as events:
        assert numsub(redis_client, channel) == 1
    assert await numsub_settles_at(redis_client, channel, 0)
    assert [event async for event in events] == []


async def test_an_awaited_async_subscription_is_live(abus, redis_client):
    events = await abus.subscribe("later", idle_timeout=LONG)
    try:
        assert await abus.publish("later", {"ok": True}) == 1
        assert (await anext(events)).data == {"ok": True}
        await anothing_more(abus, events, "later")
    finally:
        await events.aclose()
    assert await numsub_settles_at(redis_client, abus.channel("later"), 0)


def test_a_topic_is_a_channel_of_its_own(bus):
    with (
        bus.subscribe("a", idle_timeout=LONG) as plain,
        bus.subscribe("a*", idle_timeout=LONG) as star,
    ):
        assert bus.publish("a:b", {"to": "a:b"}) == 0
        assert bus.publish("ab", {"to": "ab"}) == 0
        assert bus.publish("a", {"to": "a"}) == 1
        assert bus.publish("a*", {"to": "a*"}) == 1
        assert next(plain).data["to"] == "a"
        star_event = next(star)
        assert (star_event.topic, star_event.data["to"]) == ("a*", "a*")
        nothing_more(bus, plain, "a")
        nothing_more(bus, star, "a*")
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
    with bus.subscribe(patterns=sneaky, idle_timeout=LONG) as events:
        base = f"{config.prefix}:events:"
        assert all(pattern.startswith(base) for pattern in events.patterns)
        for other in neighbours:
            for topic in ["x", "a:b", "*", "events:x"]:
                other.publish(topic, {"from": other.config.prefix})
        redis_client.publish(f"{config.prefix}x:events:y", b"{}")
        redis_client.publish(f"{config.prefix}:sub:events:y", b"{}")
        bus.publish("mine", {"from": "here"})
        assert next(events).data == {"from": "here"}
        nothing_more(bus, events, "mine")


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
        with bus.subscribe(patterns=[pattern], idle_timeout=LONG) as events:
            for topic in other + matching:
                bus.publish(topic, {"topic": topic})
            got = [(event.topic, event.data["topic"]) for event in take(events, len(matching))]
            nothing_more(bus, events, matching[0])
        assert got == [(topic, topic) for topic in matching], pattern


@BOTH_USERS
def test_overlapping_subscriptions_deliver_each_event_once(bus):
    patterns = ["agent.*", "agent.?", "*"]
    with bus.subscribe("agent.a", patterns=patterns, idle_timeout=LONG) as events:
        bus.publish("agent.a", {"n": 1})
        bus.publish("agent.b", {"n": 2})
        bus.publish("zzz", {"n": 3})
        assert [event.data["n"] for event in take(events, 3)] == [1, 2, 3]
        nothing_more(bus, events, "agent.a")


@BOTH_USERS
def test_topic_patterns_do_not_match_session_and_state_channels(config, bus):
    with bus.subscribe(patterns=["*"], idle_timeout=LONG) as events:
        MessageLog(config=config).append("s1", [{"role": "user", "content": "hi"}])
        StateStore(config=config).set("u1", "k", 1)
        bus.publish("session", {"named": "session"})
        event = next(events)
        assert (event.topic, event.data) == ("session", {"named": "session"})
        nothing_more(bus, events, "session")


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
        with pytest.raises(ValueError, match="idle_timeout must be"):
            bus.subscribe("a", idle_timeout=timeout)
    with pytest.raises(ValueError, match="event topic must not be empty"):
        bus.subscribe("")
    with pytest.raises(TypeError):
        bus.subscribe(b"a")


def test_subscribing_without_redis_is_a_clear_error():
    free = _free_port()
    config = RedisMemoryConfig(url=f"redis://127.0.0.1:{free}/0", prefix="down", retries=0)
    with pytest.raises(RedisUnavailableError, match=str(free)):
        EventBus(config=config).subscribe("a", idle_timeout=1)


async def test_async_subscribing_without_redis_is_a_clear_error():
    free = _free_port()
    config = RedisMemoryConfig(url=f"redis://127.0.0.1:{free}/0", prefix="down", retries=0)
    subscription = AsyncEventBus(config=config).subscribe("a", idle_timeout=1)
    with pytest.raises(RedisUnavailableError, match=str(free)):
        async with subscription:
            pass
    assert subscription.closed


def test_a_users_own_client_works(redis_client, config):
    bus = EventBus(client=redis_client, config=config)
    with bus.subscribe("own", idle_timeout=LONG) as events:
        assert bus.publish("own", {"a": 1}) == 1
        assert next(events).data == {"a": 1}
        nothing_more(bus, events, "own")


# -- the engines' events -------------------------------------------------------------------


def test_message_log_appends_arrive_by_session_id(config, bus):
    log = MessageLog(config=config)
    messages = [
        {"role": "user", "content": "secret question", "id": "m1"},
        {"role": "assistant", "content": "secret answer", "id": "m2"},
    ]
    with bus.subscribe(session_ids=["s:1", "other"], idle_timeout=LONG) as events:
        log.append("s:1", messages)
        log.append("s:1", [{"role": "user", "content": "more"}])
        log.append("unwatched", messages)
        received = take(events, 2)
        # The sentinel: an append to the other watched session, which comes next.
        log.append("other", [{"role": "user", "content": "sentinel", "id": "s"}])
        assert next(events).data["session_id"] == "other"
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
    async with abus.subscribe("sentinel", session_ids=["s 2"], idle_timeout=LONG) as events:
        await log.append("s 2", [{"role": "user", "content": "hidden", "id": "x"}])
        received = [event.data for event in await atake(events, 1)]
        await anothing_more(abus, events, "sentinel")
    assert received == [
        {"event": "messages", "session_id": "s 2", "added": 1, "ids": ["x"], "count": 1}
    ]


def test_state_changes_arrive_by_user_id(config, bus):
    state = StateStore(config=config)
    with bus.subscribe(user_ids=["u:1"], idle_timeout=LONG) as events:
        state.set("u:1", "profile", {"password": "hunter2"})
        state.set_many("u:1", {"a": 1, "b": 2})
        state.delete("u:1", "a", "missing")
        state.set("u:2", "profile", {"other": "user"})
        received = take(events, 3)
        state.set("u:1", "sentinel", 1)  # the next change of u:1 comes next
        assert next(events).data["keys"] == ["sentinel"]
    assert [(event.topic, event.data) for event in received] == [
        ("state", {"event": "state", "user_id": "u:1", "op": "set", "keys": ["profile"]}),
        ("state", {"event": "state", "user_id": "u:1", "op": "set", "keys": ["a", "b"]}),
        ("state", {"event": "state", "user_id": "u:1", "op": "delete", "keys": ["a"]}),
    ]
    assert received[0].channel == state.channel("u:1")
    assert all("hunter2" not in orjson.dumps(event.data).decode() for event in received)


async def test_async_state_changes_arrive_by_user_id(config, abus):
    state = AsyncStateStore(config=config)
    async with abus.subscribe("alerts", user_ids=["ana"], idle_timeout=LONG) as events:
        await state.update_fields("ana", "profile", {"lang": "pt"})
        # On a cluster the state change may reach the subscriber's node after the
        # bus's own event: take it first, then publish.
        received = [(event.topic, event.data) for event in await atake(events, 1)]
        await abus.publish("alerts", {"level": 1})
        received += [(event.topic, event.data) for event in await atake(events, 1)]
        await anothing_more(abus, events, "alerts")
    assert received == [
        ("state", {"event": "state", "user_id": "ana", "op": "update", "keys": ["profile"]}),
        ("alerts", {"level": 1}),
    ]


# -- timeouts ------------------------------------------------------------------------------


def test_an_idle_timeout_ends_the_iteration(bus):
    with bus.subscribe("quiet", idle_timeout=0.2) as events:
        assert list(events) == []
        with pytest.raises(StopIteration):
            next(events)
        # The subscription stayed open: what was published in between is there.
        bus.publish("quiet", {"n": 1})
        assert next(events).data == {"n": 1}
        nothing_more(bus, events, "quiet")


def test_a_zero_idle_timeout_returns_what_is_there(bus):
    with bus.subscribe("now", idle_timeout=0) as events:
        assert list(events) == []
        bus.publish("now", {"n": 1})
        received = wait_until(lambda: [event.data for event in events])
        assert received == [{"n": 1}]


async def test_an_idle_timeout_ends_the_async_iteration(abus):
    async with abus.subscribe("quiet", idle_timeout=0.2) as events:
        assert [event async for event in events] == []
        with pytest.raises(StopAsyncIteration):
            await anext(events)


# -- bad data ------------------------------------------------------------------------------


def test_publishing_what_json_cannot_hold_sends_nothing(bus, count_commands):
    with bus.subscribe("strict", idle_timeout=LONG) as events:
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
        nothing_more(bus, events, "strict")


def test_foreign_messages_that_are_not_json_objects_are_skipped(bus, redis_client, caplog):
    channel = bus.channel("mixed")
    with (
        caplog.at_level(logging.WARNING, logger="redis_memory.events"),
        bus.subscribe("mixed", idle_timeout=LONG) as events,
    ):
        for raw in [b"\xff\xfe not json", b"[1, 2]", b'"text"']:
            home_publish(redis_client, bus, channel, raw)
        bus.publish("mixed", {"fine": True})
        assert next(events).data == {"fine": True}
        nothing_more(bus, events, "mixed")
    warnings = [r for r in caplog.records if r.name == "redis_memory.events"]
    assert len(warnings) == 3
    assert all(channel in record.getMessage() for record in warnings)


async def test_async_subscriber_skips_foreign_messages(abus, redis_client):
    channel = abus.channel("mixed")
    async with abus.subscribe("mixed", idle_timeout=LONG) as events:
        home_publish(redis_client, abus, channel, b"nope{")
        await abus.publish("mixed", {"fine": True})
        assert (await anext(events)).data == {"fine": True}
        await anothing_more(abus, events, "mixed")


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
    """Publish until one subscriber receives (it resubscribed); bounded by attempts."""
    attempts = iter(range(600))

    def received() -> dict | None:
        event = {"n": "after", "attempt": next(attempts)}
        return event if bus.publish(topic, event) == 1 else None

    return wait_until(received, attempts=600, pause=0.05)


@pytest.mark.standalone_only
def test_a_subscriber_survives_a_redis_restart(restartable):
    server = restartable()
    bus = EventBus(config=RedisMemoryConfig(url=server.url, prefix="restart"))
    received: queue.Queue = queue.Queue()
    with bus.subscribe("news", idle_timeout=60) as events:

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
    async with bus.subscribe("news", idle_timeout=60) as events:

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
        # Polled from a thread with a sync bus: the loop stays free to resubscribe.
        sync_bus = EventBus(config=bus.config)
        sent = await asyncio.to_thread(_publish_until_received, sync_bus, "news")

        assert await asyncio.wait_for(received.get(), 10) == sent
        await asyncio.wait_for(consumer, 10)
        assert events.reconnects >= 1


@pytest.mark.standalone_only
def test_a_timeout_bounds_the_wait_while_redis_is_down(restartable):
    server = restartable()
    bus = EventBus(config=RedisMemoryConfig(url=server.url, prefix="down"))
    with bus.subscribe("news", idle_timeout=0.5) as events:
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


def blocked_clients(redis_client, key: str) -> int:
    """How many clients wait in a blocking command on the server holding ``key``."""
    if isinstance(redis_client, redis.RedisCluster):
        node = redis_client.get_node_from_key(key)
        info = redis_client.info("clients", target_nodes=node)
    else:
        info = redis_client.info("clients")
    return int(info["blocked_clients"])


def test_a_blocking_group_read_returns_what_arrives(audit, redis_client):
    audit.read_group("live", "w")  # creates the group

    def later() -> None:
        # Once the reader waits in XREADGROUP (were it not, the entry would be
        # there for it all the same).
        wait_until(lambda: blocked_clients(redis_client, audit.key) > 0)
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
    with bus.subscribe("deploys", idle_timeout=LONG) as events:
        with count_commands() as counted:
            assert bus.publish("deploys", {"version": "1.2"}, audit=True) == 1
        # On a cluster the PUBLISH inside MULTI goes through a one-line script (see _plan.py).
        on_cluster = {"eval": 1} if isinstance(redis_client, redis.RedisCluster) else {}
        assert counted.by_name == {"multi": 1, "publish": 1, "xadd": 1, "exec": 1, **on_cluster}
        with count_commands() as counted:
            assert bus.publish("deploys", {"version": "1.3"}) == 1
        assert counted.by_name == {"publish": 1}
        assert [event.data["version"] for event in take(events, 2)] == ["1.2", "1.3"]
        nothing_more(bus, events, "deploys")
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


def test_subscribe_examples_end_by_an_idle_timeout():
    for cls in (Event, Subscription, AsyncSubscription, EventBus, AsyncEventBus):
        for block in code_blocks(cls.__doc__):
            if "subscribe(" in block:
                assert "idle_timeout=" in block, cls.__name__


def test_last_id_lets_a_reader_start_after_the_newest_entry(audit, config):
    assert audit.last_id() is None
    audit.append({"n": 1})
    newest = audit.append({"n": 2})
    assert audit.last_id() == newest
    assert audit.read(after=audit.last_id()) == []
    audit.append({"n": 3})
    assert [entry.event for entry in audit.read(after=newest)] == [{"n": 3}]
    assert asyncio.run(AsyncAuditLog(config=config).last_id()) == audit.last_id()


# -- renamed parameters --------------------------------------------------------------------


def test_subscribe_timeout_is_renamed_idle_timeout(bus):
    with pytest.warns(DeprecationWarning, match="pass idle_timeout= instead"):
        events = bus.subscribe("old", timeout=LONG)
    with events:
        assert events.idle_timeout == LONG
        with pytest.warns(DeprecationWarning, match="idle_timeout"):
            assert events.timeout == LONG
        bus.publish("old", {"n": 1})
        assert next(events).data == {"n": 1}
    with pytest.raises(TypeError, match="pass idle_timeout= only"):
        bus.subscribe("old", timeout=1, idle_timeout=2)
    # The old name's value is checked as the new one's.
    with (
        pytest.warns(DeprecationWarning, match="timeout="),
        pytest.raises(ValueError, match="idle_timeout must be"),
    ):
        bus.subscribe("old", timeout=-1)


async def test_async_subscribe_timeout_is_renamed_idle_timeout(abus):
    with pytest.warns(DeprecationWarning, match="AsyncEventBus.subscribe"):
        events = abus.subscribe("old", timeout=LONG)
    async with events:
        assert events.idle_timeout == LONG
        await abus.publish("old", {"n": 1})
        assert (await anext(events)).data == {"n": 1}
    with pytest.raises(TypeError, match="pass idle_timeout= only"):
        abus.subscribe("old", timeout=1, idle_timeout=2)


@pytest.mark.parametrize("cls", [EventBus, AsyncEventBus])
def test_audit_maxlen_is_renamed_maxlen(cls, config):
    assert cls(config=config).maxlen == DEFAULT_AUDIT_MAXLEN
    assert cls(config=config, maxlen=None).maxlen is None
    with pytest.warns(DeprecationWarning, match=f"{cls.__name__}\\(\\): audit_maxlen="):
        bus = cls(config=config, audit_maxlen=10)
    assert bus.maxlen == 10
    with pytest.warns(DeprecationWarning, match="maxlen"):
        assert bus.audit_maxlen == 10
    with pytest.raises(TypeError, match="pass maxlen= only"):
        cls(config=config, maxlen=20, audit_maxlen=10)
    with pytest.raises(ValueError, match="maxlen must be"):
        cls(config=config, maxlen=0)


def test_audit_maxlen_caps_what_publish_audits(config):
    bus = EventBus(config=config, maxlen=10)
    for n in range(1000):
        bus.publish("capped", {"n": n}, audit=True)
    assert 10 <= AuditLog(config=config).length() < 300


def test_audit_pending_is_the_work_queues_pending_summary():
    assert AuditPending is PendingSummary
    assert AuditPending(0, None, None) == PendingSummary(0, None, None, {})
