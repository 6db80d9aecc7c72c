"""`redis-memory migrate`: sessions written by the real peer packages, read back through ours."""

from __future__ import annotations

import json
import warnings

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage

from redis_memory.cli import main

pytest.importorskip("langchain_community")
pytest.importorskip("langchain_redis")
pytest.importorskip("llama_index.storage.chat_store.redis")


def _lc_messages() -> list:
    return [
        SystemMessage("You are terse."),
        HumanMessage("Weather in Paris?", id="h1", additional_kwargs={"lang": "en"}),
        AIMessage(
            "",
            id="a1",
            tool_calls=[{"name": "weather", "args": {"city": "Paris"}, "id": "call-1"}],
            response_metadata={"model_name": "gpt-x", "finish_reason": "tool_calls"},
            usage_metadata={"input_tokens": 12, "output_tokens": 5, "total_tokens": 17},
        ),
        ToolMessage("18C, sunny", tool_call_id="call-1", name="weather"),
        AIMessage([{"type": "text", "text": "It is 18C and sunny."}], id="a2"),
    ]


@pytest.fixture
def source(redis_client, prefix):
    """A key prefix for the peer's data, outside ours, cleaned up afterwards."""
    stem = f"src-{prefix}:"
    yield stem
    keys = list(redis_client.scan_iter(match=f"{stem}*", count=1000))
    if keys:
        redis_client.unlink(*keys)


def _migrate(capsys, redis_url, prefix, *extra: str) -> tuple[int, dict]:
    code = main(["migrate", "--url", redis_url, "--prefix", prefix, "--json", *extra])
    return code, json.loads(capsys.readouterr().out)


def test_langchain_community_sessions_migrate_losslessly_and_idempotently(
    redis_url, redis_client, prefix, source, capsys
):
    from langchain_community.chat_message_histories import RedisChatMessageHistory as Peer

    from langchain_redis_memory import RedisChatMessageHistory
    from redis_memory import RedisMemoryConfig

    written = _lc_messages()
    peer = Peer("user:1", url=redis_url, key_prefix=source)
    peer.add_messages(written)
    Peer("s2", url=redis_url, key_prefix=source).add_message(HumanMessage("hi"))
    redis_client.set(f"{source}not-a-list", "x")  # other data under the source's prefix
    redis_client.rpush(f"{source}foreign", "not json")
    args = ["--from", "langchain-community", "--source-prefix", source]

    code, dry = _migrate(capsys, redis_url, prefix, *args)
    assert code == 0
    assert (dry["applied"], dry["sessions"], dry["messages"]) == (False, 2, 6)
    assert dry["messages_to_copy"] == 6
    assert dry["by_status"] == {"new": 2}
    assert dry["skipped"] == [{"key": f"{source}foreign", "reason": "an element is not JSON"}]
    assert list(redis_client.scan_iter(match=f"{prefix}:*")) == []  # a dry run writes nothing

    code, done = _migrate(capsys, redis_url, prefix, *args, "--apply")
    assert code == 0
    assert done["messages_copied"] == 6
    config = RedisMemoryConfig(url=redis_url, prefix=prefix)
    ours = RedisChatMessageHistory("user:1", config=config)
    assert ours.messages == written == peer.messages
    assert redis_client.llen(f"{source}user:1") == 5  # the source is untouched

    code, again = _migrate(capsys, redis_url, prefix, *args, "--apply")
    assert (code, again["messages_copied"], again["by_status"]) == (0, 0, {"unchanged": 2})

    peer.add_message(AIMessage("one more"))
    code, grown = _migrate(capsys, redis_url, prefix, *args, "--apply")
    assert grown["by_status"] == {"grown": 1, "unchanged": 1}
    assert grown["messages_copied"] == 1
    assert ours.messages == [*written, AIMessage("one more")]

    RedisChatMessageHistory("s2", config=config).add_message(HumanMessage("written by us"))
    code, conflict = _migrate(capsys, redis_url, prefix, *args, "--apply")
    assert code == 1
    assert conflict["by_status"] == {"conflict": 1, "unchanged": 1}
    code, replaced = _migrate(
        capsys, redis_url, prefix, *args, "--apply", "--replace", "--delete-source"
    )
    assert code == 0
    assert replaced["by_status"] == {"replaced": 1, "unchanged": 1}
    assert RedisChatMessageHistory("s2", config=config).messages == [HumanMessage("hi")]
    assert replaced["deleted_source_keys"] == 2
    assert not redis_client.exists(f"{source}user:1", f"{source}s2")
    assert redis_client.exists(f"{source}foreign")  # not a session: never touched


