"""What metrics cost an operation when no OpenTelemetry SDK is installed.

"ours" is exactly what ``_plan.execute`` adds to every operation: two clock
reads and :func:`redis_memory.metrics.operation` (a counter and a histogram on
the OpenTelemetry API's no-op meter); "floor" is an empty call, so the
difference is the overhead. Run in the benchmark's own process, which installs
no SDK and leaves Prometheus off.
"""

from __future__ import annotations

from time import perf_counter

from harness import Case, Impl

from redis_memory import metrics

KEY = "bench:state:{user}:profile"


def _recorded() -> None:
    started = perf_counter()
    metrics.operation("reading a value", KEY, perf_counter() - started, None)


def _nothing() -> None:
    return None


def metrics_cases(ctx: object) -> list[Case]:
    return [
        Case(
            "metrics",
            "metrics overhead per operation",
            [Impl("ours", _recorded), Impl("floor", _nothing)],
            iters=2000,
        )
    ]
