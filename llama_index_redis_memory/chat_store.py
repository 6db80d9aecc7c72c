"""LlamaIndex chat stores on the core message log (:mod:`redis_memory.history`).

- :class:`RedisChatStore` is a ``BaseChatStore``: for ``ChatMemoryBuffer``, chat
  engines and anything else that takes a ``chat_store``.
- :class:`RedisMemoryChatStore` is an ``AsyncDBChatStore``: for LlamaIndex's
  ``Memory`` (``Memory.from_defaults(chat_store=...)``), with active and
  archived messages.

Both keep a session's messages at ``{prefix}:session:{<key>}:messages`` (and the
archive at ``...:archived``), in the neutral form LangChain's classes of this
package read too. Every Redis command lives in the core; these classes only
translate LlamaIndex types (see :mod:`llama_index_redis_memory._messages`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Literal

from llama_index.core.base.embeddings.base import BaseEmbedding
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.bridge.pydantic import PrivateAttr
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus

from redis_memory.config import RedisMemoryConfig
from redis_memory.connection import AsyncClient, SyncClient
from redis_memory.history import (
    AsyncMessageLog,
    MessageHit,
    MessageLog,
    Section,
    message_log_twins,
)
from redis_memory.messages import StoredMessage

from ._messages import from_stored_list, to_stored
from .cached_llm import _embedder


def _encode(messages: Iterable[ChatMessage]) -> list[dict[str, Any]]:
    if isinstance(messages, ChatMessage) or not isinstance(messages, Sequence):
        raise TypeError(f"messages must be a list of ChatMessage, not {type(messages).__name__}")
    return [to_stored(message) for message in messages]


def _decode(
    stored: Sequence[StoredMessage],
    log: MessageLog | AsyncMessageLog,
    key: str,
    first: int = 0,
    section: Section = "active",
) -> list[ChatMessage]:
    """ChatMessages of messages read from ``section`` from index ``first`` on; one
    that cannot be rebuilt is a DamagedMessageError naming the key, index and field."""
    if section == "all":
        where = "position {position} of the archived then active messages"
        return from_stored_list(stored, log.keys, log.keys.session(key), first, where=where)
    keys = log.keys
    name = keys.session_archive(key) if section == "archived" else keys.session_messages(key)
    return from_stored_list(stored, log.keys, name, first)


def _decode_one(
    stored: StoredMessage | None, log: MessageLog | AsyncMessageLog, key: str
) -> ChatMessage | None:
    return None if stored is None else _decode([stored], log, key)[0]


def _section(status: MessageStatus | str | None) -> Section:
    if status is None:
        return "all"
    try:
        value = MessageStatus(status)
    except ValueError:
        raise ValueError(
            f"status must be MessageStatus.ACTIVE, MessageStatus.ARCHIVED or None (both), "
            f"got {status!r}"
        ) from None
    return "active" if value is MessageStatus.ACTIVE else "archived"


class RedisChatStore(BaseChatStore):
    """A LlamaIndex ``BaseChatStore`` on Redis: one list of messages per key.

    Each key is a session id of this package (escaped into
    ``{prefix}:session:{<key>}:messages``), so LangChain's
    ``RedisChatMessageHistory`` of this package reads the same conversation.
    Appending a message is one round trip; reading a session is one. The sync
    methods use redis-py, the async ones (``aget_messages``...) ``redis.asyncio``
    natively, without threads.

    Args:
        url: A Redis URL, or ``"embedded"`` for a private Redis started on demand.
        client: Your own redis-py client (sync or async).
        config: A :class:`redis_memory.RedisMemoryConfig` (prefix, TTL policy...).
        max_messages: Keep only the newest N messages of each key (``None``: all).

    ``delete_messages(key)`` returns the key's messages and also removes the
    archive that ``Memory`` (:class:`RedisMemoryChatStore`) may keep for the same
    session, so nothing of the conversation is left.

    Example:
        >>> from llama_index.core.llms import ChatMessage
        >>> from llama_index.core.memory import ChatMemoryBuffer
        >>> from llama_index_redis_memory import RedisChatStore
        >>> store = RedisChatStore(url="embedded")
        >>> store.set_messages("ana", [ChatMessage(role="user", content="Hello")])
        >>> memory = ChatMemoryBuffer.from_defaults(chat_store=store, chat_store_key="ana")
        >>> memory.put(ChatMessage(role="assistant", content="Hi Ana!"))
        >>> [m.content for m in store.get_messages("ana")]
        ['Hello', 'Hi Ana!']
        >>> store.delete_messages("ana") is not None
        True
    """

    _log: MessageLog = PrivateAttr()
    _alog: AsyncMessageLog = PrivateAttr()

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        max_messages: int | None = None,
        searchable: bool = False,
        embed_model: BaseEmbedding | None = None,
    ) -> None:
        super().__init__()
        self._log, self._alog = message_log_twins(
            url=url,
            client=client,
            config=config,
            max_messages=max_messages,
            searchable=searchable,
            embedder=_embedder(embed_model),
        )

    @classmethod
    def class_name(cls) -> str:
        return "RedisChatStore"

    @property
    def config(self) -> RedisMemoryConfig:
        """Where the messages live: prefix, TTL policy, connection settings."""
        return self._log.config

    def search_messages(
        self,
        query: str,
        *,
        key: str | None = None,
        limit: int = 10,
        mode: Literal["vector", "text", "hybrid"] | None = None,
    ) -> list[MessageHit]:
        """Past messages matching ``query``, best first (of one key, or of all), each
        naming its key (``session_id``), position, role, text and score. Needs
        ``searchable=True`` (or ``embed_model=`` to search by meaning too)."""
        return self._log.search_messages(query, session_id=key, limit=limit, mode=mode)

    async def asearch_messages(
        self,
        query: str,
        *,
        key: str | None = None,
        limit: int = 10,
        mode: Literal["vector", "text", "hybrid"] | None = None,
    ) -> list[MessageHit]:
        """The twin of :meth:`search_messages`: past messages matching ``query``, best first."""
        return await self._alog.search_messages(query, session_id=key, limit=limit, mode=mode)

    # -- sync ---------------------------------------------------------------------
    def set_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Replace the key's messages with ``messages``, atomically."""
        self._log.replace(key, _encode(messages))

    def get_messages(self, key: str) -> list[ChatMessage]:
        """The key's messages, oldest first ([] for an unknown key)."""
        return _decode(self._log.messages(key), self._log, key)

    def add_message(self, key: str, message: ChatMessage, idx: int | None = None) -> None:
        """Append one message, or insert it before the one at ``idx``, in one round trip.

        ``idx`` works as in ``SimpleChatStore`` (``list.insert``): past the end the
        message is appended, a negative index counts from the end. The insert is
        atomic: a concurrent append is never lost, nor put out of order.
        """
        if idx is None:
            self._log.append(key, [to_stored(message)])
        else:
            self._log.insert(key, idx, to_stored(message))

    def add_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """Append several messages at once, in order (one round trip)."""
        self._log.append(key, _encode(messages))

    def count_messages(self, key: str) -> int:
        """How many messages the key holds: one ``LLEN``, nothing read."""
        return self._log.count(key)

    def delete_messages(self, key: str) -> list[ChatMessage] | None:
        """Delete the key's messages and return them (None if it had none)."""
        removed = self._log.take(key)
        return _decode(removed, self._log, key) if removed else None

    def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        """Delete the message at ``idx`` (the others keep their order); None if none."""
        return _decode_one(self._log.delete_at(key, idx), self._log, key)

    def delete_last_message(self, key: str) -> ChatMessage | None:
        """Delete and return the newest message (None if the key has none)."""
        return _decode_one(self._log.pop_last(key), self._log, key)

    def get_keys(self) -> list[str]:
        """Every session of this package under the configured prefix, sorted."""
        return sorted(self._log.iter_sessions())

    # -- async --------------------------------------------------------------------
    async def aset_messages(self, key: str, messages: list[ChatMessage]) -> None:
        await self._alog.replace(key, _encode(messages))

    async def aget_messages(self, key: str) -> list[ChatMessage]:
        return _decode(await self._alog.messages(key), self._alog, key)

    async def async_add_message(
        self, key: str, message: ChatMessage, idx: int | None = None
    ) -> None:
        if idx is None:
            await self._alog.append(key, [to_stored(message)])
        else:
            await self._alog.insert(key, idx, to_stored(message))

    async def async_add_messages(self, key: str, messages: list[ChatMessage]) -> None:
        """The twin of :meth:`add_messages`: append several messages at once, in order."""
        await self._alog.append(key, _encode(messages))

    async def acount_messages(self, key: str) -> int:
        """The twin of :meth:`count_messages`: one ``LLEN``, nothing read."""
        return await self._alog.count(key)

    async def adelete_messages(self, key: str) -> list[ChatMessage] | None:
        removed = await self._alog.take(key)
        return _decode(removed, self._alog, key) if removed else None

    async def adelete_message(self, key: str, idx: int) -> ChatMessage | None:
        return _decode_one(await self._alog.delete_at(key, idx), self._alog, key)

    async def adelete_last_message(self, key: str) -> ChatMessage | None:
        return _decode_one(await self._alog.pop_last(key), self._alog, key)

    async def aget_keys(self) -> list[str]:
        return sorted([key async for key in self._alog.iter_sessions()])


