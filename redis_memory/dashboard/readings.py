"""What the dashboard knows: the live event feed and the readings it refreshes.

:class:`Dashboard` holds everything the page and ``/metrics`` show, and the
asyncio tasks that keep it current, all on one event loop:

- **the feed**: one pub/sub connection ``PSUBSCRIBE``\\ d to ``{prefix}:events:*``
  (sessions' appends, state changes, tasks, claims, findings, conflicts and
  queue events, team joins and leaves, cache hits and misses, any
  :class:`~redis_memory.events.EventBus` topic). Each event is kept (the last
  :attr:`Limits.feed`), counted, and pushed to every open page at once. When the
  connection drops, the loop reconnects with exponential backoff and jitter and
  subscribes again; events published meanwhile are lost, as pub/sub loses them
  for every subscriber.
- **the readings**, refreshed every ``refresh`` seconds (never per request):
  sessions counted, live agents per team and what each holds, orphaned holds,
  open disagreements, claims and leases, locks, priority queues, stream work
  queues and rate limits; and memory by kind of data every ``memory_every``
  seconds (:func:`redis_memory.server.amemory_by_kind`, a walk of the prefix).

Everything is read with the package's own readers (:class:`AsyncPresence`,
:class:`AsyncFindings`, :class:`AsyncPriorityQueue`, :class:`AsyncWorkQueue`,
the holds index) or plain read commands (``SCAN``, ``PTTL``, ``HMGET``,
``XLEN``). Nothing here writes to Redis: the scripts it runs (presence's agent
list, the holds index, a priority queue's counts) only read, and a Redis ACL
user without a single write command is enough (:func:`acl_rules`).

Bounded: one ``SCAN`` walk of ``{prefix}:*`` per refresh finds what the panels
read, with ``COUNT`` :attr:`Limits.scan_count` and at most
:attr:`Limits.scan_calls` calls, keeping at most :attr:`Limits.keys` names of
one kind (sessions: counted up to :attr:`Limits.sessions`); a panel that hit a
bound says so (``truncated``). Never ``KEYS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
import redis
import redis.asyncio
import redis.asyncio.retry
from redis.backoff import ExponentialWithJitterBackoff, NoBackoff

from .. import _holds
from .._checks import seconds, text, whole
from .._execute import execute_async
from .._plan import Plan
from ..config import RedisMemoryConfig
from ..connection import RedisClients
from ..coordination import AsyncFindings, Conflict, Decision
from ..errors import RedisMemoryError
from ..keys import KeySchema, escape_id, unescape_id, validate_prefix
from ..presence import AsyncPresence, TeamActivity
from ..priorityqueue import AsyncPriorityQueue
from ..server import amemory_by_kind
from ..workqueue import AsyncWorkQueue

log = logging.getLogger("redis_memory.dashboard")

T = TypeVar("T")

# Topics named in metrics as they are; every other topic is counted as "other",
# so that a label never carries an id (a topic may be named after one).
KNOWN_TOPICS = ("session", "state", "team", "tasks", "cache")
# The panels read at each refresh (memory apart).
PANELS = ("sessions", "teams", "holds", "conflicts", "locks", "pqueues", "streams", "ratelimits")
# How many caches are told apart (by name) in the cache panel and the metrics.
MAX_CACHES = 50
_RECONNECT_BASE = 0.05
_RECONNECT_CAP = 2.0
# What a reading failed on: the connection, or a reply this package did not expect.
_READ_ERRORS = (RedisMemoryError, redis.exceptions.RedisError, OSError, ValueError, TypeError)
_CONNECTION_ERRORS = (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError)
# An event whose JSON is longer than this is shown by its name only.
MAX_EVENT_BYTES = 4096
_PLACEHOLDER = "RMEMDASHBOARDID"


@dataclass(frozen=True, slots=True)
class Limits:
    """How much the dashboard reads per refresh, and how much it keeps.

    Attributes:
        scan_count: ``COUNT`` of each ``SCAN`` call.
        scan_calls: ``SCAN`` calls per pattern and refresh, at most (so at most
            ``scan_count * scan_calls`` keys are looked at per kind).
        keys: Keys listed per kind of data (teams, tasks, locks, queues, rate limits).
        sessions: Sessions counted, at most.
        holds: Claims and leases read from the holds index, and agents per team.
        feed: Recent events kept (and sent to a page that opens).
        tracked_sessions: Sessions whose message rate is followed.
        recent_lookups: Recent cache lookups kept.
        memory_sample: Keys measured with ``MEMORY USAGE`` per kind of data.
        concurrency: Reads in flight at once within one refresh.
    """

    scan_count: int = 500
    scan_calls: int = 100
    keys: int = 200
    sessions: int = 10_000
    holds: int = 1000
    feed: int = 200
    tracked_sessions: int = 1000
    recent_lookups: int = 50
    memory_sample: int = 100
    concurrency: int = 8

    def __post_init__(self) -> None:
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            whole(f"Limits.{name}", value, 1)


def acl_rules(prefix: str) -> list[str]:
    """``ACL SETUSER`` rules for a dashboard user: it may read ``prefix``'s keys, never write.

    Read commands only (``+@read``, less ``KEYS``), the connection's own
    commands, pub/sub subscriptions on ``{prefix}:events:*`` (no ``PUBLISH``),
    and ``EVALSHA``/``EVAL`` with ``TIME`` for the package's read-only scripts:
    Redis checks every command a script calls against the caller's ACL, so a
    script that tried to write would be refused too. Add the user's name,
    ``on`` and a password in front.
    """
    validate_prefix(prefix)
    return [
        "resetkeys",
        f"~{KeySchema(prefix).pattern()}",
        "resetchannels",
        f"&{KeySchema(prefix).channel_prefix()}*",
        "-@all",
        "+@read",
        "-keys",
        "+@connection",
        "+psubscribe",
        "+punsubscribe",
        "+subscribe",
        "+unsubscribe",
        "+evalsha",
        "+eval",
        "+time",
    ]


# -- names in keys and channels ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class IdPattern:
    """The keys (or channels) one :class:`~redis_memory.keys.KeySchema` builder makes.

    Built from the builder itself (:meth:`of`), so that the dashboard never
    spells a key by hand: ``match`` is the ``SCAN`` (or ``PSUBSCRIBE``) pattern,
    and :meth:`id_of` gives back the id a key was built from, or None for a
    key the builder cannot have made.
    """

    head: str
    tail: str

    @classmethod
    def of(cls, build: Callable[[str], str]) -> IdPattern:
        """The pattern of the keys that ``build`` makes, read from one key it builds."""
        sample = build(_PLACEHOLDER)
        at = sample.rindex(_PLACEHOLDER)
        return cls(sample[:at], sample[at + len(_PLACEHOLDER) :])

    @property
    def match(self) -> str:
        """The ``SCAN`` (or ``PSUBSCRIBE``) pattern of these keys."""
        return f"{self.head}*{self.tail}"

    def id_of(self, name: str | bytes) -> str | None:
        """The id a key (or channel) was built from, or None if the builder cannot have made it."""
        value = text(name)
        if not (value.startswith(self.head) and value.endswith(self.tail)):
            return None
        escaped = value[len(self.head) : len(value) - len(self.tail)]
        if not escaped:
            return None
        try:
            ident = unescape_id(escaped)
            # Only an id escaped exactly as the schema escapes it: nothing foreign.
            return ident if escape_id(ident) == escaped else None
        except ValueError:
            return None


@dataclass(frozen=True, slots=True)
class _Patterns:
    """The names the dashboard reads from keys and channels, each from its schema builder."""

    walked: dict[str, IdPattern]  # kind of key (KeySchema.kind_of) -> the panel's keys
    topic: IdPattern
    session_channel: IdPattern
    state_channel: IdPattern
    team_channel: IdPattern

    @classmethod
    def of(cls, keys: KeySchema) -> _Patterns:
        return cls(
            walked={
                "session": IdPattern.of(keys.session_messages),
                "team": IdPattern.of(keys.team_alive),
                "task": IdPattern.of(keys.task_verdicts),
                "lock": IdPattern.of(keys.lock),
                "ratelimit": IdPattern.of(keys.ratelimit),
                # A priority queue's meta hash exists while it holds a task.
                "pqueue": IdPattern.of(keys.pqueue_meta),
                "queue": IdPattern.of(keys.queue),
            },
            topic=IdPattern.of(keys.channel),
            session_channel=IdPattern.of(keys.session_channel),
            state_channel=IdPattern.of(keys.state_channel),
            team_channel=IdPattern.of(keys.team_channel),
        )


@dataclass(slots=True)
class Walk:
    """What one bounded ``SCAN`` walk of the prefix found: per kind, ``{name: key}``.

    ``complete``: the walk reached its end; ``full``: the kinds that reached
    their cap (their listing is cut short even if the walk was not).
    """

    found: dict[str, dict[str, str]]
    full: set[str] = field(default_factory=set)
    complete: bool = False

    def names(self, kind: str) -> list[str]:
        """The names found of the kind, sorted."""
        return sorted(self.found[kind])

    def keyed(self, kind: str) -> list[tuple[str, str]]:
        """``(name, key)`` of the kind, by name."""
        return sorted(self.found[kind].items())

    def truncated(self, kind: str) -> bool:
        """Whether the kind's listing may be cut short (the walk stopped early, or hit its cap)."""
        return not self.complete or kind in self.full


