"""Agent coordination (redis_memory.coordination): claims, findings, locks, events.

Against the real Redis of the fixtures: threads, asyncio tasks and spawned
processes race for the same task, and exactly one wins.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import threading
import time

import pytest
import redis
from _waiting import wait_until, wait_until_async

from redis_memory import (
    TTL,
    RedisMemoryConfig,
    RedisUnavailableError,
    SerializationError,
    TTLPolicy,
)
from redis_memory.coordination import (
    AsyncClaims,
    AsyncDistributedLock,
    AsyncFindings,
    Claims,
    DistributedLock,
    Finding,
    Findings,
    LockError,
    LockLostError,
    LockTimeoutError,
)

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

ATTEMPTS = 100
PROCESSES = 8


@pytest.fixture
def claims(config):
    return Claims(config=config)


@pytest.fixture
def aclaims(config):
    return AsyncClaims(config=config)


@pytest.fixture
def findings(config):
    return Findings(config=config)


# -- claims: basics -------------------------------------------------------------------
def test_claim_owner_extend_release(claims, redis_client, config):
    assert claims.owner("t1") is None
    assert claims.claim("t1", "agent-a") is True
    assert claims.claim("t1", "agent-b") is False
    assert claims.claim("t1", "agent-a") is False  # a claim is not re-entrant either
    assert claims.owner("t1") == "agent-a"
    assert redis_client.get(config.keys.task_owner("t1")) == b"agent-a"

    assert claims.extend("t1", "agent-b") is False
    assert claims.release("t1", "agent-b") is False
    assert claims.owner("t1") == "agent-a"

    assert claims.extend("t1", "agent-a", ttl=120) is True
    assert 60_000 < redis_client.pttl(config.keys.task_owner("t1")) <= 120_000
    assert claims.release("t1", "agent-a") is True
    assert claims.owner("t1") is None
    assert claims.release("t1", "agent-a") is False
    assert claims.claim("t1", "agent-b") is True


def test_claim_ttl_default_and_overrides(config, redis_client):
    key = config.keys.task_owner
    claims = Claims(config=config)
    claims.claim("default", "a")
    assert 0 < redis_client.pttl(key("default")) <= 60_000
    claims.claim("given", "a", ttl=5)
    assert 0 < redis_client.pttl(key("given")) <= 5_000

    forever = Claims(config=config.replace(ttl=TTLPolicy(claims=None)))
    forever.claim("forever", "a")
    assert redis_client.pttl(key("forever")) == -1
    assert forever.extend("forever", "a", ttl=TTL(30)) is True
    assert 0 < redis_client.pttl(key("forever")) <= 30_000
    assert forever.extend("forever", "a", ttl=TTL(None)) is True
    assert redis_client.pttl(key("forever")) == -1


def test_ids_and_owners_are_checked(claims):
    with pytest.raises(ValueError, match="task id"):
        claims.claim("", "a")
    with pytest.raises(TypeError, match="owner"):
        claims.claim("t", 42)
    with pytest.raises(ValueError, match="owner"):
        claims.release("t", "")
    with pytest.raises(ValueError, match="TTL"):
        claims.claim("t", "a", ttl=-1)
    assert claims.owner("t") is None


def test_task_ids_cannot_reach_other_keys(claims, redis_client, config):
    assert claims.claim("a}:owner", "x")
    assert claims.claim("a", "y")
    assert claims.owner("a}:owner") == "x"
    assert claims.owner("a") == "y"
    keys = {k.decode() for k in redis_client.scan_iter(match=f"{config.prefix}:*")}
    owners = {config.keys.task_owner("a}:owner"), config.keys.task_owner("a")}
    assert keys == owners | {config.keys.holds()}


# -- claims: races ----------------------------------------------------------------------
def test_one_of_100_threads_wins(config):
    claims = Claims(config=config)
    barrier = threading.Barrier(ATTEMPTS)
    results: dict[str, bool] = {}

    def attempt(owner: str) -> None:
        barrier.wait()
        results[owner] = claims.claim("race", owner)

    threads = [threading.Thread(target=attempt, args=(f"t{i}",)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [owner for owner, won in results.items() if won]
    assert len(results) == ATTEMPTS
    assert len(winners) == 1
    assert claims.owner("race") == winners[0]


async def test_one_of_100_tasks_wins(aclaims):
    owners = [f"task{i}" for i in range(ATTEMPTS)]
    results = await asyncio.gather(*(aclaims.claim("race", owner) for owner in owners))
    winners = [owner for owner, won in zip(owners, results, strict=True) if won]
    assert len(winners) == 1
    assert await aclaims.owner("race") == winners[0]


def _claim_in_process(url, prefix, owners, barrier, results):
    """Runs in a spawned process: race for the task with one thread per owner."""
    claims = Claims(config=RedisMemoryConfig(url=url, prefix=prefix))
    claims.owner("warm-up")  # connect before the race starts
    inner = threading.Barrier(len(owners))
    won: dict[str, bool] = {}

    def attempt(owner):
        inner.wait()
        won[owner] = claims.claim("race", owner)

    threads = [threading.Thread(target=attempt, args=(owner,)) for owner in owners]
    barrier.wait()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.put(won)


def test_one_of_100_attempts_in_8_spawned_processes_wins(redis_url, prefix):
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(PROCESSES)
    results = context.Queue()
    owners = [[f"p{p}-{i}" for i in range(p, ATTEMPTS, PROCESSES)] for p in range(PROCESSES)]
    processes = [
        context.Process(target=_claim_in_process, args=(redis_url, prefix, mine, barrier, results))
        for mine in owners
    ]
    for process in processes:
        process.start()
    try:
        merged: dict[str, bool] = {}
        for _ in processes:
            merged.update(results.get(timeout=90))
    finally:
        for process in processes:
            process.join(timeout=30)
    assert [process.exitcode for process in processes] == [0] * PROCESSES
    assert len(merged) == ATTEMPTS
    winners = [owner for owner, won in merged.items() if won]
    assert len(winners) == 1
    assert (
        Claims(config=RedisMemoryConfig(url=redis_url, prefix=prefix)).owner("race") == (winners[0])
    )


# -- claims: expiry ----------------------------------------------------------------------
def test_an_expired_claim_cannot_be_extended_or_released_by_its_old_owner(claims):
    assert claims.claim("t", "old", ttl=0.05)
    wait_until(lambda: claims.owner("t") is None)
    assert claims.extend("t", "old") is False
    assert claims.release("t", "old") is False
    assert claims.owner("t") is None

    assert claims.claim("t", "new", ttl=60)
    assert claims.extend("t", "old", ttl=0.05) is False
    assert claims.release("t", "old") is False
    assert claims.owner("t") == "new"
    assert claims.extend("t", "new") is True
    assert claims.release("t", "new") is True


async def test_async_expired_claim_stays_with_the_new_owner(aclaims, redis_client, config):
    assert await aclaims.claim("t", "old", ttl=0.05)

    async def expired() -> bool:
        return await aclaims.owner("t") is None

    await wait_until_async(expired, what="the claim to expire")
    assert await aclaims.extend("t", "old") is False
    assert await aclaims.claim("t", "new")
    assert await aclaims.extend("t", "old", ttl=0.05) is False
    assert await aclaims.release("t", "old") is False
    assert await aclaims.owner("t") == "new"
    assert redis_client.pttl(config.keys.task_owner("t")) > 1000


# -- claims: claim_any ----------------------------------------------------------------------
def test_claim_any_takes_the_first_free_task(claims):
    assert claims.claim("b", "other")
    assert claims.claim_any(["b", "c", "d"], "me") == "c"
    assert claims.claim_any(["b", "c", "d"], "me") == "d"
    assert claims.claim_any(["b", "c", "d"], "me") is None
    assert claims.claim_any([], "me") is None
    assert claims.claim_any((t for t in ["d", "e"]), "me") == "e"
    assert [claims.owner(t) for t in "bcde"] == ["other", "me", "me", "me"]
    with pytest.raises(TypeError, match="list"):
        claims.claim_any("bcd", "me")


def test_claim_any_one_task_at_a_time_as_on_a_cluster(claims, count_commands):
    # On Redis Cluster the tasks live in different slots: the flow claims one by one.
    def claim_any(ids):
        flow = claims._claim_any_flow(ids, "me", None, cluster=True)
        reply = None
        try:
            while True:
                reply = claims._run(flow.send(reply))
        except StopIteration as done:
            return done.value

    assert claims.claim("a", "other")
    with count_commands() as counted:
        assert claim_any(["a", "b", "c"]) == "b"
    assert counted.by_name["set"] == 2
    assert claim_any(["a", "b"]) is None
    assert claims.owner("c") is None


async def test_async_claim_any_among_many_agents(aclaims):
    tasks = [f"job{i}" for i in range(10)]
    got = await asyncio.gather(*(aclaims.claim_any(tasks, f"agent{i}") for i in range(15)))
    claimed = [task for task in got if task is not None]
    assert sorted(claimed) == sorted(tasks)  # each task went to exactly one agent
    assert got.count(None) == 5


# -- events -----------------------------------------------------------------------------
def _next_event(pubsub):
    for _ in range(200):
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=0.05)
        if message is not None:
            return json.loads(message["data"])
    pytest.fail("no event arrived")


def test_claim_and_release_publish_events(claims, redis_client, config):
    assert claims.channel == f"{config.prefix}:events:tasks"
    pubsub = redis_client.pubsub()
    pubsub.subscribe(claims.channel)
    try:
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"
        claims.claim("t", "a")
        claims.claim("t", "b")  # lost: no event
        claims.release("t", "b")  # not the owner: no event
        claims.release("t", "a")
        claims.claim_any(["t"], "c")
        assert _next_event(pubsub) == {"event": "claimed", "task_id": "t", "owner": "a"}
        assert _next_event(pubsub) == {"event": "released", "task_id": "t", "owner": "a"}
        assert _next_event(pubsub) == {"event": "claimed", "task_id": "t", "owner": "c"}
    finally:
        pubsub.close()


async def test_async_events_and_quiet_claims(config, redis_client):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(config.keys.channel("tasks"))
    try:
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"
        quiet = AsyncClaims(config=config, publish_events=False)
        await quiet.claim("q", "a")
        await quiet.release("q", "a")
        loud = AsyncClaims(config=config)
        await loud.claim("l", "a")
        assert _next_event(pubsub) == {"event": "claimed", "task_id": "l", "owner": "a"}
    finally:
        pubsub.close()


# -- budgets ------------------------------------------------------------------------------
@pytest.mark.standalone_only  # a cluster indexes the claim in a second round trip
def test_budgets_claim_and_release(config, count_commands, round_trips):
    indexing = {"time": 1, "zremrangebyscore": 1, "zadd": 1}
    quiet = Claims(client=round_trips.client, config=config, publish_events=False)
    with count_commands() as plain:
        assert quiet.claim("q", "a")
    assert plain.by_name == {"evalsha": 1, "set": 1, **indexing}

    claims = Claims(client=round_trips.client, config=config)
    claims.claim("warm", "a")  # loads the scripts
    claims.release("warm", "a")
    claims.extend("warm", "a")
    round_trips.count = 0
    with count_commands() as claim:
        assert claims.claim("t", "a")
    assert round_trips.count == 1
    assert claim.by_name == {"evalsha": 1, "set": 1, "publish": 1, **indexing}

    round_trips.count = 0
    with count_commands() as release:
        assert claims.release("t", "a")
    assert round_trips.count == 1
    assert release.by_name == {
        "evalsha": 1, "get": 1, "del": 1, "publish": 1, "time": 1, "zremrangebyscore": 1, "zrem": 1
    }  # fmt: skip

    round_trips.count = 0
    with count_commands() as refused:
        assert not claims.release("t", "a")
    assert round_trips.count == 1
    assert refused.by_name == {"evalsha": 1, "get": 1}

    round_trips.count = 0
    claims.owner("t")
    claims.claim_any(["x", "y"], "a")
    assert round_trips.count == 2


# -- findings ------------------------------------------------------------------------------
def test_findings_keep_order_authors_and_time(findings):
    assert findings.list("t") == []
    assert findings.add("t", {"revenue": 12}, author="analyst") == 1
    assert findings.add("t", "a note") == 2
    assert findings.add("t", [1, 2, 3], author="coder") == 3
    listed = findings.list("t")
    assert [f.value for f in listed] == [{"revenue": 12}, "a note", [1, 2, 3]]
    assert [f.author for f in listed] == ["analyst", None, "coder"]
    assert all(isinstance(f, Finding) and isinstance(f.ts, float) for f in listed)
    assert listed[0].ts <= listed[1].ts <= listed[2].ts
    assert [f.value for f in findings.list("t", last=2)] == ["a note", [1, 2, 3]]
    assert findings.count("t") == 3
    assert findings.clear("t") == 3
    assert findings.count("t") == 0


def test_findings_are_capped(config, redis_client):
    capped = Findings(config=config, max_findings=5)
    counts = [capped.add("t", i) for i in range(8)]
    assert counts == [1, 2, 3, 4, 5, 5, 5, 5]
    assert redis_client.llen(config.keys.task_findings("t")) == 5
    assert [f.value for f in capped.list("t")] == [3, 4, 5, 6, 7]
    assert [f.value for f in capped.list("t", last=50)] == [3, 4, 5, 6, 7]
    with pytest.raises(ValueError, match="max_findings"):
        Findings(config=config, max_findings=0)
    with pytest.raises(ValueError, match="last"):
        capped.list("t", last=0)


def test_findings_json_errors(findings, redis_client, config):
    with pytest.raises(SerializationError) as caught:
        findings.add("t", object(), author="a")
    assert isinstance(caught.value, TypeError)
    with pytest.raises(TypeError, match="author"):
        findings.add("t", "x", author=7)
    assert redis_client.exists(config.keys.task_findings("t")) == 0  # nothing written

    redis_client.rpush(config.keys.task_findings("t"), b"not json")
    with pytest.raises(SerializationError, match="not a finding"):
        findings.list("t")
    redis_client.delete(config.keys.task_findings("t"))
    redis_client.rpush(config.keys.task_findings("t"), b'{"role": "user"}')
    with pytest.raises(SerializationError, match="not a finding"):
        findings.list("t")


def test_findings_ttl(config, redis_client):
    key = config.keys.task_findings("t")
    Findings(config=config).add("t", 1)
    assert 0 < redis_client.pttl(key) <= 60_000  # the claims TTL by default
    Findings(config=config, ttl=None).add("u", 1)
    assert redis_client.pttl(config.keys.task_findings("u")) == -1
    Findings(config=config, ttl=3600).add("t", 2)
    assert 60_000 < redis_client.pttl(key) <= 3_600_000


def test_findings_from_many_threads_lose_nothing(findings):
    def add(author: str) -> None:
        for i in range(25):
            findings.add("shared", i, author=author)

    threads = [threading.Thread(target=add, args=(f"agent{n}",)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    listed = findings.list("shared")
    assert len(listed) == 200
    for n in range(8):
        assert [f.value for f in listed if f.author == f"agent{n}"] == list(range(25))


def test_findings_add_is_one_round_trip_with_its_ttl_and_event(config, count_commands, round_trips):
    findings = Findings(client=round_trips.client, config=config)
    with count_commands() as add:
        findings.add("t", {"x": 1}, author="a")
    assert round_trips.count == 1
    # On a cluster the PUBLISH inside MULTI goes through a one-line script (see _plan.py).
    on_cluster = isinstance(round_trips.client, redis.RedisCluster)
    assert add.by_name == {
        "multi": 1,
        "rpush": 1,
        "ltrim": 1,
        "pexpire": 2,
        "publish": 1,
        "exec": 1,
        **({"eval": 1} if on_cluster else {}),
    }


def test_findings_publish_an_event(findings, redis_client):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(findings.channel)
    try:
        assert pubsub.get_message(timeout=1)["type"] == "subscribe"
        findings.add("t", {"secret": "not in the event"}, author="a")
        assert _next_event(pubsub) == {"event": "finding", "task_id": "t", "author": "a"}
    finally:
        pubsub.close()


async def test_async_findings(config):
    findings = AsyncFindings(config=config, max_findings=3)
    for i in range(4):
        await findings.add("t", {"i": i}, author="bot")
    assert await findings.count("t") == 3
    assert [f.value["i"] for f in await findings.list("t")] == [1, 2, 3]
    assert [f.value["i"] for f in await findings.list("t", last=1)] == [3]
    with pytest.raises(TypeError):
        await findings.add("t", {1, object()})
    assert await findings.clear("t") == 3


# -- lock --------------------------------------------------------------------------------
def _count_under_lock(make_lock, *, threads=8, rounds=50):
    counter = {"n": 0}

    def work():
        lock = make_lock()
        for _ in range(rounds):
            with lock:
                seen = counter["n"]
                time.sleep(0)  # let another thread run: a lost update, if the lock fails
                counter["n"] = seen + 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return counter["n"]


def test_lock_mutual_exclusion_across_objects(config):
    assert _count_under_lock(lambda: DistributedLock("counter", config=config, ttl=30)) == 400


def test_lock_mutual_exclusion_one_shared_object(config):
    shared = DistributedLock("counter", config=config, ttl=30)
    assert _count_under_lock(lambda: shared) == 400
    assert not shared.locked()


def test_lock_basics(config, redis_client):
    lock = DistributedLock("job", config=config, ttl=30)
    assert lock.key == config.keys.lock("job")
    assert not lock.locked()
    assert not lock.owned()
    with lock as held:
        assert held is lock
        assert lock.locked()
        assert lock.owned()
        assert 0 < redis_client.pttl(lock.key) <= 30_000
        assert lock.extend(100)
        assert 30_000 < redis_client.pttl(lock.key) <= 100_000
        with pytest.raises(LockError, match="reentrant"):
            lock.acquire()
    assert not lock.locked()
    assert lock.release() is False  # not held


def test_lock_default_ttl_is_the_claims_ttl(config, redis_client):
    lock = DistributedLock("d", config=config)
    assert lock.ttl == TTL(60)
    with lock:
        assert 0 < redis_client.pttl(lock.key) <= 60_000


def test_lock_not_acquired_in_time(config):
    holder = DistributedLock("busy", config=config, ttl=30)
    waiter = DistributedLock("busy", config=config, blocking_timeout=0.05)
    assert holder.acquire()
    try:
        with pytest.raises(LockTimeoutError, match="busy"), waiter:
            pytest.fail("the lock was acquired twice")
        assert waiter.acquire(blocking=False) is False
        assert waiter.acquire(blocking_timeout=0) is False
        assert holder.owned()
        assert not waiter.owned()
    finally:
        assert holder.release()
    assert waiter.acquire(blocking=False)
    assert waiter.release()


def test_an_expired_lock_release_leaves_the_new_owners_lock(config):
    old = DistributedLock("shared", config=config, ttl=0.05)
    new = DistributedLock("shared", config=config, ttl=30)
    assert old.acquire()
    wait_until(lambda: not old.locked())
    assert new.acquire(blocking=False)
    assert old.extend() is False
    assert old.release() is False
    assert new.owned()
    assert new.locked()
    assert new.release() is True


def test_a_with_block_that_outlived_its_lock_raises_and_spares_the_new_owner(config):
    old = DistributedLock("shared", config=config, ttl=0.05)
    new = DistributedLock("shared", config=config, ttl=30)
    with pytest.raises(LockLostError, match="expired"), old:
        wait_until(lambda: not new.locked())
        assert new.acquire(blocking=False)
    assert new.owned()
    assert new.release()


def test_lock_budgets(config, count_commands, round_trips):
    lock = DistributedLock("b", client=round_trips.client, config=config, ttl=30)
    with lock:
        pass  # loads the release script
    round_trips.count = 0
    with count_commands() as acquire:
        assert lock.acquire()
    assert acquire.by_name == {"set": 1}
    with count_commands() as release:
        assert lock.release()
    assert round_trips.count == 2
    assert release.by_name == {"evalsha": 1, "get": 1, "del": 1}


async def test_async_lock_mutual_exclusion_and_expiry(config):
    shared = AsyncDistributedLock("counter", config=config, ttl=30)
    counter = {"n": 0}

    async def work():
        for _ in range(20):
            async with shared:
                seen = counter["n"]
                await asyncio.sleep(0)
                counter["n"] = seen + 1

    await asyncio.gather(*(work() for _ in range(8)))
    assert counter["n"] == 160
    assert not await shared.locked()

    old = AsyncDistributedLock("shared", config=config, ttl=0.05)
    new = AsyncDistributedLock("shared", config=config, ttl=30)
    with pytest.raises(LockLostError):
        async with old:
            await wait_until_async(
                lambda: new.acquire(blocking=False), what="the expired lock to be free"
            )
    assert await new.owned()
    assert await old.release() is False
    assert await new.release() is True


async def test_async_lock_timeout(config):
    holder = AsyncDistributedLock("busy", config=config, ttl=30)
    waiter = AsyncDistributedLock("busy", config=config, blocking_timeout=0.05)
    assert await holder.acquire()
    with pytest.raises(LockTimeoutError):
        async with waiter:
            pytest.fail("the lock was acquired twice")
    assert await holder.extend(60)
    assert await holder.release()


def test_lock_errors_name_the_server(config):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
    lock = DistributedLock("x", config=down)
    with pytest.raises(RedisUnavailableError, match=r"127\.0\.0\.1:1.*acquiring a lock"):
        lock.acquire()


def test_lock_arguments_are_checked(config):
    with pytest.raises(ValueError, match="lock name"):
        DistributedLock("", config=config)
    with pytest.raises(ValueError, match="blocking_timeout"):
        DistributedLock("x", config=config, blocking_timeout=-1)
    with pytest.raises(ValueError, match="sleep"):
        DistributedLock("x", config=config, sleep=0)


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_a_lock_whose_acquire_times_out_gives_its_token_back(config, redis_client):
    # A SET NX whose reply is lost must not leave the lock held by nobody: the
    # holder that never learned it won releases its token once Redis answers.
    from redis_memory.errors import RedisUnavailableError

    slow = config.replace(socket_timeout=0.05, retries=0)
    lock = DistributedLock("paused", config=slow)
    redis_client.execute_command("CLIENT", "PAUSE", 300, "WRITE")
    with pytest.raises(RedisUnavailableError, match="may still have been applied"):
        lock.acquire(blocking=False)
    # The pause ends; whatever the SET did, the lock must be free again for others.
    deadline_lock = DistributedLock("paused", config=config, ttl=5)
    assert deadline_lock.acquire(blocking=True, blocking_timeout=5)
    deadline_lock.release()
