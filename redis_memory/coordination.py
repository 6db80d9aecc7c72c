"""Coordination between agents: task claims, shared findings, locks and events.

Several agents (threads, processes, machines) share one Redis and divide the
work between them:

- :class:`Claims`: an agent claims a task before working on it; exactly one
  claimant wins. A claim is ``SET {prefix}:task:{<id>}:owner <owner> NX PX <ttl>``
  and expires unless its owner extends it, so the task of an agent that died is
  free again after the claims TTL (``config.ttl.claims``, 60 s by default).
  Extending and releasing compare the owner inside a Lua script, so an owner
  whose claim expired can never extend or release a claim someone else took.
- :class:`Findings`: what the agents found out about a task, one JSON entry per
  finding (with its author and time) in the list ``{prefix}:task:{<id>}:findings``,
  capped to the newest ``max_findings``. A finding may carry a ``subject`` and a
  ``verdict``; when two authors file different verdicts on one subject of a task,
  that is a :class:`Conflict`: listed by ``conflicts(task_id)``, announced once,
  and settled by ``resolve(...)``, whose :class:`Decision` (who decided, which
  verdict, why) is kept with the subject (``{prefix}:task:{<id>}:verdicts``) and
  appended to the findings.
- :class:`DistributedLock`: a mutual-exclusion lock at ``{prefix}:lock:<name>``
  with an owner token and an expiry (its ``ttl``), used as ``with lock:``.
- Events: claiming, releasing and adding a finding announce themselves on the
  pub/sub channel ``{prefix}:events:tasks`` (:attr:`Claims.channel`) in the same
  round trip, as small JSON objects
  (``{"event": "claimed" | "released" | "finding" | "conflict" | "resolved",
  "task_id": ..., ...}``),
  so agents can follow each other without polling.

Each class has a native ``redis.asyncio`` twin with the same method names
(:class:`AsyncClaims`, :class:`AsyncFindings`, :class:`AsyncDistributedLock`);
both twins build their commands in one shared core.

``ttl=`` means the same everywhere: seconds, a ``timedelta`` or a
:class:`~redis_memory.TTL`, ``TTL(None)`` for no expiry; left out, the default
(``config.ttl.claims``). For findings ``ttl=None`` is no expiry too; for claims
and locks, where a holder that died would hold forever, ``ttl=None`` still
means the default and warns (``DeprecationWarning``) that it will mean no expiry.
``timeout`` is only ever how long a call waits: the lock's lifetime, once
``DistributedLock(timeout=)``, is ``ttl=``.

The classes live in private modules, one concept each (``_claims``,
``_findings``, ``_locks``, with what they share in ``_coordination_core``), and
their Lua scripts in ``redis_memory/lua/``; this module is where to import them from.

Owners are plain strings chosen by the agents ("researcher-1"). Two agents
that use the same owner string are one owner to Redis: give each agent process
its own (a name plus a random suffix, for instance).

Example:
    >>> from redis_memory.coordination import Claims
    >>> claims = Claims()
    >>> claims.claim("task-1", "agent-a")
    True
    >>> claims.claim("task-1", "agent-b")
    False
    >>> claims.release("task-1", "agent-a")
    True
"""

from __future__ import annotations

# The private modules' __all__ lists are this module's names.
from . import _claims, _findings, _locks
from ._claims import *  # noqa: F403
from ._findings import *  # noqa: F403
from ._locks import *  # noqa: F403

__all__ = [*_claims.__all__, *_findings.__all__, *_locks.__all__]

# Shown as this module's (reprs, help(), docs), where users import them from.
for _name in __all__:
    _public = globals()[_name]
    if isinstance(_public, type):
        _public.__module__ = __name__
del _name, _public
