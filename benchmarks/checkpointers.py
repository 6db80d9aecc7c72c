"""LangGraph checkpointers side by side: one two-node graph, 20 turns on one thread.

Run by ``run.py`` (section "LangGraph checkpointers"), or on its own:

    .venv/bin/python benchmarks/checkpointers.py [--quick]

The savers: LangGraph's ``InMemorySaver`` (the floor of the framework itself),
``SqliteSaver`` on a temporary file, the peer ``langgraph-checkpoint-redis``
``RedisSaver`` and ours (``langchain_redis_memory.RedisSaver``, also with
``mirror_messages=True``), all against the same Redis. Each repetition runs every
saver once, in a rotated order, on a fresh thread: 20 ``graph.invoke`` turns, then
``graph.get_state`` repeated. Figures are medians over every timed call.

Commands are ``INFO commandstats`` deltas (as in ``harness.count_commands``;
commands a Lua script runs count too). Round trips are requests written to a
socket (every sync connection's ``send_packed_command`` while the counted run is
going), attributed to the saver method (``put``, ``put_writes``, ``get_tuple``)
that sent them, whichever thread LangGraph runs it on. Memory is the sum of
``MEMORY USAGE`` over the keys of the counted 20-turn thread (every key naming
its thread id, checked against the DBSIZE delta); the peer's search indexes are
not keys and are not in that figure (the ``used_memory`` delta column has them
only in part: its indexes exist before the thread is written).
"""

from __future__ import annotations

import gc
import shutil
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

import redis  # noqa: E402
import redis.connection  # noqa: E402
from cases import ai_text, fresh, user_text  # noqa: E402
from harness import count_commands  # noqa: E402
from langchain_core.messages import AIMessage, HumanMessage  # noqa: E402
from langgraph.graph import END, START, StateGraph  # noqa: E402
from langgraph.graph.message import add_messages  # noqa: E402
from typing_extensions import TypedDict  # noqa: E402

TURNS = 20
OURS = "ours"
OURS_MIRROR = "ours (mirror_messages)"
PEER = "langgraph-checkpoint-redis"
MEMORY = "InMemorySaver"
FLOOR = "InMemorySaver + 1 PING per call"
SQLITE = "SqliteSaver (file)"
REDIS_SAVERS = (OURS, OURS_MIRROR, PEER)
METHODS = ("get_tuple", "put_writes", "put")


# -- the workload ---------------------------------------------------------------------------
class Messages(TypedDict):
    messages: Annotated[list, add_messages]


def build_graph(saver: Any) -> Any:
    """Two nodes over a message list: a fake model's answer, then a short summary."""

    def model(state: Messages) -> dict[str, Any]:
        question = state["messages"][-1]
        n = len(state["messages"])
        return {"messages": [AIMessage(f"{ai_text(n)} (you asked: {question.content[:40]})")]}

    def summarize(state: Messages) -> dict[str, Any]:
        n = len(state["messages"])
        return {"messages": [AIMessage(f"Summary: {n} messages so far.", name="summarizer")]}

    graph = StateGraph(Messages)
    graph.add_node("model", model)
    graph.add_node("summarize", summarize)
    graph.add_edge(START, "model")
    graph.add_edge("model", "summarize")
    graph.add_edge("summarize", END)
    return graph.compile(checkpointer=saver)


def turn_input(i: int) -> dict[str, Any]:
    return {"messages": [HumanMessage(user_text(i))]}


def new_thread(name: str) -> str:
    """A fresh thread id of letters and digits only: its keys name it unescaped."""
    return fresh(name).replace("-", "")


def thread_config(thread: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread}}


# -- the savers -----------------------------------------------------------------------------
def _pinging(saver_class: type, client: redis.Redis) -> type:
    """InMemorySaver plus one PING to the same Redis per saver call: the least any
    saver keeping its data in Redis pays, at one round trip per call and no work."""

    class Pinging(saver_class):  # type: ignore[misc, valid-type]
        def get_tuple(self, config: Any) -> Any:
            client.ping()
            return super().get_tuple(config)

        def put(self, *args: Any, **kwargs: Any) -> Any:
            client.ping()
            return super().put(*args, **kwargs)

        def put_writes(self, *args: Any, **kwargs: Any) -> Any:
            client.ping()
            return super().put_writes(*args, **kwargs)

    return Pinging


