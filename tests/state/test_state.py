"""The per-user state store (redis_memory.state), sync and async, against real Redis."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
from _examples import code_blocks, run_example
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from redis_memory import TTL, RedisMemoryConfig, SerializationError, TTLPolicy
from redis_memory.errors import UnexpectedDataError
from redis_memory.state import AsyncStateStore, StateStore

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


@pytest.fixture
def state(config):
    return StateStore(config=config)


@pytest.fixture
def astate(config):
    return AsyncStateStore(config=config)


class Subscriber:
    """A pub/sub subscriber on one channel, collecting decoded JSON events."""

    def __init__(self, client, channel):
        self.pubsub = client.pubsub()
        self.pubsub.subscribe(channel)
        assert self.pubsub.get_message(timeout=5)["type"] == "subscribe"

    def events(self, wait=0.5):
        received = []
        while (message := self.pubsub.get_message(timeout=wait)) is not None:
            received.append(json.loads(message["data"]))
        return received

    def close(self):
        self.pubsub.close()


# -- values and keys ---------------------------------------------------------------------


def test_set_get_round_trip(state):
    assert state.get("ana", "missing") is None
    assert state.get("ana", "missing", default="fallback") == "fallback"
    values = {
        "dict": {"name": "Ana", "tags": [], "nested": {"n": 12345678901234567}},
        "list": [1, "two", None, 3.5],
        "text": "olá",
        "int": 7,
        "float": 0.1,
        "true": True,
        "null": None,
    }
    for key, value in values.items():
        assert state.set("ana", key, value) is True
    for key, value in values.items():
        assert state.get("ana", key, default="missing") == value
    assert state.set("ana", "int", 8) is True  # overwrite
    assert state.get("ana", "int") == 8


def test_values_are_json_in_the_documented_key(state, redis_client, config):
    state.set("user:42", "profile", {"name": "Ana"})
    key = f"{config.prefix}:state:{{user%3A42}}:profile"
    assert redis_client.get(key) == b'{"name":"Ana"}'
    assert state.schema.state("user:42", "profile") == key


async def test_async_twin_round_trip(astate, state):
    assert await astate.set("ana", "k", {"a": 1}) is True
    assert await astate.get("ana", "k") == {"a": 1}
    assert await astate.get("ana", "nope", default=3) == 3
    assert await astate.set("ana", "k", {"a": 2}, only_if_absent=True) is False
    await astate.set_many("ana", {"x": 1, "y": [2]})
    assert await astate.get_many("ana", ["x", "y", "nope"]) == {"x": 1, "y": [2]}
    assert await astate.update_fields("ana", "k", {"b": 2}) == {"a": 1, "b": 2}
    assert await astate.increment("ana", "k", "a", 5) == 6
    assert sorted([key async for key in astate.iter_keys("ana")]) == ["k", "x", "y"]
    assert sorted([key async for key in astate.iter_keys("ana", prefix="x")]) == ["x"]
    cursor, page = await astate.keys("ana", count=1000)
    assert cursor == 0
    assert sorted(page) == ["k", "x", "y"]
    assert dict([item async for item in astate.iter_items("ana")]) == {
        "k": {"a": 6, "b": 2},
        "x": 1,
        "y": [2],
    }
    assert await astate.delete("ana", "x", "nope") == 1
    assert await astate.set_bytes("ana", "b", b"\xff\x00") is True
    assert await astate.get_bytes("ana", "b") == b"\xff\x00"
    await astate.set_many_bytes("ana", {"c": b"\x01"})
    assert await astate.get_many_bytes("ana", ["b", "c"]) == {"b": b"\xff\x00", "c": b"\x01"}
    assert await astate.clear("ana") == 4
    assert state.get_many("ana", ["k", "y", "b", "c"]) == {}


def test_get_many_and_set_many(state):
    assert state.get_many("ana", []) == {}
    state.set_many("ana", {})
    state.set_many("ana", {"a": 1, "b": {"c": [1]}, "n": None})
    assert state.get_many("ana", ["a", "b", "n", "missing"]) == {"a": 1, "b": {"c": [1]}, "n": None}
    with pytest.raises(TypeError, match="list of str keys"):
        state.get_many("ana", "ab")
    with pytest.raises(TypeError, match="mapping"):
        state.set_many("ana", [("a", 1)])


def test_delete(state):
    state.set_many("ana", {"a": 1, "b": 2, "c": 3})
    assert state.delete("ana") == 0
    assert state.delete("ana", "a", "b", "missing") == 2
    assert state.get_many("ana", ["a", "b", "c"]) == {"c": 3}
    assert state.delete("ana", "c", "c") == 1


def test_clear_and_iter_items(state, config):
    state.set_many("ana", {f"k{i}": i for i in range(1500)})
    state.set("bob", "k1", "bob's")
    assert dict(state.iter_items("ana")) == {f"k{i}": i for i in range(1500)}
    assert state.clear("ana") == 1500
    assert list(state.iter_keys("ana")) == []
    assert state.get("bob", "k1") == "bob's"


def test_bytes_are_stored_raw(state, redis_client):
    raw = bytes(range(256))
    assert state.set_bytes("ana", "blob", raw) is True
    assert redis_client.get(state.schema.state("ana", "blob")) == raw
    assert state.get_bytes("ana", "blob") == raw
    assert state.get_bytes("ana", "missing", default=b"-") == b"-"
    state.set_many_bytes("ana", {"a": b"1", "b": bytearray(b"2"), "c": memoryview(b"3")})
    assert state.get_many_bytes("ana", ["a", "b", "c", "d"]) == {"a": b"1", "b": b"2", "c": b"3"}
    assert state.set_bytes("ana", "blob", b"new", only_if_absent=True) is False
    with pytest.raises(SerializationError, match="byte methods store bytes, not str"):
        state.set_bytes("ana", "text", "not bytes")
    with pytest.raises(TypeError):
        state.set_many_bytes("ana", {"x": b"ok", "y": 1})
    assert state.get_many_bytes("ana", ["text", "x", "y"]) == {}


# -- TTL -----------------------------------------------------------------------------------


def test_state_never_expires_by_default(state, redis_client):
    state.set("ana", "k", 1)
    state.set_many("ana", {"a": 1})
    state.update_fields("ana", "obj", {"x": 1})
    for key in ("k", "a", "obj"):
        assert redis_client.pttl(state.schema.state("ana", key)) == -1


@pytest.mark.parametrize("publish_events", [True, False])
def test_ttl_is_set_in_the_same_round_trip(config, redis_client, round_trips, publish_events):
    state = StateStore(client=round_trips.client, config=config, publish_events=publish_events)
    state.set("warm", "up", 0)  # loads the script
    round_trips.count = 0
    assert state.set("ana", "k", {"a": 1}, ttl=60) is True
    assert round_trips.count == 1
    assert 59_000 < redis_client.pttl(state.schema.state("ana", "k")) <= 60_000
    round_trips.count = 0
    state.set_many("ana", {"a": 1, "b": 2}, ttl=timedelta(minutes=2))
    assert round_trips.count == 1
    for key in ("a", "b"):
        assert 119_000 < redis_client.pttl(state.schema.state("ana", key)) <= 120_000


def test_ttl_none_still_takes_the_policy_with_a_deprecation_warning(config, redis_client):
    state = StateStore(config=config.replace(ttl=TTLPolicy(state=30)))
    with pytest.warns(DeprecationWarning, match="leave ttl out for the default"):
        state.set("ana", "old-style", 1, ttl=None)
    assert 29_000 < redis_client.pttl(state.schema.state("ana", "old-style")) <= 30_000


def test_the_policy_ttl_is_the_default_and_ttl_none_means_never(config, redis_client):
    state = StateStore(config=config.replace(ttl=TTLPolicy(state=30)))
    pttl = lambda key: redis_client.pttl(state.schema.state("ana", key))  # noqa: E731
    state.set("ana", "policy", 1)
    assert 29_000 < pttl("policy") <= 30_000
    state.set("ana", "own", 1, ttl=TTL(5))
    assert 4_000 < pttl("own") <= 5_000
    state.set("ana", "forever", 1, ttl=TTL(None))
    assert pttl("forever") == -1
    state.set_many("ana", {"many": 1})
    assert 29_000 < pttl("many") <= 30_000
    state.update_fields("ana", "created", {"a": 1})
    assert 29_000 < pttl("created") <= 30_000
    # An update keeps the key's own TTL (KEEPTTL), whatever the policy.
    state.set("ana", "obj", {"a": 1}, ttl=500)
    state.update_fields("ana", "obj", {"b": 2})
    state.increment("ana", "obj", "c")
    assert 400_000 < pttl("obj") <= 500_000
    state.set("ana", "plain", {"a": 1}, ttl=TTL(None))
    state.update_fields("ana", "plain", {"b": 2})
    assert pttl("plain") == -1
    with pytest.raises(ValueError, match="positive"):
        state.set("ana", "bad", 1, ttl=-1)
    with pytest.raises(TypeError, match="ttl must be seconds"):
        state.set("ana", "bad", 1, ttl="60")
    assert state.get("ana", "bad") is None


def test_a_sliding_policy_renews_expiring_keys_on_read(config, redis_client):
    state = StateStore(config=config.replace(ttl=TTLPolicy(state=TTL(100, sliding=True))))
    state.set("ana", "k", 1, ttl=1)
    state.set("ana", "forever", 1, ttl=TTL(None))
    assert state.get("ana", "k") == 1
    assert redis_client.pttl(state.schema.state("ana", "k")) > 90_000
    state.set("ana", "k", 1, ttl=1)
    assert state.get_many("ana", ["k", "forever"]) == {"k": 1, "forever": 1}
    assert redis_client.pttl(state.schema.state("ana", "k")) > 90_000
    assert redis_client.pttl(state.schema.state("ana", "forever")) == -1


def test_only_if_absent(state, redis_client):
    assert state.set("ana", "lock", "first", only_if_absent=True) is True
    assert state.set("ana", "lock", "second", only_if_absent=True) is False
    assert state.get("ana", "lock") == "first"
    # NX and PX in one SET: a refused write leaves the existing TTL alone.
    assert state.set("ana", "lock", "third", ttl=10, only_if_absent=True) is False
    assert redis_client.pttl(state.schema.state("ana", "lock")) == -1
    assert state.set("ana", "fresh", "x", ttl=10, only_if_absent=True) is True
    assert 9_000 < redis_client.pttl(state.schema.state("ana", "fresh")) <= 10_000
    quiet = StateStore(config=state.config, publish_events=False)
    assert quiet.set("ana", "lock", "fourth", only_if_absent=True) is False
    assert quiet.set("ana", "quiet", "x", only_if_absent=True) is True


def test_only_if_absent_lets_one_of_many_threads_win(state):
    wins = []

    def claim(worker):
        if state.set("ana", "claim", worker, only_if_absent=True):
            wins.append(worker)

    threads = [threading.Thread(target=claim, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(wins) == 1
    assert state.get("ana", "claim") == wins[0]


# -- atomic field updates -------------------------------------------------------------------


def test_update_fields_merges_top_level_fields(state):
    assert state.update_fields("ana", "p", {"name": "Ana"}) == {"name": "Ana"}
    assert state.update_fields("ana", "p", {"lang": "pt", "nested": {"a": 1}}) == {
        "name": "Ana",
        "lang": "pt",
        "nested": {"a": 1},
    }
    # Top-level only: a nested dict is replaced, not merged; None stores null.
    assert state.update_fields("ana", "p", {"nested": {"b": 2}, "lang": None}) == {
        "name": "Ana",
        "lang": None,
        "nested": {"b": 2},
    }
    assert state.get("ana", "p") == {"name": "Ana", "lang": None, "nested": {"b": 2}}
    assert state.update_fields("ana", "p", {}) == state.get("ana", "p")
    assert state.update_fields("ana", "untouched", {}) == {}
    assert state.get("ana", "untouched") is None
    with pytest.raises(TypeError, match="field names must be str"):
        state.update_fields("ana", "p", {1: "x"})
    with pytest.raises(TypeError, match="mapping"):
        state.update_fields("ana", "p", [("a", 1)])


def test_update_fields_keeps_the_other_fields_byte_for_byte(state, redis_client):
    key = state.schema.state("ana", "doc")
    stored = (
        b' {"big": 12345678901234567, "empty": [], "obj": {}, "float": 1.0,'
        b' "tricky": "a\\"},{[\\\\", "z": 1, "a": [1, {"b": "]"}]}\n'
    )
    redis_client.set(key, stored)
    state.update_fields("ana", "doc", {"z": 2, "new": "x"})
    assert redis_client.get(key) == (
        b'{"big":12345678901234567,"empty":[],"obj":{},"float":1.0,'
        b'"tricky":"a\\"},{[\\\\","z":2,"a":[1, {"b": "]"}],"new":"x"}'
    )
    value = state.get("ana", "doc")
    assert value["big"] == 12345678901234567
    assert value["empty"] == []
    assert isinstance(value["float"], float)
    assert value["tricky"] == 'a"},{[\\'
    assert list(value) == ["big", "empty", "obj", "float", "tricky", "z", "a", "new"]


def _containers(children: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(children, max_size=4) | st.dictionaries(
        st.text(max_size=8), children, max_size=4
    )


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    _containers,
    max_leaves=12,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    stored=st.dictionaries(st.text(max_size=8), json_values, max_size=6),
    changes=st.dictionaries(st.text(max_size=8), json_values, max_size=4),
    indent=st.booleans(),
)
def test_update_fields_is_a_top_level_merge(state, redis_client, stored, changes, indent):
    key = state.schema.state("fuzz", "doc")
    redis_client.set(key, json.dumps(stored, indent=2 if indent else None))
    merged = {**stored, **changes}
    assert state.update_fields("fuzz", "doc", changes) == merged
    assert orjson.loads(redis_client.get(key)) == merged


def test_twenty_threads_updating_one_object_lose_no_field(state):
    state.set("ana", "shared", {"start": True})

    def update(worker):
        for i in range(25):
            state.update_fields("ana", "shared", {f"f{worker}": i, "last": worker})

    threads = [threading.Thread(target=update, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    value = state.get("ana", "shared")
    assert {f"f{w}": 24 for w in range(20)}.items() <= value.items()
    assert value["start"] is True
    assert len(value) == 22


def test_twenty_threads_incrementing_lose_no_increment(state):
    def bump(_worker):
        for _ in range(50):
            state.increment("ana", "counters", "hits")
            state.increment("ana", "counters", "score", 0.5)

    threads = [threading.Thread(target=bump, args=(w,)) for w in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert state.get("ana", "counters") == {"hits": 1000, "score": 500.0}


async def test_concurrent_async_updates_lose_nothing(astate):
    await asyncio.gather(
        *(astate.update_fields("ana", "shared", {f"f{w}": w}) for w in range(20)),
        *(astate.increment("ana", "shared", "n") for _ in range(20)),
    )
    value = await astate.get("ana", "shared")
    assert value == {**{f"f{w}": w for w in range(20)}, "n": 20}


def test_increment(state):
    assert state.increment("ana", "c", "n") == 1
    assert state.increment("ana", "c", "n", 41) == 42
    assert state.increment("ana", "c", "n", -50) == -8
    assert state.increment("ana", "c", "f", 0.1) == pytest.approx(0.1)
    assert state.increment("ana", "c", "f", 0.2) == 0.1 + 0.2
    assert isinstance(state.increment("ana", "c", "n", 2.0), float)
    assert state.increment("ana", "c", "big", 2**53 - 1) == 2**53 - 1
    with pytest.raises(ValueError, match="beyond what JSON numbers hold"):
        state.increment("ana", "c", "big")
    with pytest.raises(ValueError, match="smaller than 2"):
        state.increment("ana", "c", "n", 2**53)
    state.set("ana", "huge", {"n": 12345678901234567})
    with pytest.raises(ValueError, match="beyond what JSON numbers hold"):
        state.increment("ana", "huge", "n")
    assert state.get("ana", "huge") == {"n": 12345678901234567}
    state.set("ana", "text", {"s": "12", "b": True})
    for field in ("s", "b"):
        with pytest.raises(SerializationError, match=f"field '{field}' .* not a number"):
            state.increment("ana", "text", field)
    assert state.get("ana", "text") == {"s": "12", "b": True}
    with pytest.raises(TypeError, match="by must be an int or a float"):
        state.increment("ana", "c", "n", True)
    with pytest.raises(TypeError, match="by must be an int or a float"):
        state.increment("ana", "c", "n", Decimal(1))
    with pytest.raises(ValueError, match="finite"):
        state.increment("ana", "c", "n", float("inf"))
    with pytest.raises(TypeError, match="field name must be a str"):
        state.increment("ana", "c", 3)


@pytest.mark.parametrize(
    ("stored", "shown"), [(b"[1, 2]", "[1, 2]"), (b'"text"', '"text"'), (b"12", "12")]
)
def test_update_fields_refuses_a_value_that_is_not_an_object(state, redis_client, stored, shown):
    key = state.schema.state("ana", "v")
    redis_client.set(key, stored)
    with pytest.raises(SerializationError, match="not a JSON object") as raised:
        state.update_fields("ana", "v", {"a": 1})
    assert "'v'" in str(raised.value)
    assert shown in str(raised.value)
    with pytest.raises(SerializationError, match="not a JSON object"):
        state.increment("ana", "v", "a")
    assert redis_client.get(key) == stored


# -- errors ----------------------------------------------------------------------------------


def test_a_value_json_cannot_hold_writes_nothing(state, redis_client, config):
    for bad in (object(), {1j: 1}, {"a": {1, object()}}, 2**70):
        with pytest.raises(TypeError, match="state key 'k' cannot be stored"):
            state.set("ana", "k", bad)
        with pytest.raises(SerializationError, match="cannot be stored"):
            state.set_many("ana", {"ok": 1, "k": bad})
        with pytest.raises(SerializationError, match="field 'x' of state key 'o' cannot be"):
            state.update_fields("ana", "o", {"ok": 1, "x": bad})
    assert list(redis_client.scan_iter(match=f"{config.prefix}:*")) == []


def test_a_corrupt_value_is_a_serialization_error_naming_the_key(state, redis_client):
    key = state.schema.state("ana", "broken")
    redis_client.set(key, b"\x80not json{")
    for read in (
        lambda: state.get("ana", "broken"),
        lambda: state.get_many("ana", ["broken"]),
        lambda: dict(state.iter_items("ana")),
        lambda: state.update_fields("ana", "broken", {"a": 1}),
        lambda: state.increment("ana", "broken", "a"),
    ):
        with pytest.raises(SerializationError, match=re.escape(key)) as raised:
            read()
        assert "'broken'" in str(raised.value)
    assert state.get_bytes("ana", "broken") == b"\x80not json{"


def test_another_type_at_the_key_is_unexpected_data(state, redis_client):
    redis_client.rpush(state.schema.state("ana", "list"), "x")
    with pytest.raises(UnexpectedDataError, match="different type"):
        state.get("ana", "list")
    with pytest.raises(UnexpectedDataError, match="different type"):
        state.update_fields("ana", "list", {"a": 1})


@pytest.mark.parametrize(
    ("user_id", "key", "error"),
    [
        ("", "k", ValueError),
        ("ana", "", ValueError),
        ("x" * 513, "k", ValueError),
        ("ana", "é" * 257, ValueError),
        (None, "k", TypeError),
        ("ana", 3, TypeError),
    ],
)
def test_bad_ids_are_refused_before_any_round_trip(state, count_commands, user_id, key, error):
    with count_commands() as counted:
        for call in (
            lambda: state.get(user_id, key),
            lambda: state.set(user_id, key, 1),
            lambda: state.delete(user_id, key),
            lambda: state.get_many(user_id, [key]),
            lambda: state.set_many(user_id, {key: 1}),
            lambda: state.update_fields(user_id, key, {"a": 1}),
            lambda: state.increment(user_id, key, "a"),
        ):
            with pytest.raises(error):
                call()
    assert counted.total == 0, counted.by_name
    assert state.set("x" * 512, "y" * 512, 1) is True


def test_bad_paging_arguments(state):
    with pytest.raises(ValueError, match="count"):
        state.keys("ana", count=0)
    with pytest.raises(ValueError, match="cursor"):
        state.keys("ana", cursor=-1)


# -- escaping and isolation -----------------------------------------------------------------


ODD_KEYS = ["a:b", "a*", "*", "with space", "{tag}", "50%", "[x]", "tab\there", "naïve", "q?"]


def test_odd_keys_round_trip_and_list_unescaped(state, redis_client, config):
    state.set_many("ana", {key: key for key in ODD_KEYS})
    assert state.get_many("ana", ODD_KEYS) == {key: key for key in ODD_KEYS}
    assert sorted(state.iter_keys("ana")) == sorted(ODD_KEYS)
    assert sorted(state.iter_keys("ana", prefix="a")) == ["a*", "a:b"]
    assert list(state.iter_keys("ana", prefix="*")) == ["*"]
    assert list(state.iter_keys("ana", prefix="50%")) == ["50%"]
    raw = {key.decode() for key in redis_client.scan_iter(match=f"{config.prefix}:*")}
    assert f"{config.prefix}:state:{{ana}}:a%3Ab" in raw
    assert all(not set(key.split("{ana}:")[1]) & set(":*?[] {}") for key in raw)


def test_a_user_never_sees_another_users_keys(state):
    users = ["a", "a:b", "a*", "*", "a b", "{a}", "a}:{b"]
    for user in users:
        state.set(user, "k", user)
        state.set(user, "only " + user, 1)
    for user in users:
        assert state.get(user, "k") == user
        assert sorted(state.iter_keys(user)) == sorted(["k", "only " + user])
        assert dict(state.iter_items(user)) == {"k": user, "only " + user: 1}
    assert state.delete("a", "k", "only a:b", "only *") == 1
    assert state.get("a:b", "only a:b") == 1
    assert state.clear("*") == 2
    assert state.get("a", "only a") == 1


def test_paging_lists_every_key_once(state):
    state.set_many("ana", {f"k{i:04}": i for i in range(1200)})
    state.set_many("bob", {f"k{i:04}": i for i in range(50)})
    seen = []
    cursor, pages = 0, 0
    while True:
        cursor, page = state.keys("ana", cursor=cursor, count=100)
        seen += page
        pages += 1
        if cursor == 0:
            break
    assert pages > 1
    assert set(seen) == {f"k{i:04}" for i in range(1200)}
    listed = list(state.iter_keys("ana"))
    assert sorted(listed) == sorted(set(seen))
    assert len(listed) == 1200
    assert sorted(state.iter_keys("ana", prefix="k11")) == [f"k11{i:02}" for i in range(100)]


# -- events ------------------------------------------------------------------------------------


def test_changes_are_announced_with_ids_and_keys_never_values(state, redis_client, config):
    channel = state.channel("user:1")
    assert channel == f"{config.prefix}:events:state:{{user%3A1}}"
    sub = Subscriber(redis_client, channel)
    try:
        state.set("user:1", "secret", "s3cr3t-value")
        state.set("user:1", "secret", "other-value", only_if_absent=True)  # refused: no event
        state.set_many("user:1", {"a": "value-a", "b": "value-b"})
        state.update_fields("user:1", "profile", {"email": "ana@example.com"})
        state.increment("user:1", "profile", "visits")
        state.delete("user:1", "a", "missing", "b")
        state.delete("user:1", "missing")  # nothing existed: no event
        state.set("someone else", "k", 1)  # another user's channel
        events = sub.events()
    finally:
        sub.close()
    assert events == [
        {"event": "state", "user_id": "user:1", "op": "set", "keys": ["secret"]},
        {"event": "state", "user_id": "user:1", "op": "set", "keys": ["a", "b"]},
        {"event": "state", "user_id": "user:1", "op": "update", "keys": ["profile"]},
        {"event": "state", "user_id": "user:1", "op": "update", "keys": ["profile"]},
        {"event": "state", "user_id": "user:1", "op": "delete", "keys": ["a", "b"]},
    ]
    text = json.dumps(events)
    for value in ("s3cr3t", "value-a", "example.com"):
        assert value not in text


async def test_async_changes_are_announced(astate, redis_client):
    sub = Subscriber(redis_client, astate.channel("ana"))
    try:
        await astate.set("ana", "k", 1)
        await astate.delete("ana", "k")
        events = sub.events()
    finally:
        sub.close()
    assert [(e["op"], e["keys"]) for e in events] == [("set", ["k"]), ("delete", ["k"])]


def test_publish_events_false_announces_nothing(config, redis_client):
    quiet = StateStore(config=config, publish_events=False)
    sub = Subscriber(redis_client, quiet.channel("ana"))
    try:
        quiet.set("ana", "k", {"a": 1})
        quiet.set_many("ana", {"x": 1})
        quiet.set_many("ana", {"y": 1}, ttl=10)
        quiet.update_fields("ana", "k", {"b": 2})
        quiet.increment("ana", "k", "a")
        assert quiet.delete("ana", "k", "x", "y") == 3
        events = sub.events(wait=0.3)
    finally:
        sub.close()
    assert events == []


# -- budgets -----------------------------------------------------------------------------------


@pytest.mark.parametrize("publish_events", [True, False])
def test_budgets(config, count_commands, round_trips, publish_events):
    state = StateStore(client=round_trips.client, config=config, publish_events=publish_events)
    state.set("warm", "up", {"a": 0})  # loads the scripts
    state.update_fields("warm", "up", {"b": 1})
    state.delete("warm", "up")
    state.set_many("ana", {f"k{i}": i for i in range(100)})

    round_trips.count = 0
    with count_commands() as get:
        state.get("ana", "k1")
    assert round_trips.count == 1
    assert get.by_name == {"get": 1}

    round_trips.count = 0
    with count_commands() as get_many:
        assert len(state.get_many("ana", [f"k{i}" for i in range(100)])) == 100
    assert round_trips.count == 1
    assert get_many.by_name == {"mget": 1}

    round_trips.count = 0
    with count_commands() as set_one:
        state.set("ana", "k", 1, ttl=60, only_if_absent=True)
    assert round_trips.count == 1
    expected = {"evalsha": 1, "set": 1, "publish": 1} if publish_events else {"set": 1}
    assert set_one.by_name == expected

    round_trips.count = 0
    with count_commands() as set_many:
        state.set_many("ana", {f"m{i}": i for i in range(10)})
    assert round_trips.count == 1
    expected = {"multi": 1, "mset": 1, "publish": 1, "exec": 1} if publish_events else {"mset": 1}
    assert set_many.by_name == expected

    round_trips.count = 0
    with count_commands() as set_many_ttl:
        state.set_many("ana", {f"t{i}": i for i in range(10)}, ttl=60)
    assert round_trips.count == 1
    assert set_many_ttl.by_name == {
        "multi": 1,
        "set": 10,
        "exec": 1,
        **({"publish": 1} if publish_events else {}),
    }

    round_trips.count = 0
    with count_commands() as update:
        state.update_fields("ana", "obj", {"a": 1})
    assert round_trips.count == 1
    assert update.by_name == {
        "evalsha": 1,
        "get": 1,
        "set": 1,
        **({"publish": 1} if publish_events else {}),
    }

    round_trips.count = 0
    with count_commands() as delete:
        state.delete("ana", "k1", "k2")
    assert round_trips.count == 1
    if publish_events:
        assert delete.by_name == {"evalsha": 1, "unlink": 2, "publish": 1}
    else:
        assert delete.by_name == {"unlink": 1}


def test_the_keys_of_one_user_share_a_hash_slot(state):
    keys = [state.schema.state("user:7", key) for key in ("a", "b:c", "d e", "*", "{x}")]
    assert len({key_slot(key.encode()) for key in keys}) == 1
    other = state.schema.state("user:8", "a")
    assert key_slot(other.encode()) != key_slot(keys[0].encode())


# -- docs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [StateStore, AsyncStateStore])
def test_docstring_examples_run(cls):
    blocks = code_blocks(cls.__doc__)
    assert blocks
    assert all('url="embedded"' in block for block in blocks)
    for block in blocks:
        run_example(block)


def test_module_uses_the_configured_prefix(redis_client, redis_url):
    state = StateStore(config=RedisMemoryConfig(url=redis_url, prefix="tstateprefix"))
    try:
        state.set("ana", "k", 1)
        assert redis_client.get("tstateprefix:state:{ana}:k") == b"1"
    finally:
        redis_client.delete("tstateprefix:state:{ana}:k")


def test_users_lists_each_user_with_state_once(state, config, redis_client):
    assert list(state.iter_users()) == []
    state.set("ana", "a", 1)
    state.set("ana", "b", 2)
    state.set("user:{7}", "a", 1)
    redis_client.set(f"{config.prefix}:session:{{x}}:messages", "1")
    assert sorted(state.iter_users()) == ["ana", "user:{7}"]
    cursor, page = state.users(count=1)
    assert isinstance(cursor, int)
    assert set(page) <= {"ana", "user:{7}"}

    async def users() -> list[str]:
        return [user async for user in AsyncStateStore(config=config).iter_users()]

    assert sorted(asyncio.run(users())) == ["ana", "user:{7}"]
