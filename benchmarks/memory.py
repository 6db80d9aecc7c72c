"""Long-term memory side by side: retrieval quality, search latency, Redis bytes per item.

Run by ``run.py`` (section "Long-term memory"), or on its own:

    .venv/bin/python benchmarks/memory.py [--quick]

The stores: ours (``redis_memory.memory.MemoryStore``, its defaults: HNSW, cosine,
hash items), LangGraph's ``InMemoryStore`` (exact cosine over every item: the
ceiling of vector recall) and the peer ``langgraph-checkpoint-redis``
``RedisStore`` (its defaults: JSON documents, a FLAT vector index), all with
the same all-MiniLM-L6-v2 vectors, computed once before anything is timed and
handed to each store by a lookup (``embed`` is a dict read), so that no figure
below includes embedding time; the model's own cost is reported apart (the
median time to embed one query).

1. Quality: the first 10,000 duplicate pairs of ``qqp_pairs_train.jsonl`` (1,000
   with ``--quick``). Every distinct ``a`` question is one item ``{"text": a}`` in
   one namespace; a pair's ``b`` is a query, and the right answer is its own
   ``a``. recall@1, recall@5 and MRR over the top 10, for ours in each mode, the
   peer and InMemoryStore. The queries are a seeded sample of 1,000 pairs (every
   pair with ``--quick``); InMemoryStore, which scans every item in Python (about
   70 ms a search at 9,000 items), answers the first 250 of them only.
2. Latency: 100,000 items (10,000 with ``--quick``) in one namespace of a fresh
   store: the texts embedded for part 1 (the ``a`` and the sampled ``b``
   questions), repeated with a suffix `` #n`` until the count is reached, each
   repeat's vector the original's plus Gaussian noise (sigma 0.01 a dimension,
   cosine about 0.98 to it; renormalised) so the HNSW graph holds no exact
   duplicates. Loaded one ``put`` at a time: the public API has no batch put
   (``AsyncMemoryStore`` with 8 or 32 puts in flight, or 4 threads, loaded no
   faster on 2 cores: Redis's indexing is the bottleneck). Then 500 vector and 500
   hybrid searches in the items' namespace (k=5; part 1's queries; 200 with
   ``--quick``), and for comparison 200 text searches and 200 of each mode over
   the whole store (``namespace_prefix=()``), modes interleaved, each timed
   around ``MemoryStore.search`` with its query vector already known; p50, p99.
3. Bytes per item: for part 1's items (same items, same vectors), ``MEMORY USAGE``
   summed over the store's keys (ours: one hash per item; the peer: a JSON
   document and a JSON vector document per item) and its search indexes' size
   from ``FT.INFO`` (``total_index_memory_sz_mb``, which leaves out the vectors,
   plus ``vector_index_sz_mb``), over the item count; and the ``used_memory``
   delta of the whole load. Ours at 100,000 items too, from part 2's store.

Vectors are cached between runs under the system's temporary folder (keyed by
the texts): embedding part 1's 9,962 texts takes about three minutes on 2 cores,
and the section about five more (four of them loading 100,000 items). The
per-query embedding figure is measured on every run.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
warnings.filterwarnings("ignore")

import numpy as np  # noqa: E402
import redis  # noqa: E402
from harness import count_commands  # noqa: E402

DATA = Path(os.environ.get("REDIS_MEMORY_DATASETS", HERE.parent.parent / "shared" / "datasets"))
QQP = DATA / "qqp_pairs_train.jsonl"
DIMS = 384
NAMESPACE = ("bench", "qqp")
OURS = "ours"
INMEMORY = "InMemoryStore"
PEER = "langgraph-checkpoint-redis"
MODES = ("vector", "text", "hybrid")
TOP = 10  # results read per quality query: MRR@10
EXACT_QUERIES = 250  # InMemoryStore's share of them
K = 5  # results per latency query
NOISE = 0.01


# -- the data -------------------------------------------------------------------------------
def load_pairs(limit: int) -> list[tuple[str, str]]:
    """The first ``limit`` duplicate pairs ``(a, b)`` of the QQP train file."""
    pairs = []
    with QQP.open() as handle:
        for line in handle:
            row = json.loads(line)
            if row["duplicate"]:
                pairs.append((row["a"], row["b"]))
                if len(pairs) == limit:
                    break
    return pairs


class Workload:
    """Part 1's items and queries; every text embedded once."""

    def __init__(self, pairs: int, queries: int) -> None:
        self.pairs = load_pairs(pairs)
        self.items: dict[str, str] = {}  # a text -> its item key
        for a, _ in self.pairs:
            self.items.setdefault(a, f"q{len(self.items)}")
        chosen = sorted(
            random.Random(0).sample(range(len(self.pairs)), min(queries, len(self.pairs)))
        )
        # (query text, the key of the right answer)
        self.queries = [(self.pairs[i][1], self.items[self.pairs[i][0]]) for i in chosen]
        self.texts = list(dict.fromkeys([*self.items, *(q for q, _ in self.queries)]))
        self.vectors: dict[str, np.ndarray] = {}
        self.embed_seconds: float | None = None  # None: from the cache

    def embed(self) -> None:
        matrix, self.embed_seconds = embed_cached(self.texts)
        self.vectors = dict(zip(self.texts, matrix, strict=True))


