"""Timing and command counting for the speed benchmarks (see ``run.py``).

A case is a set of implementations of one logical operation. Every repetition
runs each implementation once, in a rotated order, so that a noisy neighbour
slows all of them alike; the figures are medians over every timed call.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import redis

Op = Callable[[], Any] | Callable[[], Awaitable[Any]]


@dataclass
class Impl:
    """One implementation of a case's operation."""

    name: str
    op: Op
    is_async: bool = False
    # Seconds spent in the stand-in embedding model, read after the run.
    embed_seconds: Callable[[], float] | None = None


@dataclass
class Case:
    """One operation measured for several implementations."""

    group: str
    name: str
    impls: list[Impl]
    iters: int = 50
    ours: str = "ours"
    floor: str | None = "floor"
    x: float | None = None  # the chart's x value (history length...)


@dataclass
class Result:
    case: Case
    seconds: dict[str, list[float]] = field(default_factory=dict)
    commands: dict[str, float] = field(default_factory=dict)
    embed: dict[str, float] = field(default_factory=dict)

    def median_us(self, impl: str) -> float:
        return statistics.median(self.seconds[impl]) * 1e6


def command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


def count_commands(client: redis.Redis, run: Callable[[], None], ops: int) -> float:
    """Redis commands per operation, from ``INFO commandstats`` deltas."""
    before = command_calls(client)
    run()
    after = command_calls(client)
    # The first INFO is counted in the second's figures; EXEC/MULTI are not commands of the work.
    total = sum(n - before.get(name, 0) for name, n in after.items() if name != "info")
    total += after.get("info", 0) - before.get("info", 0) - 1
    return total / ops


class Runner:
    """Runs cases against one Redis, sync and async, on one event loop."""

    def __init__(self, admin: redis.Redis, reps: int, quick: bool) -> None:
        self.admin = admin
        self.reps = reps
        self.quick = quick
        self.loop = asyncio.new_event_loop()

    def close(self) -> None:
        self.loop.close()

    def _batch(self, impl: Impl, n: int) -> list[float]:
        # A collection of the other implementations' garbage must not land in this
        # one's timings: collect before, and not during, a batch (as timeit does).
        gc.collect()
        gc.disable()
        try:
            return self._timed(impl, n)
        finally:
            gc.enable()

    def _timed(self, impl: Impl, n: int) -> list[float]:
        clock = time.perf_counter
        if impl.is_async:

            async def timed() -> list[float]:
                out = []
                for _ in range(n):
                    start = clock()
                    await impl.op()
                    out.append(clock() - start)
                return out

            return self.loop.run_until_complete(timed())
        out = []
        op = impl.op
        for _ in range(n):
            start = clock()
            op()
            out.append(clock() - start)
        return out

    def run(self, case: Case) -> Result:
        result = Result(case)
        iters = max(3, case.iters // (4 if self.quick else 1))
        for impl in case.impls:
            self._batch(impl, 3)  # warm up: indexes, scripts, connections
            counted = min(5, iters)
            result.commands[impl.name] = count_commands(
                self.admin, lambda impl=impl, n=counted: self._batch(impl, n), counted
            )
            result.seconds[impl.name] = []
        embed_before = {i.name: i.embed_seconds() for i in case.impls if i.embed_seconds}
        for rep in range(self.reps):
            shift = rep % len(case.impls)
            for impl in case.impls[shift:] + case.impls[:shift]:
                result.seconds[impl.name] += self._batch(impl, iters)
        for impl in case.impls:
            if impl.embed_seconds:
                spent = impl.embed_seconds() - embed_before[impl.name]
                result.embed[impl.name] = spent / (self.reps * iters) * 1e6
        return result
