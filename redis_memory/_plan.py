"""Sans-I/O command plans: the shared core of every sync/async engine twin.

An engine method builds a :class:`Plan`: the Redis commands of one round trip
(a single command, a pipeline, or a script) and a function that turns the
replies into the method's result. :func:`execute` runs a plan on a sync client
and :func:`execute_async` on a ``redis.asyncio`` one, so every key, argument,
check and decoding step is written once and both twins send the same commands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

import redis
import redis.asyncio

from .errors import (
    ConfigurationError,
    RedisOutOfMemoryError,
    RedisUnavailableError,
    UnexpectedDataError,
)
from .sentinel import NO_PRIMARY, no_primary_reason

T = TypeVar("T")

# redis-py's words for a pool with no free connection (blocking / non-blocking pool).
_POOL_EXHAUSTED = frozenset({"No connection available.", "Too many connections"})


@dataclass(frozen=True, slots=True, init=False)
class Script:
    """A Lua script sent by ``EVALSHA``, loaded with ``EVAL`` the first time a server lacks it."""

    source: str
    sha: str

    def __init__(self, source: str) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "sha", hashlib.sha1(source.encode()).hexdigest())  # noqa: S324


@dataclass(slots=True)
class Plan(Generic[T]):
    """One round trip and how to read its replies.

    Args:
        doing: What the user asked for, for error messages ("reading messages").
        key: The main key involved, for error messages.
        commands: Commands as argument tuples, e.g. ``("LRANGE", key, 0, -1)``.
        finish: Turns the list of replies (one per command) into the result.
        script: Instead of ``commands``: a script with its keys and arguments.
        transaction: Wrap several commands in MULTI/EXEC.
        then_wait: ``(replicas, timeout_ms)``: send ``WAIT`` after the plan's
            commands (or script) in the same round trip; its reply (how many
            replicas have the write) is the last one given to ``finish``.
    """

    doing: str
    key: str
    finish: Callable[[list[Any]], T]
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    script: tuple[Script, list[str], list[Any]] | None = None
    transaction: bool = False
    then_wait: tuple[int, int] | None = None


@contextmanager
def redis_errors(doing: str, key: str, url: Callable[[], str]) -> Iterator[None]:
    """Turn redis-py's errors into this package's, naming the URL (masked) and key."""
    try:
        yield
    except redis.exceptions.TimeoutError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} did not answer in time while {doing} ({key}): {exc}. The "
            "command may still have been applied: check before retrying a call that is "
            "not safe to repeat."
        ) from exc
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel of {url()} named a reachable primary while {doing} ({key}): "
            f"{no_primary_reason(exc)}. Check the sentinels' addresses and the service "
            "name; during a failover, retry once the sentinels have promoted a replica."
        ) from exc
    except redis.exceptions.ConnectionError as exc:
        if str(exc) in _POOL_EXHAUSTED:
            raise RedisUnavailableError(
                f"every connection to Redis at {url()} stayed busy while {doing} ({key}): "
                f"{exc} Raise max_connections (RedisMemoryConfig) or lower the concurrency."
            ) from exc
        raise RedisUnavailableError(
            f"Redis at {url()} could not be reached while {doing} ({key}): {exc}. "
            "Retry once Redis is back."
        ) from exc
    except redis.exceptions.OutOfMemoryError as exc:
        raise RedisOutOfMemoryError(
            f"Redis at {url()} refused {doing} ({key}): it is full (maxmemory reached, and "
            f"its eviction policy frees nothing): {exc} Nothing was written. Raise maxmemory, "
            "shorten TTLs or windows, or move the cache to its own Redis (README: Production)."
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if "WRONGTYPE" in str(exc):
            raise UnexpectedDataError(
                f"{key} holds a different type of data than redis-memory-backend writes "
                "there (another program uses this key prefix); delete the key or choose "
                "another prefix"
            ) from exc
        raise


def _script_args(plan: Plan[Any]) -> tuple[Script, list[Any]]:
    assert plan.script is not None
    script, keys, args = plan.script
    return script, [len(keys), *keys, *args]


def _waiting_pipeline(client: Any, plan: Plan[Any], script_source: bool) -> Any:
    # MULTI/EXEC is sent by hand: WAIT must follow EXEC on the same connection,
    # outside the transaction (inside one it would not wait).
    if isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster):
        raise ConfigurationError(
            "replica_acks (WAIT after each write) is not supported on Redis Cluster, where a "
            "pipeline's keyless WAIT may reach another node; set replica_acks=0"
        )
    pipe = client.pipeline(transaction=False)
    if plan.script is not None:
        script, args = _script_args(plan)
        if script_source:
            pipe.execute_command("EVAL", script.source, *args)
        else:
            pipe.execute_command("EVALSHA", script.sha, *args)
    else:
        if plan.transaction:
            pipe.execute_command("MULTI")
        for command in plan.commands:
            pipe.execute_command(*command)
        if plan.transaction:
            pipe.execute_command("EXEC")
    assert plan.then_wait is not None
    pipe.execute_command("WAIT", *plan.then_wait)
    return pipe


def _waited_replies(plan: Plan[Any], replies: list[Any]) -> list[Any] | None:
    """The plan's own replies followed by WAIT's; None when the script must be sent in full."""
    if plan.script is not None and isinstance(replies[0], redis.exceptions.NoScriptError):
        return None
    own = replies[-2] if plan.transaction and plan.script is None else replies[:-1]
    for reply in [*replies, *(own if isinstance(own, list) else ())]:
        if isinstance(reply, Exception):
            raise reply
    return [*own, replies[-1]]


def execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a sync client: one round trip (two the first time a script is new)."""
    with redis_errors(plan.doing, plan.key, url):
        if plan.then_wait is not None:
            pipe = _waiting_pipeline(client, plan, False)
            replies = _waited_replies(plan, pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = _waiting_pipeline(client, plan, True)
                replies = _waited_replies(plan, pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = _script_args(plan)
            try:
                replies = [client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [client.eval(script.source, *args)]
        elif len(plan.commands) == 1:
            replies = [client.execute_command(*plan.commands[0])]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in plan.commands:
                pipe.execute_command(*command)
            replies = pipe.execute()
    return plan.finish(replies)


async def execute_async(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a ``redis.asyncio`` client; the twin of :func:`execute`."""
    with redis_errors(plan.doing, plan.key, url):
        if plan.then_wait is not None:
            pipe = _waiting_pipeline(client, plan, False)
            replies = _waited_replies(plan, await pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = _waiting_pipeline(client, plan, True)
                replies = _waited_replies(plan, await pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = _script_args(plan)
            try:
                replies = [await client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [await client.eval(script.source, *args)]
        elif len(plan.commands) == 1:
            replies = [await client.execute_command(*plan.commands[0])]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in plan.commands:
                pipe.execute_command(*command)
            replies = await pipe.execute()
    return plan.finish(replies)
