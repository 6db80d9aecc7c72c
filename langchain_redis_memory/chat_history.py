"""LangChain chat message history on the shared Redis message log."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.messages import BaseMessage

from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.history import AsyncMessageLog, MessageLog

from ._messages import from_stored, to_stored


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

    Example:
        .. code-block:: python

            from langchain_core.messages import AIMessage, HumanMessage
            from langchain_redis_memory import RedisChatMessageHistory

            history = RedisChatMessageHistory("user-42", url="embedded")
            history.add_messages([HumanMessage("Hi!"), AIMessage("Hello, how can I help?")])
            assert [m.content for m in history.messages] == ["Hi!", "Hello, how can I help?"]

        As the history of a chain:

        .. code-block:: python

            from langchain_core.runnables.history import RunnableWithMessageHistory

            chain_with_history = RunnableWithMessageHistory(
                chain, lambda session_id: RedisChatMessageHistory(session_id, url="embedded")
            )
    """

    def __init__(
        self,
        session_id: str,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        max_messages: int | None = None,
    ) -> None:
        options = {"url": url, "client": client, "config": config, "max_messages": max_messages}
        self._log = MessageLog(**options)
        self._alog = AsyncMessageLog(**options)
        self._log.keys.session(session_id)  # a bad id fails here, not at first use
        self.session_id = session_id

    @property
    def key(self) -> str:
        """The Redis key holding this session's messages."""
        return self._log.keys.session_messages(self.session_id)

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        """All messages of the session, oldest first (one round trip)."""
        return [from_stored(m) for m in self._log.messages(self.session_id)]

    async def aget_messages(self) -> list[BaseMessage]:
        return [from_stored(m) for m in await self._alog.messages(self.session_id)]

    def get_messages(self, *, last: int | None = None) -> list[BaseMessage]:
        """The messages, or only the ``last`` N of them."""
        return [from_stored(m) for m in self._log.messages(self.session_id, last=last)]

    def add_messages(self, messages: Sequence[BaseMessage]) -> None:
        """Append messages atomically, in one round trip."""
        self._log.append(self.session_id, [to_stored(m) for m in messages])

    async def aadd_messages(self, messages: Sequence[BaseMessage]) -> None:
        await self._alog.append(self.session_id, [to_stored(m) for m in messages])

    def clear(self) -> None:
        """Delete the session's messages."""
        self._log.clear(self.session_id)

    async def aclear(self) -> None:
        await self._alog.clear(self.session_id)

    def __repr__(self) -> str:
        return f"RedisChatMessageHistory(session_id={self.session_id!r}, key={self.key!r})"
