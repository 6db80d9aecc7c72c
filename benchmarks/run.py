"""Speed and footprint of redis-memory-backend, side by side with the floor and the peers.

    make bench                               # the full run (about 10 minutes)
    .venv/bin/python benchmarks/run.py --quick   # a few repetitions, for a smoke check

Starts a private Redis Stack (the embedded one), runs every case for our
package, for raw redis-py doing the same work (the floor) and for the peers,
interleaved per repetition, and writes ``benchmarks/results/latest.md`` plus
``history_read.png`` and ``concurrency.png`` next to it. Two of its sections, the
embedding model (``embedding.py``, about 5 minutes) and the install size of each
extra (``install_size.py``, run last, about 13 minutes: ``--no-install-sizes`` skips
it), also write ``embedding.md`` and ``install_size.md`` there. Only those two:

    .venv/bin/python benchmarks/run.py --only embedding,install-sizes --out /tmp/bench
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

import redis  # noqa: E402
from harness import Result, Runner  # noqa: E402

RESULTS = HERE / "results"
PEERS = (
    "redis-memory-backend",
    "redis",
    "orjson",
    "langchain-core",
    "langchain-redis",
    "langchain-community",
    "llama-index-core",
    "llama-index-storage-chat-store-redis",
    "redisvl",
    "langgraph",
    "langgraph-checkpoint",
    "langgraph-checkpoint-redis",
    "langgraph-checkpoint-sqlite",
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


def versions(server: redis.Redis) -> str:
    parts = [f"Python {platform.python_version()}", f"Redis {server.info()['redis_version']}"]
    for name in PEERS:
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} (absent)")
    return ", ".join(parts)


# -- concurrency ----------------------------------------------------------------------------
def run_concurrency(ctx: Any, reps: int, quick: bool) -> list[dict[str, Any]]:
    from cases import concurrent_appends

    rows = []
    levels = (1, 8, 64, 256)
    total = 512 if quick else 2048
    for one_session in (False, True):
        for tasks in levels:
            per_task = max(4, total // tasks)
            walls: dict[str, list[float]] = {"ours": [], "floor": []}
            lat: dict[str, list[float]] = {"ours": [], "floor": []}
            for rep in range(reps):
                order = ("ours", "floor") if rep % 2 == 0 else ("floor", "ours")
                for kind in order:
                    wall, latencies = asyncio.run(
                        concurrent_appends(kind, ctx.url, ctx.config, tasks, per_task, one_session)
                    )
                    walls[kind].append(wall)
                    lat[kind] += latencies
            for kind in ("ours", "floor"):
                ops = tasks * per_task
                ordered = sorted(lat[kind])
                rows.append(
                    {
                        "session": "one session" if one_session else "distinct sessions",
                        "tasks": tasks,
                        "impl": kind,
                        "throughput": ops / statistics.median(walls[kind]),
                        "p50": ordered[len(ordered) // 2] * 1e6,
                        "p99": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e6,
                    }
                )
    return rows


# -- footprint ------------------------------------------------------------------------------
def used_memory(client: redis.Redis) -> int:
    gc.collect()
    time.sleep(0.05)
    return int(client.info("memory")["used_memory"])


def keys_memory(client: redis.Redis, match: str) -> int:
    total = 0
    for key in client.scan_iter(match=match, count=1000):
        total += client.memory_usage(key, samples=0) or 0
    return total


def run_footprint(ctx: Any, quick: bool) -> list[dict[str, Any]]:
    from cases import (
        ANSWER,
        LLM,
        FloorChatHistory,
        _exact_caches,
        _semantic_caches,
        fresh,
        lc_messages,
        peer_langchain_community,
        peer_langchain_redis,
    )
    from llama_index.core.llms import ChatMessage
    from llama_index.storage.chat_store.redis import RedisChatStore as PeerStore
    from redisvl.extensions.message_history import MessageHistory

    from langchain_redis_memory import RedisChatMessageHistory

    sessions, per_session = (20, 100) if quick else (1000, 100)
    messages = lc_messages(per_session)
    dicts = [
        {"role": m.type.replace("human", "user").replace("ai", "assistant"), "content": m.content}
        for m in messages
    ]
    li = [ChatMessage(role=d["role"], content=d["content"]) for d in dicts]
    peer_store = PeerStore(redis_url=ctx.url)
    rvl = MessageHistory(fresh("fp-rvl"), redis_url=ctx.url)
    writers = {
        "ours": lambda s: RedisChatMessageHistory(s, config=ctx.config).add_messages(messages),
        "floor": lambda s: FloorChatHistory(ctx.floor, s).add_messages(messages),
        "langchain-redis": lambda s: peer_langchain_redis(ctx.url, s).add_messages(messages),
        "langchain-community": lambda s: peer_langchain_community(ctx.url, s).add_messages(
            messages
        ),
        "llama-index-redis": lambda s: peer_store.set_messages(s, li),
        "redisvl": lambda s: rvl.add_messages(dicts, session_tag=s),
    }
    rows = []
    for name, write in writers.items():
        tag = fresh("fp")
        write(f"{tag}-warm")  # indexes and scripts exist before the first figure
        before = used_memory(ctx.client)
        start = time.perf_counter()
        for i in range(sessions):
            write(f"{tag}-{i}")
        seconds = time.perf_counter() - start
        after = used_memory(ctx.client)
        stored = sessions * per_session
        rows.append(
            {
                "kind": "message",
                "impl": name,
                "count": stored,
                "used_memory": (after - before) / stored,
                "memory_usage": keys_memory(ctx.client, f"*{tag}-0[:}}]*") / per_session
                + keys_memory(ctx.client, f"*{tag}-0") / per_session,
                "write_seconds": seconds,
            }
        )
    entries = 200 if quick else 1000
    caches: dict[str, Any] = {f"{k} (exact)": v for k, v in _exact_caches(ctx).items()}
    caches.update(
        {
            f"{k} (semantic)": v[0]
            for k, v in _semantic_caches(ctx).items()
            if k != "ours (threshold)"  # stores what "ours" stores
        }
    )
    for name, cache in caches.items():
        cache.update("warm", LLM, ANSWER)
        before = used_memory(ctx.client)
        for i in range(entries):
            cache.update(f"prompt {i} of {name}: what is {fresh('x')}?", LLM, ANSWER)
        after = used_memory(ctx.client)
        rows.append(
            {
                "kind": "cache entry",
                "impl": name,
                "count": entries,
                "used_memory": (after - before) / entries,
                "memory_usage": None,
                "write_seconds": None,
            }
        )
    return rows


# -- report ---------------------------------------------------------------------------------
def fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def case_table(results: list[Result]) -> list[str]:
    lines = []
    group = None
    for result in results:
        case = result.case
        if case.group != group:
            group = case.group
            lines += ["", f"### {group}", ""]
            lines.append("| case | implementation | median | vs ours | commands/op | embed/op |")
            lines.append("|---|---|---:|---:|---:|---:|")
        ours = result.median_us(case.ours)
        for impl in case.impls:
            us = result.median_us(impl.name)
            embed = result.embed.get(impl.name)
            lines.append(
                f"| {case.name} | {impl.name} | {fmt_us(us)} | {us / ours:.2f}x | "
                f"{result.commands[impl.name]:.1f} | "
                f"{fmt_us(embed) if embed is not None else ''} |"
            )
    return lines


def find(results: list[Result], name: str) -> Result | None:
    return next((r for r in results if r.case.name == name), None)


def targets(
    results: list[Result], conc: list[dict[str, Any]], foot: list[dict[str, Any]]
) -> list[str]:
    lines = ["| target | figure | met |", "|---|---|---|"]

    def row(target: str, figure: str, ok: bool) -> None:
        lines.append(f"| {target} | {figure} | {'yes' if ok else '**no**'} |")

    worst = []
    for r in results:
        if r.case.floor and r.case.group in {
            "history",
            "history-core",
            "cache",
            "cache-core",
            "state",
        }:
            ratio = r.median_us(r.case.ours) / r.median_us(r.case.floor)
            worst.append((ratio, r.case.name))
            if ratio > 1.3:
                row(f"within 1.3x of the floor: {r.case.name}", f"{ratio:.2f}x", False)
    if worst:
        ratio, name = max(worst)
        row(
            "within 1.3x of the floor, every history/cache/state case",
            f"worst {ratio:.2f}x ({name})",
            ratio <= 1.3,
        )

    def peer_ratio(case: str, peer: str, minimum: float, label: str) -> None:
        r = find(results, case)
        if r and peer in r.seconds:
            ratio = r.median_us(peer) / r.median_us("ours")
            row(label, f"{ratio:.2f}x faster", ratio >= minimum)

    peer_ratio(
        "read 200 messages (LangChain)",
        "langchain-redis",
        3,
        "read 200: >= 3x faster than langchain-redis",
    )
    peer_ratio(
        "read 200 messages (LangChain)",
        "langchain-community",
        1.5,
        "read 200: >= 1.5x faster than langchain-community",
    )
    peer_ratio(
        "append 1 message (LangChain)",
        "langchain-redis",
        2,
        "append: >= 2x faster than langchain-redis",
    )
    for r in results:
        # The target is the peer package; Memory's SQLite default is shown for reference.
        if r.case.group == "llama-index" and "llama-index-redis" in r.seconds:
            for other in ("llama-index-redis",):
                ratio = r.median_us(other) / r.median_us("ours")
                row(
                    f"LlamaIndex {r.case.name}: at least as fast as {other}",
                    f"{ratio:.2f}x",
                    ratio >= 1.0,
                )
    for name, label in [
        ("heartbeat", "presence heartbeat within 1.3x of raw redis-py (same script)"),
        ("capability query", "capability query within 1.3x of raw redis-py (same script)"),
    ]:
        case = find(results, name)
        if case:
            ratio = case.median_us("ours") / case.median_us("floor")
            row(label, f"{ratio:.2f}x", ratio <= 1.3)
    overhead = find(results, "metrics overhead per operation")
    if overhead:
        added = overhead.median_us("ours") - overhead.median_us("floor")
        row("metrics add at most 2 µs per operation (no SDK)", f"{added:.2f} µs", added <= 2)
    take_ack = find(results, "priority queue take+ack")
    if take_ack:
        ratio = take_ack.median_us("ours") / take_ack.median_us("floor")
        row("priority queue take+ack within 1.5x of the floor", f"{ratio:.2f}x", ratio <= 1.5)
    mine = next((f for f in foot if f["kind"] == "message" and f["impl"] == "ours"), None)
    theirs = next(
        (f for f in foot if f["kind"] == "message" and f["impl"] == "langchain-redis"), None
    )
    if mine and theirs:
        ratio = mine["used_memory"] / theirs["used_memory"]
        row(
            "memory per message <= half of langchain-redis",
            f"{mine['used_memory']:.0f} B vs {theirs['used_memory']:.0f} B ({ratio:.2f})",
            ratio <= 0.5,
        )
    for session in ("distinct sessions", "one session"):
        ours = next(
            (
                c
                for c in conc
                if c["tasks"] == 256 and c["impl"] == "ours" and c["session"] == session
            ),
            None,
        )
        floor = next(
            (
                c
                for c in conc
                if c["tasks"] == 256 and c["impl"] == "floor" and c["session"] == session
            ),
            None,
        )
        if ours and floor:
            ratio = floor["throughput"] / ours["throughput"]
            row(
                f"256 tasks, {session}: throughput within 1.5x of redis.asyncio",
                f"{ours['throughput']:.0f} vs {floor['throughput']:.0f} ops/s ({ratio:.2f}x)",
                ratio <= 1.5,
            )
    return lines


HEADLINE = (
    "append 1 message (LangChain)",
    "append batch of 10 (LangChain)",
    "read 200 messages (LangChain)",
    "read last 20 of 2,000 (LangChain)",
    "read 200 messages (dicts)",
    "ChatMemoryBuffer.get, 200 messages",
    "chat store add_message",
    "exact hit",
    "semantic hit (paraphrase)",
    "get",
)
HEADLINE_PEERS = (
    "langchain-redis",
    "langchain-community",
    "llama-index-redis",
    "redisvl",
)


def headline(results: list[Result], foot: list[dict[str, Any]]) -> list[str]:
    """The table of benchmarks/README.md: medians, and each other's time over ours in brackets."""
    lines = [
        "| operation | ours | floor (raw redis-py) | " + " | ".join(HEADLINE_PEERS) + " |",
        "|---|---:|---:|" + "---:|" * len(HEADLINE_PEERS),
    ]
    for name in HEADLINE:
        r = find(results, name)
        if r is None:
            continue
        ours = r.median_us(r.case.ours)

        def cell(impl: str, r: Result = r, ours: float = ours) -> str:
            if impl not in r.seconds:
                return ""
            us = r.median_us(impl)
            return f"{fmt_us(us)} ({us / ours:.2f}x)"

        label = f"{r.case.group}: {name}" if r.case.group == "state" else name
        lines.append(
            f"| {label} | {fmt_us(ours)} | {cell('floor')} | "
            + " | ".join(cell(p) for p in HEADLINE_PEERS)
            + " |"
        )
    per = {f["impl"]: f["used_memory"] for f in foot if f["kind"] == "message"}
    if "ours" in per:

        def mem(impl: str) -> str:
            return f"{per[impl]:.0f} B ({per[impl] / per['ours']:.2f}x)" if impl in per else ""

        lines.append(
            f"| Redis memory per stored message | {per['ours']:.0f} B | {mem('floor')} | "
            + " | ".join(mem(p) for p in HEADLINE_PEERS)
            + " |"
        )
    return lines


