"""Metrics: exact counts after a scripted sequence, through OpenTelemetry and Prometheus.

The OpenTelemetry SDK's in-memory reader is installed once for the test session
(a process has one global meter provider), so each test reads the change its
own sequence made.
"""

from __future__ import annotations

import time

import pytest
from opentelemetry import metrics as otel_metrics
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from prometheus_client import CollectorRegistry

from redis_memory import RedisMemoryConfig, RedisUnavailableError, metrics
from redis_memory.cache import ResponseCache
from redis_memory.coordination import Claims, DistributedLock
from redis_memory.history import MessageLog
from redis_memory.ratelimit import RateLimit

_READER = InMemoryMetricReader()


@pytest.fixture(scope="session")
def reader():
    otel_metrics.set_meter_provider(MeterProvider(metric_readers=[_READER]))
    return _READER


def _points(reader) -> dict[tuple[str, frozenset], float]:
    """Every counter's value and every histogram's count, by name and attributes."""
    found: dict[tuple[str, frozenset], float] = {}
    data = reader.get_metrics_data()
    for resource in data.resource_metrics if data else ():
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                for point in metric.data.data_points:
                    value = getattr(point, "value", None)
                    if value is None:
                        value = point.count
                    found[(metric.name, frozenset(point.attributes.items()))] = value
    return found


def _changes(before: dict, after: dict) -> dict:
    return {
        key: value - before.get(key, 0)
        for key, value in after.items()
        if value != before.get(key, 0)
    }


def _scripted(config: RedisMemoryConfig) -> None:
    log = MessageLog(config=config)
    log.append("s", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}])
    log.append("s", [{"role": "user", "content": "again"}])
    assert len(log.messages("s")) == 3
    log.trim("s", 1)
    windowed = MessageLog(config=config, max_messages=2)
    windowed.append("w", [{"role": "user", "content": "one"}, {"role": "user", "content": "two"}])
    windowed.append("w", [{"role": "user", "content": "three"}])  # over the window: trimmed

    cache = ResponseCache("metrics-test", config=config)
    assert cache.lookup("q", "llm") is None
    cache.update("q", "llm", {"text": "a"})
    assert cache.lookup("q", "llm") == {"text": "a"}

    claims = Claims(config=config)
    assert claims.claim("t", "a")
    assert not claims.claim("t", "b")

    with DistributedLock("l", config=config, ttl=5):
        pass

    limit = RateLimit("m", rate=1, capacity=1, config=config)
    assert limit.try_acquire()
    assert not limit.try_acquire()


def _attrs(**labels: str) -> frozenset:
    return frozenset(labels.items())


def test_opentelemetry_counts_a_scripted_sequence(reader, config):
    before = _points(reader)
    _scripted(config)
    changes = _changes(before, _points(reader))
    expected = {
        ("redis_memory.history.messages", _attrs(direction="appended")): 6,
        ("redis_memory.history.messages", _attrs(direction="read")): 3,
        ("redis_memory.history.trims", _attrs(by="trim")): 1,
        ("redis_memory.history.trims", _attrs(by="window")): 1,
        ("redis_memory.cache.lookups", _attrs(cache="metrics-test", result="miss")): 1,
        ("redis_memory.cache.lookups", _attrs(cache="metrics-test", result="exact_hit")): 1,
        ("redis_memory.cache.updates", _attrs(cache="metrics-test")): 1,
        ("redis_memory.claims", _attrs(outcome="won")): 1,
        ("redis_memory.claims", _attrs(outcome="lost")): 1,
        ("redis_memory.lock.wait", _attrs(outcome="acquired")): 1,
        ("redis_memory.rate_limit.decisions", _attrs(decision="admitted")): 1,
        ("redis_memory.rate_limit.decisions", _attrs(decision="refused")): 1,
    }
    for key, value in expected.items():
        assert changes.pop(key) == value, key
    appends = _attrs(operation="appending messages", kind="session")
    assert changes.pop(("redis_memory.operations", appends)) == 4
    assert changes.pop(("redis_memory.operation.duration", appends)) == 4
    claiming = _attrs(operation="claiming a task", kind="task")
    assert changes.pop(("redis_memory.operations", claiming)) == 2
    assert changes.pop(("redis_memory.operation.duration", claiming)) == 2
    # Every other change is an operation of the sequence, counted and timed once each.
    operations = {k: v for k, v in changes.items() if k[0] == "redis_memory.operations"}
    timed = {k: v for k, v in changes.items() if k[0] == "redis_memory.operation.duration"}
    assert {labels for _, labels in operations} == {labels for _, labels in timed}
    assert all(
        dict(labels)["kind"] in {"session", "cache", "lock", "ratelimit"}
        for _, labels in operations
    )
    assert not [k for k in changes if k[0] == "redis_memory.errors"]


def test_labels_carry_no_ids_keys_or_text(reader, config):
    before = _points(reader)
    MessageLog(config=config).append("user:secret-42", [{"role": "user", "content": "my PIN"}])
    for name, labels in _changes(before, _points(reader)):
        for value in dict(labels).values():
            assert "secret" not in str(value), (name, labels)
            assert "PIN" not in str(value), (name, labels)
            assert config.prefix not in str(value)


