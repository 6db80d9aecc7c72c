"""The work queue (redis_memory.workqueue), sync and async, against real Redis."""

from __future__ import annotations

import asyncio
import threading

import pytest
from _waiting import wait_until

from redis_memory import SerializationError
from redis_memory.workqueue import AsyncWorkQueue, Job, PendingSummary, WorkQueue, queue_key

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


@pytest.fixture
def q(config):
    return WorkQueue("jobs", config=config)


@pytest.fixture
def aq(config):
    return AsyncWorkQueue("jobs", config=config)


def test_the_stream_key(config, q):
    assert q.key == f"{config.prefix}:queue:{{jobs}}"
    assert queue_key("p", "a:b}") == "p:queue:{a%3Ab%7D}"
    with pytest.raises(ValueError, match="queue name"):
        WorkQueue("", config=config)


def test_put_get_ack(q, redis_client):
    ids = [q.put({"n": n}) for n in range(3)]
    assert ids == sorted(ids)
    assert redis_client.xlen(q.key) == 3

    first = q.get("w", count=2)
    assert [job.payload for job in first] == [{"n": 0}, {"n": 1}]
    assert [job.id for job in first] == ids[:2]
    assert all(isinstance(job, Job) and job.deliveries == 1 for job in first)
    [last] = q.get("w", count=5)
    assert last.payload == {"n": 2}
    assert q.get("w") == []

    assert q.pending() == PendingSummary(3, ids[0], ids[2], {"w": 3})
    assert q.ack(*first) == 2
    assert q.ack(first[0]) == 0  # already acked
    assert q.ack(last.id) == 1
    assert q.pending() == PendingSummary(0, None, None, {})


def test_jobs_put_before_any_consumer_are_delivered(q, config):
    q.put({"early": True})
    late = WorkQueue("jobs", config=config)
    assert [job.payload for job in late.get("w")] == [{"early": True}]


def test_an_empty_queue(q):
    assert q.pending() == PendingSummary(0, None, None, {})  # no stream, no group yet
    assert q.reclaim("w", min_idle_ms=0) == []
    assert q.resume("w") == []
    assert q.get("w") == []
    assert q.get("w", block_ms=20) == []


