"""``redis-memory dashboard``: its readings, feed, /metrics, token, read-only proof, restarts, CLI.

The app runs in process (Starlette's TestClient, which runs its lifespan: the
feed and the refresh loops) or on a real uvicorn server on a thread
(:class:`~redis_memory.dashboard.ServerThread`) where a test reads the endless
event stream. Unless a test says otherwise, the dashboard connects as a Redis
ACL user that may read the test's prefix and subscribe to its events, and may
not write anything (``redis_memory.dashboard.acl_rules``).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import pytest
import redis
from _waiting import wait_until, wait_until_async
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from redis_memory import RedisMemoryConfig
from redis_memory.cache import ResponseCache
from redis_memory.cli import main
from redis_memory.coordination import Claims, DistributedLock, Findings
from redis_memory.dashboard import (
    Dashboard,
    IdPattern,
    Limits,
    ServerThread,
    acl_rules,
    create_app,
)
from redis_memory.dashboard.readings import PANELS
from redis_memory.embedded import EmbeddedRedis
from redis_memory.history import MessageLog
from redis_memory.keys import KeySchema
from redis_memory.presence import Presence
from redis_memory.priorityqueue import PriorityQueue
from redis_memory.ratelimit import RateLimit
from redis_memory.workqueue import WorkQueue

pytestmark = pytest.mark.standalone_only

LOCAL = "http://127.0.0.1:8765"
FAST = {"refresh": 0.1, "memory_every": 0.2}
# Ids that must never reach a metric's label.
IDS = ("user:42", "ana", "reader-1", "quitter", "summarise-q3", "draft-intro", "incident-7")


# For wait_until: each probe is an HTTP request (or, in the browser test, a script), so
# every 50 ms; 200 times is 10 s when the probe itself takes no time.
POLL = {"attempts": 200, "pause": 0.05}


@contextmanager
def reader_user(server: EmbeddedRedis, prefix: str) -> Iterator[str]:
    """An ACL user that may only read ``prefix`` and subscribe to its events: its URL."""
    name, password = f"dash-{prefix}", uuid.uuid4().hex
    admin = server.client()
    admin.execute_command("ACL", "SETUSER", name, "reset", "on", f">{password}", *acl_rules(prefix))
    try:
        yield f"redis://{name}:{password}@127.0.0.1:{server.port}/0"
    finally:
        admin.execute_command("ACL", "DELUSER", name)
        admin.close()


@pytest.fixture
def reader_config(redis_server: EmbeddedRedis, prefix: str) -> Iterator[RedisMemoryConfig]:
    with reader_user(redis_server, prefix) as url:
        yield RedisMemoryConfig(url=url, prefix=prefix)


def write_everything(config: RedisMemoryConfig) -> None:
    """Data of every kind the dashboard shows, written through the package's engines."""
    log = MessageLog(config=config)
    log.append(
        "user:42", [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    )
    log.append("ana", [{"role": "user", "content": "hello"}])
    team = Presence("research", config=config, ttl=60)
    claims = Claims(config=config)
    team.join("reader-1", capabilities=["read", "en"])
    assert claims.claim("summarise-q3", owner="reader-1", ttl=120)
    team.join("quitter")
    assert claims.claim("draft-intro", owner="quitter", ttl=120)
    team.leave("quitter")  # gone without releasing its claim: orphaned
    findings = Findings(config=config)
    findings.add(
        "incident-7", "status page red", author="scout", subject="cause", verdict="provider"
    )
    findings.add(
        "incident-7", "pool exhausted", author="analyst", subject="cause", verdict="db pool"
    )
    queue = PriorityQueue("reviews", config=config)
    queue.put({"doc": "a"}, priority=1)
    queue.put({"doc": "b"}, priority=9)
    queue.put({"doc": "c"}, priority=5, delay=3600)
    assert DistributedLock("nightly-report", config=config, ttl=120).acquire(blocking=False)
    assert RateLimit("openai", rate=0.001, capacity=5, config=config).try_acquire()
    work = WorkQueue("crawl", config=config)
    work.put({"url": "a"})
    work.put({"url": "b"})
    assert len(work.get("worker-1", count=1)) == 1


def readings(client: TestClient) -> dict[str, Any]:
    response = client.get("/api/readings")
    assert response.status_code == 200
    return response.json()


def filled(client: TestClient) -> dict[str, Any] | None:
    """The readings once every panel has been read, memory measured, and no panel failed."""
    data = readings(client)
    panels = ("sessions", "teams", "holds", "conflicts", "locks", "pqueues", "streams")
    if not all(name in data for name in (*panels, "ratelimits")):
        return None
    if data["memory"]["refreshed"] is None or not data["feed"]["ok"]:
        return None
    return data


def more_readings(client: TestClient, *, refreshes: int, walks: int) -> dict[str, Any]:
    """The readings once ``refreshes`` more refreshes and ``walks`` more memory walks ended.

    Counted by the distinct times they report having ended, polled (some may be missed
    between two polls: then more than asked for ran).
    """
    first = readings(client)
    ended, measured = {first["refreshed"]}, {first["memory"]["refreshed"]}

    def enough() -> dict[str, Any] | None:
        data = readings(client)
        ended.add(data["refreshed"])
        measured.add(data["memory"]["refreshed"])
        return data if len(ended) > refreshes and len(measured) > walks else None

    what = f"{refreshes} more refreshes and {walks} more memory walks"
    return wait_until(enough, **POLL, what=what)


def complete(data: dict[str, Any]) -> bool:
    """Whether the readings show all that :func:`write_everything` wrote."""
    kinds = {row["kind"] for row in data["memory"]["kinds"]}
    return bool(
        data["sessions"].get("count") == 2
        and data["conflicts"].get("conflicts")
        and data["ratelimits"].get("limits")
        and {"session", "task", "lock", "ratelimit", "queue", "team", "pqueue", "holds"} <= kinds
    )


# -- the readings --------------------------------------------------------------------------
def test_readings_show_what_the_engines_wrote(config, reader_config):
    app = create_app(reader_config, **FAST)
    with TestClient(app, base_url=LOCAL) as client:
        wait_until(lambda: readings(client)["feed"]["ok"], **POLL)
        write_everything(config)
        data = wait_until(lambda: (d := filled(client)) and complete(d) and d, **POLL)
        for name in ("sessions", "teams", "holds", "conflicts", "locks", "pqueues", "streams"):
            assert data[name]["error"] is None, (name, data[name])
        assert data["redis"]["ok"] is True
        assert data["prefix"] == config.prefix

        sessions = data["sessions"]
        assert (sessions["count"], sessions["truncated"]) == (2, False)
        active = {row["session_id"]: row for row in sessions["active"]}
        assert active["user:42"]["per_minute"] == 2
        assert active["user:42"]["count"] == 2
        assert sessions["active"][0]["session_id"] == "user:42"  # most active first

        [team] = data["teams"]["teams"]
        assert team["team"] == "research"
        [agent] = team["agents"]
        assert agent["id"] == "reader-1"
        assert agent["capabilities"] == ["en", "read"]
        assert [(h["kind"], h["name"]) for h in agent["holds"]] == [("claim", "summarise-q3")]
        assert [(h["name"], h["holder"]) for h in team["orphaned"]] == [("draft-intro", "quitter")]

        holds = {row["name"]: row for row in data["holds"]["holds"]}
        assert holds["summarise-q3"]["state"] == "live"
        assert holds["draft-intro"]["state"] == "orphaned"
        assert holds["draft-intro"]["team"] == "research"
        assert data["holds"]["orphaned"] == 1

        [conflict] = data["conflicts"]["conflicts"]
        assert conflict["task_id"] == "incident-7"
        assert conflict["subject"] == "cause"
        assert conflict["verdicts"] == {"scout": "provider", "analyst": "db pool"}

        assert data["pqueues"]["queues"] == [
            {"queue": "reviews", "ready": 2, "delayed": 1, "leased": 0}
        ]
        [stream] = data["streams"]["queues"]
        assert (stream["queue"], stream["length"], stream["pending"]) == ("crawl", 2, 1)
        assert stream["consumers"] == {"worker-1": 1}
        [lock] = data["locks"]["locks"]
        assert lock["name"] == "nightly-report"
        assert 100 < lock["expires_in"] <= 120
        [limit] = data["ratelimits"]["limits"]
        assert limit["name"] == "openai"
        assert limit["tokens"] == pytest.approx(4, abs=0.01)
        assert limit["full_in"] > 900

        kinds = {row["kind"]: row for row in data["memory"]["kinds"]}
        assert {"session", "task", "lock", "ratelimit", "queue", "team", "pqueue", "holds"} <= set(
            kinds
        )
        assert all(row["bytes"] > 0 and row["exact"] for row in kinds.values())

        # The page itself and its two static files.
        page = client.get("/")
        assert page.status_code == 200
        assert "/static/dashboard.js" in page.text
        assert config.prefix in page.text
        assert client.get("/static/dashboard.js").status_code == 200
        assert client.get("/static/dashboard.css").status_code == 200
        assert "default-src 'self'" in page.headers["content-security-policy"]


def test_the_feed_keeps_each_event_with_its_topic_and_scope(config, reader_config):
    app = create_app(reader_config, **FAST)
    with TestClient(app, base_url=LOCAL) as client:
        wait_until(lambda: readings(client)["feed"]["ok"], **POLL)
        MessageLog(config=config).append("user:42", [{"role": "user", "content": "hi"}])
        Presence("research", config=config).join("reader-1")
        Claims(config=config).claim("summarise-q3", owner="reader-1")
        cache = ResponseCache("answers", config=config, publish_events=True)
        assert cache.lookup("What is Redis?", "model-a") is None
        cache.update("What is Redis?", "model-a", {"text": "a data store"})
        assert cache.lookup("What is Redis?", "model-a") == {"text": "a data store"}

        def feed() -> list[dict[str, Any]]:
            return client.get("/api/events").json()["events"]

        events = wait_until(lambda: len(f := feed()) >= 5 and f, **POLL)
        by_topic = {(e["topic"], e["scope"], e["data"].get("event")) for e in events}
        assert ("session", "user:42", "messages") in by_topic
        assert ("team", "research", "joined") in by_topic
        assert ("tasks", None, "claimed") in by_topic
        assert ("cache", None, "miss") in by_topic
        assert ("cache", None, "hit") in by_topic
        seqs = [e["seq"] for e in events]
        assert seqs == sorted(seqs)
        later = client.get("/api/events", params={"after": seqs[1]}).json()["events"]
        assert [e["seq"] for e in later] == seqs[2:]
        assert client.get("/api/events", params={"after": "x"}).status_code == 400

        cache_panel = wait_until(lambda: (c := readings(client)["cache"])["hits"] and c, **POLL)
        assert (cache_panel["hits"], cache_panel["misses"]) == (1, 1)
        assert cache_panel["hit_rate"] == 0.5
        [row] = cache_panel["caches"]
        assert (row["cache"], row["exact"], row["semantic"]) == ("answers", 1, 0)
        assert [r["event"] for r in cache_panel["recent"]] == ["hit", "miss"]  # newest first
        counts = readings(client)["events"]["by_topic"]
        assert counts["session"] == 1
        assert counts["cache"] == 2


def test_metrics_are_prometheus_text_with_the_readings_and_no_ids(config, reader_config):
    app = create_app(reader_config, **FAST)
    with TestClient(app, base_url=LOCAL) as client:
        wait_until(lambda: readings(client)["feed"]["ok"], **POLL)
        write_everything(config)
        cache = ResponseCache("answers", config=config, publish_events=True)
        cache.lookup("What is Redis?", "model-a")
        wait_until(lambda: (d := filled(client)) and d["cache"]["misses"] and complete(d), **POLL)
        response = client.get("/metrics")
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        samples = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(response.text)
            for sample in family.samples
        }

    def value(name: str, **labels: str) -> float:
        return samples[("redis_memory_dashboard_" + name, tuple(sorted(labels.items())))]

    assert value("redis_up") == 1
    assert value("feed_up") == 1
    assert value("sessions") == 2
    assert value("agents_alive", team="research") == 1
    assert value("holds_orphaned", team="research") == 1
    assert value("holds", kind="claim", state="live") == 1
    assert value("holds", kind="claim", state="orphaned") == 1
    assert value("conflicts_open") == 1
    assert value("queue_tasks", queue="reviews", state="ready") == 2
    assert value("queue_tasks", queue="reviews", state="delayed") == 1
    assert value("stream_queue_length", queue="crawl") == 2
    assert value("stream_queue_pending", queue="crawl") == 1
    assert value("locks_held") == 1
    assert value("rate_limit_buckets") == 1
    assert value("cache_lookups_total", cache="answers", result="miss", tier="") == 1
    assert value("events_total", topic="session") == 2
    assert value("events_total", topic="tasks") >= 4
    assert value("keys", kind="session") >= 2
    assert value("bytes", kind="session") > 0
    labels = {v for (_, pairs) in samples for _, v in pairs}
    assert not [label for label in labels if any(ident in label for ident in IDS)], labels


