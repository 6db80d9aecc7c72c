"""The public API's rules, checked over every class: twins alike, async documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

import redis_memory

_SKIP = ("redis_memory.dashboard", "redis_memory.cli", "redis_memory._cli")


def _public_modules() -> list[object]:
    names = [
        info.name
        for info in pkgutil.walk_packages(redis_memory.__path__, "redis_memory.")
        if not any(part.startswith("_") for part in info.name.split("."))
        and not info.name.startswith(_SKIP)
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def _twins() -> list[tuple[type, type]]:
    pairs = {}
    for module in _public_modules():
        for name, cls in vars(module).items():
            if not (name.startswith("Async") and inspect.isclass(cls)):
                continue
            sync = getattr(module, name[len("Async") :], None)
            if inspect.isclass(sync) and cls.__module__.startswith("redis_memory"):
                pairs[cls] = sync
    return sorted(((s, a) for a, s in pairs.items()), key=lambda pair: pair[1].__name__)


TWINS = _twins()


def _unasync(annotation: object) -> str:
    return str(annotation).replace("AsyncIterator", "Iterator").replace("Async", "")


def _shape(method: object) -> tuple[object, ...]:
    """A method's parameters and result type, the async words taken out."""
    signature = inspect.signature(method)  # type: ignore[arg-type]
    return (
        [
            (p.name, p.kind, p.default, _unasync(p.annotation))
            for p in signature.parameters.values()
        ],
        _unasync(signature.return_annotation),
    )


def _methods(cls: type) -> dict[str, object]:
    return {
        name: member
        for name, member in inspect.getmembers(cls)
        if not name.startswith("_")
        and (inspect.isfunction(member) or isinstance(inspect.getattr_static(cls, name), property))
    }


def test_every_engine_has_its_async_twin():
    names = {async_.__name__ for _, async_ in TWINS}
    assert {
        "AsyncMessageLog",
        "AsyncResponseCache",
        "AsyncStateStore",
        "AsyncMemoryStore",
        "AsyncEventBus",
        "AsyncRateLimit",
        "AsyncPriorityQueue",
        "AsyncPresence",
    } <= names


@pytest.mark.parametrize(("sync", "async_"), TWINS, ids=[a.__name__ for _, a in TWINS])
def test_twins_have_the_same_methods_and_signatures(sync, async_):
    ours, theirs = _methods(sync), _methods(async_)
    # Ways from one twin to the other; aclose, the name Python's async protocols call.
    extra = {"twin", "sync", "asyncio", "aclose"}
    assert set(ours) - extra == set(theirs) - extra
    for name in set(ours) & set(theirs):
        if isinstance(inspect.getattr_static(sync, name), property):
            continue
        assert _shape(ours[name]) == _shape(theirs[name]), name


@pytest.mark.parametrize(("sync", "async_"), TWINS, ids=[a.__name__ for _, a in TWINS])
def test_async_methods_say_what_they_do(sync, async_):
    bare = [
        name
        for name, member in _methods(async_).items()
        if inspect.iscoroutinefunction(member) and not inspect.getdoc(member)
    ]
    assert bare == []