def embed_cached(texts: Sequence[str]) -> tuple[np.ndarray, float | None]:
    """MiniLM vectors of ``texts`` (float32 rows), and the seconds spent (None: cached)."""
    from redis_memory.embeddings import MiniLMEmbedder

    digest = hashlib.sha256("\n".join(["all-MiniLM-L6-v2", *texts]).encode()).hexdigest()[:24]
    folder = Path(tempfile.gettempdir()) / "redis-memory-bench"
    path = folder / f"minilm-{digest}.npy"
    if path.exists():
        matrix = np.load(path)
        if matrix.shape == (len(texts), DIMS):
            return matrix, None
    start = time.perf_counter()
    matrix = np.asarray(MiniLMEmbedder().embed_many(list(texts)), dtype=np.float32)
    seconds = time.perf_counter() - start
    folder.mkdir(parents=True, exist_ok=True)
    partial = folder / f"{path.stem}.{os.getpid()}.tmp.npy"
    np.save(partial, matrix)
    partial.replace(path)
    return matrix, seconds


def query_embed_ms(texts: Sequence[str]) -> dict[str, float]:
    """The median time MiniLM takes to embed one query (what every search adds), with
    torch's own thread count and with one thread (on a busy 2-core machine the
    threads wait for each other: one is then several times faster)."""
    import torch

    from redis_memory.embeddings import MiniLMEmbedder

    model = MiniLMEmbedder()
    threads = torch.get_num_threads()
    out = {}
    try:
        for label, count in ((f"{threads} threads", threads), ("1 thread", 1)):
            torch.set_num_threads(count)
            for text in texts[:3]:  # warm up
                model.embed(text)
            times = []
            for text in texts:
                start = time.perf_counter()
                model.embed(text)
                times.append(time.perf_counter() - start)
            out[label] = statistics.median(times) * 1e3
    finally:
        torch.set_num_threads(threads)
    return out


class Precomputed:
    """An embedder for our store whose ``embed`` is a dict lookup."""

    dimensions = DIMS

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def embed(self, text: str) -> np.ndarray:
        return self.vectors[text]

    async def aembed(self, text: str) -> np.ndarray:
        return self.vectors[text]


def langgraph_embed(vectors: dict[str, np.ndarray]) -> Callable[[Sequence[str]], list[Any]]:
    """LangGraph's ``embed`` (a function over a list of texts) over the same vectors.

    Rows are numpy arrays: InMemoryStore stacks what it holds into one matrix on
    every search, which is fast from arrays and slow from lists of floats."""

    def embed(texts: Sequence[str]) -> list[Any]:
        return [vectors[text] for text in texts]

    return embed


# -- Redis figures --------------------------------------------------------------------------
def used_memory(client: redis.Redis) -> int:
    gc.collect()
    time.sleep(0.05)
    return int(client.info("memory")["used_memory"])


def keys_bytes(client: redis.Redis, match: str) -> tuple[int, int]:
    """``MEMORY USAGE`` summed over the keys matching, and how many there are."""
    total = count = 0
    batch: list[bytes] = []

    def flush() -> None:
        nonlocal total
        pipe = client.pipeline(transaction=False)
        for key in batch:
            pipe.memory_usage(key, samples=0)
        total += sum(size or 0 for size in pipe.execute())
        batch.clear()

    for key in client.scan_iter(match=match, count=1000):
        batch.append(key)
        count += 1
        if len(batch) == 1000:
            flush()
    if batch:
        flush()
    return total, count


