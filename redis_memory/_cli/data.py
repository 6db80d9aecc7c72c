"""``redis-memory cache stats|clear``, ``state get|set|list`` and ``events tail``.

The state commands read the ``state`` kind of keys, ``{prefix}:state:{<scope>}:<key>``.
A scope is a user id of :class:`~redis_memory.state.StateStore` or, the same thing
to Redis, the ``namespace`` of LangChain's ``RedisStore`` and ``RedisByteStore``
(``langchain_redis_memory.store``) or the ``collection`` of LlamaIndex's
``RedisKVStore``: nothing in a key tells them apart, so the commands say "user or
namespace", and show a ``RedisByteStore``'s raw bytes as bytes rather than failing
on them as JSON.
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
import time
from typing import Any

from ..cache import ResponseCache, list_caches
from ..events import AuditLog, EventBus
from ..state import StateStore
from ..ttl import POLICY
from . import CommandError, at_least_one, config_of, confirm, print_json, print_table

# -- cache ---------------------------------------------------------------------------


def _cache_stats(args: argparse.Namespace) -> int:
    config = config_of(args)
    if args.name:
        caches = {args.name: ResponseCache(args.name, config=config).count_entries()}
    else:
        caches = list_caches(config=config)
    if args.json:
        print_json(caches)
        return 0
    if not caches:
        print(f"no cache entries under prefix {config.prefix!r}")
        return 0
    print_table(
        ["cache", "exact entries", "semantic entries"],
        [[name, c["exact"], c["semantic"]] for name, c in caches.items()],
    )
    return 0


def _cache_clear(args: argparse.Namespace) -> int:
    cache = ResponseCache(args.name, config=config_of(args))
    which = f" of model {args.llm!r}" if args.llm else ""
    confirm(f"Delete every entry{which} of cache {args.name!r}?", args.yes)
    removed = cache.clear(args.llm)
    if args.json:
        print_json({"cache": args.name, "removed": removed})
    else:
        print(f"removed {removed} entries of cache {args.name!r}")
    return 0


# -- state ---------------------------------------------------------------------------


# A value that is not JSON (a RedisByteStore's raw bytes), in JSON output.
BYTES_FIELD = "bytes_base64"


def _shown(value: Any) -> Any:
    """A state value for JSON output: itself, or ``{"bytes_base64": ...}`` for raw bytes."""
    if isinstance(value, bytes):
        return {BYTES_FIELD: base64.b64encode(value).decode("ascii")}
    return value


def _values(store: StateStore, raws: dict[str, bytes]) -> dict[str, Any]:
    """Each raw value as JSON when it is JSON, else as the bytes themselves."""
    loads = store.config.serializer.loads
    values: dict[str, Any] = {}
    for key, raw in raws.items():
        try:
            values[key] = loads(raw)
        except ValueError:  # SerializationError: a RedisByteStore's bytes
            values[key] = raw
    return values


def _state_get(args: argparse.Namespace) -> int:
    store = StateStore(config=config_of(args), publish_events=True)
    raw = store.get_bytes(args.user_id, args.key)
    if raw is None:
        raise CommandError(f"user or namespace {args.user_id!r} has no state key {args.key!r}")
    value = _shown(_values(store, {args.key: raw})[args.key])
    print(json.dumps(value, indent=2 if args.json else None, ensure_ascii=False))
    return 0


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON")


def _state_set(args: argparse.Namespace) -> int:
    if args.string:
        value: Any = args.value
    else:
        try:
            # NaN and Infinity are not JSON: stored, they would silently become null.
            value = json.loads(args.value, parse_constant=_not_json)
        except ValueError:
            raise CommandError(
                f"VALUE {args.value!r} is not JSON; quote text as JSON ('\"dark\"') "
                "or pass --string to store it as text"
            ) from None
    store = StateStore(config=config_of(args))
    stored = store.set(
        args.user_id, args.key, value, ttl=args.ttl or POLICY, only_if_absent=args.nx
    )
    if args.json:
        print_json({"user_id": args.user_id, "key": args.key, "stored": stored})
    elif stored:
        print(f"set {args.key!r} of user {args.user_id!r}")
    else:
        print(f"{args.key!r} of user {args.user_id!r} exists; left as it was (--nx)")
    return 0


def _state_list(args: argparse.Namespace) -> int:
    store = StateStore(config=config_of(args))
    if args.user_id is None:
        scopes = {scope: sum(1 for _ in store.iter_keys(scope)) for scope in store.iter_users()}
        scopes = dict(sorted(scopes.items()))
        if args.json:
            print_json(scopes)
        else:
            print_table(["user or namespace", "keys"], [[u, n] for u, n in scopes.items()])
            print(
                "(LangChain RedisStore/RedisByteStore namespaces and LlamaIndex RedisKVStore "
                "collections are stored as state users: the same keys)"
            )
        return 0
    raws: dict[str, bytes] = {}
    cursor = 0
    while True:  # one SCAN and one MGET a page, as StateStore.iter_items
        cursor, keys = store.keys(args.user_id, cursor=cursor, count=1000)
        if keys:
            raws.update(store.get_many_bytes(args.user_id, keys))
        if cursor == 0:
            break
    items = dict(sorted(_values(store, raws).items()))
    if args.json:
        print_json({key: _shown(value) for key, value in items.items()})
    else:
        print_table(
            ["key", "value"],
            [
                [
                    k,
                    repr(v)[:70]
                    if isinstance(v, bytes)
                    else json.dumps(v, ensure_ascii=False)[:70],
                ]
                for k, v in items.items()
            ],
        )
    return 0


# -- events --------------------------------------------------------------------------


def _emit(args: argparse.Namespace, record: dict[str, Any]) -> None:
    if args.json:
        print(json.dumps(record, ensure_ascii=False), flush=True)
        return
    stamp = time.strftime("%H:%M:%S", time.gmtime(record.get("at") or time.time()))
    label = record.get("topic") or "audit"
    print(f"{stamp}  {label}  {json.dumps(record['data'], ensure_ascii=False)}", flush=True)


def _tail_audit(args: argparse.Namespace, deadline: float | None) -> int:
    audit = AuditLog(config=config_of(args))
    after = "0" if args.from_start else (audit.last_id() or "0")
    print(f"following the audit stream after {after}; Ctrl-C stops", file=sys.stderr, flush=True)
    shown = 0
    quiet_since = time.monotonic()
    while args.count is None or shown < args.count:
        entries = audit.read(after=after, count=100)
        for entry in entries:
            record = {"id": entry.id, "at": int(entry.id.split("-")[0]) / 1000, "data": entry.event}
            if isinstance(entry.event, dict) and "topic" in entry.event:
                record["topic"] = entry.event["topic"]
            _emit(args, record)
            after = entry.id
            shown += 1
            if args.count is not None and shown >= args.count:
                return 0
        now = time.monotonic()
        if entries:
            quiet_since = now
        elif args.idle_timeout is not None and now - quiet_since >= args.idle_timeout:
            return 0
        if deadline is not None and now >= deadline:
            return 0
        if not entries:
            time.sleep(0.1)
    return 0


def _events_tail(args: argparse.Namespace) -> int:
    if args.audit:
        return _tail_audit(args, None)
    bus = EventBus(config=config_of(args))
    topics = args.topic or []
    patterns = args.pattern or ([] if topics or args.session or args.user else ["*"])
    shown = 0
    with bus.subscribe(
        *topics,
        patterns=patterns,
        session_ids=args.session or [],
        user_ids=args.user or [],
        idle_timeout=args.idle_timeout,
    ) as events:
        print("following events; Ctrl-C stops", file=sys.stderr, flush=True)
        for event in events:
            _emit(args, {"topic": event.topic, "at": event.received_at, "data": event.data})
            shown += 1
            if args.count is not None and shown >= args.count:
                break
    return 0


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    cache = commands.add_parser("cache", help="inspect or clear LLM caches")
    sub = cache.add_subparsers(dest="action", required=True, metavar="ACTION")
    stats = sub.add_parser("stats", parents=[common], help="entries per cache and tier")
    stats.add_argument("--name", help="one cache (default: every cache found)")
    stats.set_defaults(run=_cache_stats)
    clear = sub.add_parser("clear", parents=[common], help="delete a cache's entries")
    clear.add_argument("--name", default="default", help="the cache (default: 'default')")
    clear.add_argument("--llm", help="only the entries of this model identity (llm_string)")
    clear.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    clear.set_defaults(run=_cache_clear)

    state = commands.add_parser(
        "state", help="read and write per-user state (and the key-value stores' namespaces)"
    )
    sub = state.add_subparsers(dest="action", required=True, metavar="ACTION")
    get = sub.add_parser(
        "get",
        parents=[common],
        help='print one value as JSON (raw bytes as {"bytes_base64": ...})',
    )
    get.add_argument("user_id")
    get.add_argument("key")
    get.set_defaults(run=_state_get)
    put = sub.add_parser("set", parents=[common], help="store one JSON value")
    put.add_argument("user_id")
    put.add_argument("key")
    put.add_argument("value", help="JSON ('{\"theme\": \"dark\"}', '3', '\"text\"')")
    put.add_argument("--string", action="store_true", help="store VALUE as text, not JSON")
    put.add_argument("--ttl", type=float, help="seconds to live (default: the policy's)")
    put.add_argument("--nx", action="store_true", help="only if the key does not exist")
    put.set_defaults(run=_state_set)
    listing = sub.add_parser(
        "list",
        parents=[common],
        help="users (and LangChain store namespaces, LlamaIndex KV collections), or one's keys",
    )
    listing.add_argument(
        "user_id", nargs="?", help="list the keys and values of this user or namespace"
    )
    listing.set_defaults(run=_state_list)

    events = commands.add_parser("events", help="follow events")
    sub = events.add_subparsers(dest="action", required=True, metavar="ACTION")
    tail = sub.add_parser("tail", parents=[common], help="print events as they come")
    tail.add_argument("--topic", action="append", help="a topic (repeatable)")
    tail.add_argument(
        "--pattern", action="append", help="a topic glob (default, with no other choice: '*')"
    )
    tail.add_argument("--session", action="append", help="a session's message appends")
    tail.add_argument("--user", action="append", help="a user's state changes")
    tail.add_argument("--audit", action="store_true", help="follow the audit stream instead")
    tail.add_argument(
        "--from-start", action="store_true", help="with --audit: the whole stream first"
    )
    tail.add_argument("--count", type=at_least_one, help="stop after N events")
    tail.add_argument("--idle-timeout", type=float, help="stop after S seconds without an event")
    # The old name of --idle-timeout: a timeout is the longest one call may wait.
    tail.add_argument("--timeout", type=float, dest="idle_timeout", help=argparse.SUPPRESS)
    tail.set_defaults(run=_events_tail)
