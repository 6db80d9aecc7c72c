"""The distributed rate limiter (redis_memory.ratelimit) and its LangChain face, on real Redis."""

from __future__ import annotations

import asyncio
import itertools
import math
import multiprocessing
import os
import time

import pytest
from _examples import code_blocks, run_example
from _waiting import wait_until
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage
from langchain_core.rate_limiters import BaseRateLimiter

from langchain_redis_memory.rate_limiter import RedisRateLimiter
from redis_memory import RedisMemoryConfig
from redis_memory.errors import UnexpectedDataError
from redis_memory.ratelimit import AsyncRateLimit, RateLimit, RateLimitResult
from redis_memory.ttl import MAX_SECONDS

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

# A rate so low that no token comes back while a test runs (one per ~11.5 days).
NEVER = 1e-6


def server_time_us(redis_client) -> int:
    seconds, micros = redis_client.time()
    return seconds * 1_000_000 + micros


# -- the key property: never more than the rate, across 8 processes -----------------------------

PROCESSES = 8
RATE = 50.0  # tokens per second
CAPACITY = 10.0
RUN_US = 2_000_000  # how long the processes hammer the bucket, by the server's clock
MAX_ATTEMPTS = 200_000  # per process: a bound even if the clock misbehaved


def _hammer(url, prefix, name, ready, start, deadline, results):
    """One process: try_acquire in a tight loop, noting each admission's server time."""
    limit = RateLimit(
        name, rate=RATE, capacity=CAPACITY, config=RedisMemoryConfig(url=url, prefix=prefix)
    )
    limit.available()  # connect and load the script before the race starts
    ready.put(os.getpid())
    if not start.wait(120):
        results.put((os.getpid(), 0, []))
        return
    admitted, attempts = [], 0
    while attempts < MAX_ATTEMPTS:
        result = limit.attempt()  # try_acquire(), plus the server time of the attempt
        attempts += 1
        if result.admitted:
            admitted.append(result.server_time_us)
        if result.server_time_us >= deadline.value:
            break
    results.put((os.getpid(), attempts, admitted))


