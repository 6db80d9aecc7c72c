"""Hit precision and recall of semantic caches, through Redis, on paraphrase pairs.

    .venv/bin/python benchmarks/semantic_cache_quality.py [--quick]

Runs this package's cache itself (``redis_memory.cache.ResponseCache``: the real
index, query, filters and verifier, on an embedded Redis Stack), and beside it
redisvl's ``SemanticCache`` and langchain-redis's ``RedisSemanticCache`` at
their default thresholds, all with the same embedding model (the packaged
all-MiniLM-L6-v2). Protocol (../shared/datasets/README.md): store every ``a``
(or ``origin``), look up every ``b`` (or ``similar``); a correct hit returns the
entry stored for its own pair, and the pair is a duplicate; any other hit is a
wrong hit. Precision = correct hits / hits; recall = correct hits / pairs that
should hit.

Embeddings are computed once per text and replayed to every cache, so the
figures compare the caches' decisions, not the model; the model is the same.
Defaults (the verifier, its thresholds) are fitted on qqp_pairs_train.jsonl
(benchmarks/fit_verifier.py); the dev pairs and GPTCache's pairs only report.
Writes benchmarks/results/semantic_cache_quality.md.
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from redis_memory import RedisMemoryConfig
from redis_memory.cache import ResponseCache
from redis_memory.embedded import EmbeddedRedis
from redis_memory.embeddings import MiniLMEmbedder

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
RESULTS = ROOT / "benchmarks" / "results"
LLM = "benchmark-model"


@dataclass
class Pairs:
    name: str
    stored: list[str]
    queries: list[str]
    duplicate: list[bool]


def load(name: str, limit: int | None = None) -> Pairs:
    rows = [json.loads(line) for line in (DATASETS / name).read_text().splitlines() if line]
    rows = rows[:limit] if limit else rows
    if "origin" in rows[0]:
        return Pairs(
            name, [r["origin"] for r in rows], [r["similar"] for r in rows], [True] * len(rows)
        )
    return Pairs(
        name, [r["a"] for r in rows], [r["b"] for r in rows], [r["duplicate"] for r in rows]
    )


class Replay:
    """An embedder that replays precomputed vectors (the same model for every cache)."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.model = MiniLMEmbedder()

    def embed(self, text: str) -> list[float]:
        vector = self.vectors.get(text)
        return vector if vector is not None else self.model.embed(text)

    async def aembed(self, text: str) -> list[float]:
        return self.embed(text)


def score(pairs: Pairs, answers: Sequence[int | None]) -> dict[str, float]:
    """The protocol's figures, plus how many wrong hits return the very text asked for.

    A cache keys entries by prompt text, so the protocol counts as wrong a hit on
    another pair's entry whose stored text is character for character the query
    (an exact repeat) or the pair's own stored text (stored twice in the file):
    such an answer is the one stored for that exact prompt. They are counted apart
    (``same_text``) and ``text_precision`` counts them as right; ``precision`` and
    ``recall`` follow the protocol unchanged.
    """
    hits = sum(a is not None for a in answers)
    correct = sum(a == i and pairs.duplicate[i] for i, a in enumerate(answers))
    same_text = sum(
        a is not None
        and a != i
        and (
            pairs.stored[a] == pairs.queries[i]
            or (pairs.duplicate[i] and pairs.stored[a] == pairs.stored[i])
        )
        for i, a in enumerate(answers)
    )
    should = sum(pairs.duplicate)
    return {
        "precision": correct / hits if hits else float("nan"),
        "recall": correct / should if should else float("nan"),
        "text_precision": (correct + same_text) / hits if hits else float("nan"),
        "hits": hits,
        "correct": correct,
        "wrong": hits - correct,
        "same_text": same_text,
    }


