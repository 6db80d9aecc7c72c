"""Shared by the engines: argument checks (one clear error for one kind of mistake), and text."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from .keys import escape_id


def whole(
    name: str,
    value: Any,
    minimum: int,
    *,
    maximum: int | None = None,
    error: type[Exception] = ValueError,
    type_error: type[Exception] | None = None,
) -> int:
    """``value`` if it is an int (not a bool) from ``minimum`` (to ``maximum``), else ``error``.

    A value that is not an int raises ``type_error`` when given (a site whose
    callers expect a TypeError for the wrong type), else ``error`` too.
    """
    return _whole(name, value, minimum, maximum, error, type_error, False)


def whole_or_none(
    name: str,
    value: Any,
    minimum: int,
    *,
    maximum: int | None = None,
    error: type[Exception] = ValueError,
    type_error: type[Exception] | None = None,
) -> int | None:
    """:func:`whole`, with None (no limit) returned as None."""
    if value is None:
        return None
    return _whole(name, value, minimum, maximum, error, type_error, True)


def _whole(
    name: str,
    value: Any,
    minimum: int,
    maximum: int | None,
    error: type[Exception],
    type_error: type[Exception] | None,
    or_none: bool,
) -> int:
    """What :func:`whole` and :func:`whole_or_none` check (a None here is refused)."""
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and minimum <= value and (maximum is None or value <= maximum):
        return value
    expected = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"
    raise (error if is_int or type_error is None else type_error)(
        f"{name} must be a whole number {expected}{' or None' if or_none else ''}, got {value!r}"
    )


def text(value: Any) -> str:
    """A reply as text: bytes decoded as UTF-8 (never failing), anything else ``str()``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def checked_name(value: Any, what: str) -> str:
    """``value`` as given, once it is a name a key can hold (a str, not empty, <= 512 bytes).

    The error names the argument as ``what`` ("owner", "lock name").
    """
    escape_id(value, what=what)
    return value


def seconds(
    name: str,
    value: Any,
    *,
    allow_zero: bool = False,
    maximum: float | None = None,
    timedelta_ok: bool = False,
    unit: str = "seconds",
    error: type[Exception] = ValueError,
    type_error: type[Exception] | None = None,
) -> float:
    """A duration: a real number (not a bool), or a timedelta if ``timedelta_ok``, as a float.

    It must be more than 0 (or 0 with ``allow_zero``), finite and at most
    ``maximum`` (``maximum=math.inf`` lets infinity through). A value of the
    wrong type raises ``type_error`` when given, else ``error``; one out of
    range raises ``error``. ``unit`` is what the number counts, for the message
    ("minutes", "tokens"); a timedelta is always read as seconds.
    """
    return _amount(name, value, allow_zero, maximum, timedelta_ok, unit, error, type_error, False)


def seconds_or_none(
    name: str,
    value: Any,
    *,
    allow_zero: bool = False,
    maximum: float | None = None,
    timedelta_ok: bool = False,
    unit: str = "seconds",
    error: type[Exception] = ValueError,
    type_error: type[Exception] | None = None,
) -> float | None:
    """:func:`seconds`, with None (no limit, wait forever) returned as None."""
    if value is None:
        return None
    return _amount(name, value, allow_zero, maximum, timedelta_ok, unit, error, type_error, True)


def milliseconds(
    name: str,
    value: Any,
    *,
    allow_zero: bool = False,
    maximum: float | None = None,
    error: type[Exception] = ValueError,
    type_error: type[Exception] | None = None,
) -> int:
    """:func:`seconds` (a timedelta too) as whole milliseconds; at least 1 unless ``allow_zero``."""
    checked = seconds(
        name,
        value,
        allow_zero=allow_zero,
        maximum=maximum,
        timedelta_ok=True,
        error=error,
        type_error=type_error,
    )
    rounded = round(checked * 1000)
    return rounded if allow_zero else max(1, rounded)


_YEAR = 365 * 24 * 60 * 60


def _amount(
    name: str,
    value: Any,
    allow_zero: bool,
    maximum: float | None,
    timedelta_ok: bool,
    unit: str,
    error: type[Exception],
    type_error: type[Exception] | None,
    or_none: bool,
) -> float:
    """What :func:`seconds` and :func:`seconds_or_none` check (a None here is refused)."""
    is_delta = timedelta_ok and isinstance(value, timedelta)
    is_number = is_delta or (isinstance(value, numbers.Real) and not isinstance(value, bool))
    if is_number:
        try:
            number = value.total_seconds() if is_delta else float(value)
        except OverflowError:  # an int or a Fraction past the largest float
            number = math.inf
        in_range = number > 0 or (allow_zero and number == 0)  # both false for NaN
        if in_range and (number <= maximum if maximum is not None else math.isfinite(number)):
            return number
    kind = "non-negative" if allow_zero else "positive"
    expected = f"a {kind} number of {unit}" + (" or a timedelta" if timedelta_ok else "")
    if maximum is not None and maximum != math.inf:
        most = (
            f"{maximum // _YEAR:g} years"
            if unit == "seconds" and maximum >= _YEAR and maximum % _YEAR == 0
            else f"{maximum:g} {unit}"
        )
        expected += f" (at most {most})"
    if or_none:
        expected += " or None"
    raise (error if is_number or type_error is None else type_error)(
        f"{name} must be {expected}, got {value!r}"
    )


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
