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

from .errors import RedisUnavailableError, UnexpectedDataError

T = TypeVar("T")


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
    """

    doing: str
    key: str
    finish: Callable[[list[Any]], T]
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    script: tuple[Script, list[str], list[Any]] | None = None
    transaction: bool = False


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
    except redis.exceptions.MaxConnectionsError as exc:
        # Redis is fine: the client's pool (100 connections by default in redis-py's
        # asyncio client) has none left for another concurrent command.
        raise RedisUnavailableError(
            f"No free connection to Redis at {url()} while {doing} ({key}): the "
            "connection pool is full, as many commands are in flight at once. Raise "
            "RedisMemoryConfig(max_connections=...) or pass a client with a larger pool."
        ) from exc
    except redis.exceptions.ConnectionError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} could not be reached while {doing} ({key}): {exc}. "
            "Retry once Redis is back."
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


def execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a sync client: one round trip (two the first time a script is new)."""
    with redis_errors(plan.doing, plan.key, url):
        if plan.script is not None:
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
        if plan.script is not None:
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