# -- read-only -------------------------------------------------------------------------------
WRITES = [
    ("SET", "{p}:probe", "1"),
    ("DEL", "{p}:lock:nightly-report"),
    ("HSET", "{p}:ratelimit:openai", "tokens", "9"),
    ("ZADD", "{p}:holds", "1", "x"),
    ("RPUSH", "{p}:session:{{ana}}:messages", "x"),
    ("XADD", "{p}:queue:{{crawl}}", "*", "payload", "{{}}"),
    ("PEXPIRE", "{p}:holds", "1"),
    ("PUBLISH", "{p}:events:tasks", "{{}}"),
    ("FLUSHDB",),
]


def _snapshot(client: redis.Redis, prefix: str) -> dict[bytes, bytes]:
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    return dict(zip(keys, [client.dump(key) for key in keys], strict=True))


def _calls(client: redis.Redis) -> dict[str, int]:
    return {
        name.removeprefix("cmdstat_"): int(stats["calls"])
        for name, stats in client.info("commandstats").items()
    }


def test_the_dashboard_only_reads():
    """Proof in three parts, on a Redis of the test's own (no other client on it):

    1. the ACL user the dashboard connects as may not write: Redis refuses it every
       write command, also inside a script (Redis checks a script's commands
       against the caller's ACL), and PUBLISH;
    2. under that user, with data of every kind and events flowing, every panel
       reads without an error, and Redis refused the dashboard nothing (no NOPERM
       error counted): it never even tried a write;
    3. every command Redis ran meanwhile (the dashboard's, and the test's own DUMP
       and SCAN) is one that Redis itself does not flag ``write`` (COMMAND INFO),
       PUBLISH ran only for the test's 40 events, and every key's DUMP (values,
       and a stream's consumer groups and pending entries) is the same afterwards.
    """
    prefix = f"t{uuid.uuid4().hex[:10]}"
    with EmbeddedRedis(load_modules=False) as server, server.client() as admin:
        config = RedisMemoryConfig(url=server.url, prefix=prefix)
        write_everything(config)
        with reader_user(server, prefix) as url:
            name = url.split("//", 1)[1].split(":", 1)[0]
            # 1. The user cannot write.
            for command in WRITES:
                args = [arg.format(p=prefix) for arg in command]
                reply = admin.execute_command("ACL", "DRYRUN", name, *args)
                assert reply != b"OK", args
            reader = redis.Redis.from_url(url)
            refused = "no permissions to run the 'set' command"
            with pytest.raises(redis.exceptions.ResponseError, match=refused):
                reader.eval("return redis.call('SET', KEYS[1], 'x')", 1, f"{prefix}:probe")
            reader.close()

            admin.config_resetstat()
            before = _snapshot(admin, prefix)
            calls_before = _calls(admin)
            app = create_app(RedisMemoryConfig(url=url, prefix=prefix), **FAST)
            with TestClient(app, base_url=LOCAL) as client:
                wait_until(lambda: readings(client)["feed"]["ok"], **POLL)
                # Events flow (published by the admin: PUBLISH writes no key).
                for i in range(20):
                    admin.publish(KeySchema(prefix).channel("tasks"), b'{"event": "tick"}')
                    admin.publish(KeySchema(prefix).session_channel(f"s{i}"), b'{"added": 1}')
                wait_until(lambda: (d := filled(client)) and d["events"]["total"] >= 40, **POLL)
                # Several more refreshes and memory walks, under the read-only user.
                data = more_readings(client, refreshes=5, walks=3)
            # 2. Every reading worked under the read-only user; Redis refused nothing.
            for panel in ("sessions", "teams", "holds", "conflicts", "locks", "pqueues"):
                assert data[panel]["error"] is None, (panel, data[panel])
            for panel in ("streams", "ratelimits", "memory"):
                assert data[panel]["error"] is None, (panel, data[panel])
            assert data["teams"]["teams"]
            assert data["locks"]["locks"]
            errors = admin.info("errorstats")
            assert "errorstat_NOPERM" not in errors, errors
            # 3. Only commands that Redis itself says do not write, and no key changed.
            calls_after = _calls(admin)
            ran = {
                command
                for command, calls in calls_after.items()
                if calls > calls_before.get(command, 0)
            }
            assert {"scan", "evalsha", "pttl", "hmget", "memory|usage", "xpending"} <= ran, ran
            ran.discard("publish")  # the admin's 40, counted below
            for command in ran:
                info = admin.execute_command("COMMAND", "INFO", command)[command]
                flags = {f.decode() if isinstance(f, bytes) else f for f in info["flags"]}
                assert "write" not in flags, (command, flags)
            assert calls_after.get("publish", 0) - calls_before.get("publish", 0) == 40
            assert _snapshot(admin, prefix) == before