def test_langchain_redis_sessions_keep_what_the_source_kept(
    redis_url, redis_client, prefix, source, capsys
):
    from langchain_redis import RedisChatMessageHistory as Peer

    from langchain_redis_memory import RedisChatMessageHistory
    from redis_memory import RedisMemoryConfig

    index = f"idx-{prefix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        peer = Peer("user:1", redis_url=redis_url, key_prefix=source, index_name=index)
        # A second history on an existing index trips langchain-redis (it reads FT.INFO
        # as a list): overwrite_index recreates the (still empty) index instead.
        other = Peer(
            "s2", redis_url=redis_url, key_prefix=source, index_name=index, overwrite_index=True
        )
    try:
        written = _lc_messages()
        for message in written:  # one at a time: each has its own timestamp
            peer.add_message(message)
        other.add_messages([HumanMessage("a"), AIMessage("b")])
        kept = peer.messages
        # What langchain-redis itself drops: ids, tool_calls, metadata. And its index
        # skips a document whose content is a list of blocks, so its own reader no
        # longer returns that message; the document is still there, and migrates.
        assert kept[2].tool_calls == []
        assert kept[1].id is None
        assert len(kept) == 4
        kept.append(AIMessage([{"type": "text", "text": "It is 18C and sunny."}]))

        args = ["--from", "langchain-redis", "--source-prefix", source]
        code, dry = _migrate(capsys, redis_url, prefix, *args)
        assert (code, dry["sessions"], dry["messages"], dry["messages_to_copy"]) == (0, 2, 7, 7)
        code, done = _migrate(capsys, redis_url, prefix, *args, "--apply")
        assert code == 0
        assert done["by_status"] == {"new": 2}

        config = RedisMemoryConfig(url=redis_url, prefix=prefix)
        ours = RedisChatMessageHistory("user:1", config=config)
        assert ours.messages == kept
        assert [m.content for m in RedisChatMessageHistory("s2", config=config).messages] == [
            "a",
            "b",
        ]
        stamps = [m["ts"] for m in ours._log.messages("user:1")]
        assert stamps == sorted(stamps)
        assert stamps[0] > 1e9

        code, again = _migrate(capsys, redis_url, prefix, *args, "--apply")
        assert again["by_status"] == {"unchanged": 2}
        assert again["messages_copied"] == 0
    finally:
        redis_client.execute_command("FT.DROPINDEX", index)


def test_llama_index_chat_store_keys_migrate_losslessly(
    redis_url, redis_client, prefix, source, capsys
):
    from llama_index.core.base.llms.types import ChatMessage, MessageRole, TextBlock
    from llama_index.storage.chat_store.redis import RedisChatStore as Peer

    from llama_index_redis_memory import RedisChatStore
    from redis_memory import RedisMemoryConfig

    peer = Peer(redis_url=redis_url)
    written = [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="Weather?", additional_kwargs={"x": 1}),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[TextBlock(text="Sunny"), TextBlock(text="and warm")],
        ),
        ChatMessage(role=MessageRole.TOOL, content="18C", additional_kwargs={"tool_call_id": "c"}),
    ]
    peer.set_messages(f"{source}alice", written)
    peer.add_message(f"{source}bob", ChatMessage(role="user", content="hi"))
    # A langchain-community list under the same prefix is not LlamaIndex's: skipped.
    redis_client.lpush(f"{source}lc", json.dumps({"type": "human", "data": {"content": "x"}}))

    args = ["--from", "llama-index", "--source-prefix", source]
    code, dry = _migrate(capsys, redis_url, prefix, *args)
    assert (code, dry["sessions"], dry["messages"]) == (0, 2, 5)
    assert [s["key"] for s in dry["skipped"]] == [f"{source}lc"]
    command = ["migrate", "--url", redis_url, "--prefix", prefix, *args, "--apply", "--json"]
    code = main([*command, "--progress"])
    captured = capsys.readouterr()
    assert code == 0
    assert json.loads(captured.out)["messages_copied"] == 5
    assert "migrating sessions: 2" in captured.err  # progress: stderr only

    ours = RedisChatStore(config=RedisMemoryConfig(url=redis_url, prefix=prefix))
    assert ours.get_messages("alice") == written == peer.get_messages(f"{source}alice")
    assert ours.get_messages("bob") == [ChatMessage(role="user", content="hi")]
    code, again = _migrate(capsys, redis_url, prefix, *args, "--apply")
    assert again["by_status"] == {"unchanged": 2}


