"""`redis-memory memories list|show|export|import` against the embedded Redis."""

from __future__ import annotations

import json
import shlex
import time
from pathlib import Path
from urllib.parse import unquote

import pytest
from _waiting import wait_until

from redis_memory.cli import main
from redis_memory.memory import MemoryStore

HOSTILE = [
    (("users", "ana"), "diet"),
    (("a/b", ".."), "."),
    ((".", "..", "..."), ".."),
    (("x:y", "{tag}", "*"), "k*?[]"),
    (("with space", " lead", "trail "), "a b\tc\n"),
    (("ünïcødé", "日本語", "emoji 🧠"), "ключ"),
    (("%41", "%", "100%"), "%2F"),
    (("CON", "nul.txt", "com1"), "aux"),
    (("a",), "x"),
    (("a", "x.json"), "k.json"),
    (("A",), "X"),
    (("l" * 500,), "é" * 250),
    (("é" * 250, "m" * 300), "k" * 512),
    (("\\back\\slash", "C:"), "~tilde~"),
]


@pytest.fixture
def run(redis_url, prefix, capsys):
    """Run the CLI in-process; returns (exit status, stdout, stderr)."""

    def running(*argv: str) -> tuple[int, str, str]:
        command, *rest = argv
        code = main([*command.split(), "--url", redis_url, "--prefix", prefix, *rest])
        out, err = capsys.readouterr()
        return code, out, err

    return running


@pytest.fixture
def store(config):
    return MemoryStore("notes", config=config, search=False)


def _fill(store: MemoryStore) -> None:
    store.put(("users", "ana"), "diet", {"text": "Ana is vegetarian", "since": 2019}, tags=["food"])
    store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon", "geo": [38.7, -9.1]})
    store.put(("users", "bo"), "pet", {"text": "Bo has a cat named Kiwi"}, tags=["pets", "home"])
    store.put(("org",), "policy", {"text": "be kind", "nested": {"z": 1, "a": [True, None]}})


def _snapshot(store: MemoryStore) -> dict:
    return {
        (item.namespace, item.key): (item.value, item.tags, item.created_at, item.updated_at)
        for item in store.iter_items()
    }