def test_the_package_acl_user_can_run_the_dashboard(config, redis_server):
    """The package's own ACL (``redis_memory.acl``) allows every read the dashboard makes.

    Its channel rule, ``&{prefix}:*``, lets a user PSUBSCRIBE that pattern only (Redis
    compares patterns literally): the feed then listens to the whole prefix.
    """
    from redis_memory.acl import acl_rules as package_rules

    name, password = f"pkg-{config.prefix}", uuid.uuid4().hex
    admin = redis_server.client()
    admin.execute_command(
        "ACL", "SETUSER", name, "reset", "on", f">{password}", *package_rules(config.prefix)
    )
    try:
        url = f"redis://{name}:{password}@127.0.0.1:{redis_server.port}/0"
        app = create_app(RedisMemoryConfig(url=url, prefix=config.prefix), **FAST)
        with TestClient(app, base_url=LOCAL) as client:
            status = wait_until(lambda: (d := readings(client))["feed"]["ok"] and d["feed"], **POLL)
            assert status["pattern"] == f"{config.prefix}:*"
            MessageLog(config=config).append("user:42", [{"role": "user", "content": "hi"}])
            events = wait_until(lambda: client.get("/api/events").json()["events"], **POLL)
            assert [(e["topic"], e["scope"]) for e in events] == [("session", "user:42")]
            write_everything(config)
            data = wait_until(lambda: (d := filled(client)) and complete(d) and d, **POLL)
            for panel in (*PANELS, "memory"):
                assert data[panel]["error"] is None, (panel, data[panel])
    finally:
        admin.execute_command("ACL", "DELUSER", name)
        admin.close()


