"""LlamaIndex faces of redis-memory-backend (chat stores, cached LLM, key-value store).

Each class here translates LlamaIndex types to and from the framework-free core
in :mod:`redis_memory`; every Redis command lives in the core.
"""

from redis_memory import RedisMemoryConfig, TTLPolicy

__all__ = ["RedisMemoryConfig", "TTLPolicy"]