def _wipe(store: MemoryStore) -> None:
    for item in list(store.iter_items()):
        store.delete(item.namespace, item.key)
    assert list(store.iter_items()) == []


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(path.relative_to(root)): path.read_bytes()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_export_writes_one_readable_file_per_memory(run, store, tmp_path):
    _fill(store)
    code, out, err = run("memories export", str(tmp_path / "out"), "--store", "notes")
    assert (code, err) == (0, "")
    assert "exported 4 memories of store 'notes'" in out
    assert "4 written, 0 unchanged" in out
    files = _files(tmp_path / "out")
    assert sorted(files) == [
        "org/policy.json",
        "users/ana/city.json",
        "users/ana/diet.json",
        "users/bo/pet.json",
    ]
    item = store.get(("users", "ana"), "diet")
    text = files["users/ana/diet.json"].decode()
    assert json.loads(text) == {
        "namespace": ["users", "ana"],
        "key": "diet",
        "value": {"text": "Ana is vegetarian", "since": 2019},
        "tags": ["food"],
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    # Sorted keys, 2-space indent, a final newline: readable and diff-friendly.
    assert text == json.dumps(json.loads(text), sort_keys=True, indent=2) + "\n"
    assert text.splitlines()[1] == f'  "created_at": {item.created_at!r},'
    # The default store is another store: nothing in it.
    code, out, _ = run("memories export", str(tmp_path / "empty"), "--json")
    assert code == 0
    assert json.loads(out) == {
        "dir": str(tmp_path / "empty"),
        "memories": 0,
        "written": 0,
        "unchanged": 0,
        "pruned": [],
    }


def test_round_trip_through_a_folder(run, store, tmp_path):
    _fill(store)
    before = _snapshot(store)
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    _wipe(store)
    code, out, err = run("memories import", str(tmp_path), "--store", "notes", "--json")
    assert (code, err) == (0, "")
    assert json.loads(out) == {
        "dir": str(tmp_path),
        "files": 4,
        "changed": 4,
        "new": 4,
        "updated": 0,
        "unchanged": 0,
    }
    after = _snapshot(store)
    assert after.keys() == before.keys()
    for name, (value, tags, _, _) in before.items():
        assert after[name][:2] == (value, tags)


def test_reexport_of_unchanged_data_leaves_every_file_as_it_was(run, store, tmp_path):
    _fill(store)
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    first = _files(tmp_path)
    stamps = {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.json")}
    code, out, _ = run("memories export", str(tmp_path), "--store", "notes")
    assert code == 0
    assert "0 written, 4 unchanged" in out
    assert _files(tmp_path) == first
    assert {path: path.stat().st_mtime_ns for path in tmp_path.rglob("*.json")} == stamps

    store.put(("users", "bo"), "pet", {"text": "Bo has two cats"}, tags=["pets"])
    code, out, _ = run("memories export", str(tmp_path), "--store", "notes")
    assert "1 written, 3 unchanged" in out
    second = _files(tmp_path)
    assert [name for name in first if first[name] != second[name]] == ["users/bo/pet.json"]
    assert json.loads(second["users/bo/pet.json"])["value"] == {"text": "Bo has two cats"}
    assert not list(tmp_path.rglob(".*"))  # no temporary file left behind


def test_prune_deletes_only_files_of_memories_that_are_gone(run, store, tmp_path):
    _fill(store)
    store.put(("gone", "deep"), "soon", {"text": "temporary"})
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    stale = tmp_path / "gone" / "deep" / "soon.json"
    assert stale.is_file()
    # Files this command did not write: another JSON, a memory-like file with an extra
    # field, one with the wrong place for its content, a non-JSON file.
    foreign = {
        tmp_path / "package.json": '{"name": "x"}',
        tmp_path / "users" / "extra.json": json.dumps(
            {**json.loads(stale.read_text()), "note": "mine"}
        ),
        tmp_path / "users" / "moved.json": stale.read_text(),
        tmp_path / "users" / "ana" / "readme.txt": "hello",
        tmp_path / "broken.json": "{not json",
    }
    for path, text in foreign.items():
        path.write_text(text)
    store.delete(("gone", "deep"), "soon")

    code, out, _ = run("memories export", str(tmp_path), "--store", "notes")
    assert code == 0
    assert stale.is_file()  # without --prune, nothing is deleted
    code, out, err = run("memories export", str(tmp_path), "--store", "notes", "--prune")
    assert (code, err) == (0, "")
    assert "4 memories" in out
    assert "0 written, 4 unchanged, 1 pruned" in out
    assert not stale.exists()
    assert not (tmp_path / "gone").exists()  # the folders it emptied went too
    for path, text in foreign.items():
        assert path.read_text() == text
    code, out, _ = run("memories export", str(tmp_path), "--store", "notes", "--prune", "--json")
    assert json.loads(out)["pruned"] == []


def test_import_twice_changes_nothing_the_second_time(run, store, tmp_path, redis_client):
    _fill(store)
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    code, out, _ = run("memories import", str(tmp_path), "--store", "notes")
    assert code == 0
    assert "imported 4 memories" in out
    assert "0 changed (0 new, 0 updated), 4 unchanged" in out
    before = _snapshot(store)
    time.sleep(0.01)
    code, out, _ = run("memories import", str(tmp_path), "--store", "notes", "--json")
    assert json.loads(out)["changed"] == 0
    assert _snapshot(store) == before  # updated times too: nothing was put

    # An edit of one file changes that memory only; its created time stays.
    path = tmp_path / "users" / "ana" / "diet.json"
    data = json.loads(path.read_text())
    data["value"]["text"] = "Ana is vegan"
    data["tags"] = ["food", "vegan"]
    path.write_text(json.dumps(data))
    code, out, _ = run("memories import", str(tmp_path), "--store", "notes", "--json")
    assert json.loads(out) | {"dir": None} == {
        "dir": None,
        "files": 4,
        "changed": 1,
        "new": 0,
        "updated": 1,
        "unchanged": 3,
    }
    diet = store.get(("users", "ana"), "diet")
    assert diet.value["text"] == "Ana is vegan"
    assert diet.tags == ("food", "vegan")
    assert diet.created_at == before[(("users", "ana"), "diet")][2]
    assert diet.updated_at > before[(("users", "ana"), "diet")][3]
    # A value equal as JSON but not as Python (1 vs 1.0, True vs 1) is a change.
    data["value"]["since"] = 1
    path.write_text(json.dumps(data))
    assert (
        json.loads(run("memories import", str(tmp_path), "--store", "notes", "--json")[1])[
            "updated"
        ]
        == 1
    )
    data["value"]["since"] = True
    path.write_text(json.dumps(data))
    assert (
        json.loads(run("memories import", str(tmp_path), "--store", "notes", "--json")[1])[
            "updated"
        ]
        == 1
    )
    assert store.get(("users", "ana"), "diet").value["since"] is True


GOOD = {"namespace": ["users", "ana"], "key": "k", "value": {"text": "t"}, "tags": []}


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("{not json", "is not JSON text"),
        (b"\xff\xfe", "is not JSON text"),
        ('{"namespace": ["u"], "key": "k", "value": {"x": NaN}}', "NaN is not a JSON number"),
        ("[1, 2]", "holds a list, not a JSON object"),
        (json.dumps({**GOOD, "tag": ["x"]}), "unknown field(s) 'tag'"),
        (json.dumps({"namespace": ["u"], "value": {}}), "missing field(s) 'key'"),
        (json.dumps({**GOOD, "namespace": []}), "namespace is a list of at least one label"),
        (json.dumps({**GOOD, "namespace": "users"}), "namespace is a list of at least one label"),
        (json.dumps({**GOOD, "namespace": ["u", ""]}), "every label of a namespace is a non-empty"),
        (json.dumps({**GOOD, "key": ""}), "must not be empty"),
        (json.dumps({**GOOD, "key": 7}), "must be a str"),
        (json.dumps({**GOOD, "key": "k" * 513}), "at most 512 bytes"),
        (json.dumps({**GOOD, "value": "text"}), "value is a JSON object, not str"),
        (json.dumps({**GOOD, "value": {"n": 2**70}}), "cannot"),
        (json.dumps({**GOOD, "tags": "food"}), "tags are a list of non-empty strings"),
        (json.dumps({**GOOD, "tags": [""]}), "tags are a list of non-empty strings"),
        (json.dumps({**GOOD, "created_at": "yesterday"}), "created_at is a number"),
    ],
)
def test_a_bad_file_is_named_and_nothing_is_imported(run, store, tmp_path, content, problem):
    _fill(store)
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    _wipe(store)
    bad = tmp_path / "users" / "zz-bad.json"
    if isinstance(content, bytes):
        bad.write_bytes(content)
    else:
        bad.write_text(content)
    code, out, err = run("memories import", str(tmp_path), "--store", "notes")
    assert (code, out) == (1, "")
    assert err.startswith(f"redis-memory memories import: {bad} ")
    assert problem in err
    assert err.rstrip().endswith("nothing was imported")
    assert len(err.splitlines()) == 1
    assert list(store.iter_items()) == []  # not even the good files read before it