def run_ours(url: str, pairs: Pairs, replay: Replay, variants: dict[str, dict[str, Any]]) -> dict:
    results = {}
    prefix = f"q{int(time.time() * 1000) % 10**9}"
    config = RedisMemoryConfig(url=url, prefix=prefix)
    # A generous timeout: this measures decisions, and a busy machine must not turn
    # a slow reply into a miss.
    filler = ResponseCache(
        pairs.name.replace(".", "-"), config=config, embedder=replay, verifier=None, timeout=5
    )
    for i, text in enumerate(pairs.stored):
        filler.update(text, LLM, i)
    for label, options in variants.items():
        cache = ResponseCache(
            pairs.name.replace(".", "-"), config=config, embedder=replay, timeout=5, **options
        )
        started = time.perf_counter()
        answers = [_as_index(cache.lookup(q, LLM)) for q in pairs.queries]
        elapsed = time.perf_counter() - started
        results[label] = {**score(pairs, answers), "ms_per_lookup": 1000 * elapsed / len(answers)}
    filler.clear()
    return results


def _as_index(value: Any) -> int | None:
    return value if isinstance(value, int) else None


def run_redisvl(url: str, pairs: Pairs, replay: Replay) -> dict:
    from redisvl.extensions.cache.llm import SemanticCache
    from redisvl.utils.vectorize import CustomTextVectorizer

    cache = SemanticCache(
        name=f"rvl-{pairs.name.split('.')[0].replace('_', '-')}",
        redis_url=url,
        vectorizer=CustomTextVectorizer(embed=replay.embed),
        overwrite=True,
    )
    for i, text in enumerate(pairs.stored):
        cache.store(prompt=text, response=str(i))
    answers = []
    for query in pairs.queries:
        found = cache.check(prompt=query, num_results=1)
        answers.append(int(found[0]["response"]) if found else None)
    cache.delete()
    return {f"redisvl SemanticCache (default {cache.distance_threshold:g})": score(pairs, answers)}


def run_langchain_redis(url: str, pairs: Pairs, replay: Replay) -> dict:
    from langchain_core.embeddings import Embeddings
    from langchain_core.outputs import Generation
    from langchain_redis import RedisSemanticCache

    class ReplayEmbeddings(Embeddings):
        def embed_query(self, text: str) -> list[float]:
            return replay.embed(text)

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return [replay.embed(t) for t in texts]

    name = f"lcr-{pairs.name.split('.')[0].replace('_', '-')}"
    cache = RedisSemanticCache(embeddings=ReplayEmbeddings(), redis_url=url, name=name, prefix=name)
    for i, text in enumerate(pairs.stored):
        cache.update(text, LLM, [Generation(text=str(i))])
    answers = []
    for query in pairs.queries:
        found = cache.lookup(query, LLM)
        answers.append(int(found[0].text) if found else None)
    cache.clear()
    threshold = getattr(cache, "distance_threshold", 0.2)
    return {f"langchain-redis RedisSemanticCache (default {threshold:g})": score(pairs, answers)}