class Savers:
    """Every saver, built once; ``skipped`` says why one is absent."""

    def __init__(self, url: str) -> None:
        from langgraph.checkpoint.memory import InMemorySaver
        from langgraph.checkpoint.redis import RedisSaver as PeerSaver
        from langgraph.checkpoint.sqlite import SqliteSaver

        self.savers: dict[str, Any] = {}
        self.skipped: dict[str, str] = {}
        self.savers[MEMORY] = InMemorySaver()
        self.savers[FLOOR] = _pinging(InMemorySaver, redis.Redis.from_url(url))()
        self._dir = tempfile.mkdtemp(prefix="bench-sqlite-")
        self._conn = sqlite3.connect(
            str(Path(self._dir) / "checkpoints.db"), check_same_thread=False
        )
        self.savers[SQLITE] = SqliteSaver(self._conn)
        peer = PeerSaver(redis_url=url)
        peer.setup()  # its two search indexes
        self.savers[PEER] = peer
        try:
            try:
                from langchain_redis_memory import RedisSaver
            except ImportError:  # written, not exported yet
                from langchain_redis_memory.checkpoint import RedisSaver
        except ImportError as exc:
            reason = f"langchain_redis_memory.RedisSaver not found yet ({type(exc).__name__})"
            self.skipped[OURS] = self.skipped[OURS_MIRROR] = reason
        else:
            self.savers[OURS] = RedisSaver(url=url)
            self.savers[OURS_MIRROR] = RedisSaver(url=url, mirror_messages=True)
        order = (MEMORY, FLOOR, SQLITE, PEER, OURS, OURS_MIRROR)
        self.graphs = {
            name: build_graph(self.savers[name]) for name in order if name in self.savers
        }

    def close(self) -> None:
        self._conn.close()
        shutil.rmtree(self._dir, ignore_errors=True)


# -- timing ---------------------------------------------------------------------------------
def _timed_thread(graph: Any, gets: int) -> tuple[list[float], list[float]]:
    """One fresh thread: the time of each of the 20 turns, then of each get_state."""
    config = thread_config(new_thread("cp"))
    clock = time.perf_counter
    turns, reads = [], []
    gc.collect()
    gc.disable()
    try:
        for i in range(TURNS):
            start = clock()
            graph.invoke(turn_input(i), config)
            turns.append(clock() - start)
        for _ in range(gets):
            start = clock()
            graph.get_state(config)
            reads.append(clock() - start)
    finally:
        gc.enable()
    return turns, reads


# -- counting -------------------------------------------------------------------------------
class RoundTrips:
    """Counts requests written by every sync redis-py connection while ``on``.

    Each ``send_packed_command`` is one request: one command or a whole pipeline.
    A request is attributed to the saver method running on the sending thread.
    """

    def __init__(self) -> None:
        self.on = False
        self.total = 0
        self.by_method: dict[str, int] = defaultdict(int)
        self.calls: dict[str, int] = defaultdict(int)
        self.local = threading.local()
        self.lock = threading.Lock()
        self._original: Callable[..., Any] | None = None

    def __enter__(self) -> RoundTrips:
        original = redis.connection.AbstractConnection.send_packed_command
        self._original = original
        counter = self

        def send_packed_command(conn: Any, command: Any, check_health: bool = True) -> Any:
            if counter.on:
                method = getattr(counter.local, "method", None)
                with counter.lock:
                    counter.total += 1
                    if method:
                        counter.by_method[method] += 1
            return original(conn, command, check_health)

        redis.connection.AbstractConnection.send_packed_command = send_packed_command
        return self

    def __exit__(self, *exc: Any) -> None:
        redis.connection.AbstractConnection.send_packed_command = self._original

    def reset(self) -> None:
        self.total = 0
        self.by_method.clear()
        self.calls.clear()

    def wrap(self, saver: Any) -> Callable[[], None]:
        """Attribute the saver's requests to its methods; returns the undo."""
        counter = self
        for name in METHODS:
            bound = getattr(saver, name)

            def wrapper(*args: Any, _name: str = name, _bound: Any = bound, **kw: Any) -> Any:
                outer = getattr(counter.local, "method", None)
                if outer is None:
                    counter.local.method = _name
                    with counter.lock:
                        counter.calls[_name] += 1
                try:
                    return _bound(*args, **kw)
                finally:
                    if outer is None:
                        counter.local.method = None

            setattr(saver, name, wrapper)

        def undo() -> None:
            for name in METHODS:
                saver.__dict__.pop(name, None)

        return undo


