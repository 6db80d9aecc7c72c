"""The public API's rules, checked over every class: twins alike, async documented."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import re

import pytest

import redis_memory
from redis_memory._deprecation import MISSING
from redis_memory._twins import iterated

_SKIP = ("redis_memory.dashboard", "redis_memory.cli", "redis_memory._cli")
FRAMEWORK_PACKAGES = ("langchain_redis_memory", "llama_index_redis_memory")


def _public_modules() -> list[object]:
    names = [
        info.name
        for info in pkgutil.walk_packages(redis_memory.__path__, "redis_memory.")
        if not any(part.startswith("_") for part in info.name.split("."))
        and not info.name.startswith(_SKIP)
    ]
    return [importlib.import_module(name) for name in sorted(names)]


def _all_public_modules() -> list[object]:
    """The public modules of redis_memory and of the framework packages."""
    modules = list(_public_modules())
    for package_name in FRAMEWORK_PACKAGES:
        package = importlib.import_module(package_name)
        modules += [
            importlib.import_module(info.name)
            for info in pkgutil.walk_packages(package.__path__, f"{package_name}.")
            if not any(part.startswith("_") for part in info.name.split("."))
        ]
    return modules


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
        if (inspect.iscoroutinefunction(member) or iterated(member)) and not inspect.getdoc(member)
    ]
    assert bare == []


def _framework_classes() -> list[type]:
    found = {}
    for package_name in FRAMEWORK_PACKAGES:
        package = importlib.import_module(package_name)
        for info in pkgutil.walk_packages(package.__path__, f"{package_name}."):
            if any(part.startswith("_") for part in info.name.split(".")):
                continue
            for name, value in vars(importlib.import_module(info.name)).items():
                if (
                    not name.startswith("_")
                    and inspect.isclass(value)
                    and value.__module__.startswith(package_name)
                ):
                    found[value.__qualname__] = value
    return [found[name] for name in sorted(found)]


def _method_pairs() -> list[tuple[type, str]]:
    """Each framework class's own ``aX`` methods that have an ``X`` twin on the class."""
    return [
        (cls, name)
        for cls in _framework_classes()
        for name in sorted(vars(cls))
        if name.startswith("a")
        and inspect.isfunction(getattr(cls, name, None))
        and inspect.isfunction(getattr(cls, name[1:], None))
    ]


METHOD_PAIRS = _method_pairs()


@pytest.mark.parametrize(
    ("cls", "name"), METHOD_PAIRS, ids=[f"{c.__name__}.{n}" for c, n in METHOD_PAIRS]
)
def test_a_framework_class_takes_the_same_arguments_sync_and_async(cls, name):
    # LangChain, LangGraph and LlamaIndex put both faces on one class (get / aget).
    assert _shape(getattr(cls, name[1:])) == _shape(getattr(cls, name))
    assert inspect.getdoc(getattr(cls, name)), f"{cls.__name__}.{name} has no docstring"


def test_the_framework_pairs_are_found():
    names = {f"{cls.__name__}.{name}" for cls, name in METHOD_PAIRS}
    assert {
        "RedisChatMessageHistory.aget_messages",
        "RedisSaver.aget_tuple",
        "RedisCache.alookup",
    } <= names


# -- one meaning per parameter name -----------------------------------------------------

# A lifetime with a default of its own: no kind of data in the TTL policy has it.
OWN_DEFAULT_TTL = {"Presence", "AsyncPresence"}  # an agent's heartbeat, 15 s

# Parameters whose name and meaning a framework's own interface fixes, not ours.
FRAMEWORK_DEFINED = {
    # LangGraph's BaseStore: a TTLConfig dict, in minutes.
    ("RedisLongTermStore", "ttl"),
}


def _callables() -> list[tuple[str, object, str]]:
    """Every public function, constructor and method: (its name, it, its docs)."""
    found = {}
    for module in _all_public_modules():
        for name, value in vars(module).items():
            if name.startswith("_") or not getattr(value, "__module__", "").startswith(
                ("redis_memory", *FRAMEWORK_PACKAGES)
            ):
                continue
            if inspect.isfunction(value):
                found[f"{name}"] = (value, inspect.getdoc(value) or "")
            elif inspect.isclass(value):
                # An async twin's arguments are documented once, on the sync class.
                twin = getattr(module, name.removeprefix("Async"), value)
                class_doc = _doc(value) + "\n" + _doc(twin)
                found[f"{name}"] = (value, class_doc)
                for method_name, method in _methods(value).items():
                    if inspect.isfunction(method):
                        doc = _doc(method) + "\n" + _doc(getattr(twin, method_name, None))
                        found[f"{name}.{method_name}"] = (method, doc + "\n" + class_doc)
    return [(name, thing, doc) for name, (thing, doc) in sorted(found.items())]


