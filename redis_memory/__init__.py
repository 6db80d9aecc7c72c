"""redis-memory-backend: memory for LangChain and LlamaIndex applications on Redis.

The framework-free core: configuration, key schema, TTL policy, serialization,
connections and the embedded server. The framework faces live in
``langchain_redis_memory`` and ``llama_index_redis_memory``.
"""

from ._version import __version__
from .config import RedisMemoryConfig, mask_url
from .connection import RedisClients
from .errors import (
    ConfigurationError,
    EmbeddedServerError,
    FeatureUnavailableError,
    PermissionDeniedError,
    RedisMemoryError,
    RedisOutOfMemoryError,
    RedisUnavailableError,
    ReplicaAckError,
    SearchModuleMissingError,
    SerializationError,
    ValueTooLargeError,
)
from .events import AsyncAuditLog, AsyncEventBus, AuditLog, Event, EventBus
from .keys import KeySchema, escape_id, unescape_id
from .ratelimit import AsyncRateLimit, RateLimit, RateLimitResult
from .serialization import JSONSerializer, Serializer
from .state import AsyncStateStore, StateStore
from .ttl import TTL, TTLPolicy

__all__ = [
    "TTL",
    "AsyncAuditLog",
    "AsyncEventBus",
    "AsyncRateLimit",
    "AsyncStateStore",
    "AuditLog",
    "ConfigurationError",
    "EmbeddedServerError",
    "Event",
    "EventBus",
    "FeatureUnavailableError",
    "JSONSerializer",
    "KeySchema",
    "PermissionDeniedError",
    "RateLimit",
    "RateLimitResult",
    "RedisClients",
    "RedisMemoryConfig",
    "RedisMemoryError",
    "RedisOutOfMemoryError",
    "RedisUnavailableError",
    "ReplicaAckError",
    "SearchModuleMissingError",
    "SerializationError",
    "Serializer",
    "StateStore",
    "TTLPolicy",
    "ValueTooLargeError",
    "__version__",
    "escape_id",
    "mask_url",
    "unescape_id",
]