# -- access ------------------------------------------------------------------------------------
PATHS = ["/", "/api/readings", "/api/events", "/metrics", "/static/dashboard.js", "/events"]


def test_a_non_local_host_needs_a_token_on_every_request(config):
    with pytest.raises(ValueError, match="needs a token"):
        create_app(config, host="0.0.0.0")
    with pytest.raises(ValueError, match="non-empty"):
        create_app(config, token=" ")
    token = "s3cret-Token"
    app = create_app(config, token=token, host="0.0.0.0", **FAST)
    with TestClient(app, base_url="http://dashboard.example:8765") as client:
        for path in PATHS:
            response = client.get(path)
            assert response.status_code == 401, path
            assert response.headers["www-authenticate"] == "Bearer"
            assert client.get(path, params={"token": "wrong"}).status_code == 401, path
            wrong = {"Authorization": "Bearer s3cret-Toke"}
            assert client.get(path, headers=wrong).status_code == 401, path
            assert token not in response.text
        for path in PATHS[:-1]:  # /events never ends: read through a real server below
            assert client.get(path, params={"token": token}).status_code == 200, path
            bearer = {"Authorization": f"Bearer {token}"}
            assert client.get(path, headers=bearer).status_code == 200, path
        page = client.get("/", params={"token": token}).text
        assert f"/static/dashboard.js?token={token}" in page