def test_two_files_of_one_memory_are_refused(run, store, tmp_path):
    _fill(store)
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    _wipe(store)
    (tmp_path / "copy.json").write_text((tmp_path / "org" / "policy.json").read_text())
    code, _, err = run("memories import", str(tmp_path), "--store", "notes")
    assert code == 1
    assert "hold the same memory" in err
    assert "copy.json" in err
    assert "policy.json" in err
    assert list(store.iter_items()) == []


def test_import_of_a_missing_folder_fails(run, store, tmp_path):
    code, _, err = run("memories import", str(tmp_path / "nope"), "--store", "notes")
    assert code == 1
    assert "is not a folder; nothing was imported" in err


def test_hostile_namespaces_and_keys_round_trip(run, store, tmp_path):
    for i, (namespace, key) in enumerate(HOSTILE):
        store.put(namespace, key, {"text": f"memory {i}", "i": i}, tags=[f"t {i}", "ü"])
    before = _snapshot(store)
    root = tmp_path / "out"
    code, out, err = run("memories export", str(root), "--store", "notes")
    assert (code, err) == (0, "")
    files = sorted(path for path in root.rglob("*") if path.is_file())
    assert len(files) == len(HOSTILE)
    for path in root.rglob("*"):
        assert path.resolve().is_relative_to(root.resolve())
        assert not path.is_symlink()
        name = path.name
        assert name not in (".", "..")
        assert not name.startswith(".")
        assert len(name.encode()) <= 255
        assert name.isascii()
        assert path.is_file() == name.endswith(".json")
    # Short names give their label back; long ones end in ~digest (the file has the rest).
    for path in files:
        data = json.loads(path.read_text(encoding="utf-8"))
        names = [*path.relative_to(root).parts[:-1], path.name.removesuffix(".json")]
        for name, label in zip(names, [*data["namespace"], data["key"]], strict=True):
            assert unquote(name) == label if "~" not in name else len(label) > 60
    _wipe(store)
    code, out, err = run("memories import", str(root), "--store", "notes")
    assert (code, err) == (0, "")
    assert f"{len(HOSTILE)} changed ({len(HOSTILE)} new" in out
    after = _snapshot(store)
    assert after.keys() == before.keys()
    assert all(after[name][:2] == before[name][:2] for name in before)
    # ... and exporting them again to a new folder gives the same paths.
    assert run("memories export", str(tmp_path / "again"), "--store", "notes")[0] == 0
    assert sorted(_files(tmp_path / "again")) == sorted(_files(root))


