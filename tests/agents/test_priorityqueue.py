"""The priority queue between agents (redis_memory.priorityqueue), sync and async.

Against the real Redis of the fixtures (one server, or a cluster with
``--redis-cluster``): priorities, delays, leases that run out, 16 threads racing
for the same tasks, events, the holds index and the round trips each call costs.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import random
import threading
from collections import Counter
from datetime import timedelta

import pytest
import redis
from _waiting import wait_until, wait_until_async
from redis.crc import key_slot

from redis_memory import RedisMemoryConfig, RedisUnavailableError, SerializationError, _holds
from redis_memory.errors import UnexpectedDataError
from redis_memory.priorityqueue import (
    MAX_PRIORITY,
    MIN_PRIORITY,
    AsyncPriorityQueue,
    Lease,
    PriorityQueue,
    QueuedTask,
    TaskInfo,
)

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

WORKERS = 16
TASKS = 500
HOSTILE = [
    "-",
    "a:b",
    "{x}",
    "}{",
    "*",
    "?",
    "[a-z]",
    "back\\slash",
    "100%",
    "with space",
    "ünï 字",
    "tab\tnl\n",
]


def on_cluster(client) -> bool:
    return isinstance(client, redis.RedisCluster)


@pytest.fixture
def q(config):
    return PriorityQueue("jobs", config=config)


@pytest.fixture
def aq(config):
    return AsyncPriorityQueue("jobs", config=config)


# -- order ------------------------------------------------------------------------------
def test_highest_priority_first_and_first_in_first_out_within_a_priority(q):
    puts = [("low-1", 0), ("high-1", 5), ("low-2", 0), ("neg", -3), ("high-2", 5), ("top", 9)]
    for name, priority in puts:
        q.put({"name": name}, priority=priority, task_id=name)
    order = []
    while (task := q.take("w")) is not None:
        order.append(task.id)
        assert task.payload == {"name": task.id}
        assert task.attempts == 1
        assert task.worker == "w"
        assert task.queue == "jobs"
        assert q.ack(task) is True
    assert order == ["top", "high-1", "high-2", "low-1", "low-2", "neg"]


def test_the_extreme_priorities_keep_their_order(q):
    q.put("min", priority=MIN_PRIORITY)
    q.put("max-a", priority=MAX_PRIORITY)
    q.put("max-b", priority=MAX_PRIORITY)
    q.put("max-1", priority=MAX_PRIORITY - 1)
    q.put("min+1", priority=MIN_PRIORITY + 1)
    taken = q.take_many("w", 10)
    assert [t.payload for t in taken] == ["max-a", "max-b", "max-1", "min+1", "min"]
    assert [t.priority for t in taken] == [2**20, 2**20, 2**20 - 1, -(2**20) + 1, -(2**20)]


def test_take_many_and_an_empty_queue(q):
    assert q.take("w") is None
    assert q.take_many("w", 3) == []
    for i in range(5):
        q.put(i, priority=i % 2)
    first = q.take_many("w", 3, lease=60)
    assert [t.payload for t in first] == [1, 3, 0]
    assert len({t.id for t in first}) == 3
    assert {t.token for t in first} == {first[0].token}  # one lease per call, per task
    assert [t.payload for t in q.take_many("w", 10)] == [2, 4]
    assert all(q.ack(t) for t in first)


def test_payloads_are_any_json_value_read_back_equal(q):
    values = [{"a": [1, 2.5, None, True]}, [1, "two"], "text", 3, None, {"ünï": "字"}]
    for value in values:
        q.put(value)
    assert [q.take("w").payload for _ in values] == values


# -- leases -----------------------------------------------------------------------------
def test_ack_only_with_the_lease_that_holds(q):
    q.put("x", task_id="t")
    task = q.take("w")
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 1}
    assert q.ack(task) is True
    assert q.ack(task) is False  # done already
    assert q.get("t") is None
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 0}


def test_a_dead_workers_task_comes_back_with_its_attempts_counted(config):
    dying = PriorityQueue("jobs", config=config, lease=0.2)
    other = PriorityQueue("jobs", config=config)
    dying.put({"job": 1}, task_id="j1")
    lost = dying.take("dying-worker")
    assert lost.attempts == 1
    assert lost.expires_at > 0
    assert other.take("other") is None  # leased: nobody else gets it

    again = wait_until(lambda: other.take("other"))  # once the lease ran out
    assert (again.id, again.payload, again.attempts, again.worker) == ("j1", {"job": 1}, 2, "other")
    assert again.token != lost.token
    assert dying.ack(lost) is False  # the stale lease: the task is someone else's now
    assert dying.nack(lost) is False
    assert dying.extend(lost) is False
    assert other.get("j1").worker == "other"
    assert other.ack(again) is True


def test_an_expired_lease_is_over_even_before_anyone_takes_the_task(config):
    q = PriorityQueue("jobs", config=config)
    q.put("x", task_id="t")
    task = q.take("w", lease=0.05)
    wait_until(lambda: q.get("t").state == "ready")
    assert q.counts() == {"ready": 1, "delayed": 0, "leased": 0}
    assert q.extend(task) is False
    assert q.ack(task) is False
    assert q.take("w").attempts == 2


def test_extend_keeps_the_lease(q):
    q.put("x", task_id="t")
    task = q.take("w", lease=0.3)
    assert q.extend(task, lease=timedelta(seconds=60)) is True
    info = q.get("t")
    assert info.state == "leased"
    assert info.worker == "w"
    assert info.expires_at - task.expires_at > 50  # server time, both
    assert q.take("other") is None
    assert q.ack(task) is True


def test_nack_gives_the_task_back_now_or_after_a_delay(q):
    q.put("x", task_id="t", priority=3)
    q.put("y", task_id="u", priority=1)
    task = q.take("w")
    assert task.id == "t"
    assert q.nack(task) is True
    assert q.nack(task) is False  # that lease is over
    again = q.take("w")
    assert (again.id, again.attempts) == ("t", 2)

    assert q.nack(again, delay=60) is True
    info = q.get("t")
    assert info.state == "delayed"
    assert info.due_at is not None
    assert info.worker is None
    assert q.counts() == {"ready": 1, "delayed": 1, "leased": 0}
    assert q.take("w").id == "u"  # t waits out its delay
    assert q.take("w") is None

    assert q.requeue("t") is True  # an operator does not want to wait
    assert q.take("w").attempts == 3


# -- delays -----------------------------------------------------------------------------
def test_a_delayed_task_is_not_handed_out_before_its_time(q):
    q.put("later", task_id="later", delay=60)
    q.put("soon", task_id="soon", delay=timedelta(milliseconds=50), priority=-1)
    q.put("now", task_id="now", priority=-5)
    assert q.get("later").state == "delayed"
    assert q.take("w").id == "now"
    soon = wait_until(lambda: q.take("w"))
    assert soon.id == "soon"
    assert q.take("w") is None
    assert q.counts() == {"ready": 0, "delayed": 1, "leased": 2}
    later = q.get("later")
    assert later.due_at is not None
    assert later.due_at > soon.expires_at


def test_a_delay_of_zero_is_no_delay(q):
    q.put("x", delay=0)
    assert q.take("w").payload == "x"


# -- requeue, get, counts, leased, clear -----------------------------------------------
def test_requeue_cancels_the_lease_and_can_change_the_priority(q):
    q.put("a", task_id="a", priority=1)
    q.put("b", task_id="b", priority=2)
    held = q.take("w")
    assert held.id == "b"
    assert q.requeue("b", priority=0) is True
    assert q.ack(held) is False  # its lease was cancelled
    assert q.get("b") == TaskInfo("b", "b", 0, 1, "ready")
    assert q.requeue("a", priority=7) is True  # a ready task can be re-prioritized
    assert [t.id for t in q.take_many("w", 5)] == ["a", "b"]
    assert q.requeue("missing") is False
    assert q.requeue("a", delay=60) is True
    assert q.get("a").state == "delayed"


def test_get_counts_and_leased(q):
    assert q.get("nothing") is None
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 0}
    assert q.leased() == []
    q.put({"k": 1}, task_id="r", priority=4)
    q.put({"k": 2}, task_id="d", delay=60)
    q.put({"k": 3}, task_id="l", priority=9)
    q.put({"k": 4}, task_id="l2", priority=8)
    first = q.take("alice", lease=60)
    second = q.take("bob", lease=30)
    assert q.get("r") == TaskInfo("r", {"k": 1}, 4, 0, "ready")
    assert q.get("l") == TaskInfo("l", {"k": 3}, 9, 1, "leased", "alice", first.expires_at)
    assert q.get("d").state == "delayed"
    assert q.counts() == {"ready": 1, "delayed": 1, "leased": 2}
    assert q.leased() == [
        Lease("l2", "bob", 1, second.expires_at),
        Lease("l", "alice", 1, first.expires_at),
    ]
    assert q.leased(limit=1) == [Lease("l2", "bob", 1, second.expires_at)]
    with pytest.raises(ValueError, match="limit"):
        q.leased(limit=0)

    assert q.clear() == 4
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 0}
    assert q.ack(first) is False
    assert q.clear() == 0


def test_put_with_a_task_id_is_idempotent(q):
    assert q.put({"v": 1}, task_id="same", priority=1) == "same"
    assert q.put({"v": 2}, task_id="same", priority=9, delay=60) == "same"
    assert q.get("same") == TaskInfo("same", {"v": 1}, 1, 0, "ready")
    task = q.take("w")
    assert q.put({"v": 3}, task_id="same") == "same"  # leased: still the same task
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 1}
    assert q.ack(task)
    assert q.put({"v": 4}, task_id="same") == "same"  # done: a new task of that id
    assert q.take("w").payload == {"v": 4}
    generated = {q.put(i) for i in range(20)}
    assert len(generated) == 20
    assert all(len(g) == 32 for g in generated)


# -- names, ids and bad input -----------------------------------------------------------
@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_queue_names_and_task_ids_stay_in_their_queue(config, redis_client, name):
    q = PriorityQueue(name, config=config)
    neighbour = PriorityQueue(name + "x", config=config)
    long_id = "é" * 256  # 512 bytes of UTF-8
    for i, task_id in enumerate([*HOSTILE, long_id]):
        assert q.put({"i": i}, task_id=task_id, priority=-i) == task_id
    neighbour.put("n", task_id=name)
    taken = q.take_many(name, 100)
    assert [t.id for t in taken] == [*HOSTILE, long_id]
    assert all(t.worker == name for t in taken)
    assert q.get(long_id).worker == name
    assert {lease.task_id for lease in q.leased()} == {*HOSTILE, long_id}
    assert all(q.ack(t) for t in taken)
    assert neighbour.take("w").id == name

    stem = config.keys.pqueue(name)
    keys = {k.decode() for k in redis_client.scan_iter(match=f"{config.prefix}:*")}
    ours = {k for k in keys if k.startswith(stem + ":")}
    assert {key_slot(k.encode()) for k in ours} == {key_slot(stem.encode())}
    assert keys - ours <= {config.keys.holds()} | {
        k for k in keys if k.startswith(config.keys.pqueue(name + "x") + ":")
    }


def test_bad_input_is_a_clear_error(q, config):
    for bad in ("", "é" * 257):
        with pytest.raises(ValueError, match="task id"):
            q.put(1, task_id=bad)
        with pytest.raises(ValueError, match="worker id"):
            q.take(bad)
        with pytest.raises(ValueError, match="queue name"):
            PriorityQueue(bad, config=config)
    with pytest.raises(TypeError, match="task id"):
        q.put(1, task_id=7)
    with pytest.raises(TypeError, match="worker id"):
        q.take(None)
    with pytest.raises(TypeError, match=r"priority.*-1048576 to 1048576"):
        q.put(1, priority=True)
    with pytest.raises(TypeError, match="priority"):
        q.put(1, priority=1.5)
    with pytest.raises(ValueError, match="-1048576 to 1048576"):
        q.put(1, priority=MAX_PRIORITY + 1)
    with pytest.raises(ValueError, match="delay"):
        q.put(1, delay=-1)
    with pytest.raises(ValueError, match="delay"):
        q.put(1, delay=float("nan"))
    for lease in (0, -1, float("inf"), timedelta(0), "30"):
        with pytest.raises(ValueError, match="lease"):
            q.take("w", lease=lease)
    with pytest.raises(ValueError, match="lease"):
        PriorityQueue("x", config=config, lease=0)
    with pytest.raises(ValueError, match="count"):
        q.take_many("w", 0)
    with pytest.raises(SerializationError, match="payload cannot be queued"):
        q.put({"when": object()})
    with pytest.raises(SerializationError):
        q.put({1: "int keys read back as str"})
    assert q.counts() == {"ready": 0, "delayed": 0, "leased": 0}  # nothing was queued

    q.put("x")
    task = q.take("w")
    other = PriorityQueue("other", config=config)
    with pytest.raises(ValueError, match="taken from queue 'jobs', not 'other'"):
        other.ack(task)
    with pytest.raises(TypeError, match="QueuedTask"):
        q.ack(task.id)
    with pytest.raises(ValueError, match="delay"):
        q.nack(task, delay=-1)
    assert q.ack(task) is True


def test_damaged_data_is_named(q, redis_client):
    q.put("x", task_id="t")
    redis_client.hset(q.key + ":meta", "t", "not a task")
    with pytest.raises(UnexpectedDataError, match="unreadable entry for task t"):
        q.get("t")
    with pytest.raises(UnexpectedDataError, match="unreadable entry for task t"):
        q.take("w")


# -- the holds index ----------------------------------------------------------------------
def test_leases_are_listed_in_the_holds_index(q, redis_client, config):
    holds = config.keys.holds()
    q.put("x", task_id="a:b")
    q.put("y", task_id="c")
    task = q.take("w 1", lease=60)
    member = _holds.member(_holds.LEASE, "a:b", "w 1", queue="jobs")
    assert redis_client.zscore(holds, member) == pytest.approx(task.expires_at * 1000, abs=50)
    held = _holds.parse(member, task.expires_at * 1000, int(task.expires_at * 1000) - 60_000)
    assert (held.kind, held.name, held.holder) == ("lease", "jobs/a:b", "w 1")

    assert q.extend(task, lease=120)
    assert redis_client.zscore(holds, member) > task.expires_at * 1000 + 30_000
    assert q.ack(task)
    assert redis_client.zscore(holds, member) is None

    other = q.take("w2")
    member2 = _holds.member(_holds.LEASE, "c", "w2", queue="jobs")
    assert redis_client.zscore(holds, member2) is not None
    assert q.nack(other)
    assert redis_client.zscore(holds, member2) is None
    other = q.take("w2")
    assert q.requeue("c")
    assert redis_client.zscore(holds, member2) is None
    q.take("w2")
    assert q.clear() == 1
    assert redis_client.zcard(holds) == 0


def test_a_lost_lease_leaves_the_holds_index(q, redis_client, config):
    q.put("x", task_id="t")
    q.take("gone", lease=0.05)
    member = _holds.member(_holds.LEASE, "t", "gone", queue="jobs")
    assert redis_client.zscore(config.keys.holds(), member) is not None
    wait_until(lambda: q.take("next"))
    assert redis_client.zscore(config.keys.holds(), member) is None


# -- events -------------------------------------------------------------------------------
def _events(pubsub, *, until_quiet: float = 0.3):
    """Every event that arrives until none has for ``until_quiet`` seconds."""
    events = []
    while True:
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=until_quiet)
        if message is None:
            return events
        events.append(json.loads(message["data"]))


def _subscribed(redis_client, channel):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(channel)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    return pubsub


def test_each_change_publishes_one_event(q, redis_client, config):
    assert q.channel == config.keys.channel("tasks")
    pubsub = _subscribed(redis_client, q.channel)
    try:
        q.put("x", task_id="t:1")
        q.put("x", task_id="t:1")  # a repeat changes nothing: no event
        task = q.take("w 1")
        q.take("nobody")  # nothing ready: no event
        q.extend(task)  # no event
        q.nack(task)
        task = q.take("w 1")
        q.ack(task)
        q.ack(task)  # stale: no event
        q.put("y", task_id="u", delay=60)
        q.requeue("u")
        q.take("w2", lease=0.05)
        wait_until(lambda: q.counts()["ready"])
        q.take_many("w3", 2)
        q.get("u")
        q.counts()
        q.leased()

        def event(kind, task_id, worker=None):
            return {"event": kind, "queue": "jobs", "task_id": task_id, "worker": worker}

        assert _events(pubsub) == [
            event("queued", "t:1"),
            event("taken", "t:1", "w 1"),
            event("nacked", "t:1", "w 1"),
            event("taken", "t:1", "w 1"),
            event("acked", "t:1", "w 1"),
            event("queued", "u"),
            event("requeued", "u"),
            event("taken", "u", "w2"),
            event("lease_expired", "u", "w2"),
            event("taken", "u", "w3"),
        ]
        quiet = PriorityQueue("jobs", config=config, publish_events=False)
        quiet.put("z")
        quiet.ack(quiet.take("w"))
        assert _events(pubsub) == []
    finally:
        pubsub.close()


# -- budgets --------------------------------------------------------------------------------
def test_one_round_trip_per_operation(config, count_commands, round_trips):
    cluster = on_cluster(round_trips.client)
    q = PriorityQueue("budget", client=round_trips.client, config=config)
    # Load the scripts (the first call of each sends it in full).
    q.put("warm", task_id="warm")
    warm = q.take("w")
    q.extend(warm)
    q.nack(warm)
    q.ack(q.take("w"))
    q.requeue("none")
    q.get("none")
    q.counts()
    q.leased()
    q.clear()

    def trips(call, expected_trips):
        round_trips.count = 0
        with count_commands() as counted:
            result = call()
        assert round_trips.count == expected_trips, call
        return result, counted.by_name

    # One script each; on a cluster the holds index takes a second round trip.
    holding = 2 if cluster else 1
    _, put = trips(lambda: q.put({"n": 1}, task_id="a"), 1)
    assert put.get("evalsha") == 1
    assert "eval" not in put
    task, take = trips(lambda: q.take("w"), holding)
    assert take.get("evalsha") == holding
    assert "eval" not in take
    if not cluster:
        assert take == {
            "evalsha": 1, "time": 1, "zrange": 2, "zremrangebyscore": 1, "zpopmax": 1,
            "hget": 2, "hset": 1, "zadd": 2, "publish": 1,
        }  # fmt: skip
    trips(lambda: q.extend(task), holding)
    trips(lambda: q.nack(task), holding)
    task = q.take("w")
    _, ack = trips(lambda: q.ack(task), holding)
    if not cluster:
        assert ack == {
            "evalsha": 1, "time": 1, "hget": 1, "zrem": 2, "hdel": 2, "publish": 1,
        }  # fmt: skip
    trips(lambda: q.ack(task), 1)  # refused: nothing to index
    trips(lambda: q.take("w"), 1)  # nothing ready
    q.put("b", task_id="b")
    trips(lambda: q.requeue("b", priority=3), 1)
    trips(lambda: q.get("b"), 1)
    trips(q.counts, 1)
    trips(q.leased, 1)
    trips(lambda: q.take_many("w", 1), holding)


# -- concurrency ----------------------------------------------------------------------------
def test_16_workers_take_500_tasks_each_exactly_once_in_priority_order(config, redis_client):
    rng = random.Random(7)
    producer = PriorityQueue("race", config=config)
    pubsub = _subscribed(redis_client, producer.channel)
    try:
        expected = []  # the order every take must follow: priority, then first in first out
        for i in range(TASKS):
            priority = rng.randrange(5)
            producer.put({"i": i}, priority=priority, task_id=f"t{i}")
            expected.append((-priority, i, f"t{i}"))
        expected_order = [task_id for _, _, task_id in sorted(expected)]
        taken = _race(config, WORKERS)
        every = [task for tasks in taken.values() for task in tasks]
        # Each task handed out exactly once, none lost, each at its first attempt.
        assert Counter(task.id for task in every) == Counter(expected_order)
        assert all(task.attempts == 1 for task in every)
        assert sum(1 for tasks in taken.values() if tasks) > 1  # the work was shared
        # Each worker's takes follow the queue's order...
        position = {task_id: n for n, task_id in enumerate(expected_order)}
        for tasks in taken.values():
            assert [position[t.id] for t in tasks] == sorted(position[t.id] for t in tasks)
        # ...and so do all takes, in the order Redis ran them (its events say which):
        # no task was taken while one of a higher priority, or put earlier, was ready.
        events = _events(pubsub, until_quiet=1.0)
        assert [e["task_id"] for e in events if e["event"] == "taken"] == expected_order
        counted = Counter(e["event"] for e in events)
        assert counted == {"queued": TASKS, "taken": TASKS, "acked": TASKS}
    finally:
        pubsub.close()
    assert producer.counts() == {"ready": 0, "delayed": 0, "leased": 0}


def _race(config, workers: int) -> dict[str, list[QueuedTask]]:
    """``workers`` threads, each with its own queue object, take and ack until none is left."""
    barrier = threading.Barrier(workers)
    taken: dict[str, list[QueuedTask]] = {}
    errors: list[BaseException] = []

    def work(name: str) -> None:
        q = PriorityQueue("race", config=config)
        mine = taken.setdefault(name, [])
        try:
            barrier.wait()
            while (task := q.take(name)) is not None:
                mine.append(task)
                assert q.ack(task), task
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return taken


def test_racing_for_lost_leases_hands_each_out_once(config):
    q = PriorityQueue("lost", config=config)
    for i in range(40):
        q.put(i, task_id=f"t{i}")
    assert len(q.take_many("dead", 40, lease=0.05)) == 40
    wait_until(lambda: q.counts()["ready"] >= 40)
    got: list[QueuedTask] = []
    lock = threading.Lock()

    def work(n: int) -> None:
        mine = PriorityQueue("lost", config=config)
        while (task := mine.take(f"w{n}", lease=60)) is not None:
            with lock:
                got.append(task)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(t.id for t in got) == sorted(f"t{i}" for i in range(40))
    assert {t.attempts for t in got} == {2}


# -- async ----------------------------------------------------------------------------------
async def test_async_twin(aq):
    await aq.put({"n": 1}, task_id="one", priority=1)
    await aq.put({"n": 2}, task_id="two", priority=2)
    await aq.put({"n": 3}, task_id="three", delay=60)
    task = await aq.take("w")
    assert (task.id, task.payload, task.attempts) == ("two", {"n": 2}, 1)
    assert await aq.extend(task, lease=60) is True
    assert await aq.nack(task) is True
    assert await aq.ack(task) is False
    [again, other] = await aq.take_many("w", 5)
    assert (again.id, again.attempts, other.id) == ("two", 2, "one")
    assert await aq.ack(again) is True
    assert await aq.counts() == {"ready": 0, "delayed": 1, "leased": 1}
    assert [lease.task_id for lease in await aq.leased()] == ["one"]
    assert (await aq.get("three")).state == "delayed"
    assert await aq.requeue("three", priority=5) is True
    assert (await aq.take("w")).id == "three"
    assert await aq.clear() == 2


async def test_async_takers_share_the_tasks_exactly_once(config):
    producer = AsyncPriorityQueue("shared", config=config)
    for i in range(60):
        await producer.put(i, priority=i % 3)

    async def worker(n: int) -> list[QueuedTask]:
        q = AsyncPriorityQueue("shared", config=config)
        mine = []
        while (task := await q.take(f"a{n}")) is not None:
            mine.append(task)
            assert await q.ack(task)
        return mine

    results = await asyncio.gather(*(worker(n) for n in range(8)))
    payloads = [t.payload for tasks in results for t in tasks]
    assert sorted(payloads) == list(range(60))
    for tasks in results:
        priorities = [t.priority for t in tasks]
        assert priorities == sorted(priorities, reverse=True)


async def test_async_lost_lease_comes_back(config):
    q = AsyncPriorityQueue("jobs", config=config)
    await q.put("x", task_id="t")
    lost = await q.take("dead", lease=0.05)
    again = await wait_until_async(
        lambda: q.take("alive"), what="the lost lease's task to come back"
    )
    assert (again.id, again.attempts) == ("t", 2)
    assert await q.ack(lost) is False
    assert await q.ack(again) is True


def test_sync_and_async_have_the_same_public_methods():
    def public(cls):
        return {
            name: inspect.signature(member).parameters.keys()
            for name, member in inspect.getmembers(cls, callable)
            if not name.startswith("_")
        }

    sync, asynchronous = public(PriorityQueue), public(AsyncPriorityQueue)
    assert sync.keys() == asynchronous.keys()
    assert {"put", "take", "take_many", "ack", "nack", "extend", "requeue"} <= sync.keys()
    for name in sync:
        assert list(sync[name]) == list(asynchronous[name]), name
        assert inspect.iscoroutinefunction(getattr(AsyncPriorityQueue, name)), name


# -- Redis down -------------------------------------------------------------------------------
def test_redis_down_is_a_clear_error_naming_the_url(config):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
    q = PriorityQueue("jobs", config=down)
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1.*taking a task"):
        q.take("w")
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1.*queueing a task.*task_id="):
        q.put("x")


async def test_async_redis_down_is_a_clear_error(config):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1.*counting tasks"):
        await AsyncPriorityQueue("jobs", config=down).counts()
