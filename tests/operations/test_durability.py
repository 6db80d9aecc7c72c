"""Durability: with AOF ``appendfsync always``, a SIGKILL loses nothing that was acknowledged.

The server is killed in the middle of a concurrent write load and started again
on the same data folder; every append a writer saw succeed is there, in each
writer's order. (``benchmarks/durability.py`` measures ``everysec`` and no AOF.)
"""

from __future__ import annotations

import os
import signal
import threading

from _waiting import wait_until

from redis_memory import RedisMemoryConfig, RedisUnavailableError
from redis_memory.embedded import EmbeddedRedis, _free_port
from redis_memory.history import MessageLog

ALWAYS = ["--appendonly", "yes", "--appendfsync", "always"]
WRITERS = 8


def test_appendfsync_always_keeps_every_acknowledged_append_through_a_sigkill(tmp_path):
    port = _free_port()
    server = EmbeddedRedis(port=port, data_dir=tmp_path, extra_args=ALWAYS).start()
    config = RedisMemoryConfig(
        url=server.url, prefix="dur", socket_timeout=5, socket_connect_timeout=1, retries=0
    )
    log = MessageLog(config=config)
    acked: dict[int, list[int]] = {w: [] for w in range(WRITERS)}
    stop = threading.Event()

    def write(writer: int) -> None:
        seq = 0
        while not stop.is_set():
            try:
                # One session per writer and one shared by all: both kinds of key.
                log.append(f"w{writer}", [{"role": "user", "content": str(seq)}])
                log.append("shared", [{"role": "user", "content": f"{writer}:{seq}"}])
            except RedisUnavailableError:
                return
            acked[writer].append(seq)
            seq += 1

    threads = [threading.Thread(target=write, args=(w,)) for w in range(WRITERS)]
    try:
        for thread in threads:
            thread.start()
        wait_until(
            lambda: min(len(a) for a in acked.values()) >= 30,
            attempts=3000,
            pause=0.01,
            what="30 acknowledged appends from every writer",
        )
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)  # mid-load: writers are still appending
        for thread in threads:
            thread.join(timeout=30)
    finally:
        stop.set()
        server.stop()  # reaps the killed process; the data folder is kept

    with EmbeddedRedis(port=port, data_dir=tmp_path, extra_args=ALWAYS):
        shared = [m["content"] for m in log.messages("shared")]  # the same object, reconnected
        for writer, seqs in acked.items():
            assert len(seqs) >= 30
            own = [int(m["content"]) for m in log.messages(f"w{writer}")]
            # Every acknowledged append is there, in order; at most one more (stored,
            # but killed before its reply left the server).
            assert own[: len(seqs)] == seqs
            assert len(own) - len(seqs) <= 1
            mine = [int(t.split(":")[1]) for t in shared if t.startswith(f"{writer}:")]
            assert mine[: len(seqs)] == seqs
            assert len(mine) - len(seqs) <= 1