def test_eight_processes_never_get_more_than_the_rate(redis_url, prefix, redis_client):
    ctx = multiprocessing.get_context("spawn")
    ready, results = ctx.Queue(), ctx.Queue()
    start, deadline = ctx.Event(), ctx.Value("q", 0)
    processes = [
        ctx.Process(
            target=_hammer, args=(redis_url, prefix, "shared", ready, start, deadline, results)
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    try:
        for _ in processes:
            ready.get(timeout=120)
        begun = server_time_us(redis_client)
        deadline.value = begun + RUN_US
        start.set()
        outcomes = [results.get(timeout=120) for _ in processes]
    finally:
        start.set()
        for process in processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
    assert all(process.exitcode == 0 for process in processes)

    stamps = sorted(stamp for _, _, admitted in outcomes for stamp in admitted)
    attempts = sum(n for _, n, _ in outcomes)
    total = len(stamps)
    elapsed_us = stamps[-1] - stamps[0]

    def bound(span_us: int) -> float:
        """The token bucket's exact bound on admissions within span_us of server time."""
        return CAPACITY + RATE * span_us / 1_000_000

    # Admissions in any window of 1 s, by the server's clock (whose time each
    # admission carries): never more than capacity + rate * 1 s.
    busiest = max(
        sum(1 for other in stamps[i:] if other - stamp <= 1_000_000)
        for i, stamp in enumerate(stamps)
    )
    print(
        f"\n{PROCESSES} processes, rate {RATE:g}/s, capacity {CAPACITY:g}: {attempts} attempts, "
        f"{total} admitted over {elapsed_us / 1e6:.6f} server s (bound {bound(elapsed_us):.2f}); "
        f"busiest 1 s window {busiest} (bound {bound(1_000_000):g}); admitted per process "
        f"{sorted(len(admitted) for _, _, admitted in outcomes)}"
    )
    # Compared in whole microsecond-tokens, so that no float rounding decides a tie.
    whole = int(CAPACITY) * 1_000_000, int(RATE)
    assert busiest <= bound(1_000_000)
    assert total * 1_000_000 <= whole[0] + whole[1] * elapsed_us
    # And between every pair of admissions, not only over windows of 1 s.
    for i, first in enumerate(stamps):
        for j in range(i + 1, total):
            assert (j - i + 1) * 1_000_000 <= whole[0] + whole[1] * (stamps[j] - first)
    # The race was real: the processes were refused far more often than admitted,
    # the bucket refilled, and the admissions went to several processes.
    assert attempts > 10 * total
    assert total > CAPACITY
    assert sum(1 for _, _, admitted in outcomes if admitted) >= 2
    assert stamps[0] >= begun


# -- sync engine ---------------------------------------------------------------------------------


def test_try_acquire_drains_the_bucket_then_refuses(config, redis_client):
    limit = RateLimit("api", rate=NEVER, capacity=3, config=config)
    assert [limit.try_acquire() for _ in range(4)] == [True, True, True, False]
    assert limit.acquire(blocking=False) is False
    assert limit.try_acquire(0.5) is False  # what is left is a few millionths of a token
    assert 0 <= limit.available() < 0.01
    fields = redis_client.hgetall(f"{config.prefix}:ratelimit:api")
    assert set(fields) == {b"tokens", b"last"}
    assert 0 <= float(fields[b"tokens"]) < 0.01


def test_a_new_bucket_is_full_and_tokens_can_be_fractions(config):
    limit = RateLimit("burst", rate=NEVER, capacity=2.5, config=config)
    assert limit.available() == 2.5
    first = limit.attempt(2)
    assert first.admitted
    assert first.remaining == pytest.approx(0.5, abs=1e-4)
    assert first.retry_after == 0
    assert limit.try_acquire(0.5)
    refused = limit.attempt(1)
    assert not refused.admitted
    # A whole token at a millionth of a token per second: about a million seconds.
    assert refused.retry_after == pytest.approx(1e6, rel=1e-3)
    assert refused.server_time_us >= first.server_time_us


def test_the_default_capacity_is_max_of_one_and_the_rate(config):
    assert RateLimit("a", rate=5, config=config).capacity == 5
    assert RateLimit("a", rate=0.2, config=config).capacity == 1
    fast = RateLimit("fast", rate=4, config=config)
    assert [fast.try_acquire() for _ in range(5)].count(True) == 4


def test_blocking_acquire_sleeps_what_the_server_says_then_succeeds(config, round_trips):
    limit = RateLimit("slow", rate=4, capacity=1, client=round_trips.client, config=config)
    assert limit.try_acquire()  # loads the script too
    round_trips.count = 0
    refused = limit.attempt()
    assert not refused.admitted
    assert 0 < refused.retry_after <= 0.25
    round_trips.count = 0
    assert limit.acquire() is True
    # One refusal that says how long to wait, one admission after sleeping that long:
    # no polling.
    assert round_trips.count == 2
    assert limit.available() < 1


def test_acquire_gives_up_at_the_timeout(config, round_trips):
    limit = RateLimit("scarce", rate=NEVER, capacity=1, client=round_trips.client, config=config)
    assert limit.acquire(timeout=0)
    round_trips.count = 0
    # The token is ~11 days away: no timeout of a second can see it, so no sleeping.
    assert limit.acquire(timeout=1) is False
    assert limit.acquire(timeout=0) is False
    assert round_trips.count == 2
    refill = RateLimit("refill", rate=10, capacity=1, config=config)
    assert refill.try_acquire()
    assert refill.acquire(timeout=30) is True  # ~0.1 s away: worth the wait


def test_state_lives_in_a_hash_by_the_server_clock(config, redis_client, monkeypatch):
    limit = RateLimit("clock", rate=1, capacity=5, config=config)
    # A machine whose clock is a day off changes nothing: only the server's TIME counts.
    monkeypatch.setattr(time, "time", lambda: 1_000_000_000.0)
    before = server_time_us(redis_client)
    result = limit.attempt()
    after = server_time_us(redis_client)
    assert before <= result.server_time_us <= after
    fields = redis_client.hgetall(limit.key)
    assert int(fields[b"last"]) == result.server_time_us
    assert float(fields[b"tokens"]) == result.remaining == 4.0
    assert result.server_time == result.server_time_us / 1e6


def test_every_instance_and_twin_with_one_name_shares_the_bucket(config):
    one = RateLimit("shared", rate=NEVER, capacity=2, config=config)
    two = RateLimit("shared", rate=NEVER, capacity=2, config=config)
    assert one.try_acquire()
    assert two.try_acquire()
    assert not one.try_acquire()
    assert not asyncio.run(
        AsyncRateLimit("shared", rate=NEVER, capacity=2, config=config).try_acquire()
    )


def test_two_names_or_prefixes_do_not_share_a_bucket(config, redis_url, redis_client):
    a = RateLimit("a", rate=NEVER, capacity=1, config=config)
    b = RateLimit("b", rate=NEVER, capacity=1, config=config)
    assert a.try_acquire()
    assert not a.try_acquire()
    assert b.try_acquire()
    assert not b.try_acquire()
    other = RedisMemoryConfig(url=redis_url, prefix=config.prefix + "x")
    elsewhere = RateLimit("a", rate=NEVER, capacity=1, config=other)
    try:
        assert elsewhere.try_acquire()
        assert elsewhere.key == f"{config.prefix}x:ratelimit:a"
    finally:
        redis_client.delete(elsewhere.key)


def test_names_are_escaped_into_the_key(config):
    limit = RateLimit("user:42 *", rate=1, config=config)
    assert limit.key == f"{config.prefix}:ratelimit:user%3A42%20%2A"
    assert (
        RateLimit("user:42", rate=1, config=config).key
        != RateLimit("user%3A42", rate=1, config=config).key
    )


def test_an_idle_bucket_expires_when_it_would_be_full(config, redis_client):
    limit = RateLimit("idle", rate=1, capacity=5, config=config)
    taken = limit.attempt(2)
    assert taken.admitted
    # It is full again in (5 - 3) / 1 = 2 s: the key lives that long, no longer.
    assert 0 < redis_client.pttl(limit.key) <= math.ceil((5 - taken.remaining) * 1000 / 1)

    quick = RateLimit("quick", rate=20, capacity=1, config=config)
    assert quick.try_acquire()
    assert redis_client.pttl(quick.key) <= 50  # full again in 50 ms (-2: already gone)
    wait_until(
        lambda: not redis_client.exists(quick.key),
        attempts=1000,
        pause=0.01,
        what="the full bucket's key to expire",
    )
    assert quick.attempt().remaining == 0  # ... and a missing bucket is a full one


def test_a_refusal_writes_nothing(config, redis_client):
    limit = RateLimit("refused", rate=NEVER, capacity=1, config=config)
    assert limit.try_acquire()
    state, ttl = redis_client.hgetall(limit.key), redis_client.pttl(limit.key)
    assert not limit.try_acquire()
    assert not limit.try_acquire(0.5)
    assert redis_client.hgetall(limit.key) == state
    assert 0 < redis_client.pttl(limit.key) <= ttl


def test_the_expiry_is_capped_for_glacial_rates(config, redis_client):
    limit = RateLimit("glacial", rate=1e-12, capacity=1e6, config=config)
    assert limit.try_acquire()
    assert 0 < redis_client.pttl(limit.key) <= MAX_SECONDS * 1000


def test_reset_refills_the_bucket(config):
    limit = RateLimit("reset", rate=NEVER, capacity=1, config=config)
    assert limit.reset() is False
    assert limit.try_acquire()
    assert not limit.try_acquire()
    assert limit.reset() is True
    assert limit.try_acquire()


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"rate": 0}, ValueError),
        ({"rate": -1}, ValueError),
        ({"rate": float("nan")}, ValueError),
        ({"rate": float("inf")}, ValueError),
        ({"rate": 1, "capacity": 0}, ValueError),
        ({"rate": 1, "capacity": -2}, ValueError),
        ({"rate": "5"}, TypeError),
        ({"rate": True}, TypeError),
        ({"rate": 1, "capacity": None}, None),
    ],
)
def test_bad_settings_raise_before_any_round_trip(config, round_trips, kwargs, error):
    if error is None:
        RateLimit("ok", client=round_trips.client, config=config, **kwargs)
    else:
        with pytest.raises(error):
            RateLimit("bad", client=round_trips.client, config=config, **kwargs)
    assert round_trips.count == 0


