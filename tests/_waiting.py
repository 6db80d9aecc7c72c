"""Waiting in tests for what happens on its own (an expiry, an event): bounded by attempts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T],
    *,
    attempts: int = 2000,
    pause: float = 0.005,
    what: str = "the condition",
) -> T:
    """Poll until ``condition()`` returns something truthy, and return it.

    Bounded by attempts, not by a clock, so that a loaded machine waits longer
    instead of failing: the test fails only if it never happens, naming ``what``
    it waited for and the last value ``condition()`` returned.
    """
    result: Any = None
    for _ in range(attempts):
        result = condition()
        if result:
            return result
        time.sleep(pause)
    pytest.fail(_gave_up(what, result, attempts, pause))


async def wait_until_async(
    condition: Callable[[], Awaitable[T]],
    *,
    attempts: int = 2000,
    pause: float = 0.005,
    what: str = "the condition",
) -> T:
    """:func:`wait_until` for an async ``condition``, sleeping without blocking the loop."""
    result: Any = None
    for _ in range(attempts):
        result = await condition()
        if result:
            return result
        await asyncio.sleep(pause)
    pytest.fail(_gave_up(what, result, attempts, pause))


def _gave_up(what: str, last: object, attempts: int, pause: float) -> str:
    seen = repr(last)
    if len(seen) > 500:
        seen = seen[:500] + "..."
    return f"gave up waiting for {what}: still {seen} after {attempts} attempts {pause:g} s apart"