def write_report(
    results: list[Result],
    conc: list[dict[str, Any]],
    foot: list[dict[str, Any]],
    header: dict[str, str],
    out: Path,
    checkpointers: dict[str, Any] | None = None,
    memory: dict[str, Any] | None = None,
    embedding: dict[str, Any] | None = None,
    install_sizes: dict[str, Any] | None = None,
) -> None:
    import checkpointers as cp
    import embedding as emb
    import install_size as size
    import memory as mem

    lines = [
        "# Benchmarks: redis-memory-backend vs the floor and the peers",
        "",
        f"- Date: {header['date']}",
        f"- Machine: {header['machine']}",
        f"- Versions: {header['versions']}",
        f"- Run: {header['run']}",
        "",
        "Medians of every timed call; implementations interleaved per repetition against the",
        "same Redis. *vs ours* is the implementation's median over ours (above 1 = slower than",
        "ours). *floor* is raw redis-py doing the same logical work (one pipelined round trip,",
        "orjson, decode into plain objects or, for the LangChain rows, LangChain's own",
        "`messages_from_dict`; its reads renew the sliding TTL as ours do). Commands per",
        "operation are `INFO commandstats` deltas. The stand-in embedding model returns at once;",
        "its time per operation is the *embed/op* column.",
        "",
        "## Headline",
        "",
        "Median latency; in brackets, that implementation's time (or memory) over ours.",
        "",
        *headline(results, foot),
        "",
        "## Targets",
        "",
        *targets(results, conc, foot),
        *(cp.target_rows(checkpointers) if checkpointers else []),
        *(mem.target_rows(memory) if memory else []),
        *(emb.target_rows(embedding) if embedding else []),
        *(size.target_rows(install_sizes) if install_sizes else []),
        "",
        "## Latency",
        *case_table(results),
        "",
        *(cp.report(checkpointers) if checkpointers else []),
        *(mem.report(memory) if memory else []),
        *(emb.report(embedding) if embedding else []),
        "## Concurrency (asyncio tasks appending one message each time)",
        "",
        "| sessions | tasks | implementation | throughput | p50 | p99 |",
        "|---|---:|---|---:|---:|---:|",
    ]
    for c in conc:
        lines.append(
            f"| {c['session']} | {c['tasks']} | {c['impl']} | {c['throughput']:.0f} ops/s | "
            f"{fmt_us(c['p50'])} | {fmt_us(c['p99'])} |"
        )
    lines += [
        "",
        "## Footprint",
        "",
        "`used_memory` delta per item over the whole write (indexes included), and",
        "`MEMORY USAGE` of one session's keys per message.",
        "",
        "| item | implementation | items | used_memory per item | MEMORY USAGE per item |",
        "|---|---|---:|---:|---:|",
    ]
    for f in foot:
        usage = f"{f['memory_usage']:.0f} B" if f["memory_usage"] else ""
        lines.append(
            f"| {f['kind']} | {f['impl']} | {f['count']:,} | {f['used_memory']:.0f} B | {usage} |"
        )
    lines += ["", *(size.report(install_sizes) if install_sizes else [])]
    lines += ["Charts: `history_read.png`, `concurrency.png`.", ""]
    out.write_text("\n".join(lines))