# -- what the feed follows ---------------------------------------------------------------
@dataclass(slots=True)
class _SessionActivity:
    appends: deque[tuple[float, int]] = field(default_factory=lambda: deque(maxlen=1000))
    count: int | None = None
    last: float = 0.0

    def per_minute(self, now: float) -> int:
        while self.appends and self.appends[0][0] < now - 60:
            self.appends.popleft()
        return sum(added for _, added in self.appends)


@dataclass(slots=True)
class _CacheActivity:
    hits: Counter[str] = field(default_factory=Counter)  # by tier
    misses: int = 0
    seconds: float = 0.0

    @property
    def lookups(self) -> int:
        return sum(self.hits.values()) + self.misses


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _status(ok: bool | None, error: str | None = None, **more: Any) -> dict[str, Any]:
    return {"ok": ok, "error": error, "since": time.time(), **more}


def _said(exc: BaseException) -> str:
    message = str(exc) or type(exc).__name__
    return message if len(message) <= 300 else message[:299] + "…"


def _hold(hold: _holds.Hold) -> dict[str, Any]:
    return {
        "kind": hold.kind,
        "name": hold.name,
        "holder": hold.holder,
        "expires_in": hold.expires_in,
    }


def _decision(decision: Decision | None) -> dict[str, Any] | None:
    if decision is None:
        return None
    return {
        "verdict": decision.verdict,
        "decided_by": decision.decided_by,
        "reason": decision.reason,
        "ts": decision.ts,
    }


