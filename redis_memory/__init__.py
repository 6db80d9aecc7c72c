"""redis-memory-backend: memory for LangChain and LlamaIndex applications on Redis.

The framework-free core: configuration, key schema, TTL policy, serialization,
connections, the embedded server, and every engine, each sync class with its
``redis.asyncio`` twin (``MessageLog``/``AsyncMessageLog``, ``ResponseCache``,
``StateStore``, ``MemoryStore``, ``CheckpointLog``, ``WorkQueue``, ``RateLimit``,
``EventBus``, ``AuditLog``, ``Claims``, ``Findings``, ``DistributedLock``). The
framework faces live in ``langchain_redis_memory`` and ``llama_index_redis_memory``.

Example:
    >>> from redis_memory import MessageLog, StateStore
    >>> log = MessageLog()          # REDIS_MEMORY_URL, else redis://localhost:6379/0
    >>> log.append("s1", [{"role": "user", "content": "Hello"}])
    1

The engines whose modules are slow to import (the message log and the search
engines load numpy) are imported on first use, so ``import redis_memory`` stays
cheap for an application that needs only its config or state store.
"""

import importlib
from typing import TYPE_CHECKING, Any

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
    UnexpectedDataError,
    ValueTooLargeError,
)
from .events import (
    AsyncAuditLog,
    AsyncEventBus,
    AsyncSubscription,
    AuditEntry,
    AuditLog,
    Event,
    EventBus,
    Subscription,
)
from .keys import KeySchema, escape_id, unescape_id
from .ratelimit import AsyncRateLimit, RateLimit, RateLimitResult
from .serialization import JSONSerializer, Serializer
from .state import AsyncStateStore, StateStore
from .ttl import TTL, TTLPolicy

# Imported on first use (module __getattr__): name -> module of this package.
_LAZY = {
    **dict.fromkeys(
        [
            "AsyncMessageLog",
            "MessageHit",
            "MessageLog",
            "SessionInfo",
        ],
        "history",
    ),
    **dict.fromkeys(["DamagedMessageError", "StoredMessage"], "messages"),
    **dict.fromkeys(["AsyncResponseCache", "CacheStats", "ResponseCache"], "cache"),
    **dict.fromkeys(["AsyncMemoryStore", "MemoryItem", "MemoryStore"], "memory"),
    **dict.fromkeys(["AsyncCheckpointLog", "CheckpointLog"], "checkpoints"),
    **dict.fromkeys(
        [
            "AsyncClaims",
            "AsyncDistributedLock",
            "AsyncFindings",
            "Claims",
            "Conflict",
            "Decision",
            "DistributedLock",
            "Finding",
            "Findings",
            "LockError",
            "LockLostError",
            "LockTimeoutError",
            "NoConflictError",
            "VerdictAdded",
        ],
        "coordination",
    ),
    **dict.fromkeys(["AsyncTeamDesk", "TeamDesk", "ToolSpec"], "agent_tools"),
    **dict.fromkeys(["AsyncWorkQueue", "Job", "PendingSummary", "WorkQueue"], "workqueue"),
    **dict.fromkeys(
        [
            "Agent",
            "AgentActivity",
            "AsyncPresence",
            "Presence",
            "TeamActivity",
        ],
        "presence",
    ),
    **dict.fromkeys(["AsyncPermissions", "Permissions"], "permissions"),
    "Hold": "_holds",
    **dict.fromkeys(
        ["AsyncPriorityQueue", "Lease", "PriorityQueue", "QueuedTask", "TaskInfo"], "priorityqueue"
    ),
    **dict.fromkeys(
        ["Embedder", "FunctionEmbedder", "MiniLMEmbedder", "SentenceTransformerEmbedder"],
        "embeddings",
    ),
    "HitVerifier": "verifier",
    **dict.fromkeys(["Migration", "MigrationReport"], "migrate"),
    **dict.fromkeys(["EmbeddedCluster", "EmbeddedRedis"], "embedded"),
}

