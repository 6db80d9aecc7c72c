"""LlamaIndex chat stores against a real Redis: RedisChatStore and RedisMemoryChatStore."""

from __future__ import annotations

import asyncio
import base64
import doctest
import gc
import threading

import orjson
import pytest
from llama_index.core.base.llms.types import (
    AudioBlock,
    ChatMessage,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.llms.mock import MockLLM
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.storage.chat_store.base import BaseChatStore
from llama_index.core.storage.chat_store.base_db import AsyncDBChatStore, MessageStatus
from llama_index.core.storage.chat_store.simple_chat_store import SimpleChatStore
from pydantic import BaseModel

import llama_index_redis_memory
from llama_index_redis_memory import RedisChatStore, RedisMemoryChatStore
from redis_memory import KeySchema, RedisMemoryConfig, SerializationError
from redis_memory.history import MessageLog

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

ACTIVE, ARCHIVED = MessageStatus.ACTIVE, MessageStatus.ARCHIVED

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)
PNG_B64 = base64.b64encode(PNG).decode()


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, content=text)


def raw(redis_client, prefix: str, session_id: str, suffix: str = "messages") -> list[dict]:
    """What Redis holds for a session, decoded: the stored form, not the store's reading."""
    key = KeySchema(prefix).session(session_id) + ":" + suffix
    return [orjson.loads(value) for value in redis_client.lrange(key, 0, -1)]


# Messages that must come back equal (==) to what was stored.
ROUND_TRIP = {
    "text": user("Hello there"),
    "empty text": assistant(""),
    "no blocks": ChatMessage(role=MessageRole.ASSISTANT, blocks=[]),
    "text and images": ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="What is in these pictures?"),
            ImageBlock(url="https://example.com/cat.png"),
            ImageBlock(image=PNG),
        ],
    ),
    "several text blocks": ChatMessage(
        role=MessageRole.USER, blocks=[TextBlock(text="one"), TextBlock(text="two")]
    ),
    "image detail and path-less data URL": ChatMessage(
        role=MessageRole.USER,
        blocks=[
            ImageBlock(url="https://example.com/dog.jpg", detail="high"),
            ImageBlock(url=f"data:image/png;base64,{PNG_B64}"),
            ImageBlock(image=PNG, image_mimetype="image/x-custom"),
        ],
    ),
    "tool calls": ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[
            TextBlock(text="Let me check."),
            ToolCallBlock(
                tool_call_id="call_1", tool_name="weather", tool_kwargs={"city": "Paris"}
            ),
            ToolCallBlock(tool_call_id="call_2", tool_name="time", tool_kwargs={"tz": "CET"}),
        ],
    ),
    "tool call only, no id": ChatMessage(
        role=MessageRole.ASSISTANT, blocks=[ToolCallBlock(tool_name="ping")]
    ),
    "tool call with JSON string arguments": ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ToolCallBlock(tool_call_id="c", tool_name="f", tool_kwargs='{"x": 1}')],
    ),
    "openai-style tool calls": ChatMessage(
        role=MessageRole.ASSISTANT,
        content="",
        additional_kwargs={
            "tool_calls": [
                {
                    "id": "call_9",
                    "type": "function",
                    "function": {"name": "search", "arguments": '{"q": "redis"}'},
                }
            ]
        },
    ),
    "tool result": ChatMessage(
        role=MessageRole.TOOL,
        content="18 degrees",
        additional_kwargs={"tool_call_id": "call_1", "name": "weather"},
    ),
    "additional_kwargs": ChatMessage(
        role=MessageRole.ASSISTANT,
        content="ok",
        additional_kwargs={"usage": {"tokens": 12, "ratio": 0.5}, "flags": [True, None], "n": 3},
    ),
    "thinking": ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[
            ThinkingBlock(content="Let me think", additional_information={"signature": "sig"}),
            TextBlock(text="The answer is 4."),
        ],
    ),
    "audio and document": ChatMessage(
        role=MessageRole.USER,
        blocks=[
            TextBlock(text="Listen and read"),
            AudioBlock(audio=b"ID3fakeaudio", format="mp3"),
            DocumentBlock(data=b"%PDF-1.4 fake", title="report"),
        ],
    ),
    "tool call before text": ChatMessage(
        role=MessageRole.ASSISTANT,
        blocks=[ToolCallBlock(tool_call_id="a", tool_name="x"), TextBlock(text="after")],
    ),
    **{
        f"role {role.value}": ChatMessage(role=role, content=f"as {role.value}")
        for role in MessageRole
    },
}


# -- conversion, through Redis ------------------------------------------------------


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_round_trip_is_lossless(config, name):
    store = RedisChatStore(config=config)
    message = ROUND_TRIP[name]
    store.add_message("s", message)
    assert store.get_messages("s") == [message]


async def test_round_trip_is_lossless_async_and_in_memory_store(config):
    messages = list(ROUND_TRIP.values())
    store = RedisChatStore(config=config)
    await store.aset_messages("a", messages)
    assert await store.aget_messages("a") == messages
    memory_store = RedisMemoryChatStore(config=config)
    await memory_store.add_messages("m", messages)
    await memory_store.add_messages("m", messages[:3], status=ARCHIVED)
    assert await memory_store.get_messages("m") == messages
    assert await memory_store.get_messages("m", status=None) == messages[:3] + messages