def _conflict(conflict: Conflict) -> dict[str, Any]:
    return {
        "task_id": conflict.task_id,
        "subject": conflict.subject,
        "verdicts": conflict.verdicts,
        "opened": conflict.opened,
        "reopens": _decision(conflict.reopens),
    }


class Dashboard:
    """The live state behind ``redis-memory dashboard``: feed, readings, listeners.

    Args:
        config: Where the data lives (URL, prefix, connection settings). The
            dashboard connects with at most one retry per command and a connect
            timeout of at most 2 s, so that an unreachable Redis shows at once.
        refresh: Seconds between two refreshes of the readings.
        memory_every: Seconds between two measurements of memory by kind (a
            walk of every key of the prefix, so less often than ``refresh``).
        limits: How much is read per refresh and kept (:class:`Limits`).

    :meth:`start` and :meth:`stop` run on the event loop that serves the page
    (the app's lifespan does it); every method is for that loop.
    """

    def __init__(
        self,
        config: RedisMemoryConfig,
        *,
        refresh: float = 2.0,
        memory_every: float = 10.0,
        limits: Limits | None = None,
    ) -> None:
        self.refresh_seconds = seconds("refresh", refresh)
        self.memory_seconds = seconds("memory_every", memory_every)
        self.config = config.replace(
            retries=min(config.retries, 1),
            socket_connect_timeout=min(config.socket_connect_timeout or 2.0, 2.0),
        )
        self.limits = limits or Limits()
        self.keys = self.config.keys
        self.prefix = self.config.prefix
        self._clients = RedisClients.shared(config=self.config)
        self._patterns = _Patterns.of(self.keys)
        self.events_pattern = self._patterns.topic.match
        self.started = time.time()
        # -- state the page and /metrics read ---------------------------------------------
        self.redis: dict[str, Any] = _status(None, None, checked=None)
        self.feed: dict[str, Any] = _status(
            False, "not subscribed yet", pattern=self.events_pattern, reconnects=0
        )
        self.refreshed: float | None = None
        self.panels: dict[str, dict[str, Any]] = {}
        self.memory: dict[str, Any] = {"kinds": [], "refreshed": None, "error": None}
        self.events_by_topic: Counter[str] = Counter()
        self.events: deque[dict[str, Any]] = deque(maxlen=self.limits.feed)
        self._seq = 0
        self._sessions: OrderedDict[str, _SessionActivity] = OrderedDict()
        self._caches: dict[str, _CacheActivity] = {}
        self._lookups: deque[dict[str, Any]] = deque(maxlen=self.limits.recent_lookups)
        # -- machinery --------------------------------------------------------------------
        self._listeners: set[asyncio.Queue[tuple[str, Any]]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._pubsub_pool: redis.asyncio.ConnectionPool | None = None
        self._backoff = ExponentialWithJitterBackoff(cap=_RECONNECT_CAP, base=_RECONNECT_BASE)
        self._gate: asyncio.Semaphore | None = None
        self._stopping = False

    # -- lifecycle -------------------------------------------------------------------------
    def url(self) -> str:
        """The Redis URL read (masked)."""
        return self._clients.masked_url()

    async def start(self) -> None:
        """Start the feed and the refresh loops (idempotent)."""
        if self._tasks:
            return
        self._stopping = False
        self._gate = asyncio.Semaphore(self.limits.concurrency)
        self._tasks = [
            asyncio.create_task(self._feed_loop(), name="dashboard feed"),
            asyncio.create_task(self._refresh_loop(), name="dashboard readings"),
            asyncio.create_task(self._memory_loop(), name="dashboard memory"),
        ]

    async def stop(self) -> None:
        """End the open streams and the loops; close the connections."""
        self.close_streams()
        # The flag as well as the cancel: redis-py may turn a cancel that lands
        # during a command into a connection error, which a loop would outlive.
        self._stopping = True
        tasks, self._tasks = self._tasks, []
        for _ in range(3):
            pending = [task for task in tasks if not task.done()]
            if not pending:
                break
            for task in pending:
                task.cancel()
            await asyncio.wait(pending, timeout=2.0)
        for task in tasks:
            if task.done() and not task.cancelled() and task.exception() is not None:
                log.debug("a dashboard loop ended with an error", exc_info=task.exception())
        pool, self._pubsub_pool = self._pubsub_pool, None
        if pool is not None:
            await pool.disconnect()
        with contextlib.suppress(Exception):
            await self._clients.aclose()

    # -- listeners (the pages' event streams) ------------------------------------------------
    def listen(self) -> asyncio.Queue[tuple[str, Any]]:
        """A queue that receives ``(name, payload)`` for each feed event, reading and status."""
        queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue(maxsize=1000)
        self._listeners.add(queue)
        return queue

    def unlisten(self, queue: asyncio.Queue[tuple[str, Any]]) -> None:
        """Stop sending to a queue from :meth:`listen` (its page has gone)."""
        self._listeners.discard(queue)

    def close_streams(self) -> None:
        """Tell every open stream to end (the server is shutting down)."""
        self._broadcast("closing", None)

    def _broadcast(self, name: str, payload: Any) -> None:
        for queue in list(self._listeners):
            try:
                queue.put_nowait((name, payload))
            except asyncio.QueueFull:
                # A page that stopped reading: it gets the next readings in full.
                log.debug("a dashboard page is not keeping up; dropped a %s message", name)

    # -- what is shown ---------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        """The state of Redis and of the feed, and when the readings were last refreshed."""
        return {"redis": dict(self.redis), "feed": dict(self.feed), "refreshed": self.refreshed}

    def recent_events(self, after: int = 0) -> list[dict[str, Any]]:
        """The kept events with a sequence number above ``after``, oldest first."""
        return [event for event in self.events if event["seq"] > after]

    def sessions_active(self, now: float | None = None) -> list[dict[str, Any]]:
        """Sessions with appends in the last 10 minutes, most messages per minute first."""
        now = time.time() if now is None else now
        rows = [
            {
                "session_id": session_id,
                "per_minute": activity.per_minute(now),
                "count": activity.count,
                "last": activity.last,
            }
            for session_id, activity in self._sessions.items()
            if activity.last >= now - 600
        ]
        rows.sort(key=lambda row: (-row["per_minute"], -row["last"]))
        return rows[:20]

    def cache(self) -> dict[str, Any]:
        """Hits and misses seen on ``{prefix}:events:cache``, per cache, and the latest lookups."""
        rows = []
        for name, seen in sorted(self._caches.items()):
            hits = sum(seen.hits.values())
            rows.append(
                {
                    "cache": name,
                    "hits": hits,
                    "misses": seen.misses,
                    "exact": seen.hits.get("exact", 0),
                    "semantic": seen.hits.get("semantic", 0),
                    "hit_rate": hits / seen.lookups if seen.lookups else None,
                    "mean_seconds": seen.seconds / seen.lookups if seen.lookups else None,
                }
            )
        hits = sum(row["hits"] for row in rows)
        misses = sum(row["misses"] for row in rows)
        return {
            "hits": hits,
            "misses": misses,
            "hit_rate": hits / (hits + misses) if hits + misses else None,
            "caches": rows,
            "recent": list(reversed(self._lookups)),
        }

    def cache_counts(self) -> list[tuple[str, str, str, int]]:
        """``(cache, result, tier, lookups)`` seen since the start, for the metrics."""
        rows = []
        for name, seen in sorted(self._caches.items()):
            for tier, hits in sorted(seen.hits.items()):
                rows.append((name, "hit", tier, hits))
            rows.append((name, "miss", "", seen.misses))
        return rows

    def snapshot(self) -> dict[str, Any]:
        """Every reading, as JSON-ready values: what ``/api/readings`` and the page show."""
        sessions = dict(self.panels.get("sessions", {"count": None, "truncated": False}))
        sessions["active"] = self.sessions_active()
        return {
            "prefix": self.prefix,
            "url": self.url(),
            "started": self.started,
            "refresh_seconds": self.refresh_seconds,
            **self.status(),
            "sessions": sessions,
            "cache": self.cache(),
            "memory": dict(self.memory),
            **{name: panel for name, panel in self.panels.items() if name != "sessions"},
            "events": {"total": self._seq, "by_topic": dict(self.events_by_topic)},
        }

    def hello(self) -> dict[str, Any]:
        """What a page gets first on its event stream: the readings and the kept events."""
        return {"readings": self.snapshot(), "events": list(self.events)}

    # -- the feed ----------------------------------------------------------------------------
    def _pubsub_client(self) -> Any:
        """A client for the feed's connection: a pool of its own, without retries.

        The loop below reconnects, with its own backoff, so a command never
        retries inside redis-py; a health check PINGs a silent connection.
        """
        client = self._clients.async_
        if isinstance(client, redis.asyncio.RedisCluster):
            return client
        if self._pubsub_pool is None:
            pool = client.connection_pool
            kwargs = dict(pool.connection_kwargs)
            kwargs["retry"] = redis.asyncio.retry.Retry(NoBackoff(), 0)
            kwargs["health_check_interval"] = 10
            self._pubsub_pool = redis.asyncio.ConnectionPool(
                connection_class=pool.connection_class, **kwargs
            )
        return redis.asyncio.Redis(connection_pool=self._pubsub_pool)

    async def _subscribe(self) -> Any:
        """A pub/sub connection subscribed to every event channel of the prefix.

        An ACL user whose channel rule is ``&{prefix}:*`` may ``PSUBSCRIBE`` that
        pattern only (Redis compares patterns literally): then the whole
        prefix is subscribed, and channels that are no event's are skipped here.
        """
        client = self._pubsub_client()
        options: dict[str, Any] = {}
        if isinstance(client, redis.asyncio.RedisCluster):
            await client.initialize()
            options["node"] = client.get_node_from_key(self.keys.audit())
        for pattern in (self.events_pattern, self.keys.pattern()):
            pubsub = client.pubsub(**options)
            try:
                await pubsub.psubscribe(pattern)
                deadline = time.monotonic() + (self.config.socket_timeout or 5.0)
                while True:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        raise redis.exceptions.TimeoutError(
                            f"Redis did not confirm the subscription to {pattern}"
                        )
                    message = await pubsub.get_message(timeout=remaining)
                    if message is None:
                        continue
                    if message.get("type") == "psubscribe":
                        self.feed["pattern"] = pattern
                        return pubsub
                    self._on_message(message)
            except redis.exceptions.NoPermissionError:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                if pattern != self.events_pattern:
                    raise
                log.info(
                    "PSUBSCRIBE %s refused by the ACL; trying %s", pattern, self.keys.pattern()
                )
            except BaseException:
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    async def _feed_loop(self) -> None:
        failures = 0
        while not self._stopping:
            pubsub = None
            try:
                pubsub = await self._subscribe()
                if failures:
                    self.feed["reconnects"] += 1
                    log.info("the dashboard's feed resubscribed to %s", self.feed["pattern"])
                failures = 0
                self.feed.update(_status(True, None))
                self._broadcast("status", self.status())
                while not self._stopping:
                    message = await pubsub.get_message(ignore_subscribe_messages=True, timeout=1.0)
                    if message is not None:
                        self._on_message(message)
            except asyncio.CancelledError:
                raise
            except (*_CONNECTION_ERRORS, redis.exceptions.RedisError) as exc:
                if self._stopping:
                    return
                failures += 1
                if isinstance(exc, redis.exceptions.NoPermissionError):
                    error = (
                        f"Redis refused the subscription to {self.events_pattern} to this "
                        f"user: {_said(exc)} (see redis_memory.dashboard.acl_rules)"
                    )
                elif isinstance(exc, _CONNECTION_ERRORS):
                    error = f"Redis unreachable: {_said(exc)}"
                else:
                    error = f"the feed failed: {_said(exc)}"
                if self.feed["ok"] is not False or failures == 1:
                    self.feed.update(_status(False, error))
                    self._broadcast("status", self.status())
                    log.warning("the dashboard's feed at %s: %s", self.url(), error)
                await asyncio.sleep(self._backoff.compute(failures))
            finally:
                if pubsub is not None:
                    with contextlib.suppress(Exception):
                        await pubsub.aclose()

    def _classify(self, channel: str) -> tuple[str | None, str | None]:
        """``(topic, scope)`` of an event channel: ("session", its id), ("tasks", None)..."""
        patterns = self._patterns
        for topic, pattern in (
            ("session", patterns.session_channel),
            ("state", patterns.state_channel),
            ("team", patterns.team_channel),
        ):
            scope = pattern.id_of(channel)
            if scope is not None:
                return topic, scope
        return patterns.topic.id_of(channel), None

    def _on_message(self, message: dict[str, Any]) -> None:
        if message.get("type") not in ("message", "pmessage"):
            return
        channel = text(message["channel"])
        topic, scope = self._classify(channel)
        if topic is None:  # a channel of the prefix that is no event's
            return
        raw = message.get("data")
        try:
            data: Any = orjson.loads(raw)
        except (orjson.JSONDecodeError, TypeError):
            data = {"text": text(raw)[:200]}
        if not isinstance(data, dict):
            data = {"value": data}
        now = time.time()
        if topic == "session" and scope is not None:
            self._session_event(scope, data, now)
        elif topic == "cache":
            self._cache_event(data, now)
        shown = data
        if len(raw or b"") > MAX_EVENT_BYTES:
            shown = {"event": data.get("event"), "truncated": True}
        self._seq += 1
        record = {"seq": self._seq, "ts": now, "topic": topic, "scope": scope, "data": shown}
        self.events.append(record)
        self.events_by_topic[topic if topic in KNOWN_TOPICS else "other"] += 1
        self._broadcast("feed", record)

    def _session_event(self, session_id: str, data: dict[str, Any], now: float) -> None:
        activity = self._sessions.get(session_id)
        if activity is None:
            activity = self._sessions[session_id] = _SessionActivity()
            while len(self._sessions) > self.limits.tracked_sessions:
                self._sessions.popitem(last=False)
        else:
            self._sessions.move_to_end(session_id)
        added = _number(data.get("added"))
        activity.appends.append((now, int(added) if added is not None and added > 0 else 0))
        count = _number(data.get("count"))
        if count is not None:
            activity.count = int(count)
        activity.last = now

    def _cache_event(self, data: dict[str, Any], now: float) -> None:
        result = data.get("event")
        if result not in ("hit", "miss"):
            return
        name = data.get("cache")
        name = name if isinstance(name, str) and name else "?"
        if name not in self._caches and len(self._caches) >= MAX_CACHES:
            name = "other"
        seen = self._caches.setdefault(name, _CacheActivity())
        tier = data.get("tier") if data.get("tier") in ("exact", "semantic") else "exact"
        if result == "hit":
            seen.hits[tier] += 1
        else:
            seen.misses += 1
        seconds = _number(data.get("seconds"))
        seen.seconds += seconds or 0.0
        self._lookups.append(
            {
                "ts": now,
                "cache": name,
                "event": result,
                "tier": tier if result == "hit" else None,
                "seconds": seconds,
            }
        )

    # -- the readings ------------------------------------------------------------------------
    async def _refresh_loop(self) -> None:
        while not self._stopping:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not end the loop: log it, try again
                log.exception("the dashboard's refresh failed")
            await asyncio.sleep(self.refresh_seconds)

    async def _memory_loop(self) -> None:
        while not self._stopping:
            measured = False
            if self.redis["ok"]:
                try:
                    measured = await self.refresh_memory()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("the dashboard's memory reading failed")
            # After a failure, again as soon as Redis answers.
            await asyncio.sleep(
                self.memory_seconds if measured else min(self.refresh_seconds, self.memory_seconds)
            )

    async def check(self) -> bool:
        """PING Redis; record whether it answered (and since when)."""
        client = self._clients.async_
        try:
            await client.ping()
        except (*_CONNECTION_ERRORS, redis.exceptions.RedisError) as exc:
            error = f"Redis unreachable: {_said(exc)}"
            if self.redis["ok"] is not False:
                self.redis.update(_status(False, error))
                log.warning("the dashboard lost Redis at %s: %s", self.url(), exc)
            else:
                self.redis["error"] = error
            self.redis["checked"] = time.time()
            return False
        if self.redis["ok"] is not True:
            self.redis.update(_status(True, None))
        self.redis["checked"] = time.time()
        return True

    async def refresh(self) -> None:
        """Read every panel once (memory aside), then push the readings to the pages.

        One bounded ``SCAN`` walk of the prefix finds the sessions, teams, tasks
        with verdicts, locks, rate limits and queues; each panel then reads its
        own with the package's readers. A panel that fails keeps its last
        reading, with the error.
        """
        if await self.check():
            try:
                walk = await self.walk()
            except _READ_ERRORS as exc:
                for name in PANELS:
                    self._failed(name, exc)
            else:
                readers = {
                    "sessions": self._read_sessions,
                    "conflicts": self._read_conflicts,
                    "locks": self._read_locks,
                    "pqueues": self._read_pqueues,
                    "streams": self._read_streams,
                    "ratelimits": self._read_ratelimits,
                }
                (teams, holds), *results = await asyncio.gather(
                    self._read_agents(walk),
                    *(self._panel(name, reader, walk) for name, reader in readers.items()),
                )
                self.panels["teams"], self.panels["holds"] = teams, holds
                self.panels.update(zip(readers, results, strict=True))
                self.refreshed = time.time()
        if self._listeners:
            self._broadcast("readings", self.snapshot())

    async def refresh_memory(self) -> bool:
        """Measure keys and bytes by kind of data (a walk of the prefix's keys); False if failed."""
        try:
            usage = await amemory_by_kind(
                self._clients.async_,
                self.prefix,
                sample=self.limits.memory_sample,
                scan_count=self.limits.scan_count,
                url=self.url(),
            )
        except _READ_ERRORS as exc:
            self.memory["error"] = _said(exc)
            return False
        self.memory = {
            "kinds": [
                {"kind": kind, "keys": used.keys, "bytes": used.bytes, "exact": used.exact}
                for kind, used in usage.items()
            ],
            "refreshed": time.time(),
            "error": None,
        }
        return True

    def _failed(self, name: str, exc: BaseException) -> dict[str, Any]:
        log.debug("the dashboard's %s reading failed", name, exc_info=exc)
        self.panels[name] = {**self.panels.get(name, {}), "error": _said(exc)}
        return self.panels[name]

    async def _panel(
        self, name: str, reader: Callable[[Walk], Awaitable[dict[str, Any]]], walk: Walk
    ) -> dict[str, Any]:
        try:
            return await reader(walk)
        except _READ_ERRORS as exc:
            return self._failed(name, exc)

    async def _limited(self, work: Awaitable[T]) -> T:
        assert self._gate is not None
        async with self._gate:
            return await work

    async def _each(self, works: Iterable[Awaitable[T]]) -> list[T]:
        """Await each, at most :attr:`Limits.concurrency` at once."""
        if self._gate is None:
            self._gate = asyncio.Semaphore(self.limits.concurrency)
        return list(await asyncio.gather(*(self._limited(work) for work in works)))

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self.url)

    async def walk(self) -> Walk:
        """One bounded ``SCAN`` walk of the prefix (``{prefix}:*``), never ``KEYS``.

        At most :attr:`Limits.scan_calls` calls of ``COUNT``
        :attr:`Limits.scan_count`; per kind at most :attr:`Limits.keys` names
        kept (sessions: :attr:`Limits.sessions`). Keys are told apart by the
        schema's builders (:class:`IdPattern`); any other key is skipped.
        """
        walked = self._patterns.walked
        walk = Walk({kind: {} for kind in walked})
        pattern = self.keys.pattern()
        cursor = 0
        for _ in range(self.limits.scan_calls):
            command = ("SCAN", cursor, "MATCH", pattern, "COUNT", self.limits.scan_count)
            plan = Plan(
                "reading keys for the dashboard",
                pattern,
                lambda replies: (int(replies[0][0]), replies[0][1]),
                [command],
            )
            cursor, keys = await self._run(plan)
            for raw in keys:
                key = text(raw)
                kind = self.keys.kind_of(key)
                if kind not in walked:
                    continue
                name = walked[kind].id_of(key)
                if name is None:
                    continue
                found = walk.found[kind]
                cap = self.limits.sessions if kind == "session" else self.limits.keys
                if name in found or len(found) < cap:
                    found[name] = key
                else:
                    walk.full.add(kind)
            if cursor == 0:
                walk.complete = True
                break
        return walk

    async def _read_sessions(self, walk: Walk) -> dict[str, Any]:
        return {
            "count": len(walk.found["session"]),
            "truncated": walk.truncated("session"),
            "error": None,
        }

    async def _read_agents(self, walk: Walk) -> tuple[dict[str, Any], dict[str, Any]]:
        teams = walk.names("team")
        try:
            activities = await self._each(
                AsyncPresence(team, config=self.config).doing(limit=self.limits.holds)
                for team in teams
            )
            _, holds = await self._run(_holds.plan_held(self.keys, self.limits.holds))
        except _READ_ERRORS as exc:
            return self._failed("teams", exc), self._failed("holds", exc)
        return (
            self._teams(teams, activities, walk.truncated("team")),
            self._holds(holds, teams, activities),
        )

    def _teams(
        self, teams: list[str], activities: list[TeamActivity], truncated: bool
    ) -> dict[str, Any]:
        rows = []
        for team, activity in zip(teams, activities, strict=True):
            agents = [
                {
                    "id": entry.agent.id,
                    "capabilities": sorted(entry.agent.capabilities),
                    "metadata": entry.agent.metadata,
                    "joined": entry.agent.joined,
                    "last_seen": entry.agent.last_seen,
                    "expires_in": entry.agent.expires_in,
                    "holds": [_hold(hold) for hold in entry.holds],
                }
                for entry in activity.agents
            ]
            orphaned = [_hold(hold) for hold in activity.orphaned]
            rows.append({"team": team, "agents": agents, "orphaned": orphaned})
        return {"teams": rows, "truncated": truncated, "error": None}

    def _holds(
        self, holds: list[_holds.Hold], teams: list[str], activities: list[TeamActivity]
    ) -> dict[str, Any]:
        live: dict[str, str] = {}
        gone: dict[str, str] = {}
        for team, activity in zip(teams, activities, strict=True):
            for entry in activity.agents:
                live.setdefault(entry.agent.id, team)
            for hold in activity.orphaned:
                gone.setdefault(hold.holder, team)
        rows = []
        for hold in holds:
            row = _hold(hold)
            if hold.holder in live:
                row.update(state="live", team=live[hold.holder])
            elif hold.holder in gone:
                row.update(state="orphaned", team=gone[hold.holder])
            else:
                row.update(state="unknown", team=None)
            rows.append(row)
        orphaned = sum(1 for row in rows if row["state"] == "orphaned")
        return {
            "holds": rows,
            "orphaned": orphaned,
            "truncated": len(holds) >= self.limits.holds,
            "error": None,
        }

    async def _read_conflicts(self, walk: Walk) -> dict[str, Any]:
        tasks = walk.names("task")
        findings = AsyncFindings(config=self.config)
        found = await self._each(findings.conflicts(task) for task in tasks)
        conflicts = [_conflict(conflict) for each in found for conflict in each]
        conflicts.sort(key=lambda row: row["opened"], reverse=True)
        return {
            "conflicts": conflicts,
            "tasks": len(tasks),
            "truncated": walk.truncated("task"),
            "error": None,
        }

    async def _read_locks(self, walk: Walk) -> dict[str, Any]:
        named = walk.keyed("lock")
        ttls = await self._pipeline([("PTTL", key) for _, key in named])
        locks = [
            {"name": name, "expires_in": None if int(ttl) < 0 else int(ttl) / 1000}
            for (name, _), ttl in zip(named, ttls, strict=True)
            if int(ttl) != -2  # gone since the walk
        ]
        return {"locks": locks, "truncated": walk.truncated("lock"), "error": None}

    async def _read_ratelimits(self, walk: Walk) -> dict[str, Any]:
        named = walk.keyed("ratelimit")
        commands: list[tuple[Any, ...]] = []
        for _, key in named:
            commands += [("HMGET", key, "tokens", "last"), ("PTTL", key)]
        replies = await self._pipeline(commands)
        limits = []
        for i, (name, _) in enumerate(named):
            (tokens, last_us), ttl = replies[2 * i], int(replies[2 * i + 1])
            if ttl == -2:
                continue
            last = _float(last_us)
            limits.append(
                {
                    "name": name,
                    "tokens": _float(tokens),
                    "last": None if last is None else last / 1e6,
                    "full_in": None if ttl < 0 else ttl / 1000,
                }
            )
        return {"limits": limits, "truncated": walk.truncated("ratelimit"), "error": None}

    async def _read_pqueues(self, walk: Walk) -> dict[str, Any]:
        names = walk.names("pqueue")
        counts = await self._each(
            AsyncPriorityQueue(name, config=self.config).counts() for name in names
        )
        queues = [{"queue": name, **count} for name, count in zip(names, counts, strict=True)]
        return {"queues": queues, "truncated": walk.truncated("pqueue"), "error": None}

    async def _read_streams(self, walk: Walk) -> dict[str, Any]:
        queues = [AsyncWorkQueue(name, config=self.config) for name in walk.names("queue")]
        pending = await self._each(queue.pending() for queue in queues)
        lengths = await self._pipeline([("XLEN", queue.key) for queue in queues])
        rows = [
            {
                "queue": queue.name,
                "group": queue.group,
                "length": int(length),
                "pending": summary.count,
                "consumers": summary.consumers,
            }
            for queue, summary, length in zip(queues, pending, lengths, strict=True)
        ]
        return {"queues": rows, "truncated": walk.truncated("queue"), "error": None}

    async def _pipeline(self, commands: list[tuple[Any, ...]]) -> list[Any]:
        """Replies of read commands, sent in pipelines of at most 100."""
        replies: list[Any] = []
        for start in range(0, len(commands), 100):
            batch = commands[start : start + 100]
            plan: Plan[list[Any]] = Plan(
                "reading keys for the dashboard", str(batch[0][1]), lambda r: list(r), batch
            )
            if len(batch) == 1:
                plan.route = str(batch[0][1])
            replies += await self._run(plan)
        return replies


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(text(value))
    except ValueError:
        return None
