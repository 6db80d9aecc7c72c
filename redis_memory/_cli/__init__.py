"""Pieces shared by the ``redis-memory`` subcommands: connection options, output, progress.

Each subcommand module has ``register(commands, common)`` adding its parsers; the
commands are thin: every Redis command is sent by an engine of ``redis_memory``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import sys
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..config import RedisMemoryConfig


class CommandError(Exception):
    """An expected failure of a command: printed as one line, exit status 1."""


def common_options() -> argparse.ArgumentParser:
    """``--url``, ``--prefix`` and ``--json``, shared by every command that reads Redis."""
    parent = argparse.ArgumentParser(add_help=False)
    parent.add_argument(
        "--url", help="Redis URL (default: REDIS_MEMORY_URL, REDIS_URL, or localhost)"
    )
    parent.add_argument("--prefix", help="key prefix (default: REDIS_MEMORY_PREFIX or rmem)")
    parent.add_argument("--json", action="store_true", help="print JSON for scripts")
    parent.add_argument(
        "--progress",
        action="store_true",
        help="show progress on stderr even when it is not a terminal",
    )
    return parent


def at_least_one(text: str) -> int:
    """An argparse type: a whole number >= 1 (``--limit``, ``--count``, ``--last``)."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def config_of(args: argparse.Namespace) -> RedisMemoryConfig:
    overrides: dict[str, Any] = {}
    if getattr(args, "prefix", None):
        overrides["prefix"] = args.prefix
    if getattr(args, "url", None):
        overrides["url"] = args.url
    return RedisMemoryConfig.from_env(**overrides)


def print_json(value: Any) -> None:
    print(json.dumps(value, indent=2, ensure_ascii=False, default=str))


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """An aligned text table; columns of numbers are right-aligned."""
    rows = [list(row) for row in rows]
    numeric = [
        bool(rows)
        and all(isinstance(r[i], int | float) and not isinstance(r[i], bool) for r in rows)
        for i in range(len(headers))
    ]
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max([len(h), *(len(row[i]) for row in cells)]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        return "  ".join(
            v.rjust(w) if numeric[i] else v.ljust(w)
            for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    print(line(list(headers)))
    print(line(["-" * w for w in widths]))
    for row in cells:
        print(line(row))


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def when(ts: float | None) -> str | None:
    """A timestamp as UTC ISO text (seconds)."""
    if ts is None:
        return None
    return _dt.datetime.fromtimestamp(ts, _dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def shorten(text: str, width: int = 70) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


class Progress:
    """A progress line on stderr when it is a terminal (or with ``--progress``); never stdout.

    Redrawn at most every 0.2 s, and once more with the final count.
    """

    def __init__(self, what: str, args: argparse.Namespace, total: int | None = None) -> None:
        self.what = what
        self.total = total
        self.enabled = bool(getattr(args, "progress", False)) or sys.stderr.isatty()
        self.done = 0
        self._shown = -1
        self._at = 0.0

    def __call__(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and (now - self._at >= 0.2 or done == self.total):
            self._show()
            self._at = now

    def _show(self) -> None:
        of = f"/{self.total}" if self.total else ""
        print(f"\r{self.what}: {self.done}{of}", end="", file=sys.stderr, flush=True)
        self._shown = self.done

    def close(self) -> None:
        if self.enabled and self.done:
            if self._shown != self.done:
                self._show()
            print(file=sys.stderr, flush=True)


def confirm(question: str, yes: bool) -> None:
    """Ask on the terminal; without one, ``--yes`` is required."""
    if yes:
        return
    if not sys.stdin.isatty():
        raise CommandError(f"{question} Pass --yes to confirm (no terminal to ask on).")
    answer = input(f"{question} [y/N] ").strip().lower()
    if answer not in ("y", "yes"):
        raise CommandError("cancelled; nothing was changed")