def test_plain_messages_carry_no_llama_index_extras(config, redis_client, prefix):
    store = RedisChatStore(config=config)
    store.set_messages(
        "s",
        [
            ROUND_TRIP["text"],
            ROUND_TRIP["text and images"],
            ROUND_TRIP["tool calls"],
            ROUND_TRIP["tool result"],
            ROUND_TRIP["role system"],
        ],
    )
    stored = raw(redis_client, prefix, "s")
    assert [("li" in m) for m in stored] == [False] * 5
    # A plain text message is its role, its text and a timestamp: nothing more.
    assert set(stored[0]) == {"role", "content", "ts"}


def test_extras_hold_only_what_the_neutral_fields_cannot(config, redis_client, prefix):
    store = RedisChatStore(config=config)
    store.set_messages(
        "s",
        [
            ROUND_TRIP["image detail and path-less data URL"],
            ROUND_TRIP["thinking"],
            ROUND_TRIP["role chatbot"],
        ],
    )
    image, thinking, chatbot = raw(redis_client, prefix, "s")
    # The image data is stored once, in the neutral content: li patches a field.
    assert image["li"] == {"blocks": [{"$": 0, "detail": "high"}, 1, 2]}
    assert image["content"][2] == {
        "type": "image",
        "base64": PNG_B64,
        "mime_type": "image/x-custom",
    }
    assert thinking["content"] == "The answer is 4."
    assert thinking["li"]["blocks"][1] == 0
    assert thinking["li"]["blocks"][0]["block_type"] == "thinking"
    assert chatbot == {
        "role": "assistant",
        "content": "as chatbot",
        "ts": chatbot["ts"],
        "li": {"role": "chatbot"},
    }


def test_neutral_fields_are_filled_for_the_other_framework(config):
    store = RedisChatStore(config=config)
    store.set_messages(
        "s",
        [
            ROUND_TRIP["text and images"],
            ROUND_TRIP["tool calls"],
            ROUND_TRIP["openai-style tool calls"],
            ROUND_TRIP["tool result"],
            ROUND_TRIP["several text blocks"],
            ChatMessage(role="user", content="hi", additional_kwargs={"name": "ana"}),
            ROUND_TRIP["tool call with JSON string arguments"],
        ],
    )
    stored = MessageLog(config=config).messages("s")
    images, calls, openai_calls, result, texts, named, json_args = stored
    assert images["role"] == "user"
    assert images["content"] == [
        {"type": "text", "text": "What is in these pictures?"},
        {"type": "image", "url": "https://example.com/cat.png", "mime_type": "image/png"},
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
    ]
    assert calls["content"] == "Let me check."
    assert calls["tool_calls"] == [
        {"id": "call_1", "name": "weather", "args": {"city": "Paris"}},
        {"id": "call_2", "name": "time", "args": {"tz": "CET"}},
    ]
    assert openai_calls["tool_calls"] == [
        {"id": "call_9", "name": "search", "args": {"q": "redis"}}
    ]
    assert (result["role"], result["content"], result["tool_call_id"], result["name"]) == (
        "tool",
        "18 degrees",
        "call_1",
        "weather",
    )
    assert texts["content"] == [{"type": "text", "text": "one"}, {"type": "text", "text": "two"}]
    assert named["name"] == "ana"
    assert json_args["tool_calls"] == [{"id": "c", "name": "f", "args": {"x": 1}}]


def test_reads_messages_the_core_wrote(config):
    MessageLog(config=config).append(
        "s",
        [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi", "name": "ana", "id": "m1"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Look:"},
                    {"type": "image", "url": "https://example.com/a.png"},
                    {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
                ],
            },
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {"id": "c1", "name": "weather", "args": {"city": "Oslo"}},
                    {"id": None, "name": "clock", "args": {}},
                ],
                "lc": {"usage_metadata": {"input_tokens": 3}},
            },
            {"role": "tool", "content": "-3 degrees", "tool_call_id": "c1"},
            {"role": "developer", "content": "dev"},
            {"role": "function", "content": "f", "name": "fn"},
        ],
    )
    assert RedisChatStore(config=config).get_messages("s") == [
        ChatMessage(role=MessageRole.SYSTEM, content="Be brief."),
        ChatMessage(role=MessageRole.USER, content="Hi", additional_kwargs={"name": "ana"}),
        ChatMessage(
            role=MessageRole.USER,
            blocks=[
                TextBlock(text="Look:"),
                ImageBlock(url="https://example.com/a.png"),
                ImageBlock(image=PNG, image_mimetype="image/png"),
            ],
        ),
        ChatMessage(
            role=MessageRole.ASSISTANT,
            blocks=[
                ToolCallBlock(tool_call_id="c1", tool_name="weather", tool_kwargs={"city": "Oslo"}),
                ToolCallBlock(tool_call_id=None, tool_name="clock", tool_kwargs={}),
            ],
        ),
        ChatMessage(
            role=MessageRole.TOOL, content="-3 degrees", additional_kwargs={"tool_call_id": "c1"}
        ),
        ChatMessage(role=MessageRole.DEVELOPER, content="dev"),
        ChatMessage(role=MessageRole.FUNCTION, content="f", additional_kwargs={"name": "fn"}),
    ]