def test_on_loopback_no_token_is_needed_but_only_loopback_names_are_answered(config):
    app = create_app(config, **FAST)
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/api/readings").status_code == 200
        for host in ("localhost:8765", "[::1]:8765", "127.0.0.1"):
            assert client.get("/metrics", headers={"Host": host}).status_code == 200, host
        # A page elsewhere reaching 127.0.0.1 through DNS rebinding names its own host.
        assert client.get("/api/readings", headers={"Host": "evil.example"}).status_code == 403
    app = create_app(config, token="given-clé", **FAST)
    with TestClient(app, base_url=LOCAL) as client:
        assert client.get("/api/readings").status_code == 401
        assert client.get("/api/readings", params={"token": "given-clé"}).status_code == 200
        assert client.get("/api/readings", params={"token": "given-cle"}).status_code == 401


def _stream_until(lines: Iterator[str], wanted: Callable[[str, str], bool]) -> list[str]:
    """Read server-sent events until ``wanted(event, data)``; every event name read."""
    names, name = [], ""
    for line in lines:
        if line.startswith("event: "):
            name = line[len("event: ") :]
        elif line.startswith("data: "):
            names.append(name)
            if wanted(name, line[len("data: ") :]):
                return names
    raise AssertionError(f"the stream ended after {names}")