def test_bad_names_and_tokens_raise(config, round_trips):
    with pytest.raises(ValueError, match="must not be empty"):
        RateLimit("", rate=1, config=config)
    with pytest.raises(TypeError):
        RateLimit(42, rate=1, config=config)
    limit = RateLimit("t", rate=1, capacity=3, client=round_trips.client, config=config)
    for call in (limit.try_acquire, limit.acquire, limit.attempt):
        for tokens in (0, -1, float("nan")):
            with pytest.raises(ValueError, match="positive"):
                call(tokens)
        with pytest.raises(ValueError, match="can never be acquired"):
            call(3.5)
        with pytest.raises(TypeError):
            call("1")
    with pytest.raises(ValueError, match="timeout"):
        limit.acquire(timeout=-1)
    with pytest.raises(TypeError, match="timeout"):
        limit.acquire(timeout="soon")
    assert round_trips.count == 0


def test_a_foreign_value_under_the_key_is_a_clear_error(config, redis_client):
    limit = RateLimit("taken", rate=1, config=config)
    redis_client.set(limit.key, "not a hash")
    with pytest.raises(UnexpectedDataError, match="ratelimit:taken"):
        limit.try_acquire()


# A bucket someone else wrote: fail closed, naming the key and what to do. ------------------------

# (fields written over a drained bucket, what the error says about them)
DAMAGED = [
    ({"tokens": "abc"}, 'its field tokens holds "abc", not a number of tokens'),
    ({"last": "yesterday"}, 'its field last holds "yesterday", not a time in microseconds'),
    ({"tokens": "nan"}, 'its field tokens holds "nan", not a number of tokens'),
    ({"tokens": "inf"}, 'its field tokens holds "inf", not a number of tokens'),
    ({"tokens": "1e999"}, 'its field tokens holds "1e999", not a number of tokens'),
    ({"tokens": "-3"}, 'its field tokens holds "-3", not a number of tokens'),
    ({"tokens": " 0x10 "}, 'its field tokens holds " 0x10 ", not a number of tokens'),
    ({"tokens": ""}, 'its field tokens holds "", not a number of tokens'),
    ({"last": "12\r\n34"}, 'its field last holds "12??34", not a time in microseconds'),
    ({"owner": "billing"}, 'it has a field "owner", which a bucket never has'),
]


