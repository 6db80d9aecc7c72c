"""`redis-memory sessions|cache|state|events|calibrate` against the embedded Redis."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from redis_memory import RedisMemoryConfig
from redis_memory.cache import ResponseCache
from redis_memory.cli import main
from redis_memory.events import AuditLog, EventBus
from redis_memory.history import MessageLog
from redis_memory.state import StateStore

CLI = [sys.executable, "-m", "redis_memory.cli"]


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
def log(config):
    return MessageLog(config=config)


def _conversation(log: MessageLog) -> None:
    log.append(
        "user:1",
        [
            {"role": "user", "content": "What is Redis?", "ts": 1_700_000_000.0},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [{"id": "c1", "name": "search", "args": {"q": "redis"}}],
                "lc": {"response_metadata": {"model": "x"}},
                "ts": 1_700_000_001.0,
            },
            {"role": "tool", "content": "a data store", "tool_call_id": "c1"},
        ],
    )
    log.append_archived("user:1", [{"role": "system", "content": "old", "li": {"kw": {"a": 1}}}])
    log.append("s2", [{"role": "user", "content": "hi"}])


# -- sessions ------------------------------------------------------------------------


def test_sessions_list_and_show(run, log):
    _conversation(log)
    code, out, _ = run("sessions list", "--json")
    assert code == 0
    rows = json.loads(out)
    assert [(r["session_id"], r["messages"], r["archived"]) for r in rows] == [
        ("s2", 1, 0),
        ("user:1", 3, 1),
    ]
    code, table, _ = run("sessions list")
    lines = table.splitlines()
    assert lines[0].split() == [
        "session",
        "messages",
        "archived",
        "created",
        "(UTC)",
        "updated",
        "(UTC)",
    ]
    assert lines[3].startswith("user:1")
    assert " 3 " in lines[3]

    code, out, _ = run("sessions show", "user:1", "--json")
    assert [m["role"] for m in json.loads(out)] == ["user", "assistant", "tool"]
    code, out, _ = run("sessions show", "user:1", "--last", "2")
    assert "[calls search]" in out
    assert "a data store" in out
    assert "What is Redis" not in out
    code, out, _ = run("sessions show", "user:1", "--section", "archived", "--json")
    assert json.loads(out)[0]["content"] == "old"

    code, out, err = run("sessions show", "nobody")
    assert (code, out) == (1, "")
    assert err.startswith("redis-memory sessions show: no session 'nobody'")


def test_export_then_import_is_lossless_and_refuses_to_overwrite(
    run, log, config, tmp_path, capsys
):
    _conversation(log)
    before = {sid: log.messages(sid, section="all") for sid in ("user:1", "s2")}
    dump = tmp_path / "sessions.jsonl"
    code, out, _ = run("sessions export", "-o", str(dump))
    assert code == 0
    assert out == f"exported 5 messages of 2 sessions to {dump}\n"
    lines = [json.loads(line) for line in dump.read_text().splitlines()]
    assert {line["session_id"] for line in lines} == {"user:1", "s2"}
    assert [line["section"] for line in lines if line["session_id"] == "user:1"] == [
        "archived",
        *["active"] * 3,
    ]

    code, _, err = run("sessions import", str(dump))
    assert code == 1
    assert "2 session(s) already exist" in err
    assert "--replace" in err

    other = RedisMemoryConfig(url=config.url, prefix=config.prefix + "-copy")
    code = main(["sessions", "import", str(dump), "--url", config.url, "--prefix", other.prefix])
    assert code == 0
    assert capsys.readouterr().out == "imported 5 messages into 2 sessions (new)\n"
    copied = MessageLog(config=other)
    try:
        assert {sid: copied.messages(sid, section="all") for sid in before} == before
        assert copied.messages("user:1", section="archived") == before["user:1"][:1]
    finally:
        for sid in before:
            copied.clear(sid)

    log.append("s2", [{"role": "assistant", "content": "added later"}])
    code, out, _ = run("sessions import", str(dump), "--replace", "--json")
    assert json.loads(out) == {"sessions": 2, "messages": 5, "existing": 2, "mode": "replaced"}
    assert {sid: log.messages(sid, section="all") for sid in before} == before
    code, out, _ = run("sessions import", str(dump), "--append")
    assert code == 0
    assert log.count("s2") == 2
    assert log.count("user:1", section="archived") == 2

    code, out, _ = run("sessions export", "s2")  # to stdout
    assert [json.loads(line)["message"]["content"] for line in out.splitlines()] == ["hi", "hi"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"session_id": "x"}\n')
    code, _, err = run("sessions import", str(bad))
    assert code == 1
    assert "line 1 is not an export line" in err
    partial = tmp_path / "partial.jsonl"
    code, out, err = run("sessions export", "s2", "nobody", "-o", str(partial))
    assert (code, out) == (1, "")
    assert "no session 'nobody'" in err
    assert not partial.exists()
    code, out, err = run("sessions export", "-o", str(tmp_path / "no-dir" / "out.jsonl"))
    assert (code, out) == (1, "")
    assert err.startswith(f"redis-memory sessions export: cannot write {tmp_path}")
    code, _, err = run("sessions import", str(tmp_path / "missing.jsonl"))
    assert code == 1
    assert "cannot read" in err
    assert "No such file" in err


def test_delete_asks_unless_yes(run, log, redis_url, prefix):
    _conversation(log)
    env = {**os.environ, "REDIS_MEMORY_URL": redis_url, "REDIS_MEMORY_PREFIX": prefix}
    refused = subprocess.run(
        [*CLI, "sessions", "delete", "s2"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )
    assert refused.returncode == 1
    assert "Pass --yes" in refused.stderr
    assert "Traceback" not in refused.stderr
    assert log.count("s2") == 1
    code, out, _ = run("sessions delete", "s2", "user:1", "--yes")
    assert code == 0
    assert "deleted session 'user:1' (4 messages)" in out
    assert log.info("s2") is None
    assert log.info("user:1") is None
    code, _, err = run("sessions delete", "s2", "--yes")
    assert code == 1
    assert "no session 's2'" in err


def test_sessions_check_reports_damaged_messages_and_repair_moves_them_aside(
    run, log, redis_client
):
    _conversation(log)
    active = log.keys.session_messages("user:1")
    bad = b'{"role": "user", "content": 5}'
    langchain_only = b'{"role": "assistant", "content": "x", "lc": {"usage_metadata": 5}}'
    redis_client.rpush(active, bad, langchain_only)
    redis_client.rpush(log.keys.session_archive("s2"), b"junk")
    stored = {key: redis_client.lrange(key, 0, -1) for key in (active,)}

    code, out, _ = run("sessions check")
    assert code == 1, "damaged messages found: exit status 1, for scripts"
    lines = out.splitlines()
    assert lines[0].split() == ["session", "section", "index", "field", "problem"]
    assert lines[2].split()[:4] == ["s2", "archived", "0", "value"]
    assert lines[3].split()[:4] == ["user:1", "active", "3", "content"]
    assert lines[4].split()[:4] == ["user:1", "active", "4", "lc.usage_metadata"]
    assert "3 damaged message(s) in 2 session(s)" in out
    assert "LangChain, LlamaIndex" in out
    assert {key: redis_client.lrange(key, 0, -1) for key in stored} == stored, "only a report"
    code, out, _ = run("sessions list", "--json")
    assert code == 0, "listing reads no message: damaged ones do not stop it"
    assert [r["messages"] for r in json.loads(out)] == [1, 5]

    code, out, _ = run("sessions check", "user:1", "--json")
    assert code == 1
    report = json.loads(out)
    assert report["sessions"] == 1
    assert report["readers"] == ["stored form", "LangChain", "LlamaIndex"]
    assert [(d["index"], d["field"], d["moved_to"]) for d in report["damaged"]] == [
        (3, "content", None),
        (4, "lc.usage_metadata", None),
    ]
    assert "(as a LangChain message)" in report["damaged"][1]["problem"]

    code, out, _ = run("sessions check", "user:1", "--repair")
    assert code == 0
    assert out.splitlines()[0].split()[-1] == "moved"
    assert "moved 2 to the sessions' quarantine lists" in out
    assert log.quarantined("user:1") == [bad, langchain_only], "unchanged, in order"
    assert len(log.messages("user:1")) == 3, "the rest reads"

    code, out, _ = run("sessions check", "--repair", "--json")
    assert code == 0
    (moved,) = json.loads(out)["damaged"]
    assert (moved["session_id"], moved["moved_to"]) == ("s2", log.keys.session_quarantine("s2"))
    assert log.quarantined("s2") == [b"junk"]
    code, out, _ = run("sessions check")
    assert (code, out.split(":")[-1].strip()) == (0, "no damaged messages")
    code, _, err = run("sessions check", "nobody")
    assert code == 1
    assert "no session 'nobody'" in err


# -- cache ---------------------------------------------------------------------------


def test_cache_stats_and_clear(run, config):
    default = ResponseCache(config=config)
    default.update("q1", "model-a", {"text": "a"})
    default.update("q2", "model-b", {"text": "b"})
    ResponseCache("docs", config=config).update("q", "m", {"text": "c"})
    code, out, _ = run("cache stats", "--json")
    assert code == 0
    assert json.loads(out) == {
        "default": {"exact": 2, "semantic": 0},
        "docs": {"exact": 1, "semantic": 0},
    }
    _, out, _ = run("cache stats")
    assert out.splitlines()[2].split() == ["default", "2", "0"]
    _, out, _ = run("cache clear", "--llm", "model-a", "--yes")
    assert out == "removed 1 entries of cache 'default'\n"
    _, out, _ = run("cache stats", "--name", "default", "--json")
    assert json.loads(out) == {"default": {"exact": 1, "semantic": 0}}
    _code, out, _ = run("cache clear", "--name", "docs", "--yes", "--json")
    assert json.loads(out) == {"cache": "docs", "removed": 1}


# -- state ---------------------------------------------------------------------------


def test_state_set_get_list(run, config):
    assert run("state set", "ana", "profile", '{"theme": "dark"}')[0] == 0
    assert run("state set", "ana", "note", "plain words", "--string")[0] == 0
    code, _, err = run("state set", "ana", "bad", "plain words")
    assert code == 1
    assert "is not JSON" in err
    assert StateStore(config=config).get("ana", "profile") == {"theme": "dark"}
    code, out, _ = run("state get", "ana", "profile")
    assert json.loads(out) == {"theme": "dark"}
    code, out, _ = run("state set", "ana", "profile", "1", "--nx")
    assert "left as it was" in out
    code, _, err = run("state get", "ana", "nothing")
    assert code == 1
    assert "has no state key 'nothing'" in err
    StateStore(config=config).set("bob", "x", [1, 2])
    code, out, _ = run("state list", "--json")
    assert json.loads(out) == {"ana": 2, "bob": 1}
    code, out, _ = run("state list", "ana", "--json")
    assert json.loads(out) == {"note": "plain words", "profile": {"theme": "dark"}}
    code, out, _ = run("state list", "ana")
    assert '{"theme": "dark"}' in out


def test_state_list_shows_langchain_store_namespaces_and_their_bytes(run, config):
    from langchain_redis_memory.store import RedisByteStore, RedisStore

    StateStore(config=config).set("ana", "theme", "dark")
    RedisStore(config=config, namespace="agent-1").mset([("plan", {"step": 1})])
    RedisByteStore(config=config, namespace="embeddings").mset(
        [("a", b"\x00\x01\xff"), ("b", b'"text"')]
    )

    code, out, _ = run("state list")
    assert code == 0
    lines = out.splitlines()
    assert lines[0].split("  ")[0] == "user or namespace"
    assert [line.split()[0] for line in lines[2:5]] == ["agent-1", "ana", "embeddings"]
    assert "RedisByteStore namespaces and LlamaIndex RedisKVStore collections" in lines[5]
    code, out, _ = run("state list", "--json")
    assert json.loads(out) == {"agent-1": 1, "ana": 1, "embeddings": 2}

    # A RedisByteStore's values are bytes, not JSON: shown as such, not an error.
    code, out, err = run("state list", "embeddings")
    assert (code, err) == (0, "")
    assert "b'\\x00\\x01\\xff'" in out
    code, out, _ = run("state list", "embeddings", "--json")
    assert json.loads(out) == {"a": {"bytes_base64": "AAH/"}, "b": "text"}
    code, out, err = run("state get", "embeddings", "a")
    assert (code, err) == (0, "")
    assert json.loads(out) == {"bytes_base64": "AAH/"}
    code, out, _ = run("state get", "agent-1", "plan")
    assert json.loads(out) == {"step": 1}
    code, _, err = run("state get", "agent-1", "nothing")
    assert code == 1
    assert "user or namespace 'agent-1' has no state key 'nothing'" in err


# -- events --------------------------------------------------------------------------


def _tail(redis_url: str, prefix: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen(
        [*CLI, "events", "tail", "--url", redis_url, "--prefix", prefix, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_events_tail_prints_live_events_until_count(redis_url, prefix, config):
    tail = _tail(
        redis_url, prefix, "--json", "--count", "2", "--idle-timeout", "30", "--pattern", "b*",
        "--session", "s-1",
    )  # fmt: skip
    try:
        assert "following events" in tail.stderr.readline()
        bus = EventBus(config=config)
        bus.publish("other", {"status": "not followed"})
        bus.publish("builds", {"status": "green"})
        MessageLog(config=config).append("s-1", [{"role": "user", "content": "hi"}])
        out, _ = tail.communicate(timeout=30)
    finally:
        tail.kill()
    assert tail.returncode == 0
    first, second = (json.loads(line) for line in out.splitlines())
    assert (first["topic"], first["data"]) == ("builds", {"status": "green"})
    assert second["topic"] == "session"
    assert second["data"]["session_id"] == "s-1"


def test_events_tail_audit_follows_new_entries_and_stops_when_quiet(redis_url, prefix, config):
    audit = AuditLog(config=config)
    audit.append({"did": "before the tail"})
    # --count ends this part: a quiet timeout here would race the appends on a busy machine.
    tail = _tail(redis_url, prefix, "--audit", "--count", "2", "--idle-timeout", "30")
    try:
        assert "following the audit stream" in tail.stderr.readline()
        EventBus(config=config).publish("jobs", {"did": "published"}, audit=True)
        audit.append({"did": "appended"})
        out, _ = tail.communicate(timeout=30)
    finally:
        tail.kill()
    assert tail.returncode == 0
    assert "before the tail" not in out
    lines = out.splitlines()
    assert len(lines) == 2
    assert "jobs" in lines[0]
    assert '"published"' in lines[0]
    assert lines[1].endswith('{"did": "appended"}')

    quiet = _tail(redis_url, prefix, "--audit", "--idle-timeout", "0.3")
    out, err = quiet.communicate(timeout=30)
    assert (quiet.returncode, out) == (0, "")
    assert "following the audit stream" in err


@pytest.mark.parametrize("flag", ["--idle-timeout", "--timeout"])  # --timeout: its old name
def test_events_tail_stops_after_an_idle_timeout_without_events(run, flag):
    # It returns at all (the run has a time limit): with no event, --idle-timeout ends it.
    code, out, err = run("events tail", "--topic", "quiet", flag, "0.3")
    assert (code, out) == (0, "")
    assert "following events" in err


# -- errors --------------------------------------------------------------------------


def test_redis_down_and_bad_ids_are_one_line(capsys):
    env = {"REDIS_MEMORY_CONNECT_TIMEOUT": "1", "REDIS_MEMORY_RETRIES": "0"}
    done = subprocess.run(
        [*CLI, "sessions", "list", "--url", "redis://127.0.0.1:1/0"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("redis-memory sessions list: Redis at redis://127.0.0.1:1/0")
    assert done.stderr.count("\n") == 1
    assert main(["sessions", "show", "", "--url", "redis://127.0.0.1:1/0"]) == 1
    assert "session id must not be empty" in capsys.readouterr().err


def test_import_checks_every_message_before_writing_anything(run, log, tmp_path):
    _conversation(log)
    before = {sid: log.messages(sid, section="all") for sid in ("user:1", "s2")}
    dump = tmp_path / "sessions.jsonl"
    lines = [
        {"session_id": "s2", "section": "active", "message": {"role": "user", "content": "new"}},
        {"session_id": "user:1", "section": "active", "message": {"role": "user", "content": "x"}},
        {"session_id": "user:1", "section": "archived", "message": {"content": "no role"}},
    ]
    dump.write_text("".join(json.dumps(line) + "\n" for line in lines))
    code, out, err = run("sessions import", str(dump), "--replace")
    assert (code, out) == (1, "")
    assert err.startswith("redis-memory sessions import: ")
    assert "session 'user:1' (archived messages)" in err
    assert "nothing was imported" in err
    assert {sid: log.messages(sid, section="all") for sid in before} == before

    dump.write_text(json.dumps({"session_id": 7, "message": {"role": "user", "content": "x"}}))
    code, out, err = run("sessions import", str(dump))
    assert (code, out) == (1, "")
    assert "line 1 is not an export line" in err
    assert "session_id is a int" in err


@pytest.mark.parametrize(
    "argv",
    [
        ["sessions", "list", "--limit", "-1"],
        ["sessions", "list", "--limit", "0"],
        ["sessions", "show", "s", "--last", "0"],
        ["events", "tail", "--count", "0"],
        ["calibrate", "pairs.jsonl", "--limit", "x"],
    ],
)
def test_counts_below_one_are_refused_before_anything_runs(argv, capsys):
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "expected a whole number >= 1" in captured.err


def test_state_set_refuses_nan_which_would_be_stored_as_null(run):
    code, out, err = run("state set", "ana", "score", '{"a": NaN}')
    assert (code, out) == (1, "")
    assert "is not JSON" in err
    code, _, err = run("state get", "ana", "score")
    assert code == 1
    assert "has no state key 'score'" in err
