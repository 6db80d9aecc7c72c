"""Sans-I/O command plans: the shared core of every sync/async engine twin.

An engine method builds a :class:`Plan`: the Redis commands of one round trip
(a single command, a pipeline, or a script) and a function that turns the
replies into the method's result. ``_execute.execute`` runs a plan on a sync
client and ``_execute.execute_async`` on a ``redis.asyncio`` one, so every key,
argument, check and decoding step is written once and both twins send the same
commands. A method of several round trips is a flow (``_flow``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def lua(name: str) -> str:
    """The source of the Lua script ``redis_memory/lua/<name>``, as the package ships it."""
    return resources.files(__package__).joinpath("lua", name).read_text(encoding="utf-8")


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
        route: On a Redis Cluster, run a single command on the primary owning
            this key rather than where redis-py would send it.
        advice: What to tell the user when the connection fails or times out,
            which leaves unknown whether Redis applied the plan (a write that is
            not safe to repeat says what is); empty: the generic advice.
    """

    doing: str
    key: str
    finish: Callable[[list[Any]], T]
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    script: tuple[Script, list[str], list[Any]] | None = None
    transaction: bool = False
    then_wait: tuple[int, int] | None = None
    route: str | None = None
    advice: str = ""
