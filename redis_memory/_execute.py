"""The two executors of a plan: one round trip on a sync or a ``redis.asyncio`` client."""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any, NoReturn, TypeVar

import redis
import redis.asyncio

from . import metrics
from ._cluster import (
    cluster_scan,
    cluster_scan_async,
    is_cluster,
    is_scan,
    per_slot,
    pipeline_commands,
    routing,
)
from ._plan import Plan
from ._replicas import script_args, waited_replies, waiting_pipeline
from ._translate import redis_errors

T = TypeVar("T")


def execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a sync client: one round trip (two the first time a script is new)."""
    if metrics.tracing():
        with metrics.span(plan.doing, plan.key, _command_count(plan)):
            return _execute(client, plan, url)
    return _execute(client, plan, url)


def _command_count(plan: Plan[Any]) -> int:
    return len(plan.commands) + (plan.script is not None) + (plan.then_wait is not None)


def _execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    started = perf_counter()
    # A try costs nothing until something fails; entering redis_errors on every
    # call cost more than a microsecond.
    try:
        if plan.then_wait is not None:
            pipe = waiting_pipeline(client, plan, False)
            replies = waited_replies(plan, pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = waiting_pipeline(client, plan, True)
                replies = waited_replies(plan, pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = script_args(plan)
            try:
                replies = [client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [client.eval(script.source, *args)]
        elif is_cluster(client) and is_scan(plan):
            replies = cluster_scan(client, plan.commands[0])
        elif (split := per_slot(client, plan)) is not None:
            pipe = client.pipeline(transaction=False)
            for command in split:
                pipe.execute_command(*command)
            replies = [sum(int(n) for n in pipe.execute())]
        elif len(plan.commands) == 1:
            replies = [client.execute_command(*plan.commands[0], **routing(client, plan))]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in pipeline_commands(client, plan):
                pipe.execute_command(*command)
            replies = pipe.execute()
    except Exception as exc:
        _failed(plan, url, started, exc)
    metrics.operation(plan.doing, plan.key, perf_counter() - started, None)
    return plan.finish(replies)


def _failed(plan: Plan[Any], url: Callable[[], str], started: float, exc: Exception) -> NoReturn:
    """Count the failure, then raise it as the package's error for what the plan was doing."""
    try:
        with redis_errors(plan.doing, plan.key, url, plan.advice):
            raise exc
    except Exception as translated:
        metrics.operation(plan.doing, plan.key, perf_counter() - started, translated)
        raise


async def execute_async(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a ``redis.asyncio`` client; the twin of :func:`execute`."""
    if metrics.tracing():
        with metrics.span(plan.doing, plan.key, _command_count(plan)):
            return await _execute_async(client, plan, url)
    return await _execute_async(client, plan, url)


async def _execute_async(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    started = perf_counter()
    try:
        if is_cluster(client) and isinstance(client, redis.asyncio.RedisCluster):
            # A no-op once the cluster's layout is known. Tasks that reach a
            # new client at once, each left to start it, break its connections
            # (redis-py 8.1); here they queue behind one start.
            await client.initialize()
        if plan.then_wait is not None:
            pipe = waiting_pipeline(client, plan, False)
            replies = waited_replies(plan, await pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = waiting_pipeline(client, plan, True)
                replies = waited_replies(plan, await pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = script_args(plan)
            try:
                replies = [await client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [await client.eval(script.source, *args)]
        elif is_cluster(client) and is_scan(plan):
            replies = await cluster_scan_async(client, plan.commands[0])
        elif (split := per_slot(client, plan)) is not None:
            pipe = client.pipeline(transaction=False)
            for command in split:
                pipe.execute_command(*command)
            replies = [sum(int(n) for n in await pipe.execute())]
        elif len(plan.commands) == 1:
            command = plan.commands[0]
            replies = [await client.execute_command(*command, **routing(client, plan))]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in pipeline_commands(client, plan):
                pipe.execute_command(*command)
            replies = await pipe.execute()
    except Exception as exc:
        _failed(plan, url, started, exc)
    metrics.operation(plan.doing, plan.key, perf_counter() - started, None)
    return plan.finish(replies)
