"""``redis-memory calibrate PAIRS.jsonl``: the semantic cache setting for a target precision.

The cache has two knobs that decide a semantic hit: the hit verifier's
threshold (the default cache, ``verifier=HitVerifier(threshold=...)``) and,
without a verifier, a plain cosine-distance threshold (``distance_threshold=``).
This command sweeps the chosen knob over the user's own labelled pairs the way
``benchmarks/semantic_cache_quality.py`` does: every ``a`` is stored in a real
:class:`~redis_memory.cache.ResponseCache` (a scratch cache name under the
prefix, deleted with its index afterwards), every ``b`` is looked up through it, and a hit is
correct when it returns the entry of its own pair and the pair is a duplicate.
Each text is embedded once (all-MiniLM-L6-v2, offline) and replayed to every
setting, so the sweep measures the cache's decisions, not the model again.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..cache import ResponseCache
from . import CommandError, Progress, at_least_one, config_of, print_json, print_table

LLM = "redis-memory-calibration"
DISTANCES = [round(0.02 * i, 2) for i in range(1, 16)]  # 0.02 .. 0.30
VERIFIER_THRESHOLDS = [round(0.05 * i, 2) for i in range(4, 20)]  # 0.20 .. 0.95


@dataclass
class Pairs:
    stored: list[str]
    queries: list[str]
    duplicate: list[bool]


def load_pairs(path: str, limit: int | None) -> Pairs:
    pairs = Pairs([], [], [])
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
    for number, text in enumerate(lines, 1):
        if not text.strip():
            continue
        try:
            row: Any = json.loads(text)
            if "origin" in row:
                a, b, dup = row["origin"], row["similar"], True
            else:
                a, b, dup = row["a"], row["b"], row["duplicate"]
            if not (isinstance(a, str) and isinstance(b, str) and isinstance(dup, bool)):
                raise TypeError("a and b are texts, duplicate is true or false")
        except (ValueError, KeyError, TypeError) as exc:
            raise CommandError(
                f'{path} line {number}: expected {{"a", "b", "duplicate"}} or '
                f'{{"origin", "similar"}} ({exc})'
            ) from None
        pairs.stored.append(a)
        pairs.queries.append(b)
        pairs.duplicate.append(dup)
        if limit and len(pairs.stored) >= limit:
            break
    if not pairs.stored:
        raise CommandError(f"{path} holds no pairs")
    if not any(pairs.duplicate):
        raise CommandError(f"{path} has no duplicate pair: nothing could ever be a correct hit")
    return pairs


class _Replay:
    """Vectors computed once, served to every cache setting (unknown texts: the model)."""

    def __init__(self, model: Any, texts: Sequence[str]) -> None:
        unique = list(dict.fromkeys(texts))
        self.model = model
        self.vectors = dict(zip(unique, model.embed_many(unique), strict=True))

    def embed(self, text: str) -> list[float]:
        vector = self.vectors.get(text)
        return vector if vector is not None else self.model.embed(text)

    async def aembed(self, text: str) -> list[float]:
        vector = self.vectors.get(text)
        return vector if vector is not None else list(await self.model.aembed(text))


def _first_index(pairs: Pairs) -> list[int]:
    """For each pair, the first pair storing the same text: a text is stored once."""
    first: dict[str, int] = {}
    return [first.setdefault(text, i) for i, text in enumerate(pairs.stored)]


def _score(pairs: Pairs, answers: Sequence[Any]) -> dict[str, Any]:
    own = _first_index(pairs)
    hits = sum(a is not None for a in answers)
    correct = sum(a == own[i] and pairs.duplicate[i] for i, a in enumerate(answers))
    should = sum(pairs.duplicate)
    return {
        "precision": correct / hits if hits else None,
        "recall": correct / should,
        "hits": hits,
        "wrong_hits": hits - correct,
    }


def _options(mode: str, value: float) -> dict[str, Any]:
    if mode == "distance":
        return {"verifier": None, "distance_threshold": value}
    from ..verifier import HitVerifier

    return {"verifier": HitVerifier(threshold=value)}


def _setting(mode: str, value: float) -> str:
    if mode == "distance":
        return f"distance_threshold={value:g}"
    return f"verifier=HitVerifier(threshold={value:g})"


def _calibrate(args: argparse.Namespace) -> int:
    if not 0 < args.precision <= 1:
        raise CommandError(f"--precision is in (0, 1], got {args.precision}")
    pairs = load_pairs(args.pairs, args.limit)
    from ..embeddings import MiniLMEmbedder

    replay = _Replay(MiniLMEmbedder(), [*pairs.stored, *pairs.queries])
    values = DISTANCES if args.mode == "distance" else VERIFIER_THRESHOLDS
    config = config_of(args)
    name = f"calibration-{uuid.uuid4().hex[:8]}"
    filler = ResponseCache(name, config=config, embedder=replay, verifier=None, timeout=5)
    progress = Progress("calibrating (lookups)", args, len(values) * len(pairs.queries))
    rows = []
    try:
        own = _first_index(pairs)
        for i, text in enumerate(pairs.stored):
            if own[i] == i:  # a text stored twice would overwrite its first entry
                filler.update(text, LLM, i)
        if filler.stats.errors:
            raise CommandError(
                "the cache could not store the pairs (is Redis up, with the Search module?)"
            )
        done = 0
        for value in values:
            cache = ResponseCache(
                name, config=config, embedder=replay, timeout=5, **_options(args.mode, value)
            )
            answers = []
            for query in pairs.queries:
                found = cache.lookup(query, LLM)
                answers.append(found if isinstance(found, int) else None)
                done += 1
                progress(done)
            if cache.stats.errors:
                raise CommandError("Redis failed during the lookups; the figures would be wrong")
            rows.append(
                {"value": value, "setting": _setting(args.mode, value), **_score(pairs, answers)}
            )
    finally:
        progress.close()
        filler.drop()
    reaching = [r for r in rows if r["precision"] is not None and r["precision"] >= args.precision]
    best = max(reaching, key=lambda r: (r["recall"], -abs(r["value"]))) if reaching else None
    result = {
        "pairs": len(pairs.stored),
        "duplicates": sum(pairs.duplicate),
        "mode": args.mode,
        "target_precision": args.precision,
        "recommended": None
        if best is None
        else {
            "setting": best["setting"],
            ("distance_threshold" if args.mode == "distance" else "verifier_threshold"): best[
                "value"
            ],
            "precision": best["precision"],
            "recall": best["recall"],
        },
        "table": rows,
    }
    if args.json:
        print_json(result)
    else:
        print(f"{len(pairs.stored)} pairs ({sum(pairs.duplicate)} duplicates), knob: {args.mode}")
        print_table(
            ["setting", "precision", "recall", "hits", "wrong hits", ""],
            [
                [
                    r["setting"],
                    "-" if r["precision"] is None else f"{r['precision']:.3f}",
                    f"{r['recall']:.3f}",
                    r["hits"],
                    r["wrong_hits"],
                    "<- recommended" if r is best else "",
                ]
                for r in rows
            ],
        )
        if best is None:
            top = max((r["precision"] or 0.0) for r in rows)
            other = "verifier" if args.mode == "distance" else "distance"
            print(
                f"no setting reaches precision {args.precision:g} on these pairs "
                f"(best: {top:.3f}); try --mode {other} or a lower --precision"
            )
        else:
            print(
                f"recommended: ResponseCache(..., {best['setting']}) "
                f"(precision {best['precision']:.3f}, recall {best['recall']:.3f})"
            )
    return 0 if best is not None else 1


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    calibrate = commands.add_parser(
        "calibrate",
        parents=[common],
        help="pick the semantic cache setting for a target precision from labelled pairs",
        description="Run labelled pairs through a real semantic cache and recommend the "
        "setting with the best recall at the target precision.",
    )
    calibrate.add_argument(
        "pairs", help='JSON Lines of {"a", "b", "duplicate"} (or {"origin", "similar"})'
    )
    calibrate.add_argument(
        "--precision", type=float, default=0.95, help="target hit precision (default 0.95)"
    )
    calibrate.add_argument(
        "--mode",
        choices=["verifier", "distance"],
        default="verifier",
        help="the knob: the hit verifier's threshold (the default cache) or a plain "
        "distance threshold without verifier",
    )
    calibrate.add_argument("--limit", type=at_least_one, help="use only the first N pairs")
    calibrate.set_defaults(run=_calibrate)