def test_list_and_show(run, store):
    _fill(store)
    store.put(("it's", "a b"), "k", {"text": "quoted"})
    code, out, _ = run("memories list", "--store", "notes", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["namespace"], r["memories"]) for r in rows] == [
        (["it's", "a b"], 1),
        (["org"], 1),
        (["users", "ana"], 2),
        (["users", "bo"], 1),
    ]
    assert rows[2]["updated"] == store.get(("users", "ana"), "city").updated_at
    code, table, _ = run("memories list", "--store", "notes")
    lines = table.splitlines()
    assert lines[0].split() == ["namespace", "memories", "updated", "(UTC)"]
    assert shlex.split(lines[2])[:3] == ["it's", "a b", "1"]  # shell-quoted, ready for `show`
    assert lines[4].split()[:3] == ["users", "ana", "2"]
    code, out, _ = run("memories list", "users", "--store", "notes", "--json")
    assert [r["namespace"] for r in json.loads(out)] == [["users", "ana"], ["users", "bo"]]
    assert run("memories list", "--json")[1].strip() == "[]"  # the default store is empty

    code, out, _ = run("memories show", "users", "ana", "--store", "notes", "--json")
    assert code == 0
    shown = json.loads(out)
    assert [(m["key"], m["tags"]) for m in shown] == [("city", []), ("diet", ["food"])]
    assert shown[1]["value"] == {"text": "Ana is vegetarian", "since": 2019}
    code, table, _ = run("memories show", "users", "ana", "--store", "notes")
    lines = table.splitlines()
    assert lines[0].split() == ["key", "tags", "updated", "(UTC)", "value"]
    assert lines[2].startswith("city")
    assert '"Ana lives in Lisbon"' in lines[2]
    assert lines[3].startswith("diet  food")
    # Only that namespace: not those under it, not its parent.
    assert run("memories show", "users", "--store", "notes")[0] == 1
    code, out, err = run("memories show", "it's", "a b", "--store", "notes", "--json")
    assert json.loads(out)[0]["key"] == "k"
    code, _, err = run("memories show", "users", "cy", "--store", "notes")
    assert code == 1
    assert err == (
        "redis-memory memories show: no memories in namespace users cy of store 'notes' "
        f"under prefix {store.config.prefix!r}\n"
    )


@pytest.mark.search
def test_imported_memories_are_found_by_a_search_store_built_later(
    run, store, config, tmp_path, redis_client
):
    _fill(store)
    store.put(("users", "ana"), "music", {"text": "Ana plays the theremin on Sundays"})
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    _wipe(store)
    assert run("memories import", str(tmp_path), "--store", "notes")[0] == 0
    assert not redis_client.execute_command("FT._LIST").count(
        f"{config.prefix}:mem:notes:idx".encode()
    )  # the import made no index

    searching = MemoryStore("notes", config=config, search=True)

    def indexed() -> bool:  # the index takes in the existing keys in the background
        info = redis_client.ft(searching.index_name).info()
        return int(info["indexing"]) == 0 and int(info["num_docs"]) == 5

    wait_until(indexed, attempts=500, pause=0.01, what="the 5 imported memories to be indexed")
    [hit] = searching.search(("users",), "theremin", mode="text")
    assert (hit.namespace, hit.key) == (("users", "ana"), "music")
    [hit] = searching.search(("users", "bo"), "Kiwi cat", mode="text", tags=["pets"])
    assert hit.value == {"text": "Bo has a cat named Kiwi"}
    assert [i.key for i in searching.search(("org",), "kind", mode="text")] == ["policy"]


def test_import_into_an_empty_store_keeps_each_memorys_first_time(run, config, tmp_path):
    store = MemoryStore("notes", config=config, search=False)
    store.put(("users", "ana"), "diet", {"text": "vegetarian"})
    created = store.get(("users", "ana"), "diet").created_at
    assert run("memories export", str(tmp_path), "--store", "notes")[0] == 0
    store.delete(("users", "ana"), "diet")
    time.sleep(0.01)
    assert run("memories import", str(tmp_path), "--store", "notes")[0] == 0
    assert store.get(("users", "ana"), "diet").created_at == created
