"""``redis-memory threads list|show|prune|delete``: LangGraph threads saved by ``RedisSaver``.

The commands read what the engine stores without LangGraph's serializer: counts,
checkpoint ids, parents, runs, channels and sizes, not the checkpoints' values.
"""

from __future__ import annotations

import argparse
from itertools import islice
from typing import Any

from ..checkpoints import CheckpointLog, ThreadInfo
from . import CommandError, Progress, at_least_one, config_of, confirm, print_json, print_table


def _log(args: argparse.Namespace) -> CheckpointLog:
    return CheckpointLog(config=config_of(args))


def _info(log: CheckpointLog, thread_id: str) -> ThreadInfo:
    info = log.info(thread_id)
    if info is None:
        raise CommandError(f"no thread {thread_id!r} under prefix {log.keys.prefix!r}")
    return info


def _row(info: ThreadInfo) -> dict[str, Any]:
    return {
        "thread_id": info.thread_id,
        "checkpoints": sum(info.checkpoints.values()),
        "namespaces": len(info.checkpoints),
        "newest": info.newest.get("", next(iter(info.newest.values()), None)),
        "writes": info.writes,
        "ttl_seconds": info.ttl_seconds,
        "memory_bytes": info.memory_bytes,
    }


def _list(args: argparse.Namespace) -> int:
    log = _log(args)
    rows = []
    for thread_id in log.iter_threads():
        info = log.info(thread_id)
        if info is not None:
            rows.append(_row(info))
        if args.limit and len(rows) >= args.limit:
            break
    rows.sort(key=lambda r: r["thread_id"])
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["thread", "checkpoints", "namespaces", "writes", "bytes", "expires in (s)", "newest"],
        [
            [
                r["thread_id"],
                r["checkpoints"],
                r["namespaces"],
                r["writes"],
                r["memory_bytes"],
                "never" if r["ttl_seconds"] is None else round(r["ttl_seconds"]),
                r["newest"],
            ]
            for r in rows
        ],
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    log = _log(args)
    info = _info(log, args.thread_id)
    found = islice(log.iter_checkpoints(args.thread_id, args.namespace), args.last)
    checkpoints = [
        {
            "checkpoint_id": c.checkpoint_id,
            "namespace": c.namespace,
            "parent_id": c.parent_id,
            "run_id": c.run_id,
            "channels": sorted(c.values),
            "writes": len(c.writes),
            "value_bytes": sum(len(data) for _, data in c.values.values()),
        }
        for c in found
    ]
    if args.json:
        print_json({**_row(info), "by_namespace": info.checkpoints, "latest": checkpoints})
        return 0
    print(
        f"thread {info.thread_id!r}: {sum(info.checkpoints.values())} checkpoints in "
        f"{len(info.checkpoints)} namespace(s), {info.writes} pending writes, "
        f"{info.values} stored values, {info.memory_bytes} bytes, "
        + ("never expires" if info.ttl_seconds is None else f"expires in {info.ttl_seconds:.0f} s")
    )
    print_table(
        ["checkpoint (newest first)", "namespace", "parent", "writes", "bytes", "channels"],
        [
            [
                c["checkpoint_id"],
                c["namespace"] or "(root)",
                c["parent_id"] or "",
                c["writes"],
                c["value_bytes"],
                ", ".join(c["channels"]),
            ]
            for c in checkpoints
        ],
    )
    return 0


def _prune(args: argparse.Namespace) -> int:
    log = _log(args)
    for thread_id in args.thread_ids:
        _info(log, thread_id)
    progress = Progress("pruning threads", args, len(args.thread_ids))
    dropped = {}
    for done, thread_id in enumerate(args.thread_ids, 1):
        dropped[thread_id] = log.prune(thread_id, args.keep_last)
        progress(done)
    progress.close()
    if args.json:
        print_json({"dropped": dropped, "keep_last": args.keep_last})
    else:
        for thread_id, count in dropped.items():
            print(
                f"thread {thread_id!r}: dropped {count} checkpoint(s), kept the newest "
                f"{args.keep_last} of each namespace"
            )
    return 0


def _delete(args: argparse.Namespace) -> int:
    log = _log(args)
    counts = {
        thread_id: sum(_info(log, thread_id).checkpoints.values()) for thread_id in args.thread_ids
    }
    confirm(f"Delete {len(counts)} thread(s) and all their checkpoints?", args.yes)
    for thread_id in counts:
        log.delete_thread(thread_id)
    if args.json:
        print_json({"deleted": counts})
    else:
        for thread_id, count in counts.items():
            print(f"deleted thread {thread_id!r} ({count} checkpoints)")
    return 0


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    threads = commands.add_parser(
        "threads", help="list, show, prune, delete LangGraph threads (RedisSaver)"
    )
    sub = threads.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = sub.add_parser("list", parents=[common], help="threads with counts and sizes")
    listing.add_argument("--limit", type=at_least_one, help="stop after N threads")
    listing.set_defaults(run=_list)

    show = sub.add_parser("show", parents=[common], help="the checkpoints of one thread")
    show.add_argument("thread_id")
    show.add_argument("--last", type=at_least_one, default=20, help="newest N checkpoints (20)")
    show.add_argument("--namespace", help="only this checkpoint namespace ('' for the root)")
    show.set_defaults(run=_show)

    prune = sub.add_parser("prune", parents=[common], help="keep the newest checkpoints only")
    prune.add_argument("thread_ids", nargs="+")
    prune.add_argument(
        "--keep-last", type=at_least_one, default=1, help="checkpoints kept per namespace (1)"
    )
    prune.set_defaults(run=_prune)

    delete = sub.add_parser("delete", parents=[common], help="delete threads")
    delete.add_argument("thread_ids", nargs="+")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=_delete)