def table(title: str, rows: dict[str, dict[str, float]]) -> str:
    lines = [
        f"### {title}",
        "",
        "| cache | precision | recall | hits | wrong hits | of which same text "
        "| precision, same text right |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for label, r in rows.items():
        lines.append(
            f"| {label} | {r['precision']:.3f} | {r['recall']:.3f} | {r['hits']} "
            f"| {r['wrong']} | {r['same_text']} | {r['text_precision']:.3f} |"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 pairs per file (a smoke run)")
    parser.add_argument("--train", action="store_true", help="also sweep the train pairs")
    parser.add_argument(
        "--embeddings",
        type=Path,
        help="an .npz (e.g. under /tmp) to keep embeddings in between runs, keyed by text",
    )
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    limit = 300 if args.quick else None
    files = ["qqp_pairs_dev.jsonl", "gptcache_paraphrase_pairs.jsonl"]
    if args.train:
        files.insert(0, "qqp_pairs_train.jsonl")
    datasets = [load(name, limit) for name in files]

    started = time.perf_counter()
    texts = sorted({t for p in datasets for t in (*p.stored, *p.queries)})
    replay = Replay(embeddings(texts, args.embeddings))
    print(f"embedded {len(texts)} texts in {time.perf_counter() - started:.0f} s")

    variants: dict[str, dict[str, Any]] = {
        f"plain cosine distance <= {t:.2f}": {"verifier": None, "distance_threshold": t}
        for t in (0.05, 0.10, 0.15, 0.20, 0.25)
    }
    try:
        from redis_memory.verifier import HitVerifier

        verifier = HitVerifier.default()
        variants = {
            "**this package, default (verifier)**": {"verifier": verifier},
            **variants,
        }
    except ImportError:
        print("(no redis_memory.verifier yet: plain thresholds only)")

    report = [
        "# Semantic cache quality",
        "",
        f"Made by `benchmarks/semantic_cache_quality.py` on {time.strftime('%Y-%m-%d')}; "
        "all caches through the same embedded Redis Stack, with the same all-MiniLM-L6-v2 "
        "embeddings. Store every `a`, look up every `b`; a hit is correct when it returns "
        'its own pair\'s entry and the pair is a duplicate. "Of which same text" counts the '
        "wrong hits whose stored text is exactly the query, or exactly the pair's own text "
        "stored a second time: the answer stored for that very prompt, counted as right in "
        "the last column.",
    ]
    with EmbeddedRedis() as server:
        for pairs in datasets:
            rows = run_ours(server.url, pairs, replay, variants)
            rows.update(run_redisvl(server.url, pairs, replay))
            rows.update(run_langchain_redis(server.url, pairs, replay))
            title = f"{pairs.name} ({len(pairs.stored)} pairs, {sum(pairs.duplicate)} duplicates)"
            report += ["", table(title, rows)]
            print("\n" + table(title, rows))
    timing = _timing_note(variants)
    if timing:
        report += ["", timing]
    RESULTS.mkdir(parents=True, exist_ok=True)
    suffix = "-quick" if args.quick else ""
    (RESULTS / f"semantic_cache_quality{suffix}.md").write_text("\n".join(report) + "\n")
    print(
        f"\nwrote {RESULTS / f'semantic_cache_quality{suffix}.md'} "
        f"in {time.perf_counter() - started:.0f} s"
    )


def embeddings(texts: list[str], keep: Path | None) -> dict[str, list[float]]:
    """The embeddings of ``texts``: from ``keep`` when it holds them, the rest computed
    (and added to ``keep``). Never commit that file."""
    known: dict[str, list[float]] = {}
    if keep is not None and keep.exists():
        with np.load(keep, allow_pickle=False) as saved:
            known = dict(zip(saved["texts"].tolist(), saved["vectors"].tolist(), strict=True))
    missing = [t for t in texts if t not in known]
    if missing:
        known.update(zip(missing, MiniLMEmbedder().embed_many(missing), strict=True))
        if keep is not None:
            names = sorted(known)
            vectors = np.array([known[t] for t in names], dtype=np.float32)
            np.savez(keep, texts=np.array(names, dtype=str), vectors=vectors)
    return {t: known[t] for t in texts}


def _timing_note(variants: dict[str, dict[str, Any]]) -> str:
    verifier = next((v.get("verifier") for v in variants.values() if v.get("verifier")), None)
    if verifier is None:
        return ""
    rng = np.random.default_rng(0)
    words = ["how", "do", "i", "learn", "python", "fast", "what", "is", "the", "best", "way"]
    samples = [
        (" ".join(rng.choice(words, 8)), " ".join(rng.choice(words, 8))) for _ in range(2000)
    ]
    started = time.perf_counter()
    for query, candidate in samples:
        verifier.accepts(query, candidate, 0.1)
    per_check = (time.perf_counter() - started) / len(samples) * 1e6
    return f"The verifier costs about {per_check:.0f} µs per candidate checked (pure Python)."


if __name__ == "__main__":
    main()