def test_errors_are_counted_by_operation_and_type(reader, config):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
    before = _points(reader)
    with pytest.raises(RedisUnavailableError):
        MessageLog(config=down).messages("s")
    changes = _changes(before, _points(reader))
    reading = {"operation": "reading messages", "kind": "session"}
    failed = _attrs(**reading, error="RedisUnavailableError")
    assert changes[("redis_memory.errors", failed)] == 1
    assert changes[("redis_memory.operations", _attrs(**reading))] == 1


def test_prometheus_counts_the_same_sequence(config):
    registry = CollectorRegistry()
    metrics.enable_prometheus(registry)
    try:
        _scripted(config)
        value = registry.get_sample_value
        assert value("redis_memory_history_messages_total", {"direction": "appended"}) == 6
        assert value("redis_memory_history_trims_total", {"by": "trim"}) == 1
        assert value("redis_memory_history_trims_total", {"by": "window"}) == 1
        lookups = "redis_memory_cache_lookups_total"
        assert value(lookups, {"cache": "metrics-test", "result": "miss"}) == 1
        assert value(lookups, {"cache": "metrics-test", "result": "exact_hit"}) == 1
        assert value("redis_memory_claims_total", {"outcome": "lost"}) == 1
        assert value("redis_memory_rate_limit_decisions_total", {"decision": "refused"}) == 1
        appends = {"operation": "appending messages", "kind": "session"}
        assert value("redis_memory_operations_total", appends) == 4
        assert value("redis_memory_operation_duration_seconds_count", appends) == 4
        assert value("redis_memory_lock_wait_seconds_count", {"outcome": "acquired"}) == 1
    finally:
        metrics.disable_prometheus()
    # Disabled: the registry no longer has them.
    assert registry.get_sample_value("redis_memory_claims_total", {"outcome": "lost"}) is None


def test_a_cache_outage_is_a_gauge_and_a_fail_open_count(config):
    registry = CollectorRegistry()
    metrics.enable_prometheus(registry)
    try:
        down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
        cache = ResponseCache("outage-test", config=down)
        assert cache.lookup("q", "llm") is None  # fails open
        assert cache.lookup("q", "llm") is None
        value = registry.get_sample_value
        assert value("redis_memory_cache_fail_open_total", {"cache": "outage-test"}) == 2
        assert value("redis_memory_cache_outage", {"cache": "outage-test"}) == 1
        assert (
            value("redis_memory_cache_lookups_total", {"cache": "outage-test", "result": "miss"})
            == 2
        )
    finally:
        metrics.disable_prometheus()


def test_spans_name_the_operation_and_carry_no_values(config):
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    metrics.trace_operations(True)
    try:
        MessageLog(config=config).append("secret-session", [{"role": "user", "content": "PIN"}])
    finally:
        metrics.trace_operations(False)
    [span] = exporter.get_finished_spans()
    assert span.name == "appending messages"
    assert dict(span.attributes) == {"redis_memory.kind": "session", "redis_memory.commands": 1}


def test_a_cache_announces_its_lookups_when_asked(config, redis_client):
    import json

    pubsub = redis_client.pubsub()
    pubsub.subscribe(config.keys.channel("cache"))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    try:
        quiet = ResponseCache("quiet", config=config)
        quiet.lookup("q", "llm")
        cache = ResponseCache("loud", config=config, publish_events=True)
        took = []  # each lookup's seconds, as the caller sees them
        started = time.perf_counter()
        assert cache.lookup("q", "llm") is None
        took.append(time.perf_counter() - started)
        cache.update("q", "llm", {"text": "a"})
        started = time.perf_counter()
        assert cache.lookup("q", "llm") == {"text": "a"}
        took.append(time.perf_counter() - started)
        events = []
        while message := pubsub.get_message(ignore_subscribe_messages=True, timeout=0.5):
            events.append(json.loads(message["data"]))
    finally:
        pubsub.close()
    assert [(e["event"], e["cache"], e["tier"]) for e in events] == [
        ("miss", "loud", None),
        ("hit", "loud", "exact"),
    ]
    # Each event's seconds are its own lookup's (not milliseconds, not a timestamp): no
    # more than the call took, seen from outside.
    assert all(0 < e["seconds"] <= t for e, t in zip(events, took, strict=True)), (events, took)


async def test_the_async_twin_announces_too(config, redis_client):
    import json

    pubsub = redis_client.pubsub()
    pubsub.subscribe(config.keys.channel("cache"))
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    try:
        cache = ResponseCache("loud", config=config, publish_events=True).twin()
        assert await cache.lookup("q", "llm") is None
        message = pubsub.get_message(ignore_subscribe_messages=True, timeout=1)
    finally:
        pubsub.close()
    assert json.loads(message["data"])["event"] == "miss"


def test_no_operation_name_is_built_from_data():
    # The operation label is the plan's `doing`: an f-string there could carry an id.
    import ast
    from pathlib import Path

    import redis_memory

    built = []
    for path in Path(redis_memory.__file__).parent.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Plan":
                doing = node.args[0] if node.args else None
                if isinstance(doing, ast.JoinedStr | ast.BinOp):
                    built.append(f"{path.name}:{node.lineno}")
    assert not built
