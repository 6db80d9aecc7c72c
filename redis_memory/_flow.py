"""Flows: engine methods of several round trips, written once as generators.

A flow yields steps (a :class:`~redis_memory._plan.Plan`, a :class:`Sleep`, or a
step of the engine's own) and receives each step's result; :func:`drive` runs it
with a sync step function and :func:`drive_async` with an async one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Sleep:
    """A step of a flow: wait this many seconds (``time.sleep`` or ``asyncio.sleep``)."""

    seconds: float


def drive(
    flow: Generator[Any, Any, T],
    step: Callable[[Any], Any],
    errors: tuple[type[BaseException], ...] = (),
) -> T:
    """Run a flow of several steps (an engine's generator) to its result.

    Each value the flow yields goes to ``step``, and what ``step`` returns is sent
    back in; when ``step`` raises one of ``errors``, that error is thrown into the
    flow instead, which may handle it (e.g. create a missing consumer group).
    """
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value
        reply, error = None, None
        try:
            reply = step(yielded)
        except errors as exc:
            error = exc


async def drive_async(
    flow: Generator[Any, Any, T],
    step: Callable[[Any], Awaitable[Any]],
    errors: tuple[type[BaseException], ...] = (),
) -> T:
    """The twin of :func:`drive` for an async ``step``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value
        reply, error = None, None
        try:
            reply = await step(yielded)
        except errors as exc:
            error = exc