def keys_of(client: redis.Redis, thread: str) -> list[bytes]:
    return list(client.scan_iter(match=f"*{thread}*", count=1000))


def used_memory(client: redis.Redis) -> int:
    gc.collect()
    time.sleep(0.05)
    return int(client.info("memory")["used_memory"])


def count_saver(name: str, graph: Any, saver: Any, admin: redis.Redis) -> dict[str, Any]:
    """Commands, round trips and memory of one counted 20-turn thread."""
    thread = new_thread("cpcount")
    config = thread_config(thread)
    out: dict[str, Any] = {}
    with RoundTrips() as rt:
        undo = rt.wrap(saver)
        try:
            size_before = admin.dbsize()
            mem_before = used_memory(admin)

            def turns() -> None:
                rt.on = True
                for i in range(TURNS):
                    graph.invoke(turn_input(i), config)
                rt.on = False

            out["commands_turn"] = count_commands(admin, turns, TURNS)
            out["rt_turn"] = rt.total / TURNS
            for method in METHODS:
                calls = rt.calls.get(method, 0)
                out[f"calls_{method}"] = calls / TURNS
                out[f"rt_{method}"] = rt.by_method.get(method, 0) / calls if calls else None
            # A super-step's write: its put_writes calls and its put.
            puts = rt.calls.get("put", 0)
            out["rt_step"] = (
                (rt.by_method.get("put", 0) + rt.by_method.get("put_writes", 0)) / puts
                if puts
                else None
            )
            out["used_memory"] = used_memory(admin) - mem_before
            keys = keys_of(admin, thread)
            out["keys"] = len(keys)
            out["other_keys"] = admin.dbsize() - size_before - len(keys)
            out["key_bytes"] = sum(admin.memory_usage(k, samples=0) or 0 for k in keys)

            reads = 10
            rt.reset()

            def get_tuples() -> None:
                rt.on = True
                for _ in range(reads):
                    saver.get_tuple(config)
                rt.on = False

            out["commands_get_tuple"] = count_commands(admin, get_tuples, reads)
            # Read outside a turn too: the column shows the worse of the two.
            out["rt_get_tuple"] = max(out["rt_get_tuple"] or 0, rt.total / reads)
            state = graph.get_state(config)
            out["messages"] = len(state.values["messages"])
        finally:
            rt.on = False
            undo()
    return out