def charts(results: list[Result], conc: list[dict[str, Any]], folder: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for ax, group, title in (
        (axes[0], "history", "LangChain history: read a whole session"),
        (axes[1], "history-core", "Core message log: read a whole session (dicts)"),
    ):
        rows = [r for r in results if r.case.group == group and r.case.x]
        if not rows:
            continue
        for impl in rows[0].case.impls:
            xs = [r.case.x for r in rows]
            ys = [r.median_us(impl.name) / 1000 for r in rows]
            ax.plot(xs, ys, marker="o", label=impl.name)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("messages in the session")
        ax.set_ylabel("median latency (ms)")
        ax.set_title(title, fontsize=10)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(folder / "history_read.png", dpi=110)
    plt.close(fig)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2))
    for session, style in (("distinct sessions", "-"), ("one session", "--")):
        for impl in ("ours", "floor"):
            rows = [c for c in conc if c["session"] == session and c["impl"] == impl]
            xs = [c["tasks"] for c in rows]
            label = f"{impl}, {session}"
            axes[0].plot(xs, [c["throughput"] for c in rows], style, marker="o", label=label)
            axes[1].plot(xs, [c["p99"] / 1000 for c in rows], style, marker="o", label=label)
    axes[0].set_ylabel("appends per second")
    axes[1].set_ylabel("p99 latency (ms)")
    for ax in axes:
        ax.set_xscale("log", base=2)
        ax.set_xlabel("concurrent asyncio tasks")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8)
    axes[0].set_title("Append throughput (floor: raw redis.asyncio)", fontsize=10)
    axes[1].set_title("Append p99 latency", fontsize=10)
    fig.tight_layout()
    fig.savefig(folder / "concurrency.png", dpi=110)
    plt.close(fig)


