"""``redis-memory memories list|show|export|import``: long-term memory under version control.

``export DIR`` writes one file per memory,
``DIR/<label>/<label>/.../<key>.json``: each namespace label a folder and the key
the file's name, made filesystem-safe by percent-encoding (UTF-8, upper-case hex)
every character outside ``[A-Za-z0-9._-]``, plus a leading or trailing ``.``, the
first letter of a Windows device name (``CON``, ``NUL``...) and, in a folder, the
dot of a ``.json`` ending (so no folder is named like a file). Names stay ASCII,
and ``urllib.parse.unquote`` gives the label back; a name over 200 characters is
cut and ends in ``~`` and a digest of the whole (``~`` is never in another name),
the file keeping the full namespace and key. The content is the memory as JSON
with sorted keys and a 2-space indent::

    {"created_at": ..., "key": ..., "namespace": [...], "tags": [...],
     "updated_at": ..., "value": {...}}

A file is rewritten only when its content changes, so re-exporting unchanged
memories leaves every file as it was (a git diff shows real changes only);
``--prune`` deletes the files of memories that are gone: only ``*.json`` files
holding exactly these fields, at the place this command gives their memory.

``import DIR`` reads every ``*.json`` under DIR (names starting with ``.`` are
skipped), checks them all before the first write, and puts each memory whose
value or tags differ from the stored one: importing twice changes nothing. The
namespace, key, value and tags come from the file's content, not its place. The
created time of a memory already in Redis stays; a new one is created now, and
gets the store's default TTL (TTLs are not exported). The store is built with
``search=False`` (no index needed, any Redis or Cluster): the items' text is
indexed for every string of the value, as a store with ``text_fields=None``
does, and no vector is computed (a store with an embedder finds imported items
by text, not by meaning, until they are put again).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shlex
import string
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..memory import MemoryItem, MemoryStore
from . import CommandError, Progress, config_of, print_json, print_table, shorten, when

FIELDS = ("created_at", "key", "namespace", "tags", "updated_at", "value")
_REQUIRED = ("namespace", "key", "value")
_SAFE = frozenset(string.ascii_letters + string.digits + "._-")
_MAX_NAME = 200
_WINDOWS_DEVICES = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{d}{i}" for d in ("com", "lpt") for i in range(1, 10)]
)


# -- file names ----------------------------------------------------------------------


def _escape(char: str) -> str:
    return "".join(f"%{byte:02X}" for byte in char.encode("utf-8"))


def safe_name(text: str, *, folder: bool = False) -> str:
    """A label or key as one file or folder name (see the module's docstring)."""
    name = "".join(c if c in _SAFE else _escape(c) for c in text)
    if name.startswith("."):
        name = "%2E" + name[1:]
    if name.endswith("."):
        name = name[:-1] + "%2E"
    if name.split(".")[0].lower() in _WINDOWS_DEVICES:
        name = _escape(name[0]) + name[1:]
    if folder and name.lower().endswith(".json"):
        name = name[:-5] + "%2E" + name[-4:]
    if len(name) > _MAX_NAME:
        cut = name[:160]
        if "%" in cut[-2:]:
            cut = cut[: cut.rindex("%")]
        name = cut + "~" + hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
    return name


def relative_path(namespace: Sequence[str], key: str) -> Path:
    """Where ``export`` writes a memory, relative to its folder."""
    folders = [safe_name(label, folder=True) for label in namespace]
    return Path(*folders, safe_name(key) + ".json")


def _text(item: MemoryItem) -> str:
    record = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "tags": list(item.tags),
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    return json.dumps(record, sort_keys=True, indent=2, ensure_ascii=False) + "\n"


def _json_files(root: Path) -> Iterator[Path]:
    """Every ``*.json`` file under ``root``, sorted, skipping names that start with ``.``."""
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(".json") and not name.startswith("."):
                yield Path(folder, name)


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


# -- the store -----------------------------------------------------------------------


def _store(args: argparse.Namespace) -> MemoryStore:
    return MemoryStore(args.store, config=config_of(args), search=False)


def _where(store: MemoryStore) -> str:
    return f"store {store.name!r} under prefix {store.config.prefix!r}"


def _record(item: MemoryItem) -> dict[str, Any]:
    return json.loads(_text(item))


# -- list, show ----------------------------------------------------------------------


def _list(args: argparse.Namespace) -> int:
    store = _store(args)
    prefix = tuple(args.namespace_prefix)
    counts: dict[tuple[str, ...], list[Any]] = {}
    for item in store.iter_items(prefix):
        if item.namespace[: len(prefix)] != prefix:
            continue
        row = counts.setdefault(item.namespace, [0, item.updated_at])
        row[0] += 1
        row[1] = max(row[1], item.updated_at)
    rows = [
        {"namespace": list(ns), "memories": n, "updated": updated}
        for ns, (n, updated) in sorted(counts.items())
    ]
    if args.json:
        print_json(rows)
        return 0
    if not rows:
        print(f"no memories in {_where(store)}")
        return 0
    print_table(
        ["namespace", "memories", "updated (UTC)"],
        [[shlex.join(r["namespace"]), r["memories"], when(r["updated"])] for r in rows],
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    store = _store(args)
    namespace = tuple(args.namespace)
    items = sorted(
        (item for item in store.iter_items(namespace) if item.namespace == namespace),
        key=lambda item: item.key,
    )
    if not items:
        raise CommandError(f"no memories in namespace {shlex.join(namespace)} of {_where(store)}")
    if args.json:
        print_json([_record(item) for item in items])
        return 0
    print_table(
        ["key", "tags", "updated (UTC)", "value"],
        [
            [
                item.key,
                ", ".join(item.tags),
                when(item.updated_at),
                shorten(json.dumps(item.value, ensure_ascii=False)),
            ]
            for item in items
        ],
    )
    return 0


# -- export --------------------------------------------------------------------------


def _write(path: Path, text: str) -> bool:
    """Write ``text`` unless the file already holds it; returns whether it was written."""
    try:
        if path.read_text(encoding="utf-8") == text:
            return False
    except (FileNotFoundError, UnicodeDecodeError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return True


def _written_by_export(path: Path, root: Path) -> bool:
    """Whether ``path`` is a file ``export`` would write: exactly its fields, at its place."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if not isinstance(data, dict) or sorted(data) != list(FIELDS):
        return False
    namespace, key = data["namespace"], data["key"]
    if not isinstance(key, str) or not key or not isinstance(namespace, list) or not namespace:
        return False
    if not all(isinstance(label, str) and label for label in namespace):
        return False
    return path.relative_to(root) == relative_path(namespace, key)


def _prune(root: Path, written: set[Path]) -> list[Path]:
    # Every file is checked before the first is deleted.
    stale = [
        path
        for path in _json_files(root)
        if path.relative_to(root) not in written and _written_by_export(path, root)
    ]
    for path in stale:
        path.unlink()
        folder = path.parent
        while folder != root:
            try:
                folder.rmdir()  # only when empty
            except OSError:
                break
            folder = folder.parent
    return stale


def _export(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    if root.exists() and not root.is_dir():
        raise CommandError(f"{root} is not a folder")
    store = _store(args)
    progress = Progress("exporting memories", args)
    written: set[Path] = set()
    changed = 0
    try:
        for done, item in enumerate(store.iter_items(), 1):
            path = relative_path(item.namespace, item.key)
            changed += _write(root / path, _text(item))
            written.add(path)
            progress(done)
        pruned = _prune(root, written) if args.prune else []
    except OSError as exc:
        where = f" {exc.filename}" if exc.filename else ""
        raise CommandError(f"cannot write{where}: {exc.strerror or exc}") from None
    finally:
        progress.close()
    summary = {
        "dir": str(root),
        "memories": len(written),
        "written": changed,
        "unchanged": len(written) - changed,
        "pruned": [str(path.relative_to(root)) for path in pruned],
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"exported {len(written)} memories of {_where(store)} to {root}: "
            f"{changed} written, {len(written) - changed} unchanged"
            + (f", {len(pruned)} pruned" if args.prune else "")
        )
    return 0


# -- import --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Memory:
    path: Path
    namespace: tuple[str, ...]
    key: str
    value: dict[str, Any]
    tags: tuple[str, ...]
    created_at: float | None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _problem(data: Any, store: MemoryStore) -> str | None:
    """What keeps ``data`` from being a memory file, or None."""
    if not isinstance(data, dict):
        return f"holds a {type(data).__name__}, not a JSON object"
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        return f"unknown field(s) {', '.join(map(repr, unknown))}; a memory has {', '.join(FIELDS)}"
    missing = [field for field in _REQUIRED if field not in data]
    if missing:
        return f"missing field(s) {', '.join(map(repr, missing))}"
    namespace, key, value = data["namespace"], data["key"], data["value"]
    tags = data.get("tags", [])
    if not isinstance(namespace, list) or not namespace:
        return f"namespace is a list of at least one label, not {namespace!r}"
    if not isinstance(value, dict):
        return f"value is a JSON object, not {type(value).__name__}"
    if not isinstance(tags, list) or not all(isinstance(t, str) and t for t in tags):
        return f"tags are a list of non-empty strings, not {tags!r}"
    for field in ("created_at", "updated_at"):
        moment = data.get(field)
        if moment is not None and (
            isinstance(moment, bool)
            or not isinstance(moment, int | float)
            or not math.isfinite(moment)
        ):
            return f"{field} is a number (seconds since 1970), not {moment!r}"
    try:
        store.key_of(namespace, key)
        store.config.checked_serializer.dumps(value)
    except (TypeError, ValueError) as exc:
        return str(exc)
    return None


def _read(root: Path, store: MemoryStore) -> list[_Memory]:
    """Every memory file under ``root``, all checked: a bad one stops the import."""
    if not root.is_dir():
        raise CommandError(f"{root} is not a folder; nothing was imported")
    memories: dict[tuple[tuple[str, ...], str], _Memory] = {}
    for path in _json_files(root):
        try:
            data = json.loads(path.read_text(encoding="utf-8"), parse_constant=_no_constant)
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror or exc}") from None
        except ValueError as exc:  # UnicodeDecodeError and JSONDecodeError among them
            raise CommandError(f"{path} is not JSON text ({exc}); nothing was imported") from None
        problem = _problem(data, store)
        if problem:
            raise CommandError(
                f"{path} is not a memory file: {problem}; nothing was imported"
            ) from None
        memory = _Memory(
            path,
            tuple(data["namespace"]),
            data["key"],
            data["value"],
            tuple(dict.fromkeys(data.get("tags", []))),
            data.get("created_at"),
        )
        other = memories.setdefault((memory.namespace, memory.key), memory)
        if other is not memory:
            raise CommandError(
                f"{path} and {other.path} hold the same memory (namespace "
                f"{memory.namespace!r}, key {memory.key!r}); nothing was imported"
            )
    return list(memories.values())


def _import(args: argparse.Namespace) -> int:
    root = Path(args.dir)
    store = _store(args)
    memories = _read(root, store)
    progress = Progress("importing memories", args, len(memories))
    new = updated = 0
    for done, memory in enumerate(memories, 1):
        stored = store.get(memory.namespace, memory.key, refresh=False)
        if (
            stored is None
            or stored.tags != memory.tags
            or _canonical(stored.value) != _canonical(memory.value)
            or (memory.created_at is not None and stored.created_at != memory.created_at)
        ):
            store.put(
                memory.namespace,
                memory.key,
                memory.value,
                tags=memory.tags,
                created_at=memory.created_at,
            )
            new += stored is None
            updated += stored is not None
        progress(done)
    progress.close()
    summary = {
        "dir": str(root),
        "files": len(memories),
        "changed": new + updated,
        "new": new,
        "updated": updated,
        "unchanged": len(memories) - new - updated,
    }
    if args.json:
        print_json(summary)
    else:
        print(
            f"imported {len(memories)} memories from {root} into {_where(store)}: "
            f"{new + updated} changed ({new} new, {updated} updated), "
            f"{summary['unchanged']} unchanged"
        )
    return 0


def register(commands: Any, common: argparse.ArgumentParser) -> None:
    memories = commands.add_parser(
        "memories", help="list, show, export, import long-term memories (MemoryStore)"
    )
    sub = memories.add_subparsers(dest="action", required=True, metavar="ACTION")
    store = argparse.ArgumentParser(add_help=False)
    store.add_argument("--store", default="default", help="the memory store's name (default)")
    parents = [common, store]

    listing = sub.add_parser("list", parents=parents, help="namespaces with their memory counts")
    listing.add_argument(
        "namespace_prefix", nargs="*", metavar="LABEL", help="only namespaces under these labels"
    )
    listing.set_defaults(run=_list)

    show = sub.add_parser("show", parents=parents, help="the memories of one namespace")
    show.add_argument("namespace", nargs="+", metavar="LABEL", help="e.g. users ana")
    show.set_defaults(run=_show)

    export = sub.add_parser("export", parents=parents, help="memories to one JSON file each")
    export.add_argument("dir", metavar="DIR", help="folder to write (created if missing)")
    export.add_argument(
        "--prune", action="store_true", help="delete exported files of memories that are gone"
    )
    export.set_defaults(run=_export)

    imp = sub.add_parser("import", parents=parents, help="memories from an exported folder")
    imp.add_argument("dir", metavar="DIR", help="a folder written by `memories export`")
    imp.set_defaults(run=_import)
