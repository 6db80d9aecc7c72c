"""Metrics of every engine, for OpenTelemetry and Prometheus, and optional spans.

Every round trip an engine makes is counted and timed, labelled by ``operation``
(what the user asked for: ``"appending messages"``, ``"claiming a task"``) and
``kind`` (the kind of data: ``session``, ``cache``, ``state``, ``task``...). The
engines add what only they know: cache hits by tier, fail-open events, embedding
time and nearest distances; messages appended and read, windows trimmed; claims
won and lost, lock waits; rate-limit admissions and refusals. Labels never carry
ids, keys or text.

- **OpenTelemetry**: the instruments are created on the API's global meter
  (``redis_memory``): a no-op, costing well under a microsecond, until the
  application installs an SDK (``opentelemetry-sdk``) with a meter provider,
  after which they report through it. Nothing to call here.
- **Prometheus** (``pip install 'redis-memory-backend[metrics]'``):
  :func:`enable_prometheus` registers the same instruments with a
  ``prometheus_client`` registry (the default one unless given), so the
  application's ``/metrics`` (``prometheus_client.start_http_server``, or its web
  framework's) serves them.
- **Spans**: :func:`trace_operations` wraps each operation in a span of the
  API's tracer (``redis_memory``): its name is the operation, its attributes the
  kind of data and the number of commands; never a key or a value.

Example:
    >>> import prometheus_client
    >>> from redis_memory import metrics
    >>> registry = prometheus_client.CollectorRegistry()
    >>> metrics.enable_prometheus(registry)
    >>> metrics.rate_limit(admitted=True)
    >>> name = "redis_memory_rate_limit_decisions_total"
    >>> registry.get_sample_value(name, {"decision": "admitted"})
    1.0
    >>> metrics.disable_prometheus()
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics as otel_metrics
from opentelemetry import trace as otel_trace

from ._version import __version__
from .keys import KINDS

# Seconds: from a local round trip (~0.1 ms) to a stalled server (socket timeout).
DURATION_BUCKETS = (
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0
)  # fmt: skip
# Cosine distances of the semantic tier's nearest entry (0 = same meaning).
DISTANCE_BUCKETS = (0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0)

_meter = otel_metrics.get_meter("redis_memory", __version__)
_tracer = otel_trace.get_tracer("redis_memory", __version__)


@dataclass
class _Instrument:
    """One metric, reported to OpenTelemetry always and to Prometheus once enabled."""

    name: str
    kind: str  # "counter" | "histogram" | "gauge"
    description: str
    labels: tuple[str, ...]
    unit: str = ""
    buckets: Sequence[float] = DURATION_BUCKETS
    otel: Any = None
    prom: Any = None
    _gauge_values: dict[tuple[str, ...], float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        name = f"redis_memory.{self.name}"
        if self.kind == "counter":
            self.otel = _meter.create_counter(name, self.unit, self.description)
        elif self.kind == "histogram":
            self.otel = _meter.create_histogram(name, self.unit, self.description)
        else:
            self.otel = _meter.create_up_down_counter(name, self.unit, self.description)

    def add(self, value: float, attributes: dict[str, str]) -> None:
        self.otel.add(value, attributes)
        if self.prom is not None:
            self.prom.labels(*attributes.values()).inc(value)

    def record(self, value: float, attributes: dict[str, str]) -> None:
        self.otel.record(value, attributes)
        if self.prom is not None:
            self.prom.labels(*attributes.values()).observe(value)

    def set(self, value: float, attributes: dict[str, str]) -> None:
        """A gauge: OpenTelemetry gets the change (an up-down counter), Prometheus the value."""
        key = tuple(attributes.values())
        with _lock:
            change = value - self._gauge_values.get(key, 0.0)
            self._gauge_values[key] = value
        if change:
            self.otel.add(change, attributes)
        if self.prom is not None:
            self.prom.labels(*key).set(value)

    def prometheus(self, registry: Any) -> Any:
        import prometheus_client

        name = "redis_memory_" + self.name.replace(".", "_")
        unit = {"s": "seconds"}.get(self.unit, "")
        if self.kind == "counter":
            return prometheus_client.Counter(name, self.description, self.labels, registry=registry)
        if self.kind == "histogram":
            return prometheus_client.Histogram(
                name, self.description, self.labels, unit=unit, registry=registry,
                buckets=self.buckets,
            )  # fmt: skip
        gauge = prometheus_client.Gauge(name, self.description, self.labels, registry=registry)
        for key, value in self._gauge_values.items():
            gauge.labels(*key).set(value)
        return gauge


_lock = threading.Lock()
_OPERATION = ("operation", "kind")
OPERATIONS = _Instrument("operations", "counter", "Operations (round trips) run", _OPERATION)
ERRORS = _Instrument("errors", "counter", "Operations that failed", (*_OPERATION, "error"))
DURATION = _Instrument(
    "operation.duration", "histogram", "Time of one operation", _OPERATION, unit="s"
)
CACHE_LOOKUPS = _Instrument(
    "cache.lookups", "counter", "LLM cache lookups by result", ("cache", "result")
)
CACHE_UPDATES = _Instrument("cache.updates", "counter", "LLM cache entries written", ("cache",))
CACHE_FAIL_OPEN = _Instrument(
    "cache.fail_open", "counter", "Cache calls answered as a miss because Redis failed", ("cache",)
)
CACHE_OUTAGE = _Instrument(
    "cache.outage", "gauge", "1 while a cache's calls are failing open, else 0", ("cache",)
)
EMBEDDING_DURATION = _Instrument(
    "cache.embedding.duration", "histogram", "Time to embed one query", ("cache",), unit="s"
)
NEAREST_DISTANCE = _Instrument(
    "cache.semantic.distance",
    "histogram",
    "Cosine distance of the semantic tier's nearest entry",
    ("cache",),
    buckets=DISTANCE_BUCKETS,
)
MESSAGES = _Instrument("history.messages", "counter", "Messages appended and read", ("direction",))
TRIMS = _Instrument("history.trims", "counter", "Sessions trimmed, by a window or trim()", ("by",))
CLAIMS = _Instrument("claims", "counter", "Task claims by outcome", ("outcome",))
LOCK_WAIT = _Instrument(
    "lock.wait", "histogram", "Time spent acquiring a lock", ("outcome",), unit="s"
)
RATE_LIMIT = _Instrument(
    "rate_limit.decisions", "counter", "Rate-limit admissions and refusals", ("decision",)
)
INSTRUMENTS = (
    OPERATIONS, ERRORS, DURATION, CACHE_LOOKUPS, CACHE_UPDATES, CACHE_FAIL_OPEN, CACHE_OUTAGE,
    EMBEDDING_DURATION, NEAREST_DISTANCE, MESSAGES, TRIMS, CLAIMS, LOCK_WAIT, RATE_LIMIT,
)  # fmt: skip

_prometheus_registry: Any = None
_tracing = False


def enable_prometheus(registry: Any = None) -> None:
    """Report every instrument to a ``prometheus_client`` registry as well (default: the global).

    Raises:
        FeatureUnavailableError: ``prometheus-client`` is not installed.
    """
    global _prometheus_registry
    from ._extras import require_extra

    require_extra("prometheus_client", "metrics", "Prometheus metrics need prometheus-client")
    import prometheus_client

    disable_prometheus()
    _prometheus_registry = prometheus_client.REGISTRY if registry is None else registry
    for instrument in INSTRUMENTS:
        instrument.prom = instrument.prometheus(_prometheus_registry)


def disable_prometheus() -> None:
    """Stop reporting to Prometheus and unregister the instruments."""
    global _prometheus_registry
    for instrument in INSTRUMENTS:
        if instrument.prom is not None:
            _prometheus_registry.unregister(instrument.prom)
            instrument.prom = None
    _prometheus_registry = None


def trace_operations(enabled: bool = True) -> None:
    """Wrap each operation in an OpenTelemetry span (name, kind of data, commands; no values)."""
    global _tracing
    _tracing = bool(enabled)


# -- what the engines call -------------------------------------------------------------
_attributes: dict[str, dict[str, str]] = {}
_KINDS = frozenset(KINDS)


def _labels(doing: str, key: str) -> dict[str, str]:
    """The labels of an operation: what it does, and the kind of data of its main key.

    Each ``doing`` is written at one place of one engine, so its labels are kept.
    The kind is the first word of the key, after the prefix's first, that names a
    kind of data: a prefix's later words never do (see ``validate_prefix``).
    """
    found = _attributes.get(doing)
    if found is None:
        kind = next((part for part in key.split(":")[1:] if part in _KINDS), None)
        if kind is None:
            return {"operation": doing, "kind": "other"}
        found = _attributes[doing] = {"operation": doing, "kind": kind}
    return found


def operation(doing: str, key: str, seconds: float, error: BaseException | None) -> None:
    """One operation of any engine ran (``_plan.execute`` calls this)."""
    labels = _labels(doing, key)
    OPERATIONS.add(1, labels)
    DURATION.record(seconds, labels)
    if error is not None:
        ERRORS.add(1, {**labels, "error": type(error).__name__})


@contextmanager
def span(doing: str, key: str, commands: int) -> Iterator[None]:
    """A span around one operation, when :func:`trace_operations` is on."""
    if not _tracing:
        yield
        return
    labels = _labels(doing, key)
    attributes = {"redis_memory.kind": labels["kind"], "redis_memory.commands": commands}
    with _tracer.start_as_current_span(doing, attributes=attributes):
        yield


def tracing() -> bool:
    """Whether :func:`trace_operations` is on: operations are wrapped in spans."""
    return _tracing


def cache_lookup(cache: str, result: str) -> None:
    """``result``: ``"exact_hit"``, ``"semantic_hit"`` or ``"miss"``."""
    CACHE_LOOKUPS.add(1, {"cache": cache, "result": result})


def cache_update(cache: str) -> None:
    """The cache named ``cache`` wrote an entry."""
    CACHE_UPDATES.add(1, {"cache": cache})


def cache_fail_open(cache: str) -> None:
    """A call of the cache named ``cache`` failed open: Redis failed, so it answered a miss."""
    CACHE_FAIL_OPEN.add(1, {"cache": cache})


def cache_outage(cache: str, failing: bool) -> None:
    """The cache named ``cache`` started (``failing``) or stopped failing open."""
    CACHE_OUTAGE.set(1.0 if failing else 0.0, {"cache": cache})


def embedding(cache: str, seconds: float) -> None:
    """The cache named ``cache`` took ``seconds`` to embed one query."""
    EMBEDDING_DURATION.record(seconds, {"cache": cache})


def nearest_distance(cache: str, distance: float) -> None:
    """The cosine ``distance`` of the nearest entry the semantic tier of ``cache`` found."""
    NEAREST_DISTANCE.record(distance, {"cache": cache})


def messages(direction: str, count: int) -> None:
    """``direction``: ``"appended"`` or ``"read"``."""
    if count:
        MESSAGES.add(count, {"direction": direction})


def trimmed(by: str) -> None:
    """``by``: ``"window"`` (an append over the window) or ``"trim"`` (a trim() call)."""
    TRIMS.add(1, {"by": by})


def claim(won: bool) -> None:
    """A task claim was ``won``, or lost to another worker."""
    CLAIMS.add(1, {"outcome": "won" if won else "lost"})


def lock_wait(seconds: float, acquired: bool) -> None:
    """A lock was waited for ``seconds``, then ``acquired`` or given up on."""
    LOCK_WAIT.record(seconds, {"outcome": "acquired" if acquired else "gave up"})


def rate_limit(*, admitted: bool) -> None:
    """A rate limit ``admitted`` a call, or refused it."""
    RATE_LIMIT.add(1, {"decision": "admitted" if admitted else "refused"})