def index_bytes(client: redis.Redis, index: str) -> dict[str, float]:
    info = client.ft(index).info()
    mb = 1024 * 1024
    return {
        "index": float(info.get("total_index_memory_sz_mb", 0)) * mb,
        "vectors": float(info.get("vector_index_sz_mb", 0)) * mb,
        "docs": int(info.get("num_docs", 0)),
    }


def busy_usec(client: redis.Redis) -> int:
    """Microseconds Redis has spent running commands (EXEC left out: it counts its own)."""
    stats = client.info("commandstats")
    return sum(int(v["usec"]) for k, v in stats.items() if k != "cmdstat_exec")


def drop(client: redis.Redis, index: str) -> None:
    """Delete an index and its documents: the sections after this one start lighter."""
    client.ft(index).dropindex(delete_documents=True)


def search_usec(client: redis.Redis) -> tuple[int, int]:
    stats = client.info("commandstats").get("cmdstat_FT.SEARCH", {})
    return int(stats.get("calls", 0)), int(stats.get("usec", 0))


# -- 1. quality -----------------------------------------------------------------------------
def score(rankings: list[list[str]], answers: list[str]) -> dict[str, float]:
    hits1 = hits5 = 0
    rr = 0.0
    for found, answer in zip(rankings, answers, strict=True):
        if answer in found[:TOP]:
            rank = found.index(answer)
            rr += 1 / (rank + 1)
            hits1 += rank == 0
            hits5 += rank < 5
    n = len(answers)
    return {"recall@1": hits1 / n, "recall@5": hits5 / n, "mrr@10": rr / n}


def timed_rankings(search: Callable[[str], list[str]], queries: list[str]) -> tuple[list, float]:
    """Every query's ranked keys, and the median time of a search (ms)."""
    search(queries[0])  # warm up
    rankings, times = [], []
    gc.collect()
    gc.disable()
    try:
        for query in queries:
            start = time.perf_counter()
            rankings.append(search(query))
            times.append(time.perf_counter() - start)
    finally:
        gc.enable()
    return rankings, statistics.median(times) * 1e3


def run_quality(url: str, admin: redis.Redis, work: Workload) -> dict[str, Any]:
    from langgraph.store.base import PutOp
    from langgraph.store.memory import InMemoryStore
    from langgraph.store.redis import RedisStore

    from redis_memory.memory import MemoryStore

    items = list(work.items.items())
    queries = [q for q, _ in work.queries]
    answers = [a for _, a in work.queries]
    rows: list[dict[str, Any]] = []
    footprint: dict[str, dict[str, Any]] = {}
    embed = langgraph_embed(work.vectors)

    def measured_load(load: Callable[[], None]) -> dict[str, Any]:
        before, busy = used_memory(admin), busy_usec(admin)
        start = time.perf_counter()
        load()
        seconds = time.perf_counter() - start
        return {
            "items": len(items),
            "load_us": seconds / len(items) * 1e6,
            "redis_us": (busy_usec(admin) - busy) / len(items),
            "used_memory": used_memory(admin) - before,
        }

    # Ours: one put per item (the public API has no batch put).
    embedder = Precomputed(work.vectors)
    ours = MemoryStore("bench-quality", url=url, embedder=embedder, dims=DIMS)

    def load_ours() -> None:
        for text, key in items:
            ours.put(NAMESPACE, key, {"text": text})

    footprint[OURS] = measured_load(load_ours)
    key_bytes, keys = keys_bytes(admin, ours._stem + ":*")
    footprint[OURS].update(
        keys=keys,
        key_bytes=key_bytes,
        indexes=[index_bytes(admin, ours.index_name)],
        load_how="put, one at a time",
    )
    for mode in MODES:
        rankings, median = timed_rankings(
            lambda q, mode=mode: [
                hit.key for hit in ours.search(NAMESPACE, q, mode=mode, limit=TOP)
            ],
            queries,
        )
        rows.append({"impl": f"{OURS} ({mode})", "median_ms": median, **score(rankings, answers)})

    # The peer, at its defaults (JSON documents, FLAT vectors), loaded 500 puts a batch.
    peer = RedisStore(
        redis.Redis.from_url(url), index={"dims": DIMS, "embed": embed, "fields": ["text"]}
    )
    peer.setup()

    def load_peer() -> None:
        for i in range(0, len(items), 500):
            peer.batch([PutOp(NAMESPACE, key, {"text": text}) for text, key in items[i : i + 500]])

    footprint[PEER] = measured_load(load_peer)
    store_bytes, store_keys = keys_bytes(admin, f"{peer.store_prefix}:*")
    vector_bytes, vector_keys = keys_bytes(admin, f"{peer.vector_prefix}:*")
    footprint[PEER].update(
        keys=store_keys + vector_keys,
        key_bytes=store_bytes + vector_bytes,
        indexes=[
            index_bytes(admin, peer.store_index.name),
            index_bytes(admin, peer.vector_index.name),
        ],
        load_how="batch of 500 PutOp",
    )
    peer_rankings, median = timed_rankings(
        lambda q: [hit.key for hit in peer.search(NAMESPACE, query=q, limit=TOP)], queries
    )
    rows.append({"impl": f"{PEER} (vector)", "median_ms": median, **score(peer_rankings, answers)})

    # LangGraph's InMemoryStore: exact cosine, the ceiling of vector search; on the
    # first queries only (it scans every item in Python).
    memory = InMemoryStore(index={"dims": DIMS, "embed": embed, "fields": ["text"]})
    memory.batch([PutOp(NAMESPACE, key, {"text": text}) for text, key in items])
    exact = min(EXACT_QUERIES, len(queries))
    exact_rankings, _ = timed_rankings(
        lambda q: [hit.key for hit in memory.search(NAMESPACE, query=q, limit=TOP)],
        queries[:exact],
    )
    same = sum(a == b for a, b in zip(exact_rankings, peer_rankings, strict=False))
    rows.append(
        {
            "impl": f"{INMEMORY} (exact vector), first {exact:,} queries",
            "median_ms": None,
            **score(exact_rankings, answers[:exact]),
            "same_as_peer": same,
        }
    )
    for index in (ours.index_name, peer.store_index.name, peer.vector_index.name):
        drop(admin, index)
    return {"rows": rows, "footprint": footprint, "exact_queries": exact}


