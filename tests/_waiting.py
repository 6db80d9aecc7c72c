"""Waiting in tests for what happens on its own (an expiry, an event): bounded by attempts."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import pytest

T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, attempts: int = 2000, pause: float = 0.005) -> T:
    """Poll until ``condition()`` returns something truthy, and return it.

    Bounded by attempts, not by a clock, so that a loaded machine waits longer
    instead of failing: the test fails only if it never happens.
    """
    for _ in range(attempts):
        result = condition()
        if result:
            return result
        time.sleep(pause)
    pytest.fail("the condition never became true")


async def wait_until_async(
    condition: Callable[[], Awaitable[T]], *, attempts: int = 2000, pause: float = 0.005
) -> T:
    """:func:`wait_until` for an async ``condition``, sleeping without blocking the loop."""
    for _ in range(attempts):
        result = await condition()
        if result:
            return result
        await asyncio.sleep(pause)
    pytest.fail("the condition never became true")
