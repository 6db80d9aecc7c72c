"""``/metrics``: the dashboard's latest readings in Prometheus's text format.

A :class:`prometheus_client.CollectorRegistry` of the dashboard's own, with one
custom collector that turns the readings into metric families at each scrape
(no Redis round trip: a scrape reads what the last refresh found). Labels never
carry an id, a key or a text: only kinds of data, and the names a developer
chose for teams, queues and caches. Every metric is prefixed
``redis_memory_dashboard_``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from .readings import Dashboard

PREFIX = "redis_memory_dashboard_"


def _gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
    return GaugeMetricFamily(PREFIX + name, doc, labels=labels)


def _ok(panel: dict[str, Any] | None) -> bool:
    return bool(panel) and not panel.get("error")  # type: ignore[union-attr]


class DashboardCollector(Collector):
    """Metric families from a :class:`~redis_memory.dashboard.readings.Dashboard`'s readings.

    A panel whose last reading failed (or that was never read) is left out
    rather than reported as zero.
    """

    def __init__(self, dashboard: Dashboard) -> None:
        self.dashboard = dashboard

    def collect(self) -> Iterator[Metric]:
        dash = self.dashboard
        panels = dash.panels
        up = _gauge("redis_up", "1 if Redis answered the last check, else 0.")
        up.add_metric([], 1.0 if dash.redis.get("ok") else 0.0)
        yield up
        feed = _gauge("feed_up", "1 if the event feed is subscribed, else 0.")
        feed.add_metric([], 1.0 if dash.feed.get("ok") else 0.0)
        yield feed
        reconnects = CounterMetricFamily(
            PREFIX + "feed_reconnects", "Times the event feed subscribed again after a failure."
        )
        reconnects.add_metric([], float(dash.feed.get("reconnects", 0)))
        yield reconnects
        if dash.refreshed is not None:
            refreshed = _gauge(
                "last_refresh_timestamp_seconds", "When the readings were last refreshed."
            )
            refreshed.add_metric([], dash.refreshed)
            yield refreshed

        yield from self._memory()
        yield from self._events()
        yield from self._cache()

        if _ok(panels.get("sessions")):
            sessions = _gauge("sessions", "Sessions under the prefix (counted up to a bound).")
            sessions.add_metric([], float(panels["sessions"]["count"]))
            yield sessions
        yield from self._agents()
        if _ok(panels.get("conflicts")):
            conflicts = _gauge("conflicts_open", "Open disagreements between agents.")
            conflicts.add_metric([], float(len(panels["conflicts"]["conflicts"])))
            yield conflicts
        yield from self._queues()
        if _ok(panels.get("locks")):
            locks = _gauge("locks_held", "Distributed locks held.")
            locks.add_metric([], float(len(panels["locks"]["locks"])))
            yield locks
        if _ok(panels.get("ratelimits")):
            limits = _gauge("rate_limit_buckets", "Rate limit buckets not full (idle ones vanish).")
            limits.add_metric([], float(len(panels["ratelimits"]["limits"])))
            yield limits

    def _memory(self) -> Iterator[Metric]:
        memory = self.dashboard.memory
        if memory.get("refreshed") is None:
            return
        keys = _gauge("keys", "Keys under the prefix, by kind of data.", ["kind"])
        size = _gauge(
            "bytes", "Memory of the prefix's keys by kind of data (MEMORY USAGE).", ["kind"]
        )
        for row in memory["kinds"]:
            keys.add_metric([row["kind"]], float(row["keys"]))
            size.add_metric([row["kind"]], float(row["bytes"]))
        yield keys
        yield size

    def _events(self) -> Iterator[Metric]:
        events = CounterMetricFamily(
            PREFIX + "events",
            "Events the feed received, by topic (other: topics named by the application).",
            labels=["topic"],
        )
        for topic, count in sorted(self.dashboard.events_by_topic.items()):
            events.add_metric([topic], float(count))
        yield events

    def _cache(self) -> Iterator[Metric]:
        lookups = CounterMetricFamily(
            PREFIX + "cache_lookups",
            "LLM cache lookups seen on the cache's event channel, by cache, result and tier.",
            labels=["cache", "result", "tier"],
        )
        for cache, result, tier, count in self.dashboard.cache_counts():
            lookups.add_metric([cache, result, tier], float(count))
        yield lookups

    def _agents(self) -> Iterator[Metric]:
        panels = self.dashboard.panels
        teams = panels.get("teams")
        if _ok(teams):
            alive = _gauge("agents_alive", "Live agents, by team.", ["team"])
            orphaned = _gauge(
                "holds_orphaned",
                "Claims and leases held by agents of the team that are not alive.",
                ["team"],
            )
            for row in teams["teams"]:  # type: ignore[index]
                alive.add_metric([row["team"]], float(len(row["agents"])))
                orphaned.add_metric([row["team"]], float(len(row["orphaned"])))
            yield alive
            yield orphaned
        holds = panels.get("holds")
        if _ok(holds):
            held = _gauge(
                "holds",
                "Claims and leases held (the holds index), by kind and the holder's state.",
                ["kind", "state"],
            )
            counts: dict[tuple[str, str], int] = {}
            for row in holds["holds"]:  # type: ignore[index]
                counts[row["kind"], row["state"]] = counts.get((row["kind"], row["state"]), 0) + 1
            for (kind, state), count in sorted(counts.items()):
                held.add_metric([kind, state], float(count))
            yield held

    def _queues(self) -> Iterator[Metric]:
        panels = self.dashboard.panels
        if _ok(panels.get("pqueues")):
            tasks = _gauge(
                "queue_tasks", "Tasks of each priority queue, by state.", ["queue", "state"]
            )
            for row in panels["pqueues"]["queues"]:
                for state in ("ready", "delayed", "leased"):
                    tasks.add_metric([row["queue"], state], float(row[state]))
            yield tasks
        if _ok(panels.get("streams")):
            length = _gauge("stream_queue_length", "Entries of each stream work queue.", ["queue"])
            pending = _gauge(
                "stream_queue_pending",
                "Jobs of each stream work queue delivered and not acknowledged.",
                ["queue"],
            )
            for row in panels["streams"]["queues"]:
                length.add_metric([row["queue"]], float(row["length"]))
                pending.add_metric([row["queue"]], float(row["pending"]))
            yield length
            yield pending


def registry_for(dashboard: Dashboard) -> CollectorRegistry:
    """A registry of its own holding the dashboard's collector (not the global one)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(DashboardCollector(dashboard))
    return registry
