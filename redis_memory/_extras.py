"""Naming the ``pip install`` line when an optional framework is missing."""

from __future__ import annotations

import importlib


def require_extra(module: str, extra: str, what: str) -> None:
    """Import ``module``, or raise ModuleNotFoundError saying which extra provides it.

    Only a missing ``module`` (or one of its submodules) is translated: any other
    import error inside it is the user's to see as it is.
    """
    try:
        importlib.import_module(module)
    except ModuleNotFoundError as exc:
        top = module.split(".")[0]
        if exc.name is None or not (exc.name == top or exc.name.startswith(top + ".")):
            raise
        raise ModuleNotFoundError(
            f"{what}: pip install 'redis-memory-backend[{extra}]'", name=exc.name
        ) from exc
