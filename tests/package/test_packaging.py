"""What a user gets from the distribution: the exports, the extras' import errors, the wheel."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import subprocess
import sys
import zipfile

import pytest
from _paths import ROOT

import redis_memory
from redis_memory import errors


def _public_classes() -> dict[str, type]:
    """Every public class defined in a public module of redis_memory, by name."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(redis_memory.__path__):
        if info.name.startswith("_") or info.name == "cli":
            continue
        module = importlib.import_module(f"redis_memory.{info.name}")
        for name, value in vars(module).items():
            public = not name.startswith("_")
            if public and inspect.isclass(value) and value.__module__ == module.__name__:
                found[name] = value
    return found


def test_every_engine_and_its_async_twin_is_exported_from_redis_memory():
    classes = _public_classes()
    # An engine is a class with an async twin (MessageLog / AsyncMessageLog...).
    engines = {name for name in classes if f"Async{name}" in classes}
    assert {"MessageLog", "ResponseCache", "StateStore", "MemoryStore", "CheckpointLog"} <= engines
    assert {"WorkQueue", "RateLimit", "EventBus", "AuditLog", "Claims", "Findings"} <= engines
    wanted = engines | {f"Async{name}" for name in engines}
    wanted |= {name for name, cls in classes.items() if cls.__module__ == errors.__name__}
    missing = sorted(name for name in wanted if name not in redis_memory.__all__)
    assert not missing, f"not exported from redis_memory: {missing}"
    for name in wanted:
        assert getattr(redis_memory, name) is classes[name], name
    assert wanted <= set(dir(redis_memory))


def test_import_redis_memory_stays_cheap_and_loads_engines_on_first_use():
    code = (
        "import sys\n"
        "import redis_memory\n"
        "heavy = ['numpy', 'redisvl', 'redis_memory.history', 'redis_memory.cache',\n"
        "         'redis_memory.memory', 'redis_memory.checkpoints', 'redis_memory.embedded']\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
        "from redis_memory import AsyncMessageLog, MessageLog, WorkQueue, CheckpointLog\n"
        "import redis_memory.history as history\n"
        "print(MessageLog is history.MessageLog, 'redis_memory.checkpoints' in sys.modules)\n"
        "from redis_memory import *\n"
        "print(MemoryStore.__module__)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.splitlines() == ["[]", "True True", "redis_memory.memory"]


# Blocked in sys.modules, as if the extra were not installed.
MISSING_EXTRAS = [
    ("langchain_core", "langchain_redis_memory", "langchain"),
    ("llama_index.core", "llama_index_redis_memory", "llama-index"),
    ("langgraph", "langchain_redis_memory.checkpoint", "langgraph"),
    ("langgraph", "langchain_redis_memory.long_term", "langgraph"),
]


@pytest.mark.parametrize(("blocked", "package", "extra"), MISSING_EXTRAS)
def test_a_missing_extra_is_an_import_error_naming_the_pip_line(blocked, package, extra):
    code = (
        f"import sys; sys.modules[{blocked!r}] = None\n"
        "try:\n"
        f"    import {package}\n"
        "except ImportError as exc:\n"
        "    print(type(exc).__name__, exc.name)\n"
        "    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    kind, message = done.stdout.splitlines()
    assert kind == f"ModuleNotFoundError {blocked}"
    assert message.startswith(f"{package} needs ")
    assert message.endswith(f"pip install 'redis-memory-backend[{extra}]'")


def test_the_wheel_ships_the_mit_license(tmp_path):
    license_text = (ROOT / "LICENSE").read_text()
    assert license_text.startswith("MIT License\n\nCopyright (c) the redis-memory-backend authors")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=110,
    )
    assert done.returncode == 0, done.stderr
    [wheel] = tmp_path.glob("redis_memory_backend-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        [shipped] = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
        assert archive.read(shipped).decode() == license_text
        [metadata] = [n for n in names if n.endswith(".dist-info/METADATA")]
        headers = archive.read(metadata).decode().split("\n\n", 1)[0].splitlines()
    assert "License-Expression: MIT" in headers
    assert "License-File: LICENSE" in headers