# -- the run --------------------------------------------------------------------------------
def run_checkpointers(url: str, admin: redis.Redis, reps: int, quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    savers = Savers(url)
    gets = 15 if quick else 50
    names = list(savers.graphs)
    turns: dict[str, list[float]] = {n: [] for n in names}
    reads: dict[str, list[float]] = {n: [] for n in names}
    try:
        for name in list(names):  # warm up: connections, scripts, indexes, imports
            try:
                _timed_thread(savers.graphs[name], 3)
            except Exception as exc:
                if name not in (OURS, OURS_MIRROR):
                    raise
                # Ours is skipped, not the section: the report says why.
                savers.skipped[name] = f"failed: {type(exc).__name__}: {str(exc)[:120]}"
                names.remove(name)
        for rep in range(reps):
            shift = rep % len(names)
            for name in names[shift:] + names[:shift]:
                t, r = _timed_thread(savers.graphs[name], gets)
                turns[name] += t
                reads[name] += r
        counted = {
            name: count_saver(name, savers.graphs[name], savers.savers[name], admin)
            for name in names
            if name in REDIS_SAVERS
        }
    finally:
        savers.close()
    rows = []
    for name in names:
        row: dict[str, Any] = {
            "impl": name,
            "turn_us": statistics.median(turns[name]) * 1e6,
            "get_state_us": statistics.median(reads[name]) * 1e6,
        }
        row.update(counted.get(name, {}))
        rows.append(row)
    return {
        "rows": rows,
        "skipped": savers.skipped,
        "reps": reps,
        "gets": gets,
        "seconds": time.perf_counter() - started,
    }


# -- report ---------------------------------------------------------------------------------
def _fmt_us(us: float) -> str:
    return f"{us / 1000:.2f} ms" if us >= 1000 else f"{us:.0f} µs"


def _num(value: Any, digits: int = 1) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def _by(data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {r["impl"]: r for r in data["rows"]}


def report(data: dict[str, Any]) -> list[str]:
    """The "LangGraph checkpointers" section of latest.md."""
    rows = _by(data)
    base = rows.get(MEMORY)
    peer = rows.get(PEER)
    lines = [
        "## LangGraph checkpointers",
        "",
        "A two-node `StateGraph` over `messages: Annotated[list, add_messages]` (a fake model's",
        f"answer, then a short summary message), {TURNS} `graph.invoke` turns on one thread, then",
        f"`graph.get_state` {data['gets']} times; a fresh thread per saver and repetition",
        f"({data['reps']} repetitions, savers interleaved). *turn* and *get_state* are medians of",
        "every call; *vs InMemorySaver* is the turn's median over InMemorySaver's; *get_state:",
        "peer / this* is how many times faster than langgraph-checkpoint-redis. Commands are",
        "`INFO commandstats` deltas (inside a Lua script too); round trips are requests sent",
        "(a pipeline or script is one); *RT/step* is the round trips of a super-step's",
        "`put_writes` + `put`. *key bytes* is `MEMORY USAGE` summed over every key of one",
        f"{TURNS}-turn thread; the peer's two search indexes are not keys and not counted there;",
        "*used_memory Δ* is the server's growth over the same thread (noisy; the indexes existed",
        f"before). *{FLOOR}* is the floor of any saver that keeps its data in Redis: no",
        "work at all but one round trip per saver call, as ours makes.",
        "",
        "| saver | turn | vs InMemorySaver | get_state | get_state: peer / this | "
        "commands/turn | RT/turn | RT/step | RT/get_tuple | commands/get_tuple | keys | "
        "key bytes | vs peer | used_memory Δ |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, r in rows.items():
        vs_mem = f"{r['turn_us'] / base['turn_us']:.2f}x" if base else ""
        vs_peer = f"{peer['get_state_us'] / r['get_state_us']:.2f}x" if peer else ""
        counted = "key_bytes" in r
        mem_ratio = (
            f"{r['key_bytes'] / peer['key_bytes']:.2f}"
            if counted and peer and peer.get("key_bytes")
            else ""
        )
        lines.append(
            f"| {name} | {_fmt_us(r['turn_us'])} | {vs_mem} | {_fmt_us(r['get_state_us'])} | "
            f"{vs_peer} | {_num(r.get('commands_turn'))} | {_num(r.get('rt_turn'))} | "
            f"{_num(r.get('rt_step'), 2)} | {_num(r.get('rt_get_tuple'), 2)} | "
            f"{_num(r.get('commands_get_tuple'))} | {r.get('keys', '')} | "
            + (f"{r['key_bytes']:,} B" if counted else "")
            + f" | {mem_ratio} | "
            + (f"{r['used_memory']:,} B" if counted else "")
            + " |"
        )
    for name, why in data["skipped"].items():
        lines.append(f"| {name} | skipped: {why} |" + " |" * 12)
    lines.append("")
    detail = [
        f"{name}: per turn {r['calls_get_tuple']:.0f} get_tuple, {r['calls_put_writes']:.0f} "
        f"put_writes, {r['calls_put']:.0f} put; round trips per put {_num(r['rt_put'], 2)}, "
        f"per put_writes {_num(r['rt_put_writes'], 2)}"
        + (f"; {r['other_keys']} keys outside the thread's" if r["other_keys"] else "")
        for name, r in rows.items()
        if "key_bytes" in r
    ]
    if detail:
        lines += ["Saver calls (counted thread): " + "; ".join(detail) + ".", ""]
    targets = target_rows(data)
    if targets:
        lines += ["| target | figure | met |", "|---|---|---|", *targets, ""]
    return lines


def target_rows(data: dict[str, Any]) -> list[str]:
    """Rows for the Targets table (empty while ours is skipped)."""
    rows = _by(data)
    base, peer = rows.get(MEMORY), rows.get(PEER)
    out = []

    def row(target: str, figure: str, ok: bool) -> None:
        out.append(f"| {target} | {figure} | {'yes' if ok else '**no**'} |")

    for name in (OURS, OURS_MIRROR):
        r = rows.get(name)
        if r is None:
            continue
        label = "checkpointer" if name == OURS else "checkpointer (mirror_messages)"
        if base:
            ratio = r["turn_us"] / base["turn_us"]
            floor = rows.get(FLOOR)
            bound = (
                f" (the floor, {FLOOR}: {floor['turn_us'] / base['turn_us']:.2f}x)"
                if floor
                else ""
            )
            row(
                f"{label}: turn within 1.3x of InMemorySaver",
                f"{ratio:.2f}x{bound}",
                ratio <= 1.3,
            )
        if name != OURS:
            continue
        if peer:
            ratio = peer["get_state_us"] / r["get_state_us"]
            row(f"{label}: get_state >= 4x faster than the peer", f"{ratio:.2f}x", ratio >= 4)
        if r.get("rt_step") is not None:
            row(
                f"{label}: <= 2 round trips per super-step write",
                f"{r['rt_step']:.2f}",
                r["rt_step"] <= 2,
            )
        if r.get("rt_get_tuple") is not None:
            row(
                f"{label}: 1 round trip per get_tuple",
                f"{r['rt_get_tuple']:.2f}",
                r["rt_get_tuple"] <= 1,
            )
        if peer and peer.get("key_bytes"):
            ratio = r["key_bytes"] / peer["key_bytes"]
            row(
                f"{label}: Redis memory of a {TURNS}-turn thread <= 1/4 of the peer's",
                f"{r['key_bytes']:,} B vs {peer['key_bytes']:,} B ({ratio:.2f})",
                ratio <= 0.25,
            )
    return out


def summary(data: dict[str, Any]) -> list[str]:
    out = []
    for r in data["rows"]:
        extra = ""
        if "key_bytes" in r:
            extra = (
                f" cmds/turn {r['commands_turn']:.1f} RT/turn {r['rt_turn']:.1f} "
                f"RT/step {_num(r['rt_step'], 2)} RT/get_tuple {_num(r['rt_get_tuple'], 2)} "
                f"keys {r['keys']} {r['key_bytes']:,} B"
            )
        out.append(
            f"checkpointer  {r['impl']:28} turn {_fmt_us(r['turn_us'])} "
            f"get_state {_fmt_us(r['get_state_us'])}{extra}"
        )
    for name, why in data["skipped"].items():
        out.append(f"checkpointer  {name:28} skipped: {why}")
    out.append(f"checkpointer  ({data['seconds']:.0f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from redis_memory.embedded import EmbeddedRedis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--reps", type=int, default=None)
    args = parser.parse_args(argv)
    reps = args.reps or (2 if args.quick else 5)
    server = EmbeddedRedis(extra_args=["--save", "", "--appendonly", "no"]).start()
    try:
        admin = redis.Redis.from_url(server.url)
        data = run_checkpointers(server.url, admin, reps, args.quick)
        print("\n".join(summary(data)))
        print("\n".join(report(data)))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
