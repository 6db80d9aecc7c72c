"""A bounded soak: many concurrent sessions appending and reading, with windows and TTLs on.

    .venv/bin/python benchmarks/soak.py [--sessions 200] [--seconds 180] [--ttl 30]

Starts a private Redis on loopback and runs ``--sessions`` concurrent users
(asyncio tasks on the package's async engines) for ``--seconds``, then stops by
itself. Each user turn appends a question and an answer to the user's current
session (``AsyncMessageLog`` with a window of ``--window`` messages and a sliding
message TTL), reads the window back, writes and reads the user's state
(``AsyncStateStore``, state TTL on), and pauses for a random think time. Every
``--turns`` turns a user starts a new session and leaves the old one to expire.

Checked on every read: the session holds exactly the last ``--window``
acknowledged messages, in order (else a mismatched read), and the state holds
the last value written. An acknowledged message or state value missing counts
as lost. Sampled every 0.25 s: the server's
``used_memory`` and key count. Prints the figures (and writes them as JSON with
``--json FILE``): operations, errors, lost, peak memory and keys, and the
memory at each quarter of the run, which levels off when windows and TTLs bound
what is kept.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import time
from dataclasses import asdict, dataclass, field
from typing import Any

import redis.asyncio

from redis_memory import TTL, AsyncStateStore, RedisMemoryConfig, TTLPolicy
from redis_memory.embedded import EmbeddedRedis
from redis_memory.history import AsyncMessageLog

PAYLOAD = "x" * 160  # a short chat message


@dataclass
class SoakReport:
    sessions: int
    seconds: float
    window: int
    ttl: float
    operations: int = 0
    appends: int = 0
    messages_acknowledged: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    lost: int = 0
    mismatched_reads: int = 0
    sessions_started: int = 0
    shortest_session_seconds: float = float("inf")
    baseline_used_memory: int = 0
    peak_used_memory: int = 0
    peak_keys: int = 0
    used_memory_by_quarter: list[int] = field(default_factory=list)
    keys_by_quarter: list[int] = field(default_factory=list)
    keys_after_ttl: int | None = None

    @property
    def operations_per_second(self) -> float:
        return self.operations / self.seconds


def _content(seq: int, who: str) -> str:
    return f"{seq}:{who}:{PAYLOAD}"


async def _user(
    number: int,
    log: AsyncMessageLog,
    state: AsyncStateStore,
    report: SoakReport,
    deadline: float,
    turns: int,
    think: tuple[float, float],
) -> None:
    rng = random.Random(number)
    generation = 0
    user_id = f"user{number}"
    while time.monotonic() < deadline:
        session = f"{user_id}-s{generation}"
        report.sessions_started += 1
        acknowledged: list[str] = []
        began = time.monotonic()
        for seq in range(turns):
            if time.monotonic() >= deadline:
                break
            try:
                pair = [_content(seq, "q"), _content(seq, "a")]
                await log.append(
                    session,
                    [
                        {"role": "user", "content": pair[0]},
                        {"role": "assistant", "content": pair[1]},
                    ],
                )
                report.appends += 1
                report.messages_acknowledged += 2
                acknowledged += pair
                window = [m["content"] for m in await log.messages(session)]
                expected = acknowledged[-log.max_messages :]  # type: ignore[misc]
                report.lost += sum(1 for c in expected if c not in set(window))
                report.mismatched_reads += window != expected
                await state.set(user_id, "last", {"session": session, "seq": seq})
                report.lost += await state.get(user_id, "last") != {"session": session, "seq": seq}
                report.operations += 4
            except Exception as exc:  # counted and reported, never hidden
                report.errors += 1
                if len(report.error_samples) < 5:
                    report.error_samples.append(f"{type(exc).__name__}: {exc}")
            await asyncio.sleep(rng.uniform(*think))
        if len(acknowledged) == 2 * turns:
            lasted = time.monotonic() - began
            report.shortest_session_seconds = min(report.shortest_session_seconds, lasted)
        generation += 1


async def _sample(
    client: redis.asyncio.Redis, samples: list[tuple[float, int, int]], stop: asyncio.Event
) -> None:
    while not stop.is_set():
        info = await client.info("memory")
        samples.append((time.monotonic(), int(info["used_memory"]), int(await client.dbsize())))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.25)


async def run_soak(
    url: str,
    *,
    sessions: int = 200,
    seconds: float = 180.0,
    window: int = 20,
    ttl: float = 30.0,
    turns: int = 10,
    think: tuple[float, float] = (0.05, 0.25),
    wait_for_expiry: bool = False,
    max_connections: int | None = None,
) -> SoakReport:
    """Run the soak against ``url`` (a server of its own: its key count is read).

    ``max_connections`` is the pool's bound (``None``: the package's default, 100).
    """
    config = RedisMemoryConfig(
        url=url,
        prefix="soak",
        ttl=TTLPolicy(messages=TTL(ttl, sliding=True), state=TTL(ttl)),
        max_connections=max_connections,
    )
    log = AsyncMessageLog(config=config, max_messages=window)
    state = AsyncStateStore(config=config)
    report = SoakReport(sessions=sessions, seconds=seconds, window=window, ttl=ttl)
    admin = redis.asyncio.Redis.from_url(url)
    report.baseline_used_memory = int((await admin.info("memory"))["used_memory"])
    samples: list[tuple[float, int, int]] = []
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample(admin, samples, stop))
    started = time.monotonic()
    deadline = started + seconds
    await asyncio.gather(
        *(_user(n, log, state, report, deadline, turns, think) for n in range(sessions))
    )
    stop.set()
    await sampler
    report.seconds = time.monotonic() - started
    report.peak_used_memory = max(s[1] for s in samples)
    report.peak_keys = max(s[2] for s in samples)
    for quarter in range(1, 5):
        upto = started + report.seconds * quarter / 4
        within = [s for s in samples if s[0] <= upto] or samples[:1]
        report.used_memory_by_quarter.append(within[-1][1])
        report.keys_by_quarter.append(within[-1][2])
    if wait_for_expiry:
        await asyncio.sleep(ttl + 2)
        report.keys_after_ttl = int(await admin.dbsize())
    await admin.aclose()
    await log._clients.aclose()
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=180.0)
    parser.add_argument("--window", type=int, default=20)
    parser.add_argument("--ttl", type=float, default=30.0)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--json", help="also write the figures to this file")
    options = parser.parse_args()
    with EmbeddedRedis() as server:
        report = asyncio.run(
            run_soak(
                server.url,
                sessions=options.sessions,
                seconds=options.seconds,
                window=options.window,
                ttl=options.ttl,
                turns=options.turns,
                wait_for_expiry=True,
            )
        )
    figures: dict[str, Any] = asdict(report)
    figures["operations_per_second"] = round(report.operations_per_second)
    for name, value in figures.items():
        print(f"{name:>24}: {value}")
    if options.json:
        with open(options.json, "w") as out:
            json.dump(figures, out, indent=2)


if __name__ == "__main__":
    main()