def test_the_event_stream_sends_hello_then_each_event_live(config, reader_config):
    token = "t0ken"
    app = create_app(reader_config, token=token, host="0.0.0.0", **FAST)
    with ServerThread(app) as running, httpx.Client(timeout=10) as http:
        events_url = running.url + "events"
        assert http.get(events_url).status_code == 401
        with http.stream("GET", events_url, params={"token": token}) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            lines = response.iter_lines()
            names = _stream_until(lines, lambda name, _: name == "hello")
            wait_until(lambda: app.state.dashboard.feed["ok"], **POLL)
            MessageLog(config=config).append("ana", [{"role": "user", "content": "hello"}])
            names += _stream_until(lines, lambda name, data: name == "feed" and '"ana"' in data)
        assert names[0] == "hello"
        metrics = http.get(running.url + "metrics", headers={"Authorization": f"Bearer {token}"})
        assert metrics.status_code == 200
    assert not app.state.dashboard._listeners  # the stream's queue went with it


# -- a Redis restart ----------------------------------------------------------------------------
def test_the_dashboard_survives_a_redis_restart():
    prefix = f"t{uuid.uuid4().hex[:10]}"
    server = EmbeddedRedis(load_modules=False).start()
    port = server.port
    try:
        config = RedisMemoryConfig(url=server.url, prefix=prefix, socket_timeout=1.0)
        writer = RedisMemoryConfig(url=server.url, prefix=prefix, retries=0)
        app = create_app(config, **FAST)
        with TestClient(app, base_url=LOCAL) as client:
            wait_until(lambda: (d := readings(client))["feed"]["ok"] and d["redis"]["ok"], **POLL)
            MessageLog(config=writer).append("before", [{"role": "user", "content": "1"}])
            wait_until(lambda: client.get("/api/events").json()["events"], **POLL)

            server.stop()
            down = wait_until(lambda: (d := readings(client))["redis"]["ok"] is False and d, **POLL)
            assert down["redis"]["error"].startswith("Redis unreachable")
            wait_until(lambda: readings(client)["feed"]["ok"] is False, **POLL)
            assert client.get("/api/readings").status_code == 200  # the page still answers
            metrics = client.get("/metrics").text
            assert "redis_memory_dashboard_redis_up 0.0" in metrics

            server = EmbeddedRedis(load_modules=False, port=port).start()
            back = wait_until(
                lambda: (d := readings(client))["redis"]["ok"] and d["feed"]["ok"] and d,
                attempts=400,
                pause=0.05,
            )
            assert back["feed"]["reconnects"] == 1
            MessageLog(config=writer).append("after", [{"role": "user", "content": "2"}])
            appended = time.time()
            events = wait_until(
                lambda: [
                    e for e in client.get("/api/events").json()["events"] if e["scope"] == "after"
                ],
                **POLL,
            )
            assert events[0]["data"]["count"] == 1
            assert wait_until(lambda: readings(client)["sessions"].get("count") == 1, **POLL)
            # Every panel and the memory reading recover (memory: measured after the append).
            wait_until(
                lambda: all(readings(client)[panel]["error"] is None for panel in PANELS), **POLL
            )
            memory = wait_until(
                lambda: (
                    (m := readings(client)["memory"])["refreshed"]
                    and m["refreshed"] > appended
                    and m["error"] is None
                    and m
                ),
                **POLL,
            )
            assert [row["kind"] for row in memory["kinds"]] == ["session"]
    finally:
        server.stop()


