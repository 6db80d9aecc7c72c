"""The dashboard's web app (Starlette) and the server that runs it (uvicorn).

Routes, all ``GET``:

- ``/``: the page (plain HTML, a small script and a style sheet from
  ``/static/``; nothing from anywhere else: a Content-Security-Policy of
  ``'self'`` says so to the browser);
- ``/events``: server-sent events: ``hello`` (the readings and the kept events)
  when a page connects, then ``feed`` (each event as it is published),
  ``readings`` (after each refresh) and ``status`` (Redis or the feed lost or back);
- ``/api/readings`` and ``/api/events?after=SEQ``: the same as JSON;
- ``/metrics``: the readings in Prometheus's text format.

Access: bound to a loopback address, the app answers without a token (unless
one is given), and only to requests addressed to a loopback name
(``Host: 127.0.0.1``, ``localhost``, ``[::1]``), so that a web page elsewhere
cannot reach it through DNS rebinding. On any other address a token is
required: every request without it (``Authorization: Bearer <token>`` or
``?token=<token>``) is answered 401.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import html
import ipaddress
import socket
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

import orjson

from .._extras import require_extra
from ..config import RedisMemoryConfig

_NEEDS = "the dashboard needs Starlette, uvicorn and prometheus-client"
for _module in ("starlette", "prometheus_client"):
    require_extra(_module, "dashboard", _NEEDS)

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest  # noqa: E402
from starlette.applications import Starlette  # noqa: E402
from starlette.requests import Request  # noqa: E402
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse  # noqa: E402
from starlette.routing import Mount, Route  # noqa: E402
from starlette.staticfiles import StaticFiles  # noqa: E402

from .prometheus import registry_for  # noqa: E402
from .readings import Dashboard, Limits  # noqa: E402

STATIC = Path(__file__).with_name("static")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
# A page's stream gets a comment this often, so that a closed page is noticed.
KEEPALIVE_SECONDS = 15.0

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; "
        b"frame-ancestors 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),  # the token may be in the URL
    (b"cache-control", b"no-store"),
]


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only listens on this machine."""
    name = host.strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def _host_of(header: str) -> str:
    """The name in a ``Host`` header, without its port (``[::1]:80`` -> ``::1``)."""
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


class _Guard:
    """ASGI middleware: the token (or, without one, a loopback ``Host``), and safe headers."""

    def __init__(self, app: ASGIApp, token: str | None) -> None:
        self.app = app
        self.token = token.encode() if token else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope)
        if refusal is not None:
            status, message = refusal
            headers = {"www-authenticate": "Bearer"} if status == 401 else {}
            response = JSONResponse({"error": message}, status_code=status, headers=headers)
            await response(scope, receive, self._headed(send))
            return
        await self.app(scope, receive, self._headed(send))

    def _refusal(self, scope: Scope) -> tuple[int, str] | None:
        headers = dict(scope.get("headers") or ())
        if self.token is None:
            host = _host_of(headers.get(b"host", b"").decode("latin-1"))
            if not is_loopback(host):
                return 403, "this dashboard answers requests to 127.0.0.1 or localhost only"
            return None
        given = b""
        authorization = headers.get(b"authorization", b"")
        if authorization[:7].lower() == b"bearer ":
            given = authorization[7:].strip()
        else:
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [""])[0].encode("utf-8")
        if not given or not hmac.compare_digest(given, self.token):
            return 401, "a token is required: ?token=... or the header Authorization: Bearer ..."
        return None

    @staticmethod
    def _headed(send: Send) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *_SECURITY_HEADERS]
            await send(message)

        return sending


def _json(value: Any) -> Response:
    return Response(
        orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS),
        media_type="application/json",
    )


def _sse(name: str, payload: Any) -> bytes:
    data = orjson.dumps(payload, default=str, option=orjson.OPT_NON_STR_KEYS)
    return b"event: " + name.encode() + b"\ndata: " + data + b"\n\n"