def test_unknown_roles_and_blocks_are_kept_and_written_back(config):
    log = MessageLog(config=config)
    written = {
        "role": "critic",
        "content": [
            {"type": "text", "text": "Too long."},
            {"type": "reasoning", "reasoning": "counted words"},
            {"type": "image", "file_id": "file-123"},
        ],
    }
    log.append(
        "s", [written, {"role": "human", "content": "alias"}, {"role": "ai", "content": "x"}]
    )
    store = RedisChatStore(config=config)
    critic, human, ai = store.get_messages("s")
    assert critic == ChatMessage(
        role=MessageRole.USER,
        blocks=[TextBlock(text="Too long.")],
        additional_kwargs={
            "original_role": "critic",
            "unknown_content_blocks": written["content"][1:],
        },
    )
    assert (human.role, ai.role) == (MessageRole.USER, MessageRole.ASSISTANT)
    # Written back by LlamaIndex, the other framework gets its role and blocks again.
    store.set_messages("s", [critic])
    [rewritten] = log.messages("s")
    assert rewritten["role"] == "critic"
    assert rewritten["content"] == written["content"]
    assert "li" not in rewritten
    assert store.get_messages("s") == [critic]


def test_openai_style_tool_call_objects_and_bad_arguments(config):
    class ToolCall(BaseModel):  # like openai's ChatCompletionMessageToolCall
        id: str
        function: dict

    call = ToolCall(id="o1", function={"name": "lookup", "arguments": "not json"})
    store = RedisChatStore(config=config)
    message = ChatMessage(role="assistant", content="", additional_kwargs={"tool_calls": [call]})
    store.add_message("s", message)
    [stored] = MessageLog(config=config).messages("s")
    assert stored["tool_calls"] == [{"id": "o1", "name": "lookup", "args": {}}]
    [read] = store.get_messages("s")
    # SDK objects come back as their JSON form.
    assert read.additional_kwargs["tool_calls"] == [call.model_dump()]


# -- RedisChatStore -------------------------------------------------------------------


def test_chat_store_is_a_base_chat_store_and_costs_nothing_to_build(config, count_commands):
    with count_commands() as counted:
        store = RedisChatStore(config=config, max_messages=10)
        memory_store = RedisMemoryChatStore(config=config)
    assert counted.total == 0
    assert isinstance(store, BaseChatStore)
    assert isinstance(memory_store, AsyncDBChatStore)
    assert RedisChatStore.class_name() == "RedisChatStore"
    assert RedisMemoryChatStore.class_name() == "RedisMemoryChatStore"
    assert store.config.prefix == config.prefix == memory_store.config.prefix
    assert {"RedisChatStore", "RedisMemoryChatStore"} <= set(llama_index_redis_memory.__all__)


def test_chat_store_sync_methods(config):
    store = RedisChatStore(config=config)
    assert store.get_messages("s") == []
    assert store.delete_messages("s") is None
    assert store.delete_last_message("s") is None
    assert store.delete_message("s", 0) is None

    store.set_messages("s", [user("a"), assistant("b")])
    store.set_messages("s", [user("1"), assistant("2")])  # replaces
    store.add_message("s", user("3"))
    store.add_messages("s", [assistant("4"), user("5")])
    assert [m.content for m in store.get_messages("s")] == ["1", "2", "3", "4", "5"]

    assert store.delete_message("s", 1) == assistant("2")
    assert store.delete_message("s", -1) == user("5")
    assert store.delete_message("s", 10) is None
    assert [m.content for m in store.get_messages("s")] == ["1", "3", "4"]
    assert store.delete_last_message("s") == assistant("4")
    store.add_message("t", user("other"))
    assert store.get_keys() == ["s", "t"]

    assert store.delete_messages("s") == [user("1"), user("3")]
    assert store.get_messages("s") == []
    assert store.get_keys() == ["t"]
    store.set_messages("t", [])
    assert store.get_keys() == []


async def test_chat_store_async_methods(config):
    store = RedisChatStore(config=config)
    assert await store.aget_messages("s") == []
    assert await store.adelete_messages("s") is None
    assert await store.adelete_last_message("s") is None
    assert await store.adelete_message("s", 0) is None

    await store.aset_messages("s", [user("a")])
    await store.aset_messages("s", [user("1"), assistant("2")])
    await store.async_add_message("s", user("3"))
    await store.async_add_messages("s", [assistant("4"), user("5")])
    assert [m.content for m in await store.aget_messages("s")] == ["1", "2", "3", "4", "5"]

    assert await store.adelete_message("s", 1) == assistant("2")
    assert await store.adelete_message("s", -1) == user("5")
    assert [m.content for m in await store.aget_messages("s")] == ["1", "3", "4"]
    assert await store.adelete_last_message("s") == assistant("4")
    await store.async_add_message("t", user("other"))
    assert await store.aget_keys() == ["s", "t"]
    assert await store.adelete_messages("s") == [user("1"), user("3")]
    assert await store.aget_keys() == ["t"]
    # The sync side sees what the async side wrote: one store, one data set.
    assert store.get_messages("t") == [user("other")]


