"""``redis-memory sessions list|show|export|import|delete|check``.

Export writes JSON Lines, one message a line:
``{"session_id": ..., "section": "active"|"archived", "message": {...stored form...}}``,
so one file holds any number of sessions and nothing of a message is lost
(timestamps and each framework's own fields included). Import reads the same.

``check`` finds the entries that reading a session would fail on: not a stored
message, a field of the wrong type, or a message the installed framework
packages (LangChain's, LlamaIndex's, imported by name when present) cannot
rebuild. It only reports (exit status 1 when it found any); ``--repair`` moves
them, unchanged and atomically per session, to the session's quarantine list
``{prefix}:session:{<id>}:quarantine`` (nothing is deleted), and the rest reads.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from ..history import MessageLog
from ..messages import DamagedEntry, StoredMessage
from . import (
    CommandError,
    Progress,
    at_least_one,
    config_of,
    confirm,
    print_json,
    print_table,
    shorten,
    when,
)


def _log(args: argparse.Namespace) -> MessageLog:
    return MessageLog(config=config_of(args))


def _list(args: argparse.Namespace) -> int:
    log = _log(args)
    rows = []
    for session_id in log.iter_sessions():
        info = log.info(session_id)
        if info is None:
            continue
        rows.append(
            {
                "session_id": session_id,
                "messages": info.message_count,
                "archived": info.archived_count,
                "created": info.created,
                "updated": info.updated,
            }
        )
        if args.limit and len(rows) >= args.limit:
            break
    rows.sort(key=lambda r: r["session_id"])
    if args.json:
        print_json(rows)
        return 0
    print_table(
        ["session", "messages", "archived", "created (UTC)", "updated (UTC)"],
        [
            [r["session_id"], r["messages"], r["archived"], when(r["created"]), when(r["updated"])]
            for r in rows
        ],
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    log = _log(args)
    if log.info(args.session_id) is None:
        raise CommandError(f"no session {args.session_id!r} under prefix {log.keys.prefix!r}")
    messages = log.messages(args.session_id, last=args.last, section=args.section)
    if args.json:
        print_json(messages)
        return 0
    print_table(
        ["#", "role", "time (UTC)", "content"],
        [[i, m["role"], when(m.get("ts")), _summary(m)] for i, m in enumerate(messages)],
    )
    return 0


def _summary(message: StoredMessage) -> str:
    content = message["content"]
    if isinstance(content, list):
        texts = [b.get("text", "") for b in content if isinstance(b, dict) and "text" in b]
        other = len(content) - len(texts)
        content = " ".join(texts) + (f" [+{other} block(s)]" if other else "")
    calls = message.get("tool_calls") or []
    if calls:
        content += " [calls " + ", ".join(c["name"] for c in calls) + "]"
    return shorten(content)


@contextmanager
def _output(path: str | None) -> Iterator[IO[str]]:
    if path is None or path == "-":
        yield sys.stdout
        return
    try:
        handle = open(path, "w", encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot write {path}: {exc.strerror or exc}") from None
    with handle:
        yield handle


def _export(args: argparse.Namespace) -> int:
    log = _log(args)
    ids = args.session_ids or sorted(log.iter_sessions())
    # Named sessions are checked before the file is opened: no half-written export.
    for session_id in args.session_ids:
        if log.info(session_id) is None:
            raise CommandError(f"no session {session_id!r} under prefix {log.keys.prefix!r}")
    progress = Progress("exporting sessions", args, len(ids))
    sessions = messages = 0
    with _output(args.output) as out:
        for done, session_id in enumerate(ids, 1):
            found = 0
            for section in ("archived", "active"):
                for message in log.messages(session_id, section=section):
                    line = {"session_id": session_id, "section": section, "message": message}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    found += 1
            sessions += bool(found)
            messages += found
            progress(done)
    progress.close()
    summary = {"sessions": sessions, "messages": messages, "file": args.output or "-"}
    if args.output not in (None, "-"):
        if args.json:
            print_json(summary)
        else:
            print(f"exported {messages} messages of {sessions} sessions to {args.output}")
    return 0


def _read_export(path: str) -> dict[str, dict[str, list[StoredMessage]]]:
    sessions: dict[str, dict[str, list[StoredMessage]]] = {}
    try:
        source = sys.stdin if path == "-" else Path(path).open(encoding="utf-8")  # noqa: SIM115
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    try:
        for number, text in enumerate(source, 1):
            if not text.strip():
                continue
            try:
                line: Any = json.loads(text)
                session_id, message = line["session_id"], line["message"]
                section = line.get("section", "active")
                if not isinstance(session_id, str):
                    raise TypeError(f"session_id is a {type(session_id).__name__}, not a str")
            except (ValueError, KeyError, TypeError) as exc:
                raise CommandError(
                    f"{path} line {number} is not an export line "
                    f'{{"session_id", "section", "message"}} ({exc})'
                ) from None
            if section not in ("active", "archived"):
                raise CommandError(f"{path} line {number}: section is 'active' or 'archived'")
            sections = sessions.setdefault(session_id, {"active": [], "archived": []})
            sections[section].append(message)
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    finally:
        if source is not sys.stdin:
            source.close()
    return sessions


def _check(log: MessageLog, sessions: dict[str, dict[str, list[StoredMessage]]]) -> None:
    # Every session is checked before the first write: a bad message found half-way
    # would otherwise leave earlier sessions replaced and this one's archive cleared.
    for session_id, sections in sessions.items():
        for section, messages in sections.items():
            try:
                log.keys.session(session_id)
                log._encode(messages)
            except (TypeError, ValueError) as exc:
                raise CommandError(
                    f"session {session_id!r} ({section} messages): {exc}; nothing was imported"
                ) from None


def _import(args: argparse.Namespace) -> int:
    sessions = _read_export(args.file)
    log = _log(args)
    _check(log, sessions)
    existing = [sid for sid in sessions if log.info(sid) is not None]
    if existing and not (args.replace or args.append):
        shown = ", ".join(repr(s) for s in existing[:5]) + (" ..." if len(existing) > 5 else "")
        raise CommandError(
            f"{len(existing)} session(s) already exist ({shown}); nothing was imported. "
            "Pass --replace to overwrite them or --append to add the messages after theirs."
        )
    progress = Progress("importing sessions", args, len(sessions))
    messages = 0
    for done, (session_id, sections) in enumerate(sessions.items(), 1):
        if args.append and session_id in existing:
            log.append_archived(session_id, sections["archived"])
            log.append(session_id, sections["active"])
        else:
            log.replace(session_id, sections["active"], clear_archive=True)
            if sections["archived"]:
                log.append_archived(session_id, sections["archived"])
        messages += len(sections["active"]) + len(sections["archived"])
        progress(done)
    progress.close()
    mode = "appended to" if args.append else "replaced" if args.replace else "created"
    summary = {
        "sessions": len(sessions),
        "messages": messages,
        "existing": len(existing),
        "mode": mode,
    }
    if args.json:
        print_json(summary)
    else:
        detail = f"{len(existing)} existing ones {mode}" if existing else "new"
        print(f"imported {messages} messages into {len(sessions)} sessions ({detail})")
    return 0


def _delete(args: argparse.Namespace) -> int:
    log = _log(args)
    missing = [sid for sid in args.session_ids if log.info(sid) is None]
    if missing:
        raise CommandError(
            f"no session {missing[0]!r} under prefix {log.keys.prefix!r}; nothing was deleted"
        )
    confirm(f"Delete {len(args.session_ids)} session(s) and all their messages?", args.yes)
    deleted = {sid: log.count(sid, section="all") for sid in args.session_ids}
    for session_id in args.session_ids:
        log.clear(session_id)
    if args.json:
        print_json({"deleted": deleted})
    else:
        for session_id, count in deleted.items():
            print(f"deleted session {session_id!r} ({count} messages)")
    return 0


# The framework packages' readers: each module's rebuild_problem(stored) says why
# it cannot rebuild a stored message. Imported by name: the core imports neither.
_READERS = (
    ("LangChain", "langchain_redis_memory._messages"),
    ("LlamaIndex", "llama_index_redis_memory._messages"),
)

Problem = Callable[[StoredMessage], tuple[str, str] | None]


def _readers() -> list[tuple[str, Problem]]:
    found = []
    for name, module in _READERS:
        try:
            found.append((name, importlib.import_module(module).rebuild_problem))
        except ImportError:  # that framework is not installed: nobody reads with it here
            continue
    return found


def _framework_check(readers: list[tuple[str, Problem]]) -> Problem:
    def check(message: StoredMessage) -> tuple[str, str] | None:
        for name, problem_of in readers:
            problem = problem_of(message)
            if problem is not None:
                return problem[0], f"{problem[1]} (as a {name} message)"
        return None

    return check


def _check_sessions(args: argparse.Namespace) -> int:
    log = _log(args)
    for session_id in args.session_ids:
        if log.count(session_id, section="all") == 0:
            raise CommandError(f"no session {session_id!r} under prefix {log.keys.prefix!r}")
    ids = args.session_ids or sorted(log.iter_sessions())
    readers = _readers()
    check = _framework_check(readers)
    progress = Progress("checking sessions", args, len(ids))
    found: list[tuple[DamagedEntry, bool]] = []
    for done, session_id in enumerate(ids, 1):
        damaged = log.find_damaged(session_id, check=check)
        moved = log.quarantine(session_id, damaged) if args.repair and damaged else []
        found += [(entry, entry in moved) for entry in damaged]
        progress(done)
    progress.close()
    left = [entry for entry, moved in found if not moved]
    if args.json:
        print_json(
            {
                "sessions": len(ids),
                "readers": ["stored form", *(name for name, _ in readers)],
                "damaged": [
                    {
                        "session_id": entry.session_id,
                        "section": entry.section,
                        "index": entry.index,
                        "field": entry.field,
                        "problem": entry.problem,
                        "moved_to": log.keys.session_quarantine(entry.session_id)
                        if moved
                        else None,
                    }
                    for entry, moved in found
                ],
            }
        )
    else:
        _print_damaged(log, found, ids, readers, args.repair)
    return 1 if left else 0


def _print_damaged(
    log: MessageLog,
    found: list[tuple[DamagedEntry, bool]],
    ids: list[str],
    readers: list[tuple[str, Problem]],
    repair: bool,
) -> None:
    checked = f"checked {len(ids)} session(s) as stored and as read by " + (
        ", ".join(name for name, _ in readers) or "no framework (none is installed)"
    )
    if not found:
        print(f"{checked}: no damaged messages")
        return
    headers = ["session", "section", "index", "field", "problem"]
    rows = [[e.session_id, e.section, e.index, e.field, shorten(e.problem, 60)] for e, _ in found]
    if repair:
        headers.append("moved")
        for row, (_, moved) in zip(rows, found, strict=True):
            row.append("yes" if moved else "no: changed since")
    print_table(headers, rows)
    sessions = len({entry.session_id for entry, _ in found})
    print(f"{checked}: {len(found)} damaged message(s) in {sessions} session(s)")
    quarantine = log.keys.session_quarantine("<id>").replace("{<id>}", "{<session_id>}")
    moved = sum(moved for _, moved in found)
    if not repair:
        print(
            "--repair moves them, unchanged, to each session's quarantine list "
            f"({quarantine}); nothing is deleted"
        )
    elif moved == len(found):
        print(f"moved {moved} to the sessions' quarantine lists ({quarantine})")
    else:
        print(
            f"moved {moved} to the sessions' quarantine lists ({quarantine}); the rest "
            "changed since they were read: run the check again"
        )


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    sessions = commands.add_parser(
        "sessions", help="list, show, export, import, delete, check sessions"
    )
    sub = sessions.add_subparsers(dest="action", required=True, metavar="ACTION")

    listing = sub.add_parser("list", parents=[common], help="sessions with counts and times")
    listing.add_argument("--limit", type=at_least_one, help="stop after N sessions")
    listing.set_defaults(run=_list)

    show = sub.add_parser("show", parents=[common], help="the messages of one session")
    show.add_argument("session_id")
    show.add_argument("--last", type=at_least_one, help="only the newest N messages")
    show.add_argument("--section", choices=["active", "archived", "all"], default="active")
    show.set_defaults(run=_show)

    export = sub.add_parser("export", parents=[common], help="sessions to JSON Lines")
    export.add_argument("session_ids", nargs="*", help="sessions to export (default: all)")
    export.add_argument("-o", "--output", help="file to write (default: stdout)")
    export.set_defaults(run=_export)

    imp = sub.add_parser("import", parents=[common], help="sessions from JSON Lines")
    imp.add_argument("file", help="a file written by `sessions export` ('-': stdin)")
    mode = imp.add_mutually_exclusive_group()
    mode.add_argument("--replace", action="store_true", help="overwrite existing sessions")
    mode.add_argument("--append", action="store_true", help="append to existing sessions")
    imp.set_defaults(run=_import)

    delete = sub.add_parser("delete", parents=[common], help="delete sessions")
    delete.add_argument("session_ids", nargs="+")
    delete.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    delete.set_defaults(run=_delete)

    check = sub.add_parser(
        "check",
        parents=[common],
        help="find messages no reader can rebuild (exit status 1 if any); --repair moves them",
    )
    check.add_argument("session_ids", nargs="*", help="sessions to check (default: all)")
    check.add_argument(
        "--repair",
        action="store_true",
        help="move damaged messages, unchanged, to each session's quarantine list",
    )
    check.set_defaults(run=_check_sessions)
