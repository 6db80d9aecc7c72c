"""Memory by kind of data: keys and bytes under the prefix, from SCAN and MEMORY USAGE.

Data is written through the package's own engines, then measured as `redis-memory
status` and a dashboard would: counts must be exact, bytes exact for a kind that fits in
the sample and close to the truth (measured key by key here) for one that does not.
"""

from __future__ import annotations

import json
import math
import random
import re

import pytest
import redis

from redis_memory import KeySchema, RedisClients
from redis_memory._execute import execute
from redis_memory._flow import drive
from redis_memory._usage import _usage_flow
from redis_memory.cache import ResponseCache
from redis_memory.cli import main
from redis_memory.coordination import Claims
from redis_memory.history import MessageLog
from redis_memory.server import (
    MEASURE_BATCH,
    KindUsage,
    amemory_by_kind,
    count_keys,
    memory_by_kind,
    status,
)
from redis_memory.state import StateStore

LONG = "Redis keeps the whole conversation in one list, in the session's slot. " * 14


def _write_known_data(config) -> None:
    """Two sessions (one of 200 long messages), 5 state keys, 3 claims, 4 cache entries."""
    log = MessageLog(config=config)
    log.append("long", [{"role": "user", "content": f"{i} {LONG}"} for i in range(200)])
    log.append("short", [{"role": "user", "content": "hi"}])
    state = StateStore(config=config)
    for key in ("theme", "lang", "plan", "tz", "name"):
        state.set("ana", key, key)
    claims = Claims(config=config)
    for task in ("t1", "t2", "t3"):
        assert claims.claim(task, "agent-a")
    cache = ResponseCache(config=config, semantic=False)
    for n in range(4):
        cache.update(f"prompt {n}", "llm", {"text": f"answer {n}"})


def _exact_bytes(client: redis.Redis, keys: list[bytes]) -> int:
    """MEMORY USAGE of every key, one by one: the truth an estimate is compared with."""
    return sum(client.memory_usage(key) or 0 for key in keys)


def _keys_of(client: redis.Redis, prefix: str, kind: str) -> list[bytes]:
    return list(client.scan_iter(match=f"{prefix}:{kind}:*", count=1000))


@pytest.mark.acl_user
def test_keys_and_bytes_by_kind_of_what_the_engines_wrote(config, redis_client, prefix):
    _write_known_data(config)
    keys = KeySchema(prefix)
    redis_client.set(f"{prefix}:mystery:1", "a key of the prefix that is no kind of ours")
    foreign = [f"{prefix}x:session:{{a}}:messages", f"other:{prefix}:state:{{a}}:k", prefix]
    for key in foreign:
        redis_client.set(key, "x" * 10_000)
    try:
        clients = RedisClients(config=config)  # as the ACL user limited to the prefix
        usage = memory_by_kind(clients.sync, prefix)
        clients.close()
    finally:
        for key in foreign:
            redis_client.delete(key)

    # Messages and their recent-append tokens per session; the claims' holds index.
    counts = {"session": 4, "cache": 4, "state": 5, "task": 3, "holds": 1, "other": 1}
    assert {kind: used.keys for kind, used in usage.items()} == counts
    assert list(usage) == ["session", "cache", "state", "task", "holds", "other"]
    for kind, used in usage.items():
        # Every kind has fewer keys than the default sample: all measured, nothing guessed.
        assert (used.exact, used.sampled) == (True, counts[kind]), kind
        assert used.bytes > 0, kind
    truth = _exact_bytes(redis_client, [keys.session_messages("long")])
    assert truth > 200 * len(LONG)  # the messages themselves are in there
    session, state = usage["session"], usage["state"]
    assert truth < session.bytes < truth + 4 * 1024  # plus three small keys
    assert session.bytes > 100 * state.bytes  # 200 long messages against 5 short values
    assert state.bytes == _exact_bytes(redis_client, _keys_of(redis_client, prefix, "state"))
    assert count_keys(redis_client, prefix) == counts


def test_a_kind_with_more_keys_than_the_sample_is_estimated_from_it(config, redis_client, prefix):
    state = StateStore(config=config)
    sizes = random.Random(7)
    for n in range(300):
        state.set(f"user-{n}", "notes", "n" * sizes.randrange(100, 2000))
    Claims(config=config).claim("t1", "agent-a")

    usage = memory_by_kind(redis_client, prefix, sample=40)

    estimated = usage["state"]
    assert (estimated.keys, estimated.sampled, estimated.exact) == (300, 40, False)
    truth = _exact_bytes(redis_client, _keys_of(redis_client, prefix, "state"))
    assert truth / 1.5 < estimated.bytes < truth * 1.5, (estimated.bytes, truth)
    # The kinds that fit in the sample are still measured whole.
    assert usage["task"] == KindUsage(
        keys=1,
        bytes=_exact_bytes(redis_client, _keys_of(redis_client, prefix, "task")),
        sampled=1,
        exact=True,
    )
    assert usage["holds"].exact


def test_an_empty_prefix_has_no_kinds(redis_client, prefix):
    assert memory_by_kind(redis_client, prefix) == {}