def test_async_methods_run_on_the_event_loop_without_threads(config):
    # BaseChatStore's defaults run the sync methods in asyncio.to_thread, which
    # creates the loop's default executor; native async methods never do.
    store = RedisChatStore(config=config)

    async def every_async_method() -> asyncio.AbstractEventLoop:
        await store.aset_messages("s", [user("1")])
        await store.async_add_message("s", user("2"))
        await store.aget_messages("s")
        await store.adelete_message("s", 0)
        await store.adelete_last_message("s")
        await store.aget_keys()
        await store.adelete_messages("s")
        return asyncio.get_running_loop()

    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(every_async_method()) is loop
        assert loop._default_executor is None
    finally:
        loop.close()


def test_delete_message_keeps_the_order_of_the_rest(config):
    store = RedisChatStore(config=config)
    store.set_messages("s", [user(str(i)) for i in range(8)])
    assert store.delete_message("s", 3) == user("3")
    assert store.delete_message("s", 0) == user("0")
    assert store.delete_message("s", -2) == user("6")
    assert [m.content for m in store.get_messages("s")] == ["1", "2", "4", "5", "7"]


# -- add_message(key, message, idx=...), as SimpleChatStore and the Redis peer take it ----
INDEXES = [None, 0, 1, 3, 4, 9, -1, -3, -4, -9]


@pytest.mark.parametrize("idx", INDEXES)
def test_add_message_at_an_index_inserts_as_simple_chat_store_does(config, idx):
    store, simple = RedisChatStore(config=config), SimpleChatStore()
    for chat_store in (store, simple):
        chat_store.set_messages("s", [user(str(i)) for i in range(4)])
        chat_store.add_message("s", assistant("new"), idx=idx)
        chat_store.add_message("empty", assistant("only"), idx=idx)
    for key in ("s", "empty"):
        assert store.get_messages(key) == simple.get_messages(key)


@pytest.mark.parametrize("idx", INDEXES)
async def test_async_add_message_at_an_index_inserts_as_simple_chat_store_does(config, idx):
    store, simple = RedisChatStore(config=config), SimpleChatStore()
    await store.aset_messages("s", [user(str(i)) for i in range(4)])
    simple.set_messages("s", [user(str(i)) for i in range(4)])
    await store.async_add_message("s", assistant("new"), idx=idx)
    simple.add_message("s", assistant("new"), idx=idx)
    assert await store.aget_messages("s") == simple.get_messages("s")


def test_add_message_at_an_index_keeps_the_window_and_refuses_a_non_integer(config):
    store = RedisChatStore(config=config, max_messages=3)
    store.add_messages("s", [user(str(i)) for i in range(3)])
    store.add_message("s", assistant("new"), idx=1)  # 0 new 1 2, then the window: new 1 2
    assert [m.content for m in store.get_messages("s")] == ["new", "1", "2"]
    store.add_message("s", assistant("oldest"), idx=0)  # in at the front, out by the window
    assert [m.content for m in store.get_messages("s")] == ["new", "1", "2"]
    with pytest.raises(TypeError, match="index must be an int"):
        store.add_message("s", user("x"), idx="1")


def test_add_message_at_an_index_is_one_round_trip_that_keeps_the_ttl(
    config, count_commands, round_trips, redis_client, prefix
):
    store = RedisChatStore(client=round_trips.client, config=config)
    store.add_messages("s", [user(str(i)) for i in range(50)])
    store.add_message("warm-up", user("x"), idx=0)  # loads the script
    round_trips.count = 0
    with count_commands() as counted:
        store.add_message("s", assistant("new"), idx=1)
    assert round_trips.count == 1
    assert counted.by_name.get("evalsha") == 1, counted.by_name
    # No read of the session into Python and no rewrite of it, as the peer does.
    assert not {"lrange", "del", "unlink"} & set(counted.by_name), counted.by_name
    assert redis_client.pttl(KeySchema(prefix).session_messages("s")) > 0
    assert [m.content for m in store.get_messages("s")[:3]] == ["0", "new", "1"]


