"""The benchmark harness counts commands and times every implementation it is given."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
harness = pytest.importorskip("harness")


def test_runner_counts_commands_and_times_each_implementation(redis_client, prefix):
    key = f"{prefix}:bench"
    redis_client.set(key, b"1")

    def pipelined() -> None:
        pipe = redis_client.pipeline(transaction=False)
        pipe.get(key)
        pipe.pexpire(key, 60_000)
        pipe.execute()

    async def nothing() -> None:
        return None

    case = harness.Case(
        "smoke",
        "get",
        [
            harness.Impl("ours", lambda: redis_client.get(key)),
            harness.Impl("floor", pipelined),
            harness.Impl("async", nothing, is_async=True),
        ],
        iters=4,
    )
    runner = harness.Runner(redis_client, reps=2, quick=False)
    try:
        result = runner.run(case)
    finally:
        runner.close()
    assert result.commands == {"ours": 1.0, "floor": 2.0, "async": 0.0}
    assert {name: len(times) for name, times in result.seconds.items()} == {
        "ours": 8,
        "floor": 8,
        "async": 8,
    }
    assert result.median_us("ours") > 0
