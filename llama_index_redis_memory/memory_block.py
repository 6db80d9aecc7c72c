"""Long-term memory for LlamaIndex: a memory block for ``Memory`` and a retriever.

Both sit on the core's :class:`~redis_memory.memory.MemoryStore` (items by
namespace and key, found again by meaning or by words) and only translate types:

- :class:`RedisMemoryBlock`: a ``BaseMemoryBlock`` for
  ``Memory.from_defaults(memory_blocks=[...])``. What ``Memory`` flushes out of its
  short-term window is kept in a namespace (a user's, say), one item per message;
  each ``memory.get(input)`` brings back what is relevant to the new input, from
  every session of that namespace.
- :class:`RedisMemoryRetriever`: a ``BaseRetriever`` over a namespace prefix,
  returning ``NodeWithScore(TextNode)``.

Every Redis command lives in the core.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Sequence
from typing import Any, Literal

from llama_index.core.base.base_retriever import BaseRetriever
from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage, TextBlock
from llama_index.core.bridge.pydantic import Field, PrivateAttr, field_validator
from llama_index.core.callbacks import CallbackManager
from llama_index.core.memory.memory import BaseMemoryBlock
from llama_index.core.schema import NodeWithScore, QueryBundle, TextNode
from llama_index.core.utils import get_tokenizer

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

from .cached_llm import _embedder

SearchMode = Literal["vector", "text", "hybrid"]

# Node metadata every result carries; a value field of the same name does not replace them.
_RESERVED = ("namespace", "key", "tags", "created_at", "updated_at")


def _message_text(message: ChatMessage) -> str:
    return "".join(block.text for block in message.blocks if isinstance(block, TextBlock))


# -- the memory block ---------------------------------------------------------------------


class RedisMemoryBlock(BaseMemoryBlock[str]):
    """Long-term memory for LlamaIndex's ``Memory``, kept in Redis across sessions.

    When ``Memory`` flushes messages out of its short-term window, each one with
    text (of the ``roles`` kept) becomes an item of ``namespace`` whose value is
    ``{"text", "role", "time", "session_id"}``; the same text from the same role
    is one item (updated). When ``Memory`` is read, the block searches the
    namespace with the latest user message (the ``input``) and returns the best
    ``similarity_top_k`` items, one a line as ``role: text``, leaving out any
    whose text is already in the messages given. Since the namespace, not the
    session, is searched, a new session of the same user gets what earlier
    sessions said. ``priority`` above 0 lets ``Memory`` truncate the block, the
    least relevant lines first.

    Args:
        namespace: Whose memories, e.g. ``("users", "ana")``.
        store: A :class:`~redis_memory.memory.MemoryStore` (or its async twin); or
            build one with ``url``/``client``/``config``, ``embed_model`` (any
            LlamaIndex ``BaseEmbedding``; without one, search is full-text) and
            ``dims`` (asked of the model once when not given), under ``store_name``.
        similarity_top_k: How many memories to bring back.
        mode: ``"vector"``, ``"text"`` or ``"hybrid"``; default: vector with an
            embedder, text without.
        min_score: Leave out matches scoring below this. Only vector scores are
            absolute (``1 - cosine distance / 2``); text and hybrid scores are relative
            to the best match, which always scores 1.
        roles: The roles whose messages are kept (default user and assistant;
            None: all).
        name, description, priority, accept_short_term_memory: As for every
            ``BaseMemoryBlock``.

    Example:
        .. code-block:: python

            from llama_index.core.llms import ChatMessage
            from llama_index.core.memory import Memory
            from llama_index_redis_memory import MiniLMEmbedding, RedisMemoryChatStore
            from llama_index_redis_memory.memory_block import RedisMemoryBlock

            block = RedisMemoryBlock(
                namespace=("users", "ana"), url="embedded", embed_model=MiniLMEmbedding()
            )
            chat_store = RedisMemoryChatStore(url="embedded")
            memory = Memory.from_defaults(
                session_id="monday", chat_store=chat_store, memory_blocks=[block],
                token_limit=60, chat_history_token_ratio=0.5, token_flush_size=10,
            )
            memory.put(ChatMessage(role="user", content="I am allergic to peanuts."))
            memory.put(ChatMessage(role="assistant", content="Noted, no peanuts for you."))
            for day in ("Tuesday", "Wednesday", "Thursday"):
                memory.put(ChatMessage(role="user", content=f"What is on {day}?"))
                memory.put(ChatMessage(role="assistant", content=f"A meeting on {day}."))

            # Another session of the same user: the allergy comes back when relevant.
            later = Memory.from_defaults(
                session_id="friday", chat_store=chat_store, memory_blocks=[block]
            )
            [system] = later.get(input="Which snacks can I eat?")
            assert "user: I am allergic to peanuts." in system.content
    """

    name: str = Field(default="long_term_memory", description="The name of the memory block.")
    description: str | None = Field(
        default="What the user said in earlier conversations that bears on the new input.",
        description="A description of the memory block.",
    )
    namespace: tuple[str, ...] = Field(description="Whose memories, e.g. ('users', 'ana').")
    similarity_top_k: int = Field(default=3, ge=1, description="How many memories to bring.")
    mode: SearchMode | None = Field(default=None, description="The search mode.")
    min_score: float | None = Field(default=None, description="Leave out worse matches.")
    roles: list[str] | None = Field(
        default_factory=lambda: ["user", "assistant"],
        description="The roles whose messages are kept (None: all).",
    )

    _astore: AsyncMemoryStore = PrivateAttr()

    def __init__(
        self,
        *,
        namespace: Sequence[str],
        store: MemoryStore | AsyncMemoryStore | None = None,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embed_model: BaseEmbedding | None = None,
        dims: int | None = None,
        store_name: str = "default",
        **data: Any,
    ) -> None:
        super().__init__(namespace=as_namespace(namespace), **data)
        where = {"url": url, "client": client, "config": config}
        embedder = _embedder(embed_model)
        _, self._astore = memory_twins(store, store_name, **where, embedder=embedder, dims=dims)

    @field_validator("roles")
    @classmethod
    def _roles_are_named(cls, roles: list[str] | None) -> list[str] | None:
        if roles is not None and not roles:
            raise ValueError("roles names at least one role (or is None: every role)")
        return roles

    @property
    def store(self) -> AsyncMemoryStore:
        """The store the memories are kept in."""
        return self._astore

    async def _aput(self, messages: list[ChatMessage]) -> None:
        """Keep each flushed message with text as one item of the namespace."""
        now = time.time()
        puts = []
        for message in messages:
            role = message.role.value
            text = _message_text(message)
            if not text.strip() or (self.roles is not None and role not in self.roles):
                continue
            value: dict[str, Any] = {"text": text, "role": role, "time": now}
            session_id = message.additional_kwargs.get("session_id")
            if isinstance(session_id, str):
                value["session_id"] = session_id
            key = hashlib.sha256(f"{role}\n{text}".encode()).hexdigest()[:32]
            puts.append(self._astore.put(self.namespace, key, value, index=["text"]))
        await asyncio.gather(*puts)

    async def _aget(self, messages: list[ChatMessage] | None = None, **block_kwargs: Any) -> str:
        """The memories most relevant to the latest user message, one a line."""
        if not messages:
            return ""
        texts = [_message_text(message) for message in messages]
        users = [t for m, t in zip(messages, texts, strict=True) if m.role.value == "user"]
        query = next((t for t in reversed(users) if t.strip()), "") or next(
            (t for t in reversed(texts) if t.strip()), ""
        )
        if not query:
            return ""
        present = set(texts)  # what the context already holds is not repeated
        items = await self._astore.search(
            self.namespace, query, mode=self.mode, limit=2 * self.similarity_top_k
        )
        lines = []
        for item in items:
            text = item.text("text", self._astore.text_fields)
            if text in present or (
                self.min_score is not None and (item.score or 0) < self.min_score
            ):
                continue
            role = item.value.get("role")
            lines.append(f"{role}: {text}" if isinstance(role, str) else text)
        return "\n".join(lines[: self.similarity_top_k])

    async def atruncate(self, content: str, tokens_to_truncate: int) -> str | None:
        """Drop the least relevant memories (the last lines) until enough tokens are freed."""
        lines = content.split("\n") if content else []
        tokenizer = get_tokenizer()
        freed = 0
        while lines and freed < tokens_to_truncate:
            freed += len(tokenizer(lines.pop()))
        return "\n".join(lines) or None


# -- the retriever ------------------------------------------------------------------------


class RedisMemoryRetriever(MemoryRetrieval, BaseRetriever):
    """A LlamaIndex retriever over the long-term memories of a namespace prefix.

    Each item found becomes a ``NodeWithScore`` (score higher is better) of a
    ``TextNode`` whose text is the item's text (its value's ``text_key`` field,
    else the text the store indexes) and whose metadata holds the value's other
    fields plus ``namespace``, ``key``, ``tags``, ``created_at`` and
    ``updated_at`` (those five are hidden from the LLM and the embedding, and win
    over value fields of the same name). The node id is ``[*namespace, key]`` as
    JSON. ``aretrieve`` runs on ``redis.asyncio`` natively.

    Args:
        namespace: The namespace prefix searched, e.g. ``("users", "ana")``.
        store, url, client, config, embed_model, dims, store_name: As for
            :class:`RedisMemoryBlock`.
        similarity_top_k: How many nodes to return.
        mode: ``"vector"``, ``"text"`` or ``"hybrid"``.
        filter: Conditions on value fields, e.g. ``{"role": "user"}`` or
            ``{"priority": {"$gte": 3}}``.
        recency_weight: Between 0 and 1: how much recency counts beside relevance.

    Example:
        .. code-block:: python

            from llama_index_redis_memory import MiniLMEmbedding
            from llama_index_redis_memory.memory_block import RedisMemoryRetriever

            retriever = RedisMemoryRetriever(
                ("users", "ana"), url="embedded", embed_model=MiniLMEmbedding(),
                similarity_top_k=1,
            )
            store = retriever.store
            store.put(("users", "ana"), "diet", {"text": "Ana is vegetarian", "by": "chat"})
            store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon"})
            store.put(("users", "bob"), "diet", {"text": "Bob eats only vegetables"})
            [hit] = retriever.retrieve("What food does she like?")
            assert hit.node.get_content() == "Ana is vegetarian"
            assert hit.node.metadata["key"] == "diet" and hit.node.metadata["by"] == "chat"
    """

    def __init__(
        self,
        namespace: Sequence[str],
        *,
        store: MemoryStore | AsyncMemoryStore | None = None,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        embed_model: BaseEmbedding | None = None,
        dims: int | None = None,
        store_name: str = "default",
        similarity_top_k: int = 4,
        mode: SearchMode | None = None,
        filter: dict[str, Any] | None = None,
        recency_weight: float = 0.0,
        text_key: str = "text",
        callback_manager: CallbackManager | None = None,
        verbose: bool = False,
    ) -> None:
        whole("similarity_top_k", similarity_top_k, 1, type_error=TypeError)
        if not 0 <= recency_weight <= 1:
            raise ValueError(f"recency_weight is between 0 and 1, got {recency_weight}")
        self.namespace = as_namespace(namespace)
        where = {"url": url, "client": client, "config": config}
        embedder = _embedder(embed_model)
        self._store, self._astore = memory_twins(
            store, store_name, **where, embedder=embedder, dims=dims
        )
        self.similarity_top_k = similarity_top_k
        self.mode = mode
        self.filter = filter
        self.recency_weight = recency_weight
        self.text_key = text_key
        super().__init__(callback_manager=callback_manager, verbose=verbose)

    def _node(self, item: MemoryItem) -> NodeWithScore:
        metadata = item.metadata(self.text_key)
        del metadata["score"]  # the node's score says it
        node = TextNode(
            id_=json.dumps([*item.namespace, item.key], ensure_ascii=False),
            text=self._text(item),
            metadata=metadata,
            excluded_embed_metadata_keys=list(_RESERVED),
            excluded_llm_metadata_keys=list(_RESERVED),
        )
        return NodeWithScore(node=node, score=item.score)

    def _retrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        items = self._found(query_bundle.query_str, self.similarity_top_k)
        return [self._node(item) for item in items]

    async def _aretrieve(self, query_bundle: QueryBundle) -> list[NodeWithScore]:
        items = await self._afound(query_bundle.query_str, self.similarity_top_k)
        return [self._node(item) for item in items]


__all__ = ["RedisMemoryBlock", "RedisMemoryRetriever"]
