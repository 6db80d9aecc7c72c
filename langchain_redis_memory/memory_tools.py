"""Long-term memory for LangChain agents: a retriever and the tools an agent calls.

Both sit on the core's :class:`~redis_memory.memory.MemoryStore` (items by
namespace and key, found again by meaning or by words) and only translate types:

- :class:`RedisMemoryRetriever`: a ``BaseRetriever`` over one namespace prefix,
  returning each item as a ``Document``.
- :func:`memory_tools`: ``save_memory``, ``search_memory`` and ``delete_memory``,
  tools an agent calls, whose namespace may depend on the run's config (one agent,
  many users, each seeing only their own memories).

Every Redis command lives in the core.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

from langchain_core.callbacks import (
    AsyncCallbackManagerForRetrieverRun,
    CallbackManagerForRetrieverRun,
)
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool, StructuredTool
from pydantic import BaseModel, Field, PrivateAttr, field_validator

from redis_memory._checks import whole
from redis_memory._faces import MemoryRetrieval
from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.memory import (
    AsyncMemoryStore,
    MemoryItem,
    MemoryStore,
    as_namespace,
    memory_twins,
)

from .cache import _embedder

SearchMode = Literal["vector", "text", "hybrid"]
NamespaceOrFactory = Sequence[str] | Callable[[RunnableConfig], Sequence[str]]


# -- the retriever ------------------------------------------------------------------------


class RedisMemoryRetriever(MemoryRetrieval, BaseRetriever):
    """A LangChain retriever over the long-term memories of one namespace prefix.

    Each item found becomes a ``Document``: ``page_content`` is the item's text
    (its value's ``text_key`` field, else the text the store indexes), and
    ``metadata`` holds the value's other fields plus ``namespace``, ``key``,
    ``score`` (higher is better), ``tags``, ``created_at`` and ``updated_at``
    (those names win over value fields of the same name). The async path runs on
    ``redis.asyncio`` natively.

    Args:
        namespace: The namespace prefix searched, e.g. ``("users", "ana")``; the
            items of deeper namespaces (``("users", "ana", "work")``) are found too.
        store: A :class:`~redis_memory.memory.MemoryStore` (or its async twin) to
            search; or build one with ``url``/``client``/``config``, ``embeddings``
            (any LangChain ``Embeddings``; without one, search is full-text) and
            ``dims`` (asked of the model once when not given), under ``name``.
        k: How many documents to return.
        mode: ``"vector"``, ``"text"`` or ``"hybrid"``; default: vector with an
            embedder, text without.
        filter: Conditions on value fields, e.g. ``{"kind": "fact"}`` or
            ``{"priority": {"$gte": 3}}``.
        recency_weight: Between 0 and 1: how much how recently an item was updated
            counts beside how well it matches.

    Example:
        .. code-block:: python

            from langchain_redis_memory import MiniLMEmbeddings
            from langchain_redis_memory.memory_tools import RedisMemoryRetriever

            retriever = RedisMemoryRetriever(
                namespace=("users", "ana"), url="embedded", embeddings=MiniLMEmbeddings(), k=1
            )
            store = retriever.store
            store.put(("users", "ana"), "diet", {"text": "Ana is vegetarian", "by": "chat"})
            store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon"})
            store.put(("users", "bob"), "diet", {"text": "Bob eats only vegetables"})
            [doc] = retriever.invoke("What food does she like?")
            assert doc.page_content == "Ana is vegetarian"
            assert doc.metadata["key"] == "diet" and doc.metadata["by"] == "chat"
            assert doc.metadata["namespace"] == ("users", "ana")
    """

    namespace: tuple[str, ...]
    k: int = Field(default=4, ge=1)
    mode: SearchMode | None = None
    filter: dict[str, Any] | None = None
    recency_weight: float = Field(default=0.0, ge=0.0, le=1.0)
    text_key: str = "text"

    _store: MemoryStore = PrivateAttr()
    _astore: AsyncMemoryStore = PrivateAttr()

    def __init__(
        self,
        *,
        namespace: Sequence[str],
        store: MemoryStore | AsyncMemoryStore | None = None,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embeddings: Embeddings | None = None,
        dims: int | None = None,
        name: str = "default",
        **kwargs: Any,
    ) -> None:
        super().__init__(namespace=as_namespace(namespace), **kwargs)
        where = {"url": url, "client": client, "config": config}
        embedder = _embedder(embeddings)
        self._store, self._astore = memory_twins(store, name, **where, embedder=embedder, dims=dims)

    def _document(self, item: MemoryItem) -> Document:
        metadata = {**item.metadata(self.text_key), "namespace": item.namespace}
        return Document(page_content=self._text(item), metadata=metadata)

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [self._document(item) for item in self._found(query, self.k)]

    async def _aget_relevant_documents(
        self, query: str, *, run_manager: AsyncCallbackManagerForRetrieverRun
    ) -> list[Document]:
        return [self._document(item) for item in await self._afound(query, self.k)]


# -- the tools ----------------------------------------------------------------------------


class _SaveMemory(BaseModel):
    text: str = Field(description="The memory: one self-contained fact, preference or event.")
    tags: list[str] = Field(
        default_factory=list, description="Optional labels to file it under, e.g. ['food']."
    )

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text.strip():
            raise ValueError("a memory's text is not blank")
        return text


class _SearchMemory(BaseModel):
    query: str = Field(description="What to look for, in words.")
    limit: int | None = Field(default=None, ge=1, le=50, description="At most this many.")


class _DeleteMemory(BaseModel):
    key: str = Field(description="The key of the memory to delete, as search_memory shows it.")


def memory_tools(
    namespace: NamespaceOrFactory,
    *,
    store: MemoryStore | AsyncMemoryStore | None = None,
    url: str | None = None,
    client: SyncClient | AsyncClient | None = None,
    config: RedisMemoryConfig | None = None,
    embeddings: Embeddings | None = None,
    dims: int | None = None,
    name: str = "default",
    k: int = 5,
    mode: SearchMode | None = None,
) -> list[BaseTool]:
    """The tools an agent uses to keep long-term memories: save, search, delete.

    - ``save_memory(text, tags=[])``: stores the text (the same text twice is one
      memory) and returns its key;
    - ``search_memory(query, limit=None)``: the best ``k`` (or ``limit``) matches,
      one a line as ``[key] text (tags: ...)``, or ``No memories found.``;
    - ``delete_memory(key)``: deletes one, saying whether it was there.

    Each has a sync and a native async form (``invoke``/``ainvoke``).

    Args:
        namespace: Whose memories: a tuple such as ``("users", "ana")``, or a
            function of the run's ``RunnableConfig`` giving it, e.g.
            ``lambda config: ("users", config["configurable"]["user_id"])``, so one
            agent serves many users and each sees only their own memories.
        store, url, client, config, embeddings, dims, name: As for
            :class:`RedisMemoryRetriever`.
        k: How many memories ``search_memory`` returns by default.
        mode: The search mode (default: vector with embeddings, text without).

    Example:
        .. code-block:: python

            from langchain_redis_memory.memory_tools import memory_tools

            save, search, delete = memory_tools(
                lambda config: ("users", config["configurable"]["user_id"]), url="embedded"
            )
            ana = {"configurable": {"user_id": "ana"}}
            bob = {"configurable": {"user_id": "bob"}}
            key = save.invoke({"text": "Ana is allergic to peanuts", "tags": ["health"]}, ana)
            found = search.invoke({"query": "peanuts"}, ana)
            assert found == f"[{key}] Ana is allergic to peanuts (tags: health)"
            assert search.invoke({"query": "peanuts"}, bob) == "No memories found."
            assert delete.invoke({"key": key}, ana) == f"Deleted memory {key}."
            # An agent: create_agent(model, tools=[save, search, delete], checkpointer=...)
    """
    fixed = None if callable(namespace) else as_namespace(namespace)
    whole("k", k, 1)
    where = {"url": url, "client": client, "config": config}
    embedder = _embedder(embeddings)
    sync, astore = memory_twins(store, name, **where, embedder=embedder, dims=dims)

    def where(run_config: RunnableConfig) -> tuple[str, ...]:
        if fixed is not None:
            return fixed
        return as_namespace(namespace(run_config))  # type: ignore[operator]

    def found(items: list[MemoryItem]) -> str:
        if not items:
            return "No memories found."
        lines = []
        for item in items:
            line = f"[{item.key}] {item.text('text', sync.text_fields)}"
            lines.append(line + (f" (tags: {', '.join(item.tags)})" if item.tags else ""))
        return "\n".join(lines)

    def deleted(key: str, was_there: bool) -> str:
        return f"Deleted memory {key}." if was_there else f"No memory has the key {key}."

    def save_memory(text: str, tags: list[str] | None = None, *, config: RunnableConfig) -> str:
        return sync.add(where(config), {"text": text}, tags=tags or ())

    async def asave_memory(
        text: str, tags: list[str] | None = None, *, config: RunnableConfig
    ) -> str:
        return await astore.add(where(config), {"text": text}, tags=tags or ())

    def search_memory(query: str, limit: int | None = None, *, config: RunnableConfig) -> str:
        return found(sync.search(where(config), query, mode=mode, limit=limit or k))

    async def asearch_memory(
        query: str, limit: int | None = None, *, config: RunnableConfig
    ) -> str:
        return found(await astore.search(where(config), query, mode=mode, limit=limit or k))

    def delete_memory(key: str, *, config: RunnableConfig) -> str:
        return deleted(key, sync.delete(where(config), key))

    async def adelete_memory(key: str, *, config: RunnableConfig) -> str:
        return deleted(key, await astore.delete(where(config), key))

    return [
        StructuredTool.from_function(
            func=save_memory,
            coroutine=asave_memory,
            name="save_memory",
            description=(
                "Save a long-term memory about the user (a fact, preference or event worth "
                "remembering in later conversations). Returns the memory's key."
            ),
            args_schema=_SaveMemory,
        ),
        StructuredTool.from_function(
            func=search_memory,
            coroutine=asearch_memory,
            name="search_memory",
            description=(
                "Search the user's long-term memories. Returns the best matches, one a "
                "line as '[key] text'."
            ),
            args_schema=_SearchMemory,
        ),
        StructuredTool.from_function(
            func=delete_memory,
            coroutine=adelete_memory,
            name="delete_memory",
            description="Delete one of the user's long-term memories by its key.",
            args_schema=_DeleteMemory,
        ),
    ]


__all__ = ["RedisMemoryRetriever", "memory_tools"]
