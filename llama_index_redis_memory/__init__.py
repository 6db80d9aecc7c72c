"""LlamaIndex faces of redis-memory-backend (chat stores, cached LLM, key-value store).

Each class here translates LlamaIndex types to and from the framework-free core
in :mod:`redis_memory`; every Redis command lives in the core.

- :class:`RedisChatStore`: a ``BaseChatStore`` for ``ChatMemoryBuffer`` and chat engines.
- :class:`RedisMemoryChatStore`: an ``AsyncDBChatStore`` for ``Memory.from_defaults``,
  with active and archived messages.
- :class:`RedisCachedLLM`: any LLM with its responses cached (exact or semantic) in a
  :class:`RedisLLMCache`; :class:`MiniLMEmbedding` is the packaged offline embedding model.

Messages are stored in the neutral form that LangChain's classes of this package
read as well. How a ``ChatMessage`` maps onto it (roles, content blocks, tool
calls, what is kept in the LlamaIndex-only field ``li``) is described in
:mod:`llama_index_redis_memory._messages`. In short, reading a message that
another framework wrote: an unknown role becomes ``user`` with the original in
``additional_kwargs["original_role"]``, and content blocks LlamaIndex has no
type for are kept in ``additional_kwargs["unknown_content_blocks"]``.
"""

from redis_memory._extras import require_extra

require_extra(
    "llama_index.core",
    "llama-index",
    "llama_index_redis_memory needs LlamaIndex (llama-index-core)",
)

from redis_memory import RedisMemoryConfig, TTLPolicy

from .cached_llm import RedisCachedLLM, RedisLLMCache
from .chat_store import RedisChatStore, RedisMemoryChatStore
from .embeddings import MiniLMEmbedding
from .kvstore import RedisKVStore
from .memory_block import RedisMemoryBlock, RedisMemoryRetriever
from .team_tools import team_tools

__all__ = [
    "MiniLMEmbedding",
    "RedisCachedLLM",
    "RedisChatStore",
    "RedisKVStore",
    "RedisLLMCache",
    "RedisMemoryBlock",
    "RedisMemoryChatStore",
    "RedisMemoryConfig",
    "RedisMemoryRetriever",
    "TTLPolicy",
    "team_tools",
]
