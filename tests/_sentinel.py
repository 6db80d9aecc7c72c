"""A primary, a replica and three sentinels on loopback, for the Sentinel tests.

Failover is kept fast (``down-after-milliseconds`` 1000, ``failover-timeout``
3000). Every process is stopped on exit, also when a test fails, and dies with
the Python process if that is killed.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import TracebackType

import redis
from _waiting import wait_until

from redis_memory.embedded import EmbeddedRedis, _die_with_parent, _free_port, find_server

SERVICE = "mymaster"


def wait_for(predicate, timeout: float, what: str) -> None:
    """:func:`wait_until`, every 50 ms, ``timeout`` seconds' worth of attempts.

    A server or sentinel that does not answer (yet) counts as not yet true.
    """

    def answered() -> bool:
        try:
            return bool(predicate())
        except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError):
            return False

    wait_until(answered, attempts=round(timeout / 0.05), pause=0.05, what=what)


class Sentinel:
    """One ``redis-server <conf> --sentinel`` process (Sentinel rewrites its config file)."""

    def __init__(self, folder: Path, primary_port: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        conf = folder / "sentinel.conf"
        conf.write_text(
            f"port {self.port}\n"
            "bind 127.0.0.1\n"
            f"dir {folder}\n"
            "daemonize no\n"
            f"sentinel monitor {SERVICE} 127.0.0.1 {primary_port} 2\n"
            f"sentinel down-after-milliseconds {SERVICE} 1000\n"
            f"sentinel failover-timeout {SERVICE} 3000\n"
            f"sentinel parallel-syncs {SERVICE} 1\n"
        )
        binary = find_server()
        self._log = (folder / "sentinel.log").open("ab")
        on_main_thread = threading.current_thread() is threading.main_thread()
        self.process = subprocess.Popen(
            [str(binary.path), str(conf), "--sentinel"],
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=binary.environment(),
            cwd=folder,
            preexec_fn=_die_with_parent if on_main_thread and sys.platform == "linux" else None,
        )
        self.client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)

    def master(self) -> dict:
        return self.client.sentinel_master(SERVICE)

    def stop(self) -> None:
        self.client.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self._log.close()


class SentinelGroup:
    """``with SentinelGroup(tmp_path) as group:`` a primary, a replica, three sentinels."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.servers: list[EmbeddedRedis] = []
        self.sentinels: list[Sentinel] = []

    def __enter__(self) -> SentinelGroup:
        try:
            self.primary = self._server("primary", "--repl-diskless-sync-delay", 0)
            self.replica = self._server(
                "replica",
                "--replicaof",
                "127.0.0.1",
                self.primary.port,
                "--repl-diskless-sync-delay",
                0,
            )
            wait_for(lambda: self.replica_link_up(self.replica), 20, "the replica to sync")
            self.sentinels = [
                Sentinel(self.folder / f"sentinel{i}", self.primary.port) for i in range(3)
            ]
            wait_for(self._sentinels_see_everyone, 30, "the sentinels to find each other")
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _server(self, name: str, *extra: object) -> EmbeddedRedis:
        server = EmbeddedRedis(data_dir=self.folder / name, extra_args=[str(a) for a in extra])
        self.servers.append(server)
        return server.start()

    def restart_as_replica(self, server: EmbeddedRedis, of_port: int) -> EmbeddedRedis:
        """Start a (killed) server again on its port, now a replica of the new primary."""
        again = EmbeddedRedis(
            port=server.port,
            data_dir=server.data_dir,
            extra_args=["--replicaof", "127.0.0.1", str(of_port)],
        )
        self.servers.append(again)
        return again.start()

    @staticmethod
    def replica_link_up(server: EmbeddedRedis) -> bool:
        with server.client(socket_timeout=1) as client:
            return client.info("replication").get("master_link_status") == "up"

    def _sentinels_see_everyone(self) -> bool:
        return all(
            int(s.master()["num-slaves"]) == 1 and int(s.master()["num-other-sentinels"]) == 2
            for s in self.sentinels
        )

    def primary_port(self) -> int:
        """The primary's port as the sentinels report it."""
        return int(self.sentinels[0].master()["port"])

    def url(self, db: int = 0) -> str:
        hosts = ",".join(f"127.0.0.1:{s.port}" for s in self.sentinels)
        return f"redis+sentinel://{hosts}/{SERVICE}/{db}"

    @staticmethod
    def kill(server: EmbeddedRedis) -> None:
        """SIGKILL: no shutdown, no goodbye to the replicas, as a crashed machine."""
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        with contextlib.suppress(Exception):
            server._process.wait(timeout=10)  # type: ignore[union-attr]

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for sentinel in self.sentinels:
            with contextlib.suppress(Exception):
                sentinel.stop()
        for server in self.servers:
            with contextlib.suppress(Exception):
                server.stop()