def damaged_message(key: str, problem: str) -> str:
    return (
        f"{key} is not a rate limit bucket that can be read ({problem}), so nothing was "
        "admitted. Delete the key (RateLimit.reset() does) to start again from a full "
        "bucket, and check that no other program writes under this key prefix"
    )


def drained(config, redis_client, name: str, fields: dict[str, str]) -> RateLimit:
    """A bucket of capacity 2, emptied by two admissions, then ``fields`` written over it."""
    limit = RateLimit(name, rate=NEVER, capacity=2, config=config)
    assert [limit.try_acquire() for _ in range(3)] == [True, True, False]
    redis_client.hset(limit.key, mapping=fields)
    return limit


@pytest.mark.parametrize(("fields", "problem"), DAMAGED)
def test_a_damaged_bucket_fails_closed_naming_the_key(config, redis_client, fields, problem):
    # The bucket is empty: taking it for a new (full) one would admit 2 requests.
    limit = drained(config, redis_client, "damaged", fields)
    before = redis_client.hgetall(limit.key)
    for call in (limit.try_acquire, limit.attempt, limit.available, limit.acquire):
        with pytest.raises(UnexpectedDataError) as raised:
            call()
        assert str(raised.value) == damaged_message(limit.key, problem)
    assert redis_client.hgetall(limit.key) == before  # nothing written, nothing admitted
    assert limit.reset() is True  # what the message says to do works
    assert limit.try_acquire()


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"tokens": "2"}, "its field last is missing"),
        ({"last": "1717000000000000"}, "its field tokens is missing"),
    ],
)
def test_a_bucket_missing_a_field_fails_closed(config, redis_client, fields, problem):
    limit = RateLimit("half", rate=NEVER, capacity=2, config=config)
    redis_client.hset(limit.key, mapping=fields)
    with pytest.raises(UnexpectedDataError) as raised:
        limit.try_acquire()
    assert str(raised.value) == damaged_message(limit.key, problem)
    assert redis_client.hgetall(limit.key) == {k.encode(): v.encode() for k, v in fields.items()}


