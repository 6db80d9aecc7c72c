"""The one path by which a public name or meaning changes: a warning, then the change.

A renamed parameter keeps working under its old name for a release, with a
``DeprecationWarning`` that names the call, the old name and the new one. Both
names at once are an error, since one of the two values would be lost.
"""

from __future__ import annotations

import warnings
from typing import Any

MISSING: Any = object()


def renamed(where: str, old: str, old_value: Any, new: str, new_value: Any) -> Any:
    """The value of parameter ``new``, taking it from ``old`` (deprecated) when that was given.

    ``MISSING`` marks a parameter the caller did not pass.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     renamed("Lock()", "timeout", 30, "ttl", MISSING)
        30
        >>> print(caught[0].message)
        Lock(): timeout= is deprecated; pass ttl= instead (same meaning)
    """
    if old_value is MISSING:
        return new_value
    if new_value is not MISSING:
        raise TypeError(f"{where}: pass {new}= only ({old}= is its deprecated old name)")
    warnings.warn(
        f"{where}: {old}= is deprecated; pass {new}= instead (same meaning)",
        DeprecationWarning,
        stacklevel=3,
    )
    return old_value


def meaning_changes(where: str, what: str) -> None:
    """Warn that a value's meaning will change, saying what to write instead."""
    warnings.warn(f"{where}: {what}", DeprecationWarning, stacklevel=3)
