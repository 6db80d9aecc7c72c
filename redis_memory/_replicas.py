"""Plans that wait for replicas: the plan's commands, then ``WAIT``, in one round trip."""

from __future__ import annotations

from typing import Any

import redis

from ._cluster import is_cluster
from ._plan import Plan, Script
from .errors import ConfigurationError


def script_args(plan: Plan[Any]) -> tuple[Script, list[Any]]:
    assert plan.script is not None
    script, keys, args = plan.script
    return script, [len(keys), *keys, *args]


def waiting_pipeline(client: Any, plan: Plan[Any], script_source: bool) -> Any:
    # MULTI/EXEC is sent by hand: WAIT must follow EXEC on the same connection,
    # outside the transaction (inside one it would not wait).
    if is_cluster(client):
        raise ConfigurationError(
            "replica_acks (WAIT after each write) is not supported on Redis Cluster, where a "
            "pipeline's keyless WAIT may reach another node; set replica_acks=0"
        )
    pipe = client.pipeline(transaction=False)
    if plan.script is not None:
        script, args = script_args(plan)
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


def waited_replies(plan: Plan[Any], replies: list[Any]) -> list[Any] | None:
    """The plan's own replies followed by WAIT's; None when the script must be sent in full."""
    if plan.script is not None and isinstance(replies[0], redis.exceptions.NoScriptError):
        return None
    own = replies[-2] if plan.transaction and plan.script is None else replies[:-1]
    for reply in [*replies, *(own if isinstance(own, list) else ())]:
        if isinstance(reply, Exception):
            raise reply
    return [*own, replies[-1]]