def test_each_job_goes_to_one_consumer(config):
    producer = WorkQueue("jobs", config=config)
    for n in range(60):
        producer.put({"n": n})
    taken: dict[str, list[int]] = {}
    barrier = threading.Barrier(6)

    def consume(name: str) -> None:
        queue = WorkQueue("jobs", config=config)  # its own object: group creation races too
        barrier.wait()
        mine = taken.setdefault(name, [])
        while jobs := queue.get(name, count=3):
            mine.extend(job.payload["n"] for job in jobs)
            queue.ack(*jobs)

    threads = [threading.Thread(target=consume, args=(f"w{i}",)) for i in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    everything = [n for numbers in taken.values() for n in numbers]
    assert sorted(everything) == list(range(60))
    assert producer.pending().count == 0


def test_a_group_another_consumer_created_first_is_fine(q, config, redis_client):
    other = WorkQueue("jobs", config=config)
    other._drive(other._groups.create_flow(other.group))  # as if another consumer won the race
    q._drive(q._groups.create_flow(q.group))  # BUSYGROUP: tolerated
    assert [g["name"] for g in redis_client.xinfo_groups(q.key)] == [b"workers"]
    q.put({"n": 1})
    assert [job.payload for job in q.get("w")] == [{"n": 1}]


def test_groups_each_get_every_job(config):
    WorkQueue("jobs", config=config).put({"x": 1})
    indexers = WorkQueue("jobs", config=config, group="indexers")
    auditors = WorkQueue("jobs", config=config, group="auditors")
    assert [job.payload for job in indexers.get("i")] == [{"x": 1}]
    assert [job.payload for job in auditors.get("a")] == [{"x": 1}]


def test_a_dead_consumers_job_is_reclaimed_by_another(q):
    q.put({"task": "summarize"})
    [taken] = q.get("crashed")  # ... and the consumer dies without acking
    assert q.reclaim("rescuer", min_idle_ms=3_600_000) == []  # not idle that long
    [again] = q.reclaim("rescuer", min_idle_ms=0)
    assert (again.id, again.payload, again.deliveries) == (taken.id, taken.payload, 2)
    assert q.pending().consumers == {"rescuer": 1}
    assert q.get("rescuer") == []  # a reclaimed job is not new
    assert q.ack(again) == 1
    assert q.pending().count == 0


def test_nothing_is_lost_across_a_consumer_restart(config):
    before = WorkQueue("jobs", config=config)
    for n in range(10):
        before.put({"n": n})
    half = before.get("w1", count=5)
    before.ack(half[0])
    # the process restarts: a new object, the same consumer name
    after = WorkQueue("jobs", config=config)
    resumed = after.resume("w1")
    assert [job.payload["n"] for job in resumed] == [1, 2, 3, 4]
    assert all(job.deliveries == 2 for job in resumed)
    rest = after.get("w1", count=100)
    assert [job.payload["n"] for job in rest] == [5, 6, 7, 8, 9]
    assert after.ack(*resumed, *rest) == 9
    assert after.resume("w1") == []
    assert after.pending().count == 0


def test_resume_skips_and_acks_jobs_trimmed_from_the_stream(q, redis_client):
    kept, dropped = q.put({"n": 1}), q.put({"n": 2})
    q.get("w", count=2)
    redis_client.xdel(q.key, dropped)
    assert [job.id for job in q.resume("w")] == [kept]
    assert q.pending().count == 1


def test_a_payload_json_cannot_hold_writes_nothing(q, redis_client):
    with pytest.raises(TypeError) as caught:
        q.put({"bad": object()})
    assert isinstance(caught.value, SerializationError)
    with pytest.raises(TypeError, match="dict"):
        q.put(["not", "a", "dict"])
    assert redis_client.exists(q.key) == 0


def test_a_foreign_entry_is_a_clear_error(q, redis_client):
    redis_client.xadd(q.key, {"payload": b"not json"})
    with pytest.raises(SerializationError, match="not a job"):
        q.get("w")
    redis_client.xadd(q.key, {"other": b"1"})
    with pytest.raises(SerializationError, match="payload"):
        q.get("w")


def test_arguments_are_checked(q, config):
    with pytest.raises(ValueError, match="consumer name"):
        q.get("")
    with pytest.raises(ValueError, match="count"):
        q.get("w", count=0)
    with pytest.raises(ValueError, match="block_ms"):
        q.get("w", block_ms=-1)
    with pytest.raises(ValueError, match="min_idle_ms"):
        q.reclaim("w", min_idle_ms=-1)
    with pytest.raises(TypeError, match="at least one"):
        q.ack()
    with pytest.raises(TypeError, match="job ids"):
        q.ack(7)
    with pytest.raises(ValueError, match="maxlen"):
        WorkQueue("jobs", config=config, maxlen=0)


def test_the_stream_is_capped(config, redis_client):
    small = WorkQueue("jobs", config=config, maxlen=10)
    for n in range(500):
        small.put({"n": n})
    assert 10 <= redis_client.xlen(small.key) < 500
    unbounded = WorkQueue("all", config=config, maxlen=None)
    for n in range(300):
        unbounded.put({"n": n})
    assert redis_client.xlen(unbounded.key) == 300


def test_a_blocked_get_wakes_up_for_a_new_job(q, config):
    q.get("w")  # creates the group
    got: list[Job] = []
    waiting = threading.Thread(target=lambda: got.extend(q.get("w", block_ms=30_000)))
    waiting.start()
    WorkQueue("jobs", config=config).put({"wake": "up"})
    waiting.join()
    assert [job.payload for job in got] == [{"wake": "up"}]


def test_long_blocking_waits_stay_under_the_socket_timeout(config):
    # A 0.5 s socket timeout and a 1.5 s wait: the read goes in slices, never timing out.
    short = WorkQueue("jobs", config=config.replace(socket_timeout=0.5, retries=0))
    assert short.get("w", block_ms=1500) == []
    got: list[Job] = []
    waiting = threading.Thread(target=lambda: got.extend(short.get("w", block_ms=0)))
    waiting.start()
    WorkQueue("jobs", config=config).put({"n": 1})
    waiting.join()
    assert [job.payload for job in got] == [{"n": 1}]


def test_budgets(config, count_commands, round_trips):
    q = WorkQueue("jobs", client=round_trips.client, config=config)
    with count_commands() as put:
        q.put({"n": 1})
    assert put.by_name == {"xadd": 1}
    q.get("w")  # the first get creates the group
    q.put({"n": 2})
    round_trips.count = 0
    with count_commands() as get:
        [job] = q.get("w")
    assert round_trips.count == 1
    assert get.by_name == {"xreadgroup": 1}
    with count_commands() as ack:
        q.ack(job)
    assert ack.by_name == {"xack": 1}
    q.reclaim("x", min_idle_ms=0)
    round_trips.count = 0
    q.reclaim("y", min_idle_ms=0)
    q.resume("y")
    q.pending()
    assert round_trips.count == 3


async def test_async_work_queue(aq, config):
    assert await aq.get("w") == []
    ids = [await aq.put({"n": n}) for n in range(3)]
    jobs = await aq.get("w", count=2, block_ms=100)
    assert [job.id for job in jobs] == ids[:2]
    assert await aq.ack(jobs[0]) == 1

    restarted = AsyncWorkQueue("jobs", config=config)
    [resumed] = await restarted.resume("w")
    assert (resumed.id, resumed.deliveries) == (ids[1], 2)
    assert await restarted.ack(resumed) == 1

    [dead] = await aq.get("dies")
    assert dead.id == ids[2]
    assert await aq.reclaim("alive", min_idle_ms=3_600_000) == []
    [reclaimed] = await aq.reclaim("alive", min_idle_ms=0)
    assert (reclaimed.id, reclaimed.payload, reclaimed.deliveries) == (dead.id, {"n": 2}, 2)
    summary = await restarted.pending()
    assert (summary.count, summary.consumers) == (1, {"alive": 1})
    assert await restarted.ack(reclaimed) == 1

    with pytest.raises(TypeError):
        await aq.put({"x": {1j}})
    assert await aq.get("w", block_ms=20) == []
    got = asyncio.create_task(aq.get("w", block_ms=30_000))
    await AsyncWorkQueue("jobs", config=config).put({"wake": "up"})
    assert [job.payload for job in await got] == [{"wake": "up"}]


def test_by_default_the_queue_never_trims_jobs_nobody_received(config):
    queue = WorkQueue("backlog", config=config)
    queue.get("warm")  # creates the group, as a consumer would before the burst
    for i in range(300):
        queue.put({"i": i})
    received = []
    while jobs := queue.get("worker", count=100):
        received += [job.payload["i"] for job in jobs]
        queue.ack(*jobs)
    assert received == list(range(300))


def test_reclaim_reaches_idle_jobs_behind_busy_ones(config):
    queue = WorkQueue("deep", config=config)
    for i in range(160):
        queue.put({"i": i})
    dead = queue.get("dead", count=160)
    assert len(dead) == 160
    # Polled until the jobs are idle for 200 ms; no timing is asserted.
    busy = wait_until(
        lambda: queue.reclaim("live", min_idle_ms=200, count=150),
        attempts=200,
        pause=0.05,
        what="idle jobs to reclaim",
    )
    assert len(busy) == 150
    # Now 150 freshly reclaimed (busy) jobs come first; 10 idle ones lie behind them.
    rescued = wait_until(
        lambda: queue.reclaim("rescuer", min_idle_ms=200, count=10),
        attempts=200,
        pause=0.05,
        what="the idle jobs behind the busy ones",
    )
    assert len(rescued) == 10


def test_ack_checks_its_ids(config):
    queue = WorkQueue("ids", config=config)
    for bad in ("not-an-id", ""):
        with pytest.raises(ValueError, match="stream id"):
            queue.ack(bad)