async def test_a_damaged_bucket_fails_closed_in_the_async_twin(config, redis_client):
    drained(config, redis_client, "adamaged", {"tokens": "abc"})
    limit = AsyncRateLimit("adamaged", rate=NEVER, capacity=2, config=config)
    for call in (limit.try_acquire, limit.attempt, limit.available, limit.acquire):
        with pytest.raises(UnexpectedDataError) as raised:
            await call()
        assert str(raised.value) == damaged_message(
            limit.key, 'its field tokens holds "abc", not a number of tokens'
        )
    assert redis_client.hget(limit.key, "tokens") == b"abc"


async def test_a_damaged_bucket_fails_closed_in_langchain(config, redis_client):
    limit = drained(config, redis_client, "lc-damaged", {"last": "soon"})
    expected = damaged_message(limit.key, 'its field last holds "soon", not a time in microseconds')
    limiter = RedisRateLimiter(
        "lc-damaged", requests_per_second=NEVER, max_bucket_size=2, config=config
    )
    model = FakeMessagesListChatModel(
        responses=[AIMessage("no")], rate_limiter=limiter, cache=False
    )
    with pytest.raises(UnexpectedDataError) as raised:
        limiter.acquire(blocking=False)
    assert str(raised.value) == expected
    with pytest.raises(UnexpectedDataError) as raised:
        await limiter.aacquire()
    assert str(raised.value) == expected
    # The chat model is not called: the damaged bucket stops it.
    with pytest.raises(UnexpectedDataError, match="is not a rate limit bucket"):
        model.invoke("hi")
    with pytest.raises(UnexpectedDataError, match="is not a rate limit bucket"):
        await model.ainvoke("hi")
    assert model.i == 0


def test_budget_try_acquire_is_one_round_trip_and_exact_commands(
    config, count_commands, round_trips
):
    limit = RateLimit("budget", rate=NEVER, capacity=1, client=round_trips.client, config=config)
    limit.available()  # the first call on a fresh server also loads the script (EVAL)
    round_trips.count = 0
    with count_commands() as admitted:
        assert limit.try_acquire()
    assert round_trips.count == 1
    with count_commands() as refused:
        assert not limit.try_acquire()
    assert round_trips.count == 2
    with count_commands() as looked:
        limit.available()
    assert round_trips.count == 3
    # EVALSHA, and inside the script TIME, HGETALL (the bucket's two fields, and
    # any foreign one); an admission also HSET and PEXPIRE.
    assert admitted.by_name == {"evalsha": 1, "time": 1, "hgetall": 1, "hset": 1, "pexpire": 1}
    assert refused.by_name == {"evalsha": 1, "time": 1, "hgetall": 1}
    assert looked.by_name == {"evalsha": 1, "time": 1, "hgetall": 1}


# -- async twin ----------------------------------------------------------------------------------


async def test_async_twin(config, redis_client):
    limit = AsyncRateLimit("async", rate=NEVER, capacity=2, config=config)
    assert [await limit.try_acquire() for _ in range(3)] == [True, True, False]
    assert await limit.acquire(blocking=False) is False
    assert await limit.acquire(timeout=1) is False
    assert await limit.available() < 0.01
    result = await limit.attempt(0.001)
    assert isinstance(result, RateLimitResult)
    assert not result.admitted
    assert redis_client.pttl(limit.key) > 0
    assert await limit.reset() is True
    assert await limit.try_acquire(2)
    with pytest.raises(ValueError, match="can never be acquired"):
        await limit.try_acquire(3)
    # The twins share the bucket.
    assert not RateLimit("async", rate=NEVER, capacity=2, config=config).try_acquire()


async def test_async_blocking_acquire_never_blocks_the_loop(config, monkeypatch):
    def no_blocking_sleep(seconds):
        raise AssertionError("time.sleep inside async code")

    monkeypatch.setattr(time, "sleep", no_blocking_sleep)
    limit = AsyncRateLimit("async-wait", rate=2, capacity=1, config=config)
    assert await limit.try_acquire()
    assert not await limit.try_acquire()
    ticks = 0
    done = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not done.is_set():
            ticks += 1
            await asyncio.sleep(0.02)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    assert await limit.acquire() is True  # ~0.5 s of waiting, during which the ticker runs
    done.set()
    await task
    assert ticks >= 3
    assert await limit.available() < 1


# -- LangChain -----------------------------------------------------------------------------------