# What --only can name: the case groups, in the order they run, then the sections.
PARTS = (
    "history",
    "llama-index",
    "cache",
    "state",
    "agents",
    "queue",
    "metrics",
    "checkpointers",
    "memory",
    "embedding",
    "concurrency",
    "footprint",
    "install-sizes",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions (a smoke check)")
    parser.add_argument("--reps", type=int, default=None, help="repetitions per case")
    parser.add_argument(
        "--only",
        default=None,
        help="run only these groups and sections, comma-separated: " + ", ".join(PARTS),
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for the results")
    parser.add_argument("--no-footprint", action="store_true")
    parser.add_argument("--no-concurrency", action="store_true")
    parser.add_argument("--no-checkpointers", action="store_true")
    parser.add_argument("--no-memory", action="store_true", help="skip long-term memory")
    parser.add_argument(
        "--no-embedding", action="store_true", help="skip the embedding model's section"
    )
    parser.add_argument(
        "--no-install-sizes",
        action="store_true",
        help="skip the install size of each extra (fresh virtualenvs: several minutes)",
    )
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 5)
    only = set(args.only.split(",")) if args.only else set(PARTS)
    if unknown := only - set(PARTS):
        named = ", ".join(sorted(unknown))
        parser.error(f"--only: no part named {named}; the parts: {', '.join(PARTS)}")

    from agents import agent_cases
    from cases import Ctx, cache_cases, history_cases, llama_cases, state_cases
    from observability import metrics_cases
    from queues import queue_cases

    from redis_memory.embedded import EmbeddedRedis

    started = time.perf_counter()
    server = EmbeddedRedis(extra_args=["--save", "", "--appendonly", "no"]).start()
    try:
        ctx = Ctx(server.url)
        runner = Runner(ctx.client, reps, args.quick)
        results: list[Result] = []
        builders = {
            "history": history_cases,
            "llama-index": llama_cases,
            "cache": cache_cases,
            "state": state_cases,
            "agents": agent_cases,
            "queue": queue_cases,
            "metrics": metrics_cases,
        }
        for group, build in builders.items():
            if group not in only:
                continue
            for case in build(ctx):
                result = runner.run(case)
                results.append(result)
                print(
                    f"{case.group:13} {case.name:40} "
                    + "  ".join(f"{i.name}={fmt_us(result.median_us(i.name))}" for i in case.impls),
                    flush=True,
                )
        runner.close()
        checkpointers = None
        if not args.no_checkpointers and "checkpointers" in only:
            from checkpointers import run_checkpointers, summary

            checkpointers = run_checkpointers(
                ctx.url, ctx.client, 2 if args.quick else max(reps, 10), args.quick
            )
            print("\n".join(summary(checkpointers)), flush=True)
        memory = None
        if not args.no_memory and "memory" in only:
            from memory import run_memory
            from memory import summary as memory_summary

            memory = run_memory(ctx.url, ctx.client, args.quick)
            print("\n".join(memory_summary(memory)), flush=True)
        embedding = None
        if not args.no_embedding and "embedding" in only:
            from embedding import run_embedding
            from embedding import summary as embedding_summary

            embedding = run_embedding(ctx.url, args.quick)
            print("\n".join(embedding_summary(embedding)), flush=True)
        conc = []
        if not args.no_concurrency and "concurrency" in only:
            conc = run_concurrency(ctx, 1 if args.quick else 3, args.quick)
            for c in conc:
                print(
                    f"concurrency   {c['session']:18} {c['tasks']:4} {c['impl']:6} "
                    f"{c['throughput']:8.0f} ops/s p50 {fmt_us(c['p50'])} p99 {fmt_us(c['p99'])}"
                )
        foot = []
        if not args.no_footprint and "footprint" in only:
            foot = run_footprint(ctx, args.quick)
            for f in foot:
                print(f"footprint     {f['kind']:12} {f['impl']:28} {f['used_memory']:.0f} B/item")
        install_sizes = None
        if not args.no_install_sizes and "install-sizes" in only:
            from install_size import run_install_sizes

            # Last: pip's builds and installs load the machine; nothing is timed after them.
            install_sizes = run_install_sizes(args.quick)
        header = {
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(),
            "versions": versions(ctx.client),
            "run": (
                f"{'quick' if args.quick else 'full'}, {reps} repetitions, "
                f"{time.perf_counter() - started:.0f} s"
            ),
        }
        args.out.mkdir(parents=True, exist_ok=True)
        write_report(
            results,
            conc,
            foot,
            header,
            args.out / "latest.md",
            checkpointers,
            memory,
            embedding,
            install_sizes,
        )
        if embedding:
            import embedding as emb

            emb.write(embedding, args.out / "embedding.md", header["machine"])
        if install_sizes:
            import install_size as size

            size.write(install_sizes, args.out / "install_size.md", header["machine"])
        charts(results, conc, args.out)
        print(f"wrote {args.out / 'latest.md'} in {time.perf_counter() - started:.0f} s")
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