# -- 2. latency -----------------------------------------------------------------------------
# (label, mode, namespace prefix searched); the targets are on the first two, the
# others (for comparison) run on the first EXTRA_SEARCHES queries only.
LATENCY = (
    ("vector", "vector", NAMESPACE),
    ("hybrid", "hybrid", NAMESPACE),
    ("text", "text", NAMESPACE),
    ("vector, namespace prefix ()", "vector", ()),
    ("hybrid, namespace prefix ()", "hybrid", ()),
)
TARGETED = 2
EXTRA_SEARCHES = 200


def scaled_items(work: Workload, count: int) -> tuple[list[str], dict[str, np.ndarray]]:
    """``count`` texts from the embedded ones (repeats suffixed), and their vectors."""
    rng = np.random.default_rng(0)
    base = work.texts
    texts: list[str] = []
    vectors: dict[str, np.ndarray] = {}
    for i in range(count):
        text = base[i % len(base)]
        vector = work.vectors[text]
        if i >= len(base):
            text = f"{text} #{i // len(base)}"
            vector = vector + rng.normal(0, NOISE, DIMS).astype(np.float32)
            vector /= np.linalg.norm(vector)
        texts.append(text)
        vectors[text] = vector
    return texts, vectors


def run_latency(
    url: str, admin: redis.Redis, work: Workload, count: int, searches: int
) -> dict[str, Any]:
    from redis_memory.memory import MemoryStore

    texts, vectors = scaled_items(work, count)
    vectors.update(work.vectors)  # the queries'
    embedder = Precomputed(vectors)
    store = MemoryStore("bench-latency", url=url, embedder=embedder, dims=DIMS)
    before, busy = used_memory(admin), busy_usec(admin)
    start = time.perf_counter()
    for i, text in enumerate(texts):
        store.put(NAMESPACE, f"m{i}", {"text": text})
    load = time.perf_counter() - start
    redis_us = (busy_usec(admin) - busy) / count
    grown = used_memory(admin) - before
    info = index_bytes(admin, store.index_name)
    assert info["docs"] == count, f"indexed {info['docs']} of {count}"
    key_bytes, keys = keys_bytes(admin, store._stem + ":*")

    queries = [q for q, _ in work.queries][:searches]
    search = {
        label: lambda q, mode=mode, prefix=prefix: store.search(prefix, q, mode=mode, limit=K)
        for label, mode, prefix in LATENCY
    }
    for query in queries[:10]:  # warm up
        for label in search:
            search[label](query)
    commands = {
        label: count_commands(admin, lambda label=label: [search[label](q) for q in queries[:5]], 5)
        for label in search
    }
    labels = list(search)
    times: dict[str, list[float]] = {label: [] for label in labels}
    server: dict[str, list[int]] = {label: [0, 0] for label in labels}
    clock = time.perf_counter
    gc.collect()
    gc.disable()
    try:
        for i, query in enumerate(queries):
            active = labels if i < EXTRA_SEARCHES else labels[:TARGETED]
            shift = i % len(active)
            for label in active[shift:] + active[:shift]:
                calls, usec = search_usec(admin)
                start = clock()
                search[label](query)
                times[label].append(clock() - start)
                after_calls, after_usec = search_usec(admin)
                server[label][0] += after_calls - calls
                server[label][1] += after_usec - usec
    finally:
        gc.enable()
    rows = []
    for label in labels:
        ordered = sorted(times[label])
        rows.append(
            {
                "mode": label,
                "searches": len(ordered),
                "p50_ms": ordered[len(ordered) // 2] * 1e3,
                "p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))] * 1e3,
                "mean_ms": statistics.fmean(ordered) * 1e3,
                "server_ms": server[label][1] / len(ordered) / 1e3,
                "ft_search": server[label][0] / len(ordered),
                "commands": commands[label],
            }
        )
    footprint = {
        "items": count,
        "keys": keys,
        "key_bytes": key_bytes,
        "indexes": [info],
        "used_memory": grown,
        "load_us": load / count * 1e6,
        "redis_us": redis_us,
        "load_how": "put, one at a time",
    }
    drop(admin, store.index_name)
    return {"rows": rows, "items": count, "load_seconds": load, "footprint": footprint}


# -- the run --------------------------------------------------------------------------------
def run_memory(url: str, admin: redis.Redis, quick: bool) -> dict[str, Any]:
    started = time.perf_counter()
    load_average = os.getloadavg()[0]
    pairs, queries = (1_000, 1_000) if quick else (10_000, 1_000)
    count, searches = (10_000, 200) if quick else (100_000, 500)
    work = Workload(pairs, queries)
    work.embed()
    embed_ms = query_embed_ms([q for q, _ in work.queries][:30])
    parts = {"embedding": time.perf_counter() - started}
    quality = run_quality(url, admin, work)
    parts["quality and bytes"] = time.perf_counter() - started - sum(parts.values())
    latency = run_latency(url, admin, work, count, searches)
    parts["latency"] = time.perf_counter() - started - sum(parts.values())
    return {
        "quick": quick,
        "pairs": len(work.pairs),
        "items": len(work.items),
        "queries": len(work.queries),
        "texts": len(work.texts),
        "embed_seconds": work.embed_seconds,
        "embed_ms": embed_ms,
        "quality": quality["rows"],
        "exact_queries": quality["exact_queries"],
        "footprint": quality["footprint"],
        "latency": latency,
        "load_average": (load_average, os.getloadavg()[0]),
        "seconds": time.perf_counter() - started,
        "parts": parts,
    }


# -- report ---------------------------------------------------------------------------------
def _per_item(f: dict[str, Any]) -> dict[str, float]:
    index = sum(i["index"] for i in f["indexes"])
    vectors = sum(i["vectors"] for i in f["indexes"])
    keys = f["key_bytes"] / f["items"]
    return {
        "keys": keys,
        "index": index / f["items"],
        "vectors": vectors / f["items"],
        "total": keys + (index + vectors) / f["items"],
        "used": f["used_memory"] / f["items"],
    }


def _quality(data: dict[str, Any], impl: str) -> dict[str, Any] | None:
    return next((r for r in data["quality"] if r["impl"] == impl), None)


def _latency(data: dict[str, Any], mode: str) -> dict[str, Any] | None:
    return next((r for r in data["latency"]["rows"] if r["mode"] == mode), None)


def report(data: dict[str, Any]) -> list[str]:
    """The "Long-term memory" section of latest.md."""
    lat = data["latency"]
    embedded = (
        f"{data['texts']:,} texts embedded in {data['embed_seconds']:.0f} s"
        if data["embed_seconds"] is not None
        else f"{data['texts']:,} texts, vectors cached by an earlier run"
    )
    sampled = (
        f"a seeded sample of {data['queries']:,} pairs' `b` questions are the queries"
        if data["queries"] < data["pairs"]
        else f"every pair's `b` question is a query ({data['queries']:,})"
    )
    embed_ms = " / ".join(f"{ms:.1f} ms ({label})" for label, ms in data["embed_ms"].items())
    lines = [
        "## Long-term memory",
        "",
        "Ours (`MemoryStore`: HNSW, one hash per item), LangGraph's `InMemoryStore` (exact",
        "cosine over every item) and the peer `langgraph-checkpoint-redis` `RedisStore` (its",
        "defaults: JSON documents, FLAT vectors), all fed the same all-MiniLM-L6-v2 vectors,",
        f"computed beforehand ({embedded}): no figure here includes embedding, which adds",
        f"**{embed_ms}** to a search (median of 30 `MiniLMEmbedder.embed` calls, torch",
        "threads as they come and then one).",
        f"Load average {data['load_average'][0]:.1f} at the start, "
        f"{data['load_average'][1]:.1f} at the end.",
        "",
        f"**Retrieval quality.** The first {data['pairs']:,} duplicate pairs of",
        f"`qqp_pairs_train.jsonl`; each distinct `a` question is one item ({data['items']:,},",
        f"one namespace); {sampled}; the right answer is the pair's own `a`. Top 10 read;",
        "*median search* is one search's time at this size (k=10). InMemoryStore scans",
        "every item in Python (tens of ms a search): it answers the first",
        f"{data['exact_queries']:,} queries only; *same top 10 as the peer* counts those",
        "whose 10 results are the peer's (FLAT: exact too), in order.",
        "",
        "| store (mode) | recall@1 | recall@5 | MRR@10 | median search | same top 10 as the peer |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for r in data["quality"]:
        median = f"{r['median_ms']:.2f} ms" if r["median_ms"] is not None else ""
        same = f"{r['same_as_peer']:,} of {data['exact_queries']:,}" if "same_as_peer" in r else ""
        lines.append(
            f"| {r['impl']} | {r['recall@1']:.3f} | {r['recall@5']:.3f} | {r['mrr@10']:.3f} | "
            f"{median} | {same} |"
        )
    foot = lat["footprint"]
    lines += [
        "",
        f"**Search latency at {lat['items']:,} items.** One namespace of a fresh store: the",
        "texts above, repeated with a suffix ` #n` until the count is reached (each",
        f"repeat's vector the original's plus noise, cosine about 0.98). Loaded in "
        f"{lat['load_seconds']:.0f} s,",
        f"one `put` at a time (the public API has no batch put): {foot['load_us']:,.0f} µs an",
        f"item, {foot['redis_us']:,.0f} µs of it inside Redis. Then the part-1 queries, k={K},",
        "query vector known (embedding excluded), modes interleaved; the first three",
        "search the items' namespace (as a tenant's search does), the last two the",
        "whole store (`namespace_prefix=()`: no filter in the query). *Redis* is",
        "`FT.SEARCH` time inside Redis (`INFO commandstats`) per search.",
        "",
        "| mode | searches | p50 | p99 | mean | Redis | FT.SEARCH/search | commands/search |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in lat["rows"]:
        lines.append(
            f"| {r['mode']} | {r['searches']} | {r['p50_ms']:.2f} ms | {r['p99_ms']:.2f} ms | "
            f"{r['mean_ms']:.2f} ms | {r['server_ms']:.2f} ms | {r['ft_search']:.1f} | "
            f"{r['commands']:.1f} |"
        )
    lines += [
        "",
        "**Redis bytes per item.** `MEMORY USAGE` summed over the store's keys, and its",
        "search indexes from `FT.INFO` (`total_index_memory_sz_mb`, which leaves the vectors",
        "out, plus `vector_index_sz_mb`), over the item count; *used_memory Δ* is the",
        "server's growth over the load. *load* is the wall time of the load per item, and",
        "in brackets the time Redis spent running its commands (EXEC left out).",
        "",
        "| store | items | keys | key bytes/item | index/item | vector index/item | total/item "
        "| vs peer | used_memory Δ/item | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    peer = data["footprint"].get(PEER)
    peer_total = _per_item(peer)["total"] if peer else None
    shown = [*data["footprint"].items(), (f"{OURS}, the latency store", foot)]
    for name, f in shown:
        p = _per_item(f)
        ratio = f"{p['total'] / peer_total:.2f}" if peer_total and f is not foot else ""
        lines.append(
            f"| {name} | {f['items']:,} | {f['keys']:,} | {p['keys']:,.0f} B | "
            f"{p['index']:,.0f} B | {p['vectors']:,.0f} B | {p['total']:,.0f} B | {ratio} | "
            f"{p['used']:,.0f} B | {f['load_us']:,.0f} µs ({f['redis_us']:,.0f} µs), "
            f"{f['load_how']} |"
        )
    lines.append("")
    targets = target_rows(data)
    if targets:
        lines += ["| target | figure | met |", "|---|---|---|", *targets, ""]
    return lines


def target_rows(data: dict[str, Any]) -> list[str]:
    """Rows for the Targets table."""
    out = []

    def row(target: str, figure: str, ok: bool) -> None:
        out.append(f"| {target} | {figure} | {'yes' if ok else '**no**'} |")

    hybrid, vector = _quality(data, f"{OURS} (hybrid)"), _quality(data, f"{OURS} (vector)")
    if hybrid and vector:
        row(
            "long-term memory: hybrid recall@5 >= vector recall@5 (QQP)",
            f"{hybrid['recall@5']:.3f} vs {vector['recall@5']:.3f}",
            hybrid["recall@5"] >= vector["recall@5"],
        )
    items = data["latency"]["items"]
    for mode in ("vector", "hybrid"):
        r = _latency(data, mode)
        if r is None:
            continue
        row(
            f"long-term memory: {mode} search p50 <= 3 ms at {items:,} items",
            f"{r['p50_ms']:.2f} ms",
            r["p50_ms"] <= 3,
        )
        row(
            f"long-term memory: {mode} search p99 <= 10 ms at {items:,} items",
            f"{r['p99_ms']:.2f} ms",
            r["p99_ms"] <= 10,
        )
    ours, peer = data["footprint"].get(OURS), data["footprint"].get(PEER)
    if ours and peer:
        mine, theirs = _per_item(ours)["total"], _per_item(peer)["total"]
        row(
            "long-term memory: Redis bytes per item (keys + indexes) <= the peer's",
            f"{mine:,.0f} B vs {theirs:,.0f} B ({mine / theirs:.2f})",
            mine <= theirs,
        )
    return out


def summary(data: dict[str, Any]) -> list[str]:
    out = [
        f"memory        {r['impl']:34} R@1 {r['recall@1']:.3f} R@5 {r['recall@5']:.3f} "
        f"MRR {r['mrr@10']:.3f}"
        for r in data["quality"]
    ]
    lat = data["latency"]
    out += [
        f"memory        {lat['items']:,} items {r['mode']:7} p50 {r['p50_ms']:.2f} ms "
        f"p99 {r['p99_ms']:.2f} ms (Redis {r['server_ms']:.2f} ms)"
        for r in lat["rows"]
    ]
    out.append(f"memory        load {lat['items']:,} items in {lat['load_seconds']:.0f} s")
    for name, f in [*data["footprint"].items(), (f"{OURS} @{lat['items']:,}", lat["footprint"])]:
        p = _per_item(f)
        out.append(
            f"memory        {name:34} {p['total']:,.0f} B/item (keys {p['keys']:,.0f}, "
            f"index {p['index']:,.0f}, vectors {p['vectors']:,.0f})"
        )
    parts = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in data["parts"].items())
    embed_ms = ", ".join(f"{ms:.1f} ms ({label})" for label, ms in data["embed_ms"].items())
    out.append(f"memory        embed one query {embed_ms}; {parts}")
    out.append(f"memory        ({data['seconds']:.0f} s)")
    return out


def main(argv: list[str] | None = None) -> int:
    import argparse

    from redis_memory.embedded import EmbeddedRedis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    server = EmbeddedRedis(extra_args=["--save", "", "--appendonly", "no"]).start()
    try:
        admin = redis.Redis.from_url(server.url)
        data = run_memory(server.url, admin, args.quick)
        print("\n".join(summary(data)))
        print("\n".join(report(data)))
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
