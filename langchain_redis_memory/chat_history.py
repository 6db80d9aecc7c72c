"""LangChain chat message history on the shared Redis message log."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.embeddings import Embeddings
from langchain_core.messages import BaseMessage

from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.history import MessageHit, message_log_twins

from ._messages import from_stored_list, to_stored
from .cache import _embedder


class RedisChatMessageHistory(BaseChatMessageHistory):
    """Chat message history of one session, in Redis, readable by LlamaIndex too.

    Lossless: every LangChain message type comes back equal to what was added,
    with ``tool_calls``, ``usage_metadata``, ``response_metadata``, ``id`` and
    content blocks. Appends are atomic and keep their order across concurrent
    writers; the session expires per the TTL policy (30 days after its last use
    by default). Building one costs no Redis round trip, and every history with
    the same connection settings shares one connection pool, so building one
    per request is cheap. The async methods use ``redis.asyncio`` natively.

    Args:
        session_id: Any string up to 512 bytes; escaped in the Redis key.
        url: A Redis URL or ``"embedded"``. Or ``client=`` (your redis-py client,
            sync or async) or ``config=`` (a :class:`RedisMemoryConfig` with the
            prefix and TTL policy). None of them: the environment decides.
        max_messages: Keep only the newest N messages (a window); None keeps all.
        user_id: Whose session this is: :meth:`search_messages` can then search all
            of the user's sessions.
        searchable: Keep a search copy of each message (in the append's own round
            trip; needs the Search module, checked now) for :meth:`search_messages`.
        embeddings: A LangChain ``Embeddings`` for searching by meaning too
            (``dims`` when it has no ``dimensions`` attribute).

    Example:
        .. code-block:: python

            from langchain_core.messages import AIMessage, HumanMessage
            from langchain_redis_memory import RedisChatMessageHistory

            history = RedisChatMessageHistory("user-42", url="embedded")
            history.add_messages([HumanMessage("Hi!"), AIMessage("Hello, how can I help?")])
            assert [m.content for m in history.messages] == ["Hi!", "Hello, how can I help?"]
            assert len(history) == 2  # one LLEN, nothing read

        As the history of a chain (LangChain's legacy ``RunnableWithMessageHistory``;
        new code keeps memory in a LangGraph checkpointer):

        .. code-block:: python

            from langchain_core.language_models import GenericFakeChatModel
            from langchain_core.messages import AIMessage
            from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
            from langchain_core.runnables.history import RunnableWithMessageHistory
            from langchain_redis_memory import RedisChatMessageHistory

            prompt = ChatPromptTemplate.from_messages(
                [MessagesPlaceholder("history"), ("human", "{question}")]
            )
            model = GenericFakeChatModel(messages=iter([AIMessage("Hello, Ana.")]))
            chain_with_history = RunnableWithMessageHistory(
                prompt | model,
                lambda session_id: RedisChatMessageHistory(session_id, url="embedded"),
                input_messages_key="question",
                history_messages_key="history",
            )
            chain_with_history.invoke(
                {"question": "Hi, I'm Ana."}, config={"configurable": {"session_id": "ana"}}
            )
            stored = RedisChatMessageHistory("ana", url="embedded").messages
            assert [m.content for m in stored] == ["Hi, I'm Ana.", "Hello, Ana."]
    """

    def __init__(
        self,
        session_id: str,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        max_messages: int | None = None,
        user_id: str | None = None,
        searchable: bool = False,
        embeddings: Embeddings | None = None,
        dims: int | None = None,
    ) -> None:
        self._log, self._alog = message_log_twins(
            url=url,
            client=client,
            config=config,
            max_messages=max_messages,
            searchable=searchable,
            embedder=_embedder(embeddings),
            dims=dims,
        )
        self._log.keys.session(session_id)  # a bad id fails here, not at first use
        self.session_id = session_id
        self.user_id = user_id

    @property
    def key(self) -> str:
        """The Redis key holding this session's messages."""
        return self._log.keys.session_messages(self.session_id)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """All messages of the session, oldest first (one round trip)."""
        return from_stored_list(self._log.messages(self.session_id), self._log.keys, self.key)

    async def aget_messages(self, *, last: int | None = None) -> list[BaseMessage]:
        """The twin of :meth:`get_messages`: the messages, or only the ``last`` N of them."""
        stored = await self._alog.messages(self.session_id, last=last)
        return from_stored_list(stored, self._log.keys, self.key, None if last else 0)

    def get_messages(self, *, last: int | None = None) -> list[BaseMessage]:
        """The messages, or only the ``last`` N of them."""
        stored = self._log.messages(self.session_id, last=last)
        return from_stored_list(stored, self._log.keys, self.key, None if last else 0)

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages atomically, in one round trip."""
        self._log.append(self.session_id, [to_stored(m) for m in messages], user_id=self.user_id)

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        await self._alog.append(
            self.session_id, [to_stored(m) for m in messages], user_id=self.user_id
        )

    def search_messages(
        self,
        query: str,
        *,
        scope: Literal["session", "user"] = "session",
        limit: int = 10,
        mode: Literal["vector", "text", "hybrid"] | None = None,
    ) -> list[MessageHit]:
        """Past messages matching ``query``, best first, each naming its session,
        position, role, text and score: of this session, or (``scope="user"``) of
        every session of this ``user_id``. Needs ``searchable=True``."""
        return self._log.search_messages(query, **self._scope(scope), limit=limit, mode=mode)

    async def asearch_messages(
        self,
        query: str,
        *,
        scope: Literal["session", "user"] = "session",
        limit: int = 10,
        mode: Literal["vector", "text", "hybrid"] | None = None,
    ) -> list[MessageHit]:
        """The twin of :meth:`search_messages`: past messages matching ``query``, best first."""
        return await self._alog.search_messages(query, **self._scope(scope), limit=limit, mode=mode)

    def _scope(self, scope: str) -> dict[str, str]:
        if scope == "session":
            return {"session_id": self.session_id}
        if scope == "user":
            if self.user_id is None:
                raise ValueError("scope='user' needs the history's user_id")
            return {"user_id": self.user_id}
        raise ValueError(f"scope is 'session' or 'user', got {scope!r}")

    def clear(self) -> None:
        """Delete the session's messages."""
        self._log.clear(self.session_id)

    async def aclear(self) -> None:
        await self._alog.clear(self.session_id)

    def __len__(self) -> int:
        """How many messages the session holds: one ``LLEN``, no message read.

        As ``len(history)`` of langchain-redis's ``RedisChatMessageHistory``.
        """
        return self._log.count(self.session_id)

    def __bool__(self) -> bool:
        # With __len__ alone, `if history:` (or `history or make_one()`) would be
        # False for a new session, and would cost a round trip.
        return True

    def __repr__(self) -> str:
        return f"RedisChatMessageHistory(session_id={self.session_id!r}, key={self.key!r})"
