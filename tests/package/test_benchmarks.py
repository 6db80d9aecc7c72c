"""The benchmark harness counts commands and times every implementation it is given."""

from __future__ import annotations

import sys

import pytest
from _paths import ROOT

sys.path.insert(0, str(ROOT / "benchmarks"))
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


def test_interleaved_timing_gives_each_op_each_of_its_queries_once_in_rotated_batches():
    embedding = pytest.importorskip("embedding")
    calls: list[tuple[str, str]] = []
    ops = {name: (lambda q, name=name: calls.append((name, q)) or q.upper()) for name in "ab"}
    queries = {"a": [f"a{i}" for i in range(5)], "b": [f"b{i}" for i in range(3)]}

    timed = embedding.interleaved(ops, queries, batch=2)

    assert {name: [q for _, q, _ in rows] for name, rows in timed.items()} == queries
    assert all(result == q.upper() for rows in timed.values() for _, q, result in rows)
    # batches of 2, the order rotated each round; an op out of queries runs no more
    assert [q for _, q in calls] == ["a0", "a1", "b0", "b1", "b2", "a2", "a3", "a4"]
    stats = embedding.percentiles([0.001 * i for i in range(1, 11)])
    assert stats["n"] == 10
    assert (stats["p50"], stats["p90"]) == pytest.approx((5.0, 9.0))


def test_install_size_attributes_site_packages_files_to_their_distributions(tmp_path):
    install_size = pytest.importorskip("install_size")
    site = tmp_path / "site-packages"
    (site / "pkg").mkdir(parents=True)
    (site / "pkg" / "__init__.py").write_bytes(b"x" * 100)
    (site / "pkg" / "data, with a comma.bin").write_bytes(b"x" * 1000)
    info = site / "pkg-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: Pkg\nVersion: 1.0\n\n")
    (info / "RECORD").write_text(
        "pkg/__init__.py,sha256=x,100\n"
        '"pkg/data, with a comma.bin",sha256=x,1000\n'
        "pkg-1.0.dist-info/METADATA,,\n"
        "pkg-1.0.dist-info/RECORD,,\n"
        "../../../bin/pkg-tool,sha256=x,10\n"  # outside site-packages: not counted
        "pkg/gone.py,sha256=x,5\n"  # listed but absent
    )
    metadata = (info / "METADATA").stat().st_size
    record = (info / "RECORD").stat().st_size

    assert install_size.distribution_bytes(site) == {"Pkg": 1100 + metadata + record}
    assert install_size.tree_bytes(site) == 1100 + metadata + record