def test_the_cost_is_the_scan_pages_and_a_round_trip_per_100_keys(
    config, redis_client, prefix, count_commands, round_trips
):
    state = StateStore(config=config)
    for n in range(250):
        state.set(f"user-{n}", "k", n)
    MessageLog(config=config).append("s", [{"role": "user", "content": "hi"}])
    measured = 252  # every key: each kind is under the sample

    with count_commands() as counted:
        round_trips.count = 0
        usage = memory_by_kind(round_trips.client, prefix)
    scans = counted.by_name.pop("scan")
    assert counted.by_name == {"memory|usage": measured}
    assert sum(used.sampled for used in usage.values()) == measured
    batches = math.ceil(measured / MEASURE_BATCH)
    if isinstance(redis_client, redis.RedisCluster):
        # A batch is sorted by hash slot, so it reaches one primary, or two where the
        # walk over the slots crosses from one primary's range to the next.
        primaries = len(redis_client.get_primaries())
        assert scans + batches <= round_trips.count <= scans + batches + primaries - 1
    else:
        assert round_trips.count == scans + batches

    # With a sample, only the sample is measured: 20 of each kind.
    with count_commands() as counted:
        usage = memory_by_kind(redis_client, prefix, sample=20)
    assert counted.by_name["memory|usage"] == 20 + 2
    assert usage["state"].sampled == 20


def test_a_key_deleted_between_the_walk_and_its_measurement_is_left_out(redis_client, prefix):
    keys = KeySchema(prefix)
    for n in range(10):
        redis_client.set(keys.state(f"u{n}", "k"), "v" * 100)
    for n in range(80):
        redis_client.set(keys.lock(f"job-{n}"), "owner")
    deleted: list[bytes] = []

    def step(plan):
        # The walk is done when the first MEMORY USAGE goes out: delete some of the
        # keys it found, as an expiry or another client would.
        if plan.commands[0][0] == "MEMORY" and not deleted:
            found = [command[2] for command in plan.commands]
            deleted.extend(key for key in found if b":state:" in key)
            deleted.extend([key for key in found if b":lock:" in key][:7])
            for key in deleted:
                redis_client.unlink(key)
        return execute(redis_client, plan, lambda: "the test server")

    usage = drive(_usage_flow(prefix, 50, 1000, random.Random()), step)

    # Counted as the walk found them; the state keys are gone, so they take 0 bytes.
    assert usage["state"] == KindUsage(keys=10, bytes=0, sampled=0, exact=True)
    lock = usage["lock"]
    assert (lock.keys, lock.sampled, lock.exact) == (80, 50 - 7, False)
    per_lock = _exact_bytes(redis_client, _keys_of(redis_client, prefix, "lock")) / 73
    assert lock.bytes == pytest.approx(80 * per_lock, abs=1)


async def test_the_async_twin_measures_the_same(config, redis_client, prefix):
    _write_known_data(config)
    clients = RedisClients(config=config)
    try:
        measured = await amemory_by_kind(clients.async_, prefix)
        sampled = await amemory_by_kind(clients.async_, prefix, sample=2)
    finally:
        await clients.aclose()
    assert measured == memory_by_kind(redis_client, prefix)
    assert sampled["state"].sampled == 2
    assert not sampled["state"].exact


def test_status_reports_memory_by_kind_beside_keys_by_kind(redis_client, config, prefix):
    _write_known_data(config)
    report = status(redis_client, prefix=prefix, sample=3)
    assert report["keys_by_kind"] == {"session": 4, "cache": 4, "state": 5, "task": 3, "holds": 1}
    assert report["memory_by_kind"]["task"]["exact"] is True
    assert report["memory_by_kind"]["state"]["sampled"] == 3


def test_the_status_command_shows_keys_and_bytes_per_kind(
    redis_url, redis_client, config, prefix, capsys
):
    _write_known_data(config)
    assert main(["status", "--url", redis_url, "--prefix", prefix, "--json", "--sample", "4"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_kind = report["memory_by_kind"]
    assert {kind: used["keys"] for kind, used in by_kind.items()} == report["keys_by_kind"]
    assert by_kind["state"]["keys"] == 5
    assert (by_kind["state"]["sampled"], by_kind["state"]["exact"]) == (4, False)
    tasks = _exact_bytes(redis_client, _keys_of(redis_client, prefix, "task"))
    assert by_kind["task"] == {"keys": 3, "bytes": tasks, "sampled": 3, "exact": True}
    assert by_kind["holds"] == {
        "keys": 1,
        "bytes": _exact_bytes(redis_client, [KeySchema(prefix).holds()]),
        "sampled": 1,
        "exact": True,
    }

    assert main(["status", "--url", redis_url, "--prefix", prefix, "--sample", "4"]) == 0
    table = capsys.readouterr().out
    assert f"keys under {prefix}:  17" in table
    rows = [line for line in table.splitlines() if re.match(r"  \w+ +\d+ keys? ", line)]
    lines = {line.split()[0]: line for line in rows}
    assert list(lines) == ["session", "cache", "state", "task", "holds"]
    # Estimated (5 keys, 4 measured): "~"; the others were measured whole.
    assert re.fullmatch(r"  state +5 keys +~\d+(\.\d)? (B|KiB)", lines["state"]), lines
    assert re.fullmatch(rf"  task +3 keys +{tasks} B", lines["task"]), lines
    assert re.fullmatch(r"  holds +1 key +\d+ B", lines["holds"]), lines
    assert re.fullmatch(r"  session +4 keys +\d+\.\d KiB", lines["session"]), lines
    assert "~ estimated from a sample of 4 keys of that kind (--sample)" in table

    # Measured whole by default: no "~" anywhere.
    assert main(["status", "--url", redis_url, "--prefix", prefix]) == 0
    assert "~" not in capsys.readouterr().out


def test_the_sample_must_be_positive(capsys):
    client = redis.Redis(host="127.0.0.1", port=1)  # never reached
    for sample in (0, -1, True, 1.5):
        with pytest.raises(ValueError, match="sample must be a whole number >= 1"):
            memory_by_kind(client, "rmem", sample=sample)
    with pytest.raises(SystemExit):
        main(["status", "--sample", "0"])
    assert "--sample" in capsys.readouterr().err
