"""``redis-memory migrate --from langchain-community|langchain-redis|llama-index``.

The Redis side (``SCAN`` of the source's pattern, reads, writes) is
:mod:`redis_memory.migrate`. Turning a source record into the stored form is
the framework packages' job (``langchain_redis_memory._migrate``,
``llama_index_redis_memory._migrate``): they are imported here, by name, only
when a migration runs, so the core never imports a framework.
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any

import redis

from ..migrate import SOURCES, Convert, Migration
from . import CommandError, Progress, config_of, print_json, print_table

_CONVERTERS = {
    "langchain": ("langchain_redis_memory._migrate", "from_message_dict", "langchain"),
    "llama-index": ("llama_index_redis_memory._migrate", "from_chat_message_json", "llama-index"),
}


def _converter(framework: str) -> Convert:
    module, name, extra = _CONVERTERS[framework]
    try:
        return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]
    except ImportError as exc:
        raise CommandError(
            f"migrating from this source needs the {extra} extra "
            f"(pip install 'redis-memory-backend[{extra}]'): {exc}"
        ) from None


def _migrate(args: argparse.Namespace) -> int:
    layout = SOURCES[args.source]
    if args.delete_source and not args.apply:
        raise CommandError("--delete-source only goes with --apply")
    config = config_of(args)
    migration = Migration(
        args.source,
        _converter(layout.framework),
        config=config,
        source_url=args.source_url or None,
        source_prefix=args.source_prefix,
    )
    progress = Progress("migrating sessions" if args.apply else "reading sessions", args)
    try:
        report = migration.run(
            apply=args.apply,
            replace=args.replace,
            delete_source=args.delete_source,
            progress=progress,
        )
    except redis.exceptions.ResponseError as exc:
        raise CommandError(f"the source Redis refused a command: {exc}") from None
    finally:
        progress.close()
    totals = report.totals()
    if args.json:
        print_json(
            {
                **totals,
                "sessions_detail": [
                    {
                        "session_id": o.session_id,
                        "status": o.status,
                        "messages": o.messages,
                        "copied": o.copied,
                        **({"reason": o.reason} if o.reason else {}),
                    }
                    for o in report.sessions
                ],
                "skipped": [{"key": k, "reason": r} for k, r in report.skipped_keys],
            }
        )
    else:
        verb = "copied" if args.apply else "would copy"
        print(
            f"{args.source} sessions matching {report.pattern!r} -> prefix {config.prefix!r}"
            + ("" if args.apply else " (dry run: pass --apply to copy)")
        )
        print_table(
            ["session", "messages", verb, "status"],
            [[o.session_id, o.messages, o.copied, o.status] for o in report.sessions],
        )
        copied = totals["messages_copied" if args.apply else "messages_to_copy"]
        print(
            f"{totals['sessions']} sessions, {totals['messages']} messages; {verb} {copied} "
            f"messages; by status: {totals['by_status'] or {}}"
        )
        for outcome in [o for o in report.sessions if o.reason][:10]:
            print(f"{outcome.status} session {outcome.session_id[:80]!r}: {outcome.reason}")
        for key, reason in report.skipped_keys[:10]:
            print(f"skipped key {key!r}: {reason}")
        if report.deleted_keys:
            print(f"deleted {report.deleted_keys} source keys")
    conflicts = [o for o in report.sessions if o.status in ("conflict", "unreadable")]
    return 1 if conflicts else 0


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    migrate = commands.add_parser(
        "migrate",
        parents=[common],
        help="copy sessions from langchain-community, langchain-redis or llama-index",
        description="Copy chat sessions from another package's Redis layout into this "
        "package's (a dry run unless --apply). Safe to re-run: sessions already "
        "copied are left alone, sessions that grew in the source get the new messages.",
    )
    migrate.add_argument("--from", dest="source", required=True, choices=sorted(SOURCES))
    migrate.add_argument(
        "--source-prefix",
        help="the source's key prefix (default: message_store: / chat: / none for llama-index)",
    )
    migrate.add_argument("--source-url", help="the Redis holding the source (default: --url)")
    migrate.add_argument("--apply", action="store_true", help="copy (default: dry run)")
    migrate.add_argument(
        "--replace", action="store_true", help="overwrite target sessions holding other messages"
    )
    migrate.add_argument(
        "--delete-source", action="store_true", help="with --apply: delete what was copied"
    )
    migrate.set_defaults(run=_migrate)