def create_app(
    config: RedisMemoryConfig | None = None,
    *,
    token: str | None = None,
    host: str = DEFAULT_HOST,
    refresh: float = 2.0,
    memory_every: float = 10.0,
    limits: Limits | None = None,
) -> Starlette:
    """The dashboard as an ASGI app; its lifespan starts and stops the readings.

    Args:
        config: Where the data lives (default: :meth:`RedisMemoryConfig.from_env`).
        token: Required on every request when given (see the module's doc).
        host: The address the app will be served on: any address that is not a
            loopback one needs a token (a ``ValueError`` without one).
        refresh, memory_every, limits: As for :class:`~redis_memory.dashboard.Dashboard`.

    ``app.state.dashboard`` is the :class:`~redis_memory.dashboard.Dashboard`.
    """
    if token is not None and (not isinstance(token, str) or not token.strip()):
        raise ValueError("the token must be a non-empty string")
    if token is None and not is_loopback(host):
        raise ValueError(
            f"serving on {host} (not a loopback address) needs a token: every request must "
            "then carry it, so that nobody else on the network reads the dashboard"
        )
    dashboard = Dashboard(
        config or RedisMemoryConfig.from_env(),
        refresh=refresh,
        memory_every=memory_every,
        limits=limits,
    )
    registry = registry_for(dashboard)
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    query = html.escape(f"?token={quote(token, safe='')}") if token else ""
    page = page.replace("{{query}}", query).replace("{{prefix}}", html.escape(dashboard.prefix))

    async def index(request: Request) -> Response:
        return HTMLResponse(page)

    async def readings(request: Request) -> Response:
        return _json(dashboard.snapshot())

    async def events(request: Request) -> Response:
        try:
            after = int(request.query_params.get("after", "0"))
        except ValueError:
            return JSONResponse({"error": "after must be a whole number"}, status_code=400)
        return _json({"events": dashboard.recent_events(after), "status": dashboard.status()})

    async def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    async def stream(request: Request) -> Response:
        queue = dashboard.listen()

        async def messages() -> AsyncIterator[bytes]:
            try:
                yield b"retry: 1000\n\n"
                yield _sse("hello", dashboard.hello())
                while True:
                    try:
                        name, payload = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield b": keep-alive\n\n"
                        continue
                    if name == "closing":
                        return
                    yield _sse(name, payload)
            finally:
                dashboard.unlisten(queue)

        return StreamingResponse(
            messages(),
            media_type="text/event-stream",
            headers={"x-accel-buffering": "no"},
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await dashboard.start()
        try:
            yield
        finally:
            await dashboard.stop()

    app = Starlette(
        routes=[
            Route("/", index),
            Route("/events", stream),
            Route("/api/readings", readings),
            Route("/api/events", events),
            Route("/metrics", metrics),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ],
        lifespan=lifespan,
    )
    app.state.dashboard = dashboard
    app.add_middleware(_Guard, token=token)
    return app


# -- serving ----------------------------------------------------------------------------------
def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; an ``OSError`` (e.g. port in use) as it is."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host.strip("[]"), port))
        sock.listen(128)
        sock.set_inheritable(True)
    except BaseException:
        sock.close()
        raise
    return sock


def server_for(app: Starlette, *, log_level: str = "warning") -> Any:
    """A ``uvicorn.Server`` for the app that ends the pages' streams when it stops.

    Without that, a shutdown would wait for the open event streams (which never end).
    """
    require_extra("uvicorn", "dashboard", "serving the dashboard needs uvicorn")
    import uvicorn

    class _Server(uvicorn.Server):
        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            app.state.dashboard.close_streams()
            await asyncio.sleep(0.05)  # the streams end before their connections are closed
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app,
        log_level=log_level,
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=3,
        server_header=False,
    )
    return _Server(config)


class ServerThread:
    """The dashboard served on a thread of this process (tests, notebooks).

    Example:
        .. code-block:: python

            import urllib.request

            from redis_memory import RedisMemoryConfig
            from redis_memory.dashboard import ServerThread, create_app

            app = create_app(RedisMemoryConfig(url="embedded"))
            with ServerThread(app) as running:  # http://127.0.0.1:<a free port>/
                with urllib.request.urlopen(running.url) as page:
                    assert page.status == 200
    """

    def __init__(self, app: Starlette, *, host: str = DEFAULT_HOST, port: int = 0) -> None:
        self.app = app
        self._socket = bind(host, port)
        bound_host, bound_port = self._socket.getsockname()[:2]
        self.port: int = bound_port
        shown = f"[{bound_host}]" if ":" in bound_host else bound_host
        self.url = f"http://{shown}:{bound_port}/"
        self.server = server_for(app)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout: float = 20.0) -> ServerThread:
        """Start serving and return once the server listens (waiting at most ``timeout`` s)."""
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the dashboard's server did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        """Stop the server, wait for its thread to end, and close the socket."""
        self.server.should_exit = True
        self._thread.join(timeout=15)
        self._socket.close()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