def _doc(thing: object) -> str:
    return (inspect.getdoc(thing) or "") if thing is not None else ""


def _parameters(name: str) -> list[tuple[str, inspect.Parameter, str]]:
    found = []
    for qualname, thing, doc in _callables():
        try:
            signature = inspect.signature(thing)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            continue
        parameter = signature.parameters.get(name)
        owner = qualname.split(".")[0]
        if parameter is not None and (owner, name) not in FRAMEWORK_DEFINED:
            found.append((qualname, parameter, doc))
    return found


def test_a_ttl_left_out_is_the_policy_default():
    """``ttl`` left out means the policy's default everywhere; None is never the default
    (None means "never expires", or is on its way there with a warning)."""
    ttls = _parameters("ttl")
    assert len(ttls) > 20
    wrong = [
        f"{qualname}(ttl={parameter.default!r})"
        for qualname, parameter, _ in ttls
        if parameter.default is None
        or (
            parameter.default is not inspect.Parameter.empty
            and parameter.default not in ("policy", "same")
            and qualname != "RedisMemoryConfig"  # the policy itself
            and qualname.split(".")[0] not in OWN_DEFAULT_TTL
        )
    ]
    assert wrong == []


def test_a_timeout_is_how_long_a_call_may_wait():
    """``timeout`` is a bound on a wait, never a lifetime (``ttl``) nor a quiet period
    (``idle_timeout``); each says so where it is documented."""
    timeouts = _parameters("timeout")
    assert len(timeouts) >= 5
    undocumented = []
    for qualname, parameter, doc in timeouts:
        if parameter.default is MISSING:
            assert "deprecated" in doc.lower(), qualname
            continue
        lines = doc.splitlines()
        said = [
            " ".join(lines[at : at + 2])
            for at, line in enumerate(lines)
            if re.search(r"(?<![_\w])timeout\b", line)
        ]
        if not any("wait" in text for text in said):
            undocumented.append(qualname)
    assert undocumented == []


def test_deprecated_names_are_only_accepted_not_advertised():
    """A parameter kept for an old name defaults to MISSING and its docs say deprecated."""
    kept = [
        (qualname, parameter.name, doc)
        for qualname, thing, doc in _callables()
        if (signature := _signature(thing)) is not None
        for parameter in signature.parameters.values()
        if parameter.default is MISSING
    ]
    assert kept, "the deprecated names (DistributedLock(timeout=), EventBus(audit_maxlen=))"
    unsaid = [
        f"{qualname}({name}=)"
        for qualname, name, doc in kept
        if "deprecated"
        not in " ".join(
            line for line in doc.splitlines() if line.strip().startswith(f"{name}:")
        ).lower()
    ]
    assert unsaid == []


def _signature(thing: object) -> inspect.Signature | None:
    try:
        return inspect.signature(thing)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


# -- every public name documented -------------------------------------------------------


def test_every_public_name_says_what_it_is():
    """Each public function and class, and each public method and property a class
    defines itself, has a docstring (one inherited from a base's method counts)."""
    missing = []
    for module in _all_public_modules():
        for name, value in sorted(vars(module).items()):
            if name.startswith("_") or getattr(value, "__module__", None) != module.__name__:
                continue
            if not (inspect.isfunction(value) or inspect.isclass(value)):
                continue
            if not inspect.getdoc(value):
                missing.append(f"{module.__name__}.{name}")
            if not inspect.isclass(value):
                continue
            for member_name, member in sorted(vars(value).items()):
                if member_name.startswith("_"):
                    continue
                if isinstance(member, (staticmethod, classmethod)):
                    member = member.__func__
                if not (inspect.isfunction(member) or isinstance(member, property)):
                    continue
                if not inspect.getdoc(getattr(value, member_name)):
                    missing.append(f"{module.__name__}.{name}.{member_name}")
    assert missing == [], "no docstring:\n" + "\n".join(missing)
