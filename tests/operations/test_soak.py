"""A short soak (``benchmarks/soak.py``): 200 concurrent sessions, windows and TTLs on.

Nothing acknowledged is lost, no call fails, and what Redis holds stays bounded
by the windows and TTLs: the longer run and its figures are in docs/production.md (Load).
"""

from __future__ import annotations

import asyncio
import importlib.util
import math
import sys

from _paths import ROOT

from redis_memory.embedded import EmbeddedRedis

SOAK = ROOT / "benchmarks" / "soak.py"


def _soak_module():
    spec = importlib.util.spec_from_file_location("benchmarks_soak", SOAK)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_200_sessions_for_20_seconds_lose_nothing_fail_never_and_stay_bounded():
    sessions, ttl, window = 200, 3.0, 10
    # A server of its own: the soak counts every key on it.
    with EmbeddedRedis() as server:
        report = asyncio.run(
            _soak_module().run_soak(
                server.url,
                sessions=sessions,
                seconds=20,
                window=window,
                ttl=ttl,
                turns=5,
                wait_for_expiry=True,
                # A connection per session: on a loaded machine a starved event loop
                # can keep a caller waiting for a pooled one past socket_timeout (docs/
                # production.md: Load), which is the pool's limit, not a loss this test looks for.
                max_connections=sessions,
            )
        )
    print(f"\nsoak: {report}")
    assert report.errors == 0, report.error_samples
    assert report.lost == 0
    assert report.mismatched_reads == 0
    assert report.appends >= sessions * 5, "every user completed a session"
    assert report.sessions_started > 2 * sessions, "sessions were abandoned to their TTL"
    # Keys alive at once, per user: its state, its current session, and the sessions
    # it left less than a TTL ago (plus 2 s for Redis's expiry cycle); a session is two
    # keys, its messages and the tokens of its recent appends.
    left_within_a_ttl = math.ceil((ttl + 2) / report.shortest_session_seconds)
    key_budget = sessions * (1 + 2 * (1 + left_within_a_ttl))
    assert report.peak_keys <= key_budget
    assert report.keys_after_ttl == 0, "everything expires once the users are gone"
    # Memory: each kept session holds at most a window of ~250-byte messages; each
    # of the 200 connections costs Redis some tens of kB of buffers.
    memory_budget = key_budget * window * 1024 + sessions * 64 * 1024
    assert report.peak_used_memory - report.baseline_used_memory <= memory_budget
