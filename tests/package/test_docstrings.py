"""Every docstring example of the public packages runs, against the test Redis.

One test per module (its id is the module's name) runs all of that module's
examples with ``ELLIPSIS | NORMALIZE_WHITESPACE``. The examples are written as a
reader would type them: no URL, no key prefix. The test points the environment
at the test server (``REDIS_MEMORY_URL``, read whenever no URL is given) and
gives each module a fresh key prefix (``REDIS_MEMORY_PREFIX``, read by
``RedisMemoryConfig.from_env``, the default config of every class), so modules
never see each other's data; the ``prefix`` fixture removes its keys after.

A module whose import needs an optional extra that is not installed is skipped.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import pkgutil
from types import ModuleType

import pytest
from _examples import code_blocks, run_example

from redis_memory.config import ENV_FALLBACK_URL, ENV_PREFIX, ENV_URL

PACKAGES = ("redis_memory", "langchain_redis_memory", "llama_index_redis_memory")
OPTIONS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE

# Run by their own tests already (with the same flags' intent); not repeated here.
RUN_ELSEWHERE = {
    "redis_memory.serialization": "tests/operations/test_limits.py",
    "redis_memory.verifier": "tests/cache/test_verifier.py",
    "llama_index_redis_memory.cached_llm": "tests/cache/test_llama_index_cache.py",
    "llama_index_redis_memory.embeddings": "tests/cache/test_llama_index_cache.py",
    "llama_index_redis_memory.chat_store": "tests/history/test_llama_index_history.py",
}

# Examples that start their own servers and use no test Redis: the cluster pass
# would only repeat them.
OWN_SERVERS = {"redis_memory.embedded"}

# Examples that need the Search module, which an OSS Redis Cluster lacks.
NEEDS_SEARCH = {"redis_memory.memory", "redis_memory.server"}


def _module_names() -> list[str]:
    names = []
    for package_name in PACKAGES:
        names.append(package_name)
        try:
            package = importlib.import_module(package_name)
        except Exception:  # a missing extra, or a broken package: its own test says which
            continue
        prefix = f"{package_name}."
        names += [info.name for info in pkgutil.walk_packages(package.__path__, prefix)]
    return names


def _import(name: str) -> ModuleType | None:
    """The module, or None when it needs an optional extra that is not installed."""
    try:
        return importlib.import_module(name)
    except ModuleNotFoundError as exc:
        if "pip install" in str(exc):  # redis_memory._extras.require_extra's message
            return None
        raise


def _doctests(module: ModuleType) -> list[doctest.DocTest]:
    tests = doctest.DocTestFinder().find(module, module.__name__)
    return sorted((test for test in tests if test.examples), key=lambda test: test.name)


def _params() -> list[pytest.param]:
    params = []
    for name in _module_names():
        if name in RUN_ELSEWHERE:
            continue
        try:
            module = _import(name)
        except Exception:  # a broken module fails its own test, not the collection
            module = None
        if module is not None and not _doctests(module):
            continue
        marks = [pytest.mark.search] if name in NEEDS_SEARCH else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


@pytest.fixture
def examples_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, prefix: str) -> None:
    """No URL in an example means the test server; each module's keys under its own prefix."""
    monkeypatch.setenv(ENV_URL, redis_url)
    monkeypatch.delenv(ENV_FALLBACK_URL, raising=False)
    monkeypatch.setenv(ENV_PREFIX, prefix)


@pytest.mark.parametrize("module_name", _params())
def test_docstring_examples(
    module_name: str, examples_env: None, request: pytest.FixtureRequest
) -> None:
    if module_name in OWN_SERVERS and request.config.getoption("--redis-cluster"):
        pytest.skip("starts its own servers: the same as on the first pass")
    module = _import(module_name)
    if module is None:
        pytest.skip(f"{module_name} needs an optional extra that is not installed")
    out: list[str] = []
    runner = doctest.DocTestRunner(optionflags=OPTIONS)
    for test in _doctests(module):
        runner.run(test, out=out.append)
    assert runner.tries
    if runner.failures:
        pytest.fail(
            f"{runner.failures} of {runner.tries} examples failed in {module_name}:\n"
            + "".join(out),
            pytrace=False,
        )


def test_every_module_with_examples_is_run() -> None:
    """The modules left out above still have examples (or the list is stale)."""
    for name in RUN_ELSEWHERE:
        module = _import(name)
        assert module is None or _doctests(module), f"{name} has no examples any more"


def test_no_example_is_skipped() -> None:
    """Issue 19: an example that never runs is one nobody checks."""
    skipped = [
        f"{test.name}: {example.source.strip()}"
        for name in _module_names()
        if (module := _import(name)) is not None
        for test in _doctests(module)
        for example in test.examples
        if example.options.get(doctest.SKIP)
    ]
    assert skipped == []


def test_every_class_example_is_collected() -> None:
    """A class whose ``__module__`` names another module is found there, not lost."""
    modules = [m for name in _module_names() if (m := _import(name)) is not None]
    found = {test.name for module in modules for test in _doctests(module)}
    lost = [
        f"{value.__module__}.{value.__qualname__}"
        for module in modules
        for value in vars(module).values()
        if isinstance(value, type)
        and value.__module__.split(".")[0] in PACKAGES
        and ">>>" in (value.__doc__ or "")
        and f"{value.__module__}.{value.__qualname__}" not in found
    ]
    assert lost == []


# -- the ``.. code-block:: python`` examples ------------------------------------------
# Examples a doctest cannot hold (a server, a graph, a framework's own objects) are
# code blocks: each runs as a script, in a fresh interpreter, as a reader would run it.


def _documented(module: ModuleType) -> list[tuple[str, object]]:
    """The module, and its classes, functions and methods defined under its name."""
    found: list[tuple[str, object]] = [("", module)]
    for name, value in vars(module).items():
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(value):
            found.append((name, value))
            found += [
                (f"{name}.{attr}", member)
                for attr, member in vars(value).items()
                if inspect.isfunction(member)
            ]
        elif inspect.isfunction(value):
            found.append((name, value))
    return found


def _block_params() -> list[pytest.param]:
    params = []
    for module_name in _module_names():
        try:
            module = _import(module_name)
        except Exception:  # a broken module fails its own test
            continue
        if module is None:
            continue
        for qualname, documented in _documented(module):
            for number, block in enumerate(code_blocks(documented.__doc__), 1):
                where = f"{module_name}:{qualname or '<module>'}#{number}"
                params.append(pytest.param(block, id=where))
    return params


@pytest.mark.standalone_only  # each starts its own embedded server
@pytest.mark.parametrize("block", _block_params())
def test_code_block_examples(block: str) -> None:
    run_example(block)
