"""``redis-memory dashboard``: one local web page showing what this package keeps in Redis, live.

A feed of the events as they are published (sessions' appends, tasks, claims,
findings and conflicts, queues, team joins and leaves, cache hits and misses),
sessions and their message rates, the cache's hit rate, memory by kind of data,
live agents per team and what each holds, orphaned holds, open disagreements,
claims, locks, queues and rate limits; and ``/metrics`` for Prometheus. It only
reads: a Redis ACL user with no write command is enough (:func:`acl_rules`).

Needs the ``dashboard`` extra (``pip install 'redis-memory-backend[dashboard]'``):
Starlette, uvicorn and prometheus-client.

Example:
    .. code-block:: python

        from redis_memory import RedisMemoryConfig
        from redis_memory.dashboard import ServerThread, create_app

        app = create_app(RedisMemoryConfig(url="redis://127.0.0.1:6379/0"))
        with ServerThread(app) as running:  # a free port on 127.0.0.1
            print(running.url)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .readings import Dashboard, IdPattern, Limits, acl_rules

if TYPE_CHECKING:
    from .app import DEFAULT_HOST, DEFAULT_PORT, ServerThread, create_app, is_loopback

_FROM_APP = {"DEFAULT_HOST", "DEFAULT_PORT", "ServerThread", "create_app", "is_loopback"}

__all__ = [
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "Dashboard",
    "IdPattern",
    "Limits",
    "ServerThread",
    "acl_rules",
    "create_app",
    "is_loopback",
]


def __getattr__(name: str) -> Any:
    # The web app needs the [dashboard] extra; the readings do not.
    if name in _FROM_APP:
        from . import app

        return getattr(app, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
