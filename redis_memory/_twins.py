"""Sync and async twins: the interface is stated once, on the sync class.

An async method written without a docstring takes its sync twin's first line and
a pointer to the twin, so ``help()`` on either class says what every method does
without each docstring being written (and kept in step) twice.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TypeVar

C = TypeVar("C", bound=type)


def twin_of(sync: type) -> Callable[[C], C]:
    """Class decorator for an async twin of ``sync``: documents its undocumented methods.

    Example:
        >>> class Clock:
        ...     def now(self) -> float:
        ...         '''The server's time, in seconds.'''
        >>> @twin_of(Clock)
        ... class AsyncClock:
        ...     async def now(self) -> float: ...
        >>> print(AsyncClock.now.__doc__)
        The server's time, in seconds.
        <BLANKLINE>
        The async twin of :meth:`Clock.now`: the same arguments, awaited.
    """

    def document(cls: C) -> C:
        for name, member in vars(cls).items():
            if name.startswith("_") or member.__doc__:
                continue
            if not (inspect.iscoroutinefunction(member) or iterated(member)):
                continue
            told = inspect.getdoc(getattr(sync, name, None))
            if told:
                summary = told.split("\n\n", 1)[0]
                used = "iterated with async for" if iterated(member) else "awaited"
                member.__doc__ = (
                    f"{summary}\n\nThe async twin of :meth:`{sync.__name__}.{name}`: the same "
                    f"arguments, {used}."
                )
        return cls

    return document


def iterated(member: object) -> bool:
    """Whether ``member`` is used with ``async for``: an async generator, or a plain
    function that returns an async iterator (an ``iter_*`` built on a page walker)."""
    if inspect.isasyncgenfunction(member):
        return True
    return inspect.isfunction(member) and "AsyncIterator" in str(
        member.__annotations__.get("return", "")
    )