def test_inserts_and_appends_from_many_threads_lose_nothing(config):
    # A read-modify-write insert (the peer's: read, delete, write back) loses the
    # messages appended in between; one script cannot.
    store = RedisChatStore(config=config)
    store.add_message("s", user("first"))

    def write(worker: int) -> None:
        for i in range(25):
            store.add_message("s", user(f"{worker}-insert-{i}"), idx=0)
            store.add_message("s", user(f"{worker}-append-{i}"))

    threads = [threading.Thread(target=write, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    contents = [m.content for m in store.get_messages("s")]
    assert len(contents) == 1 + 4 * 50
    assert len(set(contents)) == len(contents)
    for worker in range(4):  # each writer's own inserts and appends keep their order
        inserts = [c for c in contents if c.startswith(f"{worker}-insert-")]
        appends = [c for c in contents if c.startswith(f"{worker}-append-")]
        assert inserts == [f"{worker}-insert-{i}" for i in reversed(range(25))]
        assert appends == [f"{worker}-append-{i}" for i in range(25)]


def test_an_inserted_message_is_announced_like_an_append(config, redis_client, prefix):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(KeySchema(prefix).session_channel("s"))
    pubsub.get_message(timeout=1)  # the subscription's confirmation
    store = RedisChatStore(config=config)
    store.add_messages("s", [user("a"), user("b")])
    store.add_message("s", ChatMessage(role="user", content="c", additional_kwargs={}), idx=1)
    events = [orjson.loads(pubsub.get_message(timeout=1)["data"]) for _ in range(2)]
    pubsub.close()
    assert [(e["added"], e["count"]) for e in events] == [(2, 2), (1, 3)]


@pytest.mark.search
def test_an_inserted_message_is_searchable(config):
    store = RedisChatStore(config=config, searchable=True)
    store.add_messages("s", [user("hello"), assistant("hi")])
    store.add_message("s", user("what about the walrus"), idx=0)
    [hit] = store.search_messages("walrus", key="s")
    assert hit.text == "what about the walrus"


def test_count_messages_is_one_llen(config, count_commands):
    store = RedisChatStore(config=config)
    store.add_messages("s", [user(str(i)) for i in range(7)])
    with count_commands() as counted:
        assert store.count_messages("s") == 7
        assert store.count_messages("unknown") == 0
    assert counted.by_name == {"llen": 2}
    assert asyncio.run(store.acount_messages("s")) == 7


def test_delete_messages_removes_the_archive_too(config, redis_client, prefix):
    asyncio.run(RedisMemoryChatStore(config=config).add_message("s", user("old"), status=ARCHIVED))
    store = RedisChatStore(config=config)
    store.add_message("s", user("new"))
    assert store.delete_messages("s") == [user("new")]
    assert raw(redis_client, prefix, "s", "archived") == []
    assert store.get_keys() == []


def test_max_messages_keeps_a_window(config):
    store = RedisChatStore(config=config, max_messages=3)
    store.add_messages("s", [user(str(i)) for i in range(5)])
    store.add_message("s", user("5"))
    assert [m.content for m in store.get_messages("s")] == ["3", "4", "5"]


def test_get_keys_lists_only_this_prefix(config, redis_url, redis_client, prefix):
    store = RedisChatStore(config=config)
    store.add_message("plain", user("x"))
    store.add_message("user:42 {odd} *key*", user("x"))
    MessageLog(config=config).append("from-core", [{"role": "user", "content": "x"}])
    asyncio.run(
        RedisMemoryChatStore(config=config).add_message("archived-only", user("x"), ARCHIVED)
    )
    other = RedisChatStore(config=RedisMemoryConfig(url=redis_url, prefix=prefix + "x"))
    other.add_message("elsewhere", user("x"))
    redis_client.rpush(f"other:session:{{{prefix}}}:messages", b'{"role":"user","content":"x"}')
    redis_client.set(f"{prefix}:state:{{u}}:k", b"1")
    try:
        expected = sorted(["plain", "user:42 {odd} *key*", "from-core", "archived-only"])
        assert store.get_keys() == expected
        assert asyncio.run(store.aget_keys()) == expected
        assert asyncio.run(RedisMemoryChatStore(config=config).get_keys()) == expected
        assert other.get_keys() == ["elsewhere"]
    finally:
        redis_client.delete(f"other:session:{{{prefix}}}:messages")
        other.delete_messages("elsewhere")


def test_chat_store_with_a_user_client(config, redis_client):
    store = RedisChatStore(client=redis_client, config=config)
    store.add_message("s", user("sync"))
    asyncio.run(store.async_add_message("s", user("async")))
    assert [m.content for m in store.get_messages("s")] == ["sync", "async"]


def test_bad_input_is_a_clear_error(config):
    store = RedisChatStore(config=config)
    memory_store = RedisMemoryChatStore(config=config)
    with pytest.raises(ValueError, match="session id must not be empty"):
        store.get_messages("")
    with pytest.raises(ValueError, match="session id must not be empty"):
        store.add_message("", user("x"))
    with pytest.raises(ValueError, match="session id must not be empty"):
        asyncio.run(memory_store.get_messages("", limit=0))
    with pytest.raises(TypeError, match="session id must be a str"):
        store.get_messages(42)
    with pytest.raises(TypeError, match="ChatMessage"):
        store.add_message("s", {"role": "user", "content": "x"})
    with pytest.raises(TypeError, match="list of ChatMessage"):
        store.set_messages("s", user("not a list"))
    with pytest.raises(ValueError, match="offset"):
        asyncio.run(memory_store.get_messages("s", offset=-1))
    with pytest.raises(ValueError, match="n must be"):
        asyncio.run(memory_store.archive_oldest_messages("s", -1))
    with pytest.raises(ValueError, match="status must be"):
        asyncio.run(memory_store.count_messages("s", status="deleted"))
    assert store.get_keys() == []


@pytest.mark.parametrize("position", [0, 2])
def test_unserializable_additional_kwargs_write_nothing(config, position):
    store = RedisChatStore(config=config)
    memory_store = RedisMemoryChatStore(config=config)
    store.add_message("s", user("kept"))
    asyncio.run(memory_store.add_message("s", user("archived"), status=ARCHIVED))
    batch = [user("a"), user("b"), user("c")]
    batch[position] = ChatMessage(role="user", content="bad", additional_kwargs={"x": object()})
    with pytest.raises(TypeError, match="cannot be stored"):
        store.add_message("s", batch[position])
    with pytest.raises(TypeError, match="cannot be stored"):
        store.add_messages("s", batch)
    with pytest.raises(TypeError, match="cannot be stored"):
        store.set_messages("s", batch)
    with pytest.raises(TypeError, match="cannot be stored"):
        asyncio.run(store.aset_messages("s", batch))
    with pytest.raises(TypeError, match="cannot be stored"):
        asyncio.run(memory_store.add_messages("s", batch))
    with pytest.raises(TypeError, match="cannot be stored"):
        asyncio.run(memory_store.set_messages("s", batch))
    with pytest.raises(TypeError, match="cannot be stored"):
        asyncio.run(memory_store.set_messages("s", batch, status=ARCHIVED))
    assert store.get_messages("s") == [user("kept")]
    everything = asyncio.run(memory_store.get_messages("s", status=None))
    assert everything == [user("archived"), user("kept")]


@pytest.mark.parametrize(
    ("value", "match"),
    [
        (b"not json", "not a stored message"),
        (b'{"hello": "world"}', "not a stored message"),
        (b'{"role": "user", "content": "x", "li": {"blocks": [7]}}', "cannot be rebuilt"),
        (b'{"role": "user", "content": "x", "li": {"role": "wizard"}}', "cannot be rebuilt"),
    ],
)
def test_foreign_values_are_a_clear_error_naming_the_key(
    config, redis_client, prefix, value, match
):
    key = KeySchema(prefix).session_messages("s")
    redis_client.rpush(key, value)
    store = RedisChatStore(config=config)
    with pytest.raises(SerializationError, match=match) as raised:
        store.get_messages("s")
    assert key in str(raised.value)
    with pytest.raises(SerializationError, match=match):
        asyncio.run(RedisMemoryChatStore(config=config).get_messages("s"))
    with pytest.raises(ValueError, match=match):  # SerializationError is a ValueError
        store.delete_last_message("s")


# -- command budgets --------------------------------------------------------------------


def test_chat_store_command_budgets(config, count_commands):
    store = RedisChatStore(config=config)
    store.add_message("warm-up", user("x"))  # loads the script, opens the connection
    with count_commands() as one:
        store.add_message("s", ROUND_TRIP["text and images"])
    with count_commands() as batch:
        store.add_messages("s", [user(str(i)) for i in range(20)])
    with count_commands() as read:
        assert len(store.get_messages("s")) == 21
    # evalsha, and inside it rpush, pexpire, publish and the append token's get and set
    assert one.total <= 6, one.by_name
    assert batch.total <= 6, batch.by_name
    assert read.total <= 3, read.by_name
    assert one.by_name.get("evalsha") == batch.by_name.get("evalsha") == 1


def test_chat_store_async_command_budgets(config, count_commands):
    store = RedisChatStore(config=config)

    async def run() -> tuple:
        await store.async_add_message("warm-up", user("x"))
        with count_commands() as one:
            await store.async_add_message("s", user("x"))
        with count_commands() as batch:
            await store.async_add_messages("s", [user(str(i)) for i in range(20)])
        with count_commands() as read:
            assert len(await store.aget_messages("s")) == 21
        return one, batch, read

    one, batch, read = asyncio.run(run())
    assert one.total <= 6, one.by_name
    assert batch.total <= 6, batch.by_name
    assert read.total <= 3, read.by_name


def test_memory_chat_store_command_budgets(config, count_commands):
    store = RedisMemoryChatStore(config=config)

    async def run() -> tuple:
        await store.add_message("warm-up", user("x"))
        with count_commands() as one:
            await store.add_message("s", user("x"))
        with count_commands() as batch:
            await store.add_messages("s", [user(str(i)) for i in range(20)])
        with count_commands() as archived:
            await store.add_messages("s", [user(str(i)) for i in range(20)], status=ARCHIVED)
        with count_commands() as read:
            assert len(await store.get_messages("s")) == 21
        return one, batch, archived, read

    one, batch, archived, read = asyncio.run(run())
    for counted in (one, batch):
        assert counted.total <= 7, counted.by_name  # the window's ltrim too
    assert archived.total <= 4, archived.by_name
    assert read.total <= 3, read.by_name


def test_memory_chat_store_sets_archived_messages_in_one_atomic_step(config, count_commands):
    store = RedisMemoryChatStore(config=config)

    async def run() -> tuple:
        await store.set_messages("warm-up", [user("x")], status=ARCHIVED)
        await store.add_messages("s", [user("active")])
        await store.add_messages("s", [user("archived")], status=ARCHIVED)
        with count_commands() as replaced:
            await store.set_messages("s", [user("n1"), user("n2")], status=ARCHIVED)
        return replaced, await store.get_messages("s", status=None)

    replaced, everything = asyncio.run(run())
    # One script (one round trip): the old session and the new archive in one step.
    assert replaced.by_name == {"evalsha": 1, "unlink": 1, "rpush": 1, "pexpire": 1}
    assert everything == [user("n1"), user("n2")]


# -- RedisMemoryChatStore ----------------------------------------------------------------


async def test_memory_chat_store_methods(config, redis_client, prefix):
    store = RedisMemoryChatStore(config=config)
    assert await store.get_messages("s") == []
    assert await store.count_messages("s", status=None) == 0

    await store.add_message("s", user("0"))
    await store.add_messages("s", [user(str(i)) for i in range(1, 6)])
    await store.add_message("s", user("a0"), status=ARCHIVED)
    await store.add_messages("s", [user("a1"), user("a2")], status=ARCHIVED)

    def texts(messages: list[ChatMessage]) -> list[str]:
        return [m.content for m in messages]

    assert texts(await store.get_messages("s")) == ["0", "1", "2", "3", "4", "5"]
    assert texts(await store.get_messages("s", status=ARCHIVED)) == ["a0", "a1", "a2"]
    everything = ["a0", "a1", "a2", "0", "1", "2", "3", "4", "5"]
    assert texts(await store.get_messages("s", status=None)) == everything
    assert texts(await store.get_messages("s", limit=2, offset=1)) == ["1", "2"]
    assert texts(await store.get_messages("s", offset=4)) == ["4", "5"]
    assert texts(await store.get_messages("s", status=ARCHIVED, limit=2)) == ["a0", "a1"]
    assert texts(await store.get_messages("s", status=None, limit=3, offset=2)) == ["a2", "0", "1"]
    assert await store.get_messages("s", limit=0) == []
    counts = [await store.count_messages("s", status=s) for s in (ACTIVE, ARCHIVED, None)]
    assert counts == [6, 3, 9]
    assert await store.count_messages("s") == 6

    assert await store.archive_oldest_messages("s", 2) == [user("0"), user("1")]
    assert texts(await store.get_messages("s", status=ARCHIVED)) == ["a0", "a1", "a2", "0", "1"]
    assert await store.delete_oldest_messages("s", 1) == [user("2")]
    assert await store.delete_oldest_messages("s", 0) == []
    assert await store.archive_oldest_messages("s", 0) == []
    assert await store.delete_message("s", 1) == user("4")
    assert await store.delete_message("s", 9) is None
    assert texts(await store.get_messages("s")) == ["3", "5"]
    assert await store.get_keys() == ["s"]

    await store.delete_messages("s", status=ARCHIVED)
    assert await store.count_messages("s", status=None) == 2
    await store.add_message("s", user("a"), status=ARCHIVED)
    await store.delete_messages("s", status=ACTIVE)
    assert texts(await store.get_messages("s", status=None)) == ["a"]
    await store.delete_messages("s")
    assert await store.count_messages("s", status=None) == 0
    assert await store.get_keys() == []

    # set_messages replaces the whole session, archive included.
    await store.add_messages("s", [user("x")], status=ARCHIVED)
    await store.set_messages("s", [user("n1"), user("n2")])
    assert texts(await store.get_messages("s", status=None)) == ["n1", "n2"]
    await store.set_messages("s", [user("old")], status=ARCHIVED)
    assert texts(await store.get_messages("s", status=ARCHIVED)) == ["old"]
    assert await store.count_messages("s") == 0
    # Archived messages live in their own list, next to the active ones, and
    # every append renews the archive's expiry with the session's.
    assert [m["content"] for m in raw(redis_client, prefix, "s", "archived")] == ["old"]
    archive_key = KeySchema(prefix).session("s") + ":archived"
    redis_client.pexpire(archive_key, 60_000)
    await store.add_message("s", user("new"))
    assert redis_client.pttl(archive_key) > 60_000


def test_memory_archives_past_the_token_limit(config, redis_client, prefix):
    store = RedisMemoryChatStore(config=config)
    memory = Memory.from_defaults(
        session_id="chat",
        chat_store=store,
        token_limit=50,
        chat_history_token_ratio=0.5,
        token_flush_size=10,
    )
    sent = []
    for turn in range(6):
        for message in (
            user(f"Question {turn}: please tell me something about the number {turn}."),
            assistant(f"Answer {turn}: the number {turn} is a fine number indeed."),
        ):
            memory.put(message)
            sent.append(message)

    active = asyncio.run(store.get_messages("chat", status=ACTIVE))
    archived = asyncio.run(store.get_messages("chat", status=ARCHIVED))
    assert archived, "nothing was archived"
    assert active
    assert archived + active == sent  # nothing lost, order kept
    assert memory.get() == active
    assert memory.get_all() == sent
    assert memory.get_all(status=ARCHIVED) == archived
    assert active[0].role == MessageRole.USER  # Memory keeps whole turns
    # The archive expires with the session, not before it: appends renew its expiry.
    archive_key = KeySchema(prefix).session("chat") + ":archived"
    redis_client.pexpire(archive_key, 60_000)
    memory.put(user("One more question."))
    assert redis_client.pttl(archive_key) > 60_000
    sent.append(user("One more question."))
    assert memory.get_all() == sent

    memory.reset()
    assert memory.get_all() == []


def test_memory_from_defaults_with_chat_history(config):
    store = RedisMemoryChatStore(config=config)
    asyncio.run(store.add_message("chat", user("stale"), status=ARCHIVED))
    memory = Memory.from_defaults(
        session_id="chat", chat_store=store, chat_history=[user("hi"), assistant("hello")]
    )
    assert memory.get_all() == [user("hi"), assistant("hello")]
    memory.set([user("only")])
    assert memory.get() == [user("only")]


def test_many_sync_memory_calls_in_a_row(config):
    memory = Memory.from_defaults(
        session_id="busy", chat_store=RedisMemoryChatStore(config=config), token_limit=100_000
    )
    expected = []
    for i in range(40):
        message = user(f"message {i}") if i % 2 == 0 else assistant(f"reply {i}")
        memory.put(message)
        expected.append(message)
        assert memory.get()[-1] == message
    assert memory.get_all() == expected
    # Each asyncio.run is a new event loop, closed afterwards.
    for i in range(5):
        assert asyncio.run(memory.aget_all()) == expected
        asyncio.run(memory.aput(user(f"loop {i}")))
        expected.append(user(f"loop {i}"))
    assert memory.get_all() == expected
    memory.reset()
    assert memory.get_all() == []


async def test_sync_memory_calls_inside_a_running_loop(config):
    # In a running loop (a notebook, an async web app), Memory's sync wrappers
    # run each call on a new loop in a worker thread.
    memory = Memory.from_defaults(
        session_id="nb", chat_store=RedisMemoryChatStore(config=config), token_limit=100_000
    )
    for i in range(10):
        memory.put(user(f"m{i}"))
    assert [m.content for m in memory.get_all()] == [f"m{i}" for i in range(10)]
    await memory.aput(user("async"))
    assert len(await memory.aget_all()) == 11


def test_sync_memory_calls_inside_a_running_loop_do_not_leak_connections(config, redis_client):
    memory = Memory.from_defaults(
        session_id="leak", chat_store=RedisMemoryChatStore(config=config), token_limit=100_000
    )

    async def calls() -> None:
        for i in range(20):
            memory.put(user(f"m{i}"))

    asyncio.run(calls())  # warm-up: the sync client and one loop's connection
    gc.collect()
    before = redis_client.info("clients")["connected_clients"]
    asyncio.run(calls())
    gc.collect()
    after = redis_client.info("clients")["connected_clients"]
    assert after - before < 5


# -- LlamaIndex's memories and chat engines ----------------------------------------------


def test_chat_memory_buffer_and_chat_engine_over_two_turns(config):
    store = RedisChatStore(config=config)
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=store, chat_store_key="ana", token_limit=5000
    )
    engine = SimpleChatEngine.from_defaults(llm=MockLLM(), memory=memory)

    first = engine.chat("My name is Ana.")
    second = engine.chat("What is my name?")
    # MockLLM answers with the prompt it got: the second prompt holds the first turn.
    assert "My name is Ana." in str(second)
    history = store.get_messages("ana")
    assert [m.role for m in history] == [MessageRole.USER, MessageRole.ASSISTANT] * 2
    assert [m.content for m in history] == [
        "My name is Ana.",
        str(first),
        "What is my name?",
        str(second),
    ]

    # A new process (a new store and memory) continues the same conversation.
    again = ChatMemoryBuffer.from_defaults(
        chat_store=RedisChatStore(config=config), chat_store_key="ana", token_limit=5000
    )
    assert again.get_all() == history
    again.reset()
    assert store.get_messages("ana") == []


async def test_chat_engine_async_turns(config):
    store = RedisChatStore(config=config)
    memory = ChatMemoryBuffer.from_defaults(
        chat_store=store,
        chat_store_key="bo",
        token_limit=5000,
        chat_history=[ChatMessage(role="system", content="You are terse.")],
    )
    engine = SimpleChatEngine.from_defaults(llm=MockLLM(max_tokens=3), memory=memory)
    await engine.achat("Hi")
    await engine.achat("Again")
    history = await store.aget_messages("bo")
    assert [m.content for m in history] == [
        "You are terse.",
        "Hi",
        "text text text",
        "Again",
        "text text text",
    ]


def test_docstring_examples_run():
    # They use url="embedded": a private Redis started for this process.
    from llama_index_redis_memory import chat_store

    results = doctest.testmod(chat_store, optionflags=doctest.ELLIPSIS)
    assert results.attempted >= 10
    assert results.failed == 0
