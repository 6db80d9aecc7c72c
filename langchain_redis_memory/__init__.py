"""LangChain faces of redis-memory-backend (chat history, caches, stores, rate limiter).

Each class here translates LangChain types to and from the framework-free core
in :mod:`redis_memory`; every Redis command lives in the core.
"""

from redis_memory import RedisMemoryConfig, TTLPolicy

from .cache import RedisCache, RedisSemanticCache
from .chat_history import RedisChatMessageHistory
from .embeddings import MiniLMEmbeddings
from .rate_limiter import RedisRateLimiter
from .store import RedisByteStore, RedisStore

__all__ = [
    "MiniLMEmbeddings",
    "RedisByteStore",
    "RedisCache",
    "RedisChatMessageHistory",
    "RedisMemoryConfig",
    "RedisRateLimiter",
    "RedisSemanticCache",
    "RedisStore",
    "TTLPolicy",
]
