"""Walking ``SCAN``-style pages: every item once, although pages may repeat items.

A page function takes a cursor and returns ``(next_cursor, items)``; 0 as the next
cursor means done. ``SCAN`` may return a key twice (and several keys may name one
session or user), so the walkers keep what they gave out and skip repeats. The
sync and async walkers are twins; :func:`scan_page` is the plan of one page of keys.
"""

from __future__ import annotations

from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Generator,
    Hashable,
    Iterable,
    Iterator,
)
from typing import Any, TypeVar

from ._plan import Plan

T = TypeVar("T")


def scan_page(
    doing: str, pattern: str, cursor: int, count: int, *, of_type: str | None = None
) -> Plan[tuple[int, list[Any]]]:
    """The plan of one ``SCAN`` page over ``pattern``: ``(next_cursor, keys as sent)``.

    ``of_type`` keeps keys of one Redis type (``SCAN ... TYPE``). ``doing`` names the
    work in an error, as every plan's does.
    """
    command: tuple[Any, ...] = ("SCAN", cursor, "MATCH", pattern, "COUNT", count)
    if of_type is not None:
        command += ("TYPE", of_type)
    return Plan(doing, pattern, lambda replies: (int(replies[0][0]), replies[0][1]), [command])


def _identity(item: T) -> Hashable:
    return item  # type: ignore[return-value]


def each_once(
    page: Callable[[int], tuple[int, Iterable[T]]],
    key: Callable[[T], Hashable] = _identity,
) -> Iterator[T]:
    """Every item of every page, from cursor 0 until the cursor is 0 again, each once."""
    seen: set[Hashable] = set()
    cursor = 0
    while True:
        cursor, items = page(cursor)
        for item in items:
            name = key(item)
            if name not in seen:
                seen.add(name)
                yield item
        if cursor == 0:
            return


async def each_once_async(
    page: Callable[[int], Awaitable[tuple[int, Iterable[T]]]],
    key: Callable[[T], Hashable] = _identity,
) -> AsyncIterator[T]:
    """The twin of :func:`each_once` for an async page function."""
    seen: set[Hashable] = set()
    cursor = 0
    while True:
        cursor, items = await page(cursor)
        for item in items:
            name = key(item)
            if name not in seen:
                seen.add(name)
                yield item
        if cursor == 0:
            return


def every_page(
    page: Callable[[int], Any],
    visit: Callable[[list[T]], Generator[Any, Any, None] | None],
) -> Generator[Any, Any, None]:
    """A flow over a ``SCAN``-style walk: yields each page's plan, then visits its items.

    ``page(cursor)`` builds the plan of one page, whose result is
    ``(next_cursor, items)``; ``visit(items)`` sees each page that has items and
    may itself be a flow (its plans are yielded in turn), e.g. to read or delete
    what the page named.
    """
    cursor = 0
    while True:
        cursor, items = yield page(cursor)
        if items:
            visiting = visit(items)
            if visiting is not None:
                yield from visiting
        if cursor == 0:
            return