def test_migrate_table_and_errors(redis_url, prefix, source, capsys):
    from langchain_community.chat_message_histories import RedisChatMessageHistory as Peer

    Peer("one", url=redis_url, key_prefix=source).add_message(HumanMessage("hi"))
    Peer("x" * 600, url=redis_url, key_prefix=source).add_message(HumanMessage("too long an id"))
    args = ["migrate", "--url", redis_url, "--prefix", prefix, "--from", "langchain-community"]
    assert main([*args, "--source-prefix", source, "--progress"]) == 1  # one cannot be copied
    out, err = capsys.readouterr()
    assert "reading sessions: 2" in err  # the unreadable one counts as handled too
    assert "unreadable session 'xxxx" in out
    assert "at most 512 bytes" in out
    assert "dry run: pass --apply" in out
    assert "one" in out
    assert "would copy" in out
    assert "2 sessions, 2 messages; would copy 1 messages" in out
    assert main([*args, "--delete-source"]) == 1
    assert "--delete-source only goes with --apply" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["migrate", "--from", "nope"])


def test_delete_source_keeps_a_list_that_changed_while_it_was_copied(
    redis_url, redis_client, prefix, source
):
    from langchain_community.chat_message_histories import RedisChatMessageHistory as Peer

    from langchain_redis_memory._migrate import from_message_dict
    from redis_memory import RedisMemoryConfig
    from redis_memory.history import MessageLog
    from redis_memory.migrate import Migration

    peer = Peer("busy", url=redis_url, key_prefix=source)
    peer.add_messages([HumanMessage("one"), AIMessage("two")])
    Peer("quiet", url=redis_url, key_prefix=source).add_message(HumanMessage("hi"))

    def convert_while_the_app_writes(record):
        if record["data"]["content"] == "one":  # the app adds a message mid-migration
            peer.add_message(HumanMessage("written during the migration"))
        return from_message_dict(record)

    config = RedisMemoryConfig(url=redis_url, prefix=prefix)
    report = Migration(
        "langchain-community", convert_while_the_app_writes, config=config, source_prefix=source
    ).run(apply=True, delete_source=True)
    outcomes = {o.session_id: o for o in report.sessions}
    assert report.deleted_keys == 1
    assert not redis_client.exists(f"{source}quiet")
    assert "changed while it was copied" in outcomes["busy"].reason
    assert [m.content for m in peer.messages] == ["one", "two", "written during the migration"]

    report = Migration(
        "langchain-community", from_message_dict, config=config, source_prefix=source
    ).run(apply=True, delete_source=True)
    assert [(o.session_id, o.status, o.copied) for o in report.sessions] == [("busy", "grown", 1)]
    assert report.deleted_keys == 1
    log = MessageLog(config=config)
    assert [m["content"] for m in log.messages("busy")] == [
        "one",
        "two",
        "written during the migration",
    ]


def test_delete_source_without_a_source_prefix_is_refused(redis_url, redis_client, prefix, capsys):
    key = f"other-app-{prefix}"
    redis_client.rpush(key, json.dumps({"role": "user", "content": "another app's chat"}))
    try:
        argv = ["migrate", "--url", redis_url, "--prefix", prefix, "--from", "llama-index"]
        assert main([*argv, "--apply", "--delete-source"]) == 1
        captured = capsys.readouterr()
        assert captured.out == ""
        assert "redis-memory migrate: delete_source needs a source prefix" in captured.err
        assert "--source-prefix" in captured.err
        assert redis_client.lrange(key, 0, -1) == [
            json.dumps({"role": "user", "content": "another app's chat"}).encode()
        ]
    finally:
        redis_client.unlink(key)


def test_the_source_may_be_another_redis_and_an_unreachable_one_is_named(
    redis_url, prefix, source, capsys
):
    from langchain_community.chat_message_histories import RedisChatMessageHistory as Peer

    from redis_memory import RedisMemoryConfig
    from redis_memory.embedded import _free_port
    from redis_memory.history import MessageLog

    other_db = redis_url.rsplit("/", 1)[0] + "/1"
    peer = Peer("elsewhere", url=other_db, key_prefix=source)
    peer.add_messages([HumanMessage("in db 1")])
    try:
        code, report = _migrate(
            capsys, redis_url, prefix, "--from", "langchain-community",
            "--source-url", other_db, "--source-prefix", source, "--apply",
        )  # fmt: skip
        assert (code, report["by_status"]) == (0, {"new": 1})
        log = MessageLog(config=RedisMemoryConfig(url=redis_url, prefix=prefix))
        assert [m["content"] for m in log.messages("elsewhere")] == ["in db 1"]
    finally:
        peer.clear()

    source_url = f"redis://:secret@127.0.0.1:{_free_port()}/0"
    argv = ["migrate", "--url", redis_url, "--prefix", prefix, "--from", "langchain-community"]
    assert main([*argv, "--source-url", source_url]) == 1
    err = capsys.readouterr().err
    assert err.startswith(
        f"redis-memory migrate: Redis at {source_url.replace('secret', '***')} could not be "
        "reached while scanning the source"
    )
    assert "secret" not in err
