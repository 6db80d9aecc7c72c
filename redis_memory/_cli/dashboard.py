"""``redis-memory dashboard``: serve the live dashboard (:mod:`redis_memory.dashboard`).

Bound to 127.0.0.1 by default, where no token is needed unless ``--token`` is
given. On any other address a token is required: ``--token``, or one generated
here and printed in the page's URL (a dashboard open to the network without
one is never started). A port in use, or a Redis that refuses the credentials,
is one line on stderr and exit status 1; a Redis that does not answer yet is a
warning: the page says so, and recovers when Redis is back.
"""

from __future__ import annotations

import argparse
import errno
import secrets
import signal
import sys
from typing import Any
from urllib.parse import quote

import redis

from ..connection import RedisClients
from . import CommandError, config_of

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535, got {text!r}")
    return value


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0:
        raise argparse.ArgumentTypeError(f"expected a positive number of seconds, got {text!r}")
    return value


def _probe(args: argparse.Namespace) -> None:
    """One PING: refused credentials end here; an unreachable Redis is only a warning."""
    config = config_of(args)
    clients = RedisClients(config=config.replace(retries=0))
    try:
        clients.sync.ping()
    except redis.exceptions.AuthenticationError as exc:
        raise CommandError(
            f"Redis at {clients.masked_url()} refused the credentials: {exc}. Check the user "
            "name and password of the URL (shown masked)."
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, OSError) as exc:
        print(
            f"redis-memory dashboard: Redis at {clients.masked_url()} does not answer now "
            f"({exc}); the page shows it, and its readings start when Redis is back.",
            file=sys.stderr,
        )
    finally:
        clients.close()


def _dashboard(args: argparse.Namespace) -> int:
    try:
        from ..dashboard.app import bind, create_app, is_loopback, server_for
    except ModuleNotFoundError as exc:
        raise CommandError(str(exc)) from exc
    token = args.token
    if token is not None and not token.strip():
        raise CommandError("--token must not be empty")
    generated = token is None and not is_loopback(args.host)
    if generated:
        token = secrets.token_urlsafe(24)
    config = config_of(args)
    _probe(args)
    try:
        sock = bind(args.host, args.port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise CommandError(
                f"port {args.port} on {args.host} is in use (another dashboard?); pick another "
                "with --port"
            ) from exc
        raise CommandError(
            f"cannot listen on {args.host} port {args.port}: {exc.strerror or exc}"
        ) from exc
    try:
        app = create_app(config, token=token, host=args.host, refresh=args.refresh)
        server = server_for(app)
        host = f"[{args.host.strip('[]')}]" if ":" in args.host else args.host
        query = f"?token={quote(token, safe='')}" if token else ""
        print(f"http://{host}:{args.port}/{query}", flush=True)
        dashboard = app.state.dashboard
        print(
            f"Reading {dashboard.url()} (prefix {dashboard.prefix!r}); the dashboard never writes "
            "to Redis. Ctrl-C stops it.",
            file=sys.stderr,
            flush=True,
        )
        if generated:
            print(
                f"{args.host} is not a loopback address, so every request needs the token "
                "printed above (?token=... or the header Authorization: Bearer ...); "
                "pass --token to choose it.",
                file=sys.stderr,
                flush=True,
            )
        # uvicorn stops on SIGINT or SIGTERM, then raises the signal again for the
        # handlers it found: these, so that Ctrl-C ends the command quietly (status 0).
        stops = (signal.SIGINT, signal.SIGTERM)
        found = {signum: signal.signal(signum, lambda *_: None) for signum in stops}
        try:
            server.run(sockets=[sock])
        finally:
            for signum, handler in found.items():
                signal.signal(signum, handler)
    finally:
        sock.close()
    return 0


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    parser = commands.add_parser(
        "dashboard",
        help="a live web page: events, sessions, cache, memory, agents, queues (read-only)",
        description=(
            "Serve one local web page showing live what this package keeps in Redis, and "
            "/metrics for Prometheus. It only reads. Bound to 127.0.0.1 by default; any other "
            "--host needs a token (--token, or one generated and printed)."
        ),
    )
    parser.add_argument("--url", help="Redis URL (default: REDIS_MEMORY_URL, REDIS_URL, localhost)")
    parser.add_argument("--prefix", help="key prefix (default: REDIS_MEMORY_PREFIX or rmem)")
    parser.add_argument(
        "--host", default=DEFAULT_HOST, help=f"address to listen on (default: {DEFAULT_HOST})"
    )
    parser.add_argument(
        "--port", type=_port, default=DEFAULT_PORT, help=f"TCP port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--token",
        help="require this token on every request (?token= or Authorization: Bearer); "
        "generated when --host is not a loopback address",
    )
    parser.add_argument(
        "--refresh",
        type=_seconds,
        default=2.0,
        help="seconds between two readings of the panels (default: 2; events are live)",
    )
    parser.set_defaults(run=_dashboard)
