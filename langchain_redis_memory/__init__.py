"""LangChain faces of redis-memory-backend (chat history, caches, stores, rate limiter,
LangGraph checkpointer).

Each class here translates LangChain types to and from the framework-free core
in :mod:`redis_memory`; every Redis command lives in the core. The LangGraph
checkpointer (``RedisSaver``) and long-term memory store (``RedisLongTermStore``)
are imported on first use: they need the ``[langgraph]`` extra.
"""

import importlib
from typing import Any

from redis_memory._extras import require_extra

require_extra(
    "langchain_core", "langchain", "langchain_redis_memory needs LangChain (langchain-core)"
)

from redis_memory import RedisMemoryConfig, TTLPolicy

from .cache import RedisCache, RedisSemanticCache
from .chat_history import RedisChatMessageHistory
from .embeddings import MiniLMEmbeddings
from .memory_tools import RedisMemoryRetriever, memory_tools
from .rate_limiter import RedisRateLimiter
from .store import RedisByteStore, RedisStore
from .team_tools import team_tools

_LANGGRAPH = {
    "AsyncRedisSaver": "checkpoint",
    "RedisSaver": "checkpoint",
    "acopy_threads": "checkpoint",
    "copy_threads": "checkpoint",
    "RedisLongTermStore": "long_term",
}


def __getattr__(name: str) -> Any:
    if name in _LANGGRAPH:
        require_extra("langgraph", "langgraph", f"{name} needs LangGraph")
        return getattr(importlib.import_module(f".{_LANGGRAPH[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "AsyncRedisSaver",
    "MiniLMEmbeddings",
    "RedisByteStore",
    "RedisCache",
    "RedisChatMessageHistory",
    "RedisLongTermStore",
    "RedisMemoryConfig",
    "RedisMemoryRetriever",
    "RedisRateLimiter",
    "RedisSaver",
    "RedisSemanticCache",
    "RedisStore",
    "TTLPolicy",
    "acopy_threads",
    "copy_threads",
    "memory_tools",
    "team_tools",
]