def test_langchain_limiter_is_a_drop_in_for_in_memory(config):
    limiter = RedisRateLimiter(requests_per_second=3, check_every_n_seconds=0.1, config=config)
    assert isinstance(limiter, BaseRateLimiter)
    assert limiter.name == "default"
    assert limiter.max_bucket_size == 1  # InMemoryRateLimiter's default
    assert limiter.requests_per_second == 3
    assert limiter.check_every_n_seconds == 0.1
    assert limiter.key == f"{config.prefix}:ratelimit:default"
    sized = RedisRateLimiter("sized", requests_per_second=NEVER, max_bucket_size=3, config=config)
    assert [sized.acquire(blocking=False) for _ in range(4)] == [True, True, True, False]


def test_langchain_acquire_non_blocking(config):
    limiter = RedisRateLimiter("nb", requests_per_second=NEVER, config=config)
    assert limiter.acquire(blocking=False) is True
    assert limiter.acquire(blocking=False) is False
    assert limiter.acquire(blocking=False) is False
    # Another limiter (another process, in real life) with the same name sees the same bucket.
    assert (
        RedisRateLimiter("nb", requests_per_second=NEVER, config=config).acquire(blocking=False)
        is False
    )
    assert RedisRateLimiter("other", requests_per_second=NEVER, config=config).acquire(
        blocking=False
    )


def test_langchain_bad_settings(config):
    with pytest.raises(ValueError, match="max_bucket_size"):
        RedisRateLimiter(requests_per_second=1, max_bucket_size=0.5, config=config)
    with pytest.raises(ValueError, match="rate"):
        RedisRateLimiter(requests_per_second=0, config=config)
    with pytest.raises(ValueError, match="empty"):
        RedisRateLimiter("", requests_per_second=1, config=config)


def test_a_chat_model_spends_one_token_per_call(config):
    limiter = RedisRateLimiter("chat", requests_per_second=NEVER, max_bucket_size=2, config=config)
    model = FakeMessagesListChatModel(
        responses=[AIMessage("one"), AIMessage("two")], rate_limiter=limiter, cache=False
    )
    bucket = RateLimit("chat", rate=NEVER, capacity=2, config=config)
    assert bucket.available() == 2
    assert model.invoke("hi").content == "one"
    assert 1 <= bucket.available() < 1.01
    assert model.invoke("hi").content == "two"
    assert bucket.available() < 0.01
    assert limiter.acquire(blocking=False) is False  # the model spent the whole bucket


def test_a_blocking_chat_model_waits_for_each_token(config, redis_client):
    limiter = RedisRateLimiter("paced", requests_per_second=4, max_bucket_size=1, config=config)
    model = FakeMessagesListChatModel(
        responses=[AIMessage("ok")], rate_limiter=limiter, cache=False
    )
    admissions = []
    for _ in range(3):
        assert model.invoke("hi").content == "ok"
        fields = redis_client.hgetall(limiter.key)
        assert float(fields[b"tokens"]) == 0  # each call took the one token there was
        admissions.append(int(fields[b"last"]))
    # Each call after the first waited for a whole token to refill: at 4 per second,
    # 250 ms apart by the server's clock (the clock the bucket is refilled by).
    assert all(later - earlier >= 250_000 for earlier, later in itertools.pairwise(admissions))


async def test_langchain_aacquire_and_ainvoke(config):
    limiter = RedisRateLimiter(
        "async-chat", requests_per_second=NEVER, max_bucket_size=2, config=config
    )
    model = FakeMessagesListChatModel(responses=[AIMessage("a")], rate_limiter=limiter, cache=False)
    assert (await model.ainvoke("hi")).content == "a"
    assert await limiter.aacquire(blocking=False) is True
    assert await limiter.aacquire(blocking=False) is False
    paced = RedisRateLimiter("async-paced", requests_per_second=10, config=config)
    assert await paced.aacquire()
    assert await paced.aacquire()  # waits ~0.1 s, on asyncio.sleep
    assert await paced.aacquire(blocking=False) is False


# -- docs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("cls", [RateLimit, AsyncRateLimit, RedisRateLimiter])
def test_docstring_examples_run(cls):
    blocks = code_blocks(cls.__doc__)
    assert blocks
    for block in blocks:
        assert 'url="embedded"' in block
        run_example(block)
