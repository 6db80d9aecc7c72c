"""Shared by the engines: argument checks (one clear error for one kind of mistake), and text."""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .keys import escape_id


def whole(name: str, value: Any, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def text(value: Any) -> str:
    """A reply as text: bytes decoded as UTF-8 (never failing), anything else ``str()``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def checked_name(value: Any, what: str) -> str:
    """``value`` as given, once it is a name a key can hold (a str, not empty, <= 512 bytes).

    The error names the argument as ``what`` ("owner", "lock name").
    """
    escape_id(value, what=what)
    return value


def seconds_or_none(name: str, value: Any, *, allow_zero: bool) -> float | None:
    """A duration in seconds (a finite int or float, not a bool) as a float; None stays None."""
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
        or (value == 0 and not allow_zero)
    ):
        kind = "non-negative" if allow_zero else "positive"
        raise ValueError(f"{name} must be a {kind} number of seconds or None, got {value!r}")
    return float(value)


def decoded(value: Any) -> str:
    """A reply as text, strictly: bytes that are not UTF-8 raise ``UnicodeDecodeError``.

    For names the package wrote itself (keys, fields), where text that does not
    decode is someone else's data, not a name to show with replacement characters.
    """
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)


def distinct_names(values: Iterable[str], what: str) -> list[str]:
    """Distinct names in their first order, each checked; one str is refused (not a list)."""
    if isinstance(values, str | bytes):
        raise TypeError(f"{what}s must be a list of names, not a single str: [{values!r}]")
    names = list(values)
    for name in names:
        escape_id(name, what=what)
    return list(dict.fromkeys(names))
