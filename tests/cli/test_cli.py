"""The redis-memory command: serve, status, and what a user sees when things fail."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import redis
from _paths import ROOT

from redis_memory import KeySchema
from redis_memory.acl import acl_rules
from redis_memory.cli import main
from redis_memory.embedded import EmbeddedRedis

CLI = [sys.executable, "-m", "redis_memory.cli"]


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_serve_prints_a_working_url_and_stops_on_ctrl_c():
    server = subprocess.Popen(
        [*CLI, "serve"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        url = server.stdout.readline().strip()
        assert url.startswith("redis://127.0.0.1:")
        client = redis.Redis.from_url(url)
        assert client.ping()
        pid = client.info("server")["process_id"]
        client.close()
        server.send_signal(signal.SIGINT)
        assert server.wait(timeout=30) == 0
        assert "modules: rejson, search" in server.stderr.read()
        assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()
    finally:
        server.kill()
        server.wait()
        server.stdout.close()
        server.stderr.close()


def test_status_counts_this_prefixs_keys_by_kind(redis_url, redis_client, prefix, capsys):
    keys = KeySchema(prefix)
    redis_client.rpush(keys.session_messages("a"), "{}")
    redis_client.rpush(keys.session_messages("b"), "{}")
    redis_client.hset(keys.session_meta("b"), "count", 1)
    redis_client.set(keys.state("u1", "theme"), '"dark"')
    redis_client.set(keys.cache_exact("ab", "cd"), "{}")
    redis_client.set("unrelated:key", "1")

    assert main(["status", "--url", redis_url, "--prefix", prefix, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["keys_by_kind"] == {"session": 3, "cache": 1, "state": 1}
    assert "search" in report["modules"]
    assert report["redis_version"].startswith("7.")
    assert report["used_memory"] > 0

    assert main(["status", "--url", redis_url, "--prefix", prefix]) == 0
    table = capsys.readouterr().out
    assert f"keys under {prefix}:  5" in table
    assert "session" in table
    assert "search" in table
    redis_client.delete("unrelated:key")


def test_status_reads_url_and_prefix_from_the_environment(redis_url, prefix, redis_client):
    redis_client.set(KeySchema(prefix).lock("job"), "owner")
    env = {**os.environ, "REDIS_MEMORY_URL": redis_url, "REDIS_MEMORY_PREFIX": prefix}
    done = subprocess.run(
        [*CLI, "status", "--json"], env=env, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["keys_by_kind"] == {"lock": 1}


def test_status_of_an_unreachable_redis_is_one_clear_line(capsys):
    url = f"redis://user:topsecret@127.0.0.1:{_closed_port()}/0"
    env_timeout = {"REDIS_MEMORY_CONNECT_TIMEOUT": "1", "REDIS_MEMORY_RETRIES": "0"}
    done = subprocess.run(
        [*CLI, "status", "--url", url],
        env={**os.environ, **env_timeout},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    masked = url.replace("topsecret", "***")
    assert done.stderr.startswith(f"redis-memory status: Redis at {masked} did not answer")
    assert done.stderr.rstrip().endswith("Check that it runs and that the URL names it")
    assert "Traceback" not in done.stderr
    assert "topsecret" not in done.stderr + done.stdout


def test_status_with_a_wrong_password_says_the_credentials_were_refused(
    redis_server, redis_client, prefix
):
    redis_client.execute_command("ACL", "SETUSER", prefix, "on", ">right", *acl_rules(prefix))
    try:
        url = f"redis://{prefix}:wrong-secret@127.0.0.1:{redis_server.port}/0"
        done = subprocess.run(
            [*CLI, "status", "--url", url], capture_output=True, text=True, timeout=60
        )
    finally:
        redis_client.acl_deluser(prefix)
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr.startswith(
        f"redis-memory status: Redis at redis://{prefix}:***@127.0.0.1:{redis_server.port}/0 "
        "refused the credentials (invalid username-password pair or user is disabled): check "
        "the user name and password of the URL\n"
    ), done.stderr
    assert "did not answer" not in done.stderr
    assert "wrong-secret" not in done.stderr


def _nothing_listens_at_the_default_url() -> bool:
    import socket

    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("localhost", 6379)) != 0


@pytest.mark.parametrize("command", [["status"], ["state", "list"]])
def test_an_unreachable_default_url_says_how_to_give_one(command):
    if not _nothing_listens_at_the_default_url():
        pytest.skip("a Redis listens at localhost:6379 here")
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_MEMORY_URL", "REDIS_URL")}
    env.update(REDIS_MEMORY_CONNECT_TIMEOUT="1", REDIS_MEMORY_RETRIES="0")
    done = subprocess.run([*CLI, *command], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1, done.stderr
    assert (
        "No Redis URL was given, so the default redis://localhost:6379/0 was tried: pass "
        "--url redis://HOST:PORT/DB, or set REDIS_MEMORY_URL (or REDIS_URL)"
    ) in done.stderr
    # Given a URL, the hint would be wrong: the user said where Redis is.
    given = subprocess.run(
        [*CLI, *command, "--url", f"redis://127.0.0.1:{_closed_port()}/0"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert given.returncode == 1
    assert "No Redis URL was given" not in given.stderr


def test_status_of_a_redis_without_search_lists_what_that_disables(capsys):
    from redis_memory.server import SEARCH_FEATURES

    with EmbeddedRedis(load_modules=False) as server:
        assert main(["status", "--url", server.url, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert main(["status", "--url", server.url]) == 0
        table = capsys.readouterr().out
    assert report["modules"] == {}
    assert report["needs_search"] == list(SEARCH_FEATURES)
    assert [line.split("  ")[0] for line in table.splitlines()].count("search module") == 1
    for feature, words in zip(
        SEARCH_FEATURES,
        ["semantic tier of the LLM cache", "long-term memory search", "searchable message logs"],
        strict=True,
    ):
        assert words in feature
        assert f"- {feature}" in table


@pytest.mark.search
def test_status_of_a_redis_with_search_disables_nothing(redis_url, prefix, capsys):
    assert main(["status", "--url", redis_url, "--prefix", prefix, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["needs_search"] == []
    assert main(["status", "--url", redis_url, "--prefix", prefix]) == 0
    assert "search module" not in capsys.readouterr().out


def test_bad_arguments_and_version(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["--version"])
    assert exited.value.code == 0
    assert capsys.readouterr().out.startswith("redis-memory 0.")
    with pytest.raises(SystemExit) as exited:
        main([])
    assert exited.value.code == 2
    assert main(["status", "--url", "http://nope"]) == 1
    assert "unsupported Redis URL" in capsys.readouterr().err


def test_console_script_is_installed():
    script = Path(sys.executable).with_name("redis-memory")
    done = subprocess.run([script, "--help"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0
    for command in ("serve", "status", "setup", "sessions", "migrate", "calibrate"):
        assert command in done.stdout


def test_setup_is_quiet_and_quick_when_libssl_is_already_there(tmp_path):
    # The checkout's copy (made by `make setup`) is reused: nothing is fetched.
    checkout = ROOT / ".cache" / "libssl1.1"
    if not checkout.exists():
        pytest.skip("libssl 1.1 comes from the system here")
    target = tmp_path / "libssl"
    target.symlink_to(checkout)
    done = subprocess.run(
        [*CLI, "setup", "--dest", str(target)], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert "Fetching" not in done.stdout + done.stderr


def test_status_works_for_the_restricted_acl_user_of_the_readme(
    redis_server, redis_client, prefix, capsys
):
    redis_client.execute_command("ACL", "SETUSER", prefix, "on", ">pw", *acl_rules(prefix))
    try:
        redis_client.set(KeySchema(prefix).state("u", "k"), "1")
        url = f"redis://{prefix}:pw@127.0.0.1:{redis_server.port}/0"
        assert main(["status", "--url", url, "--prefix", prefix, "--json"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["keys_by_kind"] == {"state": 1}
        assert "search" in report["modules"]
        assert "pw@" not in report["url"]
    finally:
        redis_client.acl_deluser(prefix)


def test_every_command_of_the_readme_parses():
    import shlex

    from redis_memory.cli import _parser

    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    block = section.split("```bash", 1)[1].split("```", 1)[0]
    lines = [line for line in block.splitlines() if line.startswith("redis-memory ")]
    commands = {shlex.split(line, comments=True)[1] for line in lines}
    # Every command the parser knows is shown in the README, and nothing else.
    (subcommands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    assert commands == set(subcommands.choices)
    for line in lines:
        args = _parser().parse_args(shlex.split(line, comments=True)[1:])
        assert callable(args.run), line


def test_status_through_sentinels_that_do_not_answer_is_one_short_line(capsys):
    url = f"redis+sentinel://:topsecret@127.0.0.1:{_closed_port()}/mymaster"
    done = subprocess.run(
        [*CLI, "status", "--url", url],
        env={**os.environ, "REDIS_MEMORY_RETRIES": "0"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "redis-memory status: no Sentinel named a reachable primary: "
        "No master found for 'mymaster'\n"
    )