async def test_stop_ends_a_loop_whose_cancel_became_a_connection_error(config, monkeypatch):
    """redis-py may report a cancel that lands during a command as a connection error.

    A loop that took it for a lost Redis and went on would make the app's shutdown
    wait forever; the loops also stop on the dashboard's own flag.
    """
    calls = 0

    async def stubborn(self: Dashboard) -> bool:
        nonlocal calls
        calls += 1
        try:
            await asyncio.sleep(30)
        except asyncio.CancelledError:
            raise redis.exceptions.ConnectionError("Connection closed by server.") from None
        return True

    monkeypatch.setattr(Dashboard, "check", stubborn)
    dashboard = Dashboard(config, refresh=0.05, memory_every=0.05)
    await dashboard.start()
    loops = list(dashboard._tasks)

    async def checking() -> int:
        return calls

    await wait_until_async(checking, what="the refresh loop to be inside check()")
    # The 10 s bound only stops a hang failing slowly (stop() gives up on a loop after
    # 3 x 2 s); what is checked is that every loop ended and none called check() again.
    await asyncio.wait_for(dashboard.stop(), 10)
    assert all(loop.done() for loop in loops), "a loop outlived stop()"
    assert calls == 1, "the loop stopped on the error instead of checking again"


# -- the command line ----------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_cli_refuses_a_port_in_use_and_bad_arguments(redis_url, capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["dashboard", "--url", redis_url, "--port", str(port)]) == 1
    err = capsys.readouterr().err
    assert err == (
        f"redis-memory dashboard: port {port} on 127.0.0.1 is in use (another dashboard?); "
        "pick another with --port\n"
    )
    assert main(["dashboard", "--url", redis_url, "--token", ""]) == 1
    assert "--token must not be empty" in capsys.readouterr().err
    for bad in (["--port", "0"], ["--port", "70000"], ["--refresh", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            main(["dashboard", *bad])
        assert exit_info.value.code == 2
        assert "expected a" in capsys.readouterr().err


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_cli_on_a_non_local_host_generates_a_token_and_stops_on_a_signal(config, stop):
    port = _free_port()
    command = [sys.executable, "-m", "redis_memory.cli", "dashboard", "--host", "0.0.0.0"]
    command += ["--port", str(port), "--url", config.url, "--prefix", config.prefix]
    process = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        url = process.stdout.readline().strip()
        assert url.startswith(f"http://0.0.0.0:{port}/?token=")
        token = url.split("?token=", 1)[1]
        assert len(token) >= 32
        local = f"http://127.0.0.1:{port}/api/readings"

        def answered() -> httpx.Response | None:
            try:
                return httpx.get(local, timeout=5)
            except httpx.TransportError:
                return None

        assert wait_until(answered, **POLL).status_code == 401
        assert httpx.get(local, params={"token": token}, timeout=5).status_code == 200
    finally:
        process.send_signal(stop)
        _, err = process.communicate(timeout=20)
    assert process.returncode == 0, err
    assert "every request needs the token" in err
    assert token not in err


def test_cli_dashboard_without_the_extra_names_the_pip_line():
    code = (
        "import sys\n"
        "sys.modules['starlette'] = None\n"
        "from redis_memory.cli import main\n"
        "sys.exit(main(['dashboard', '--url', 'redis://127.0.0.1:1/0']))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 1
    assert "pip install 'redis-memory-backend[dashboard]'" in done.stderr


# -- the pieces ---------------------------------------------------------------------------------
def test_id_patterns_come_from_the_schema_and_refuse_foreign_keys():
    keys = KeySchema("app")
    teams = IdPattern.of(keys.team_alive)
    assert teams.match == "app:team:{*}:alive"
    assert teams.id_of(keys.team_alive("a:b c")) == "a:b c"
    assert teams.id_of(b"app:team:{x}:alive") == "x"
    for foreign in ("app:team:{}:alive", "app:team:{a:b}:alive", "app:team:{%2a}:alive", "x"):
        assert teams.id_of(foreign) is None, foreign
    locks = IdPattern.of(keys.lock)
    assert locks.match == "app:lock:*"
    assert locks.id_of(keys.lock("nightly*")) == "nightly*"
    topics = IdPattern.of(keys.channel)
    assert topics.id_of(keys.session_channel("s")) is None
    assert topics.id_of(keys.channel("tasks")) == "tasks"


def test_limits_and_intervals_are_checked():
    with pytest.raises(ValueError, match=r"Limits\.keys"):
        Limits(keys=0)
    with pytest.raises(ValueError, match="refresh"):
        create_app(RedisMemoryConfig(url="redis://127.0.0.1:1/0"), refresh=0)
    rules = acl_rules("app")
    assert {"&app:events:*", "-keys", "+@read"} <= set(rules)
    assert not [rule for rule in rules if rule.startswith("+") and "write" in rule]