class RedisMemoryChatStore(AsyncDBChatStore):
    """The chat store of LlamaIndex's ``Memory``: active and archived messages in Redis.

    ``Memory`` keeps a session's recent messages active and archives the oldest
    when its token limit is exceeded; here the active messages are the list
    ``{prefix}:session:{<key>}:messages`` and the archived ones
    ``{prefix}:session:{<key>}:archived``. Archiving is one atomic move. Status
    ``ACTIVE`` reads or counts the active list, ``ARCHIVED`` the archive, and
    ``None`` both (archived first). Every method is async on ``redis.asyncio``;
    ``Memory``'s sync methods (``put``, ``get``...) run each call in an event
    loop of their own, and each loop gets its own connection.

    ``set_messages`` replaces the whole session, archive included (as LlamaIndex's
    SQL store does), and ``delete_message(key, idx)`` takes the position in the
    active list (the others keep their order).

    Args:
        url: A Redis URL, or ``"embedded"`` for a private Redis started on demand.
        client: Your own redis-py client (sync or async).
        config: A :class:`redis_memory.RedisMemoryConfig` (prefix, TTL policy...).

    Example:
        >>> from llama_index.core.llms import ChatMessage
        >>> from llama_index.core.memory import Memory
        >>> from llama_index_redis_memory import RedisMemoryChatStore
        >>> memory = Memory.from_defaults(
        ...     session_id="ana", chat_store=RedisMemoryChatStore(url="embedded"), token_limit=4000
        ... )
        >>> memory.put(ChatMessage(role="user", content="Hello"))
        >>> memory.put(ChatMessage(role="assistant", content="Hi Ana!"))
        >>> [m.content for m in memory.get()]
        ['Hello', 'Hi Ana!']
        >>> memory.reset()
        >>> memory.get_all()
        []
    """

    _log: AsyncMessageLog = PrivateAttr()

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> None:
        super().__init__()
        self._log = AsyncMessageLog(url=url, client=client, config=config, refresh_archive=True)

    @classmethod
    def class_name(cls) -> str:
        return "RedisMemoryChatStore"

    @property
    def config(self) -> RedisMemoryConfig:
        """Where the messages live: prefix, TTL policy, connection settings."""
        return self._log.config

    async def get_messages(
        self,
        key: str,
        status: MessageStatus | None = MessageStatus.ACTIVE,
        limit: int | None = None,
        offset: int | None = None,
    ) -> list[ChatMessage]:
        """Messages oldest first, of one status (or all), optionally a page of them."""
        section = _section(status)
        if limit == 0:
            self._log.keys.session_messages(key)  # still validate the key
            return []
        stored = await self._log.messages(key, offset=offset or 0, limit=limit, section=section)
        return _decode(stored, self._log, key, offset or 0, section)

    async def count_messages(
        self, key: str, status: MessageStatus | None = MessageStatus.ACTIVE
    ) -> int:
        return await self._log.count(key, section=_section(status))

    async def add_message(
        self, key: str, message: ChatMessage, status: MessageStatus = MessageStatus.ACTIVE
    ) -> None:
        await self.add_messages(key, [message], status=status)

    async def add_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        stored = _encode(messages)
        if _section(status) == "active":
            await self._log.append(key, stored)
        else:
            await self._log.append_archived(key, stored)

    async def set_messages(
        self,
        key: str,
        messages: list[ChatMessage],
        status: MessageStatus = MessageStatus.ACTIVE,
    ) -> None:
        """Replace the session's messages (both lists) with ``messages`` of ``status``.

        One atomic round trip; a failing write (a value JSON cannot hold) changes nothing.
        """
        stored = _encode(messages)
        if _section(status) == "active":
            await self._log.replace(key, stored, clear_archive=True)
        else:
            await self._log.replace_archived(key, stored)

    async def delete_message(self, key: str, idx: int) -> ChatMessage | None:
        return _decode_one(await self._log.delete_at(key, idx), self._log, key)

    async def delete_messages(self, key: str, status: MessageStatus | None = None) -> None:
        await self._log.clear(key, section=_section(status))

    async def delete_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        if n == 0:
            self._log.keys.session_messages(key)
            return []
        return _decode(await self._log.delete_oldest(key, n), self._log, key)

    async def archive_oldest_messages(self, key: str, n: int) -> list[ChatMessage]:
        if n == 0:
            self._log.keys.session_messages(key)
            return []
        return _decode(await self._log.archive_oldest(key, n), self._log, key)

    async def get_keys(self) -> list[str]:
        return sorted([key async for key in self._log.iter_sessions()])
