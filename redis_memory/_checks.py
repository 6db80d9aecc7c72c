"""Shared by the engines: argument checks (one clear error for one kind of mistake), and text."""

from __future__ import annotations

from typing import Any


def whole(name: str, value: Any, minimum: int) -> int:
    """``value`` if it is an int (not a bool) of at least ``minimum``, else a ValueError."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be a whole number >= {minimum}, got {value!r}")
    return value


def text(value: Any) -> str:
    """A reply as text: bytes decoded as UTF-8 (never failing), anything else ``str()``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def decoded(value: Any) -> str:
    """A reply as text, strictly: bytes that are not UTF-8 raise ``UnicodeDecodeError``.

    For names the package wrote itself (keys, fields), where text that does not
    decode is someone else's data, not a name to show with replacement characters.
    """
    return value.decode("utf-8") if isinstance(value, bytes) else str(value)