if TYPE_CHECKING:
    from ._holds import Hold
    from .agent_tools import AsyncTeamDesk, TeamDesk, ToolSpec
    from .cache import AsyncResponseCache, CacheStats, ResponseCache
    from .checkpoints import AsyncCheckpointLog, CheckpointLog
    from .coordination import (
        AsyncClaims,
        AsyncDistributedLock,
        AsyncFindings,
        Claims,
        Conflict,
        Decision,
        DistributedLock,
        Finding,
        Findings,
        LockError,
        LockLostError,
        LockTimeoutError,
        NoConflictError,
        VerdictAdded,
    )
    from .embedded import EmbeddedCluster, EmbeddedRedis
    from .embeddings import (
        Embedder,
        FunctionEmbedder,
        MiniLMEmbedder,
        SentenceTransformerEmbedder,
    )
    from .history import AsyncMessageLog, MessageHit, MessageLog, SessionInfo
    from .memory import AsyncMemoryStore, MemoryItem, MemoryStore
    from .messages import DamagedMessageError, StoredMessage
    from .migrate import Migration, MigrationReport
    from .permissions import AsyncPermissions, Permissions
    from .presence import Agent, AgentActivity, AsyncPresence, Presence, TeamActivity
    from .priorityqueue import AsyncPriorityQueue, Lease, PriorityQueue, QueuedTask, TaskInfo
    from .verifier import HitVerifier
    from .workqueue import AsyncWorkQueue, Job, PendingSummary, WorkQueue


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value  # the next access is a plain lookup
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "TTL",
    "Agent",
    "AgentActivity",
    "AsyncAuditLog",
    "AsyncCheckpointLog",
    "AsyncClaims",
    "AsyncDistributedLock",
    "AsyncEventBus",
    "AsyncFindings",
    "AsyncMemoryStore",
    "AsyncMessageLog",
    "AsyncPermissions",
    "AsyncPresence",
    "AsyncPriorityQueue",
    "AsyncRateLimit",
    "AsyncResponseCache",
    "AsyncStateStore",
    "AsyncSubscription",
    "AsyncTeamDesk",
    "AsyncWorkQueue",
    "AuditEntry",
    "AuditLog",
    "CacheStats",
    "CheckpointLog",
    "Claims",
    "ConfigurationError",
    "Conflict",
    "DamagedMessageError",
    "Decision",
    "DistributedLock",
    "EmbeddedCluster",
    "EmbeddedRedis",
    "EmbeddedServerError",
    "Embedder",
    "Event",
    "EventBus",
    "FeatureUnavailableError",
    "Finding",
    "Findings",
    "FunctionEmbedder",
    "HitVerifier",
    "Hold",
    "JSONSerializer",
    "Job",
    "KeySchema",
    "Lease",
    "LockError",
    "LockLostError",
    "LockTimeoutError",
    "MemoryItem",
    "MemoryStore",
    "MessageHit",
    "MessageLog",
    "Migration",
    "MigrationReport",
    "MiniLMEmbedder",
    "NoConflictError",
    "PendingSummary",
    "PermissionDeniedError",
    "Permissions",
    "Presence",
    "PriorityQueue",
    "QueuedTask",
    "RateLimit",
    "RateLimitResult",
    "RedisClients",
    "RedisMemoryConfig",
    "RedisMemoryError",
    "RedisOutOfMemoryError",
    "RedisUnavailableError",
    "ReplicaAckError",
    "ResponseCache",
    "SearchModuleMissingError",
    "SentenceTransformerEmbedder",
    "SerializationError",
    "Serializer",
    "SessionInfo",
    "StateStore",
    "StoredMessage",
    "Subscription",
    "TTLPolicy",
    "TaskInfo",
    "TeamActivity",
    "TeamDesk",
    "ToolSpec",
    "UnexpectedDataError",
    "ValueTooLargeError",
    "VerdictAdded",
    "WorkQueue",
    "__version__",
    "escape_id",
    "mask_url",
    "unescape_id",
]
