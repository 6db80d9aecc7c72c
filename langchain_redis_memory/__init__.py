"""LangChain faces of redis-memory-backend (chat history, caches, stores, rate limiter).

Each class here translates LangChain types to and from the framework-free core
in :mod:`redis_memory`; every Redis command lives in the core.
"""

from redis_memory import RedisMemoryConfig, TTLPolicy

from .chat_history import RedisChatMessageHistory

__all__ = ["RedisChatMessageHistory", "RedisMemoryConfig", "TTLPolicy"]
