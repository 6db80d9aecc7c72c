"""What a crash of the Redis process costs, per persistence setting.

    .venv/bin/python benchmarks/durability.py [--writers 16] [--seconds 3] [--trials 3]

For each setting (AOF ``appendfsync always``, AOF ``everysec``, RDB snapshots
only, no persistence), starts an embedded Redis on a fresh data folder, runs
concurrent ``MessageLog.append`` writers (one session each), sends the server
SIGKILL in the middle of the load, starts it again on the same folder, and
counts the appends that a writer saw acknowledged but that are gone. Prints a
Markdown table (appends/s before the kill, acknowledged, lost) and writes it to
``benchmarks/results/durability.md``.

SIGKILL ends the process, not the machine: what Redis has handed to the kernel
(``write``) survives it even when not yet on disk (``fsync``). Redis writes the
AOF before it replies, so ``everysec`` loses nothing here; what it can lose on a
power cut or kernel crash is the last second of writes (up to two when the disk
stalls), which no process kill can show: the table gives the appends per second
to turn that second into a number of messages.
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import tempfile
import threading
import time
from pathlib import Path

from redis_memory import RedisMemoryConfig, RedisUnavailableError
from redis_memory.embedded import EmbeddedRedis, _free_port
from redis_memory.history import MessageLog

SETTINGS = {
    "AOF appendfsync always": ["--appendonly", "yes", "--appendfsync", "always"],
    "AOF appendfsync everysec": ["--appendonly", "yes", "--appendfsync", "everysec"],
    "RDB snapshots only (save 60 1)": ["--appendonly", "no", "--save", "60 1"],
    "no persistence": ["--appendonly", "no", "--save", ""],
}
RESULTS = Path(__file__).with_name("results") / "durability.md"


def one_trial(args: list[str], writers: int, seconds: float) -> tuple[float, int, int]:
    """(appends per second, acknowledged, acknowledged but lost) of one kill."""
    with tempfile.TemporaryDirectory(prefix="durability-") as folder:
        port = _free_port()
        server = EmbeddedRedis(port=port, data_dir=folder, extra_args=args).start()
        config = RedisMemoryConfig(url=server.url, prefix="dur", socket_timeout=5, retries=0)
        log = MessageLog(config=config)
        acked: list[list[int]] = [[] for _ in range(writers)]

        def write(writer: int) -> None:
            seq = 0
            while True:
                try:
                    log.append(f"w{writer}", [{"role": "user", "content": str(seq)}])
                except RedisUnavailableError:
                    return
                acked[writer].append(seq)
                seq += 1

        threads = [threading.Thread(target=write, args=(w,)) for w in range(writers)]
        started = time.monotonic()
        for thread in threads:
            thread.start()
        time.sleep(seconds)
        assert server.pid is not None
        os.kill(server.pid, signal.SIGKILL)
        elapsed = time.monotonic() - started
        for thread in threads:
            thread.join()
        server.stop()
        total = sum(len(a) for a in acked)
        with EmbeddedRedis(port=port, data_dir=folder, extra_args=args):
            lost = 0
            for writer, seqs in enumerate(acked):
                stored = {int(m["content"]) for m in log.messages(f"w{writer}")}
                lost += sum(1 for seq in seqs if seq not in stored)
        log._clients.close()
        return total / elapsed, total, lost


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--writers", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--trials", type=int, default=3)
    options = parser.parse_args()
    rows = []
    for name, args in SETTINGS.items():
        trials = [one_trial(args, options.writers, options.seconds) for _ in range(options.trials)]
        rate = sum(t[0] for t in trials) / len(trials)
        acked = sum(t[1] for t in trials)
        lost = sum(t[2] for t in trials)
        rows.append(f"| {name} | {rate:,.0f} | {acked:,} | {lost:,} |")
        print(rows[-1], flush=True)
    table = "\n".join(
        [
            f"{options.trials} SIGKILLs per setting, {options.writers} concurrent writers, "
            f"kill after {options.seconds:g} s; {platform.machine()}, {os.cpu_count()} cores, "
            f"{time.strftime('%Y-%m-%d')}.",
            "",
            "| persistence | appends/s | acknowledged | acknowledged but lost |",
            "|---|---:|---:|---:|",
            *rows,
        ]
    )
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(table + "\n")
    print(f"\n{table}\n\nwritten to {RESULTS}")


if __name__ == "__main__":
    main()
