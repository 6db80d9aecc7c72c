"""One session, two frameworks: LangChain writes, LlamaIndex reads, and the other way round."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from llama_index.core.memory import Memory

from langchain_redis_memory import RedisChatMessageHistory
from llama_index_redis_memory import RedisChatStore, RedisMemoryChatStore

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

LANGCHAIN_CONVERSATION = [
    SystemMessage("You plan trips."),
    HumanMessage("Weather in Porto tomorrow?"),
    AIMessage(
        "",
        id="run-1",
        tool_calls=[{"name": "forecast", "args": {"city": "Porto", "day": 1}, "id": "call_9"}],
        usage_metadata={"input_tokens": 9, "output_tokens": 4, "total_tokens": 13},
    ),
    ToolMessage("21°C, light wind", tool_call_id="call_9"),
    AIMessage("Tomorrow Porto has 21°C and a light wind.", id="run-2"),
    HumanMessage(
        [
            {"type": "text", "text": "And this bridge?"},
            {"type": "image", "url": "https://example.com/bridge.jpg"},
        ]
    ),
]


def test_a_langchain_conversation_reads_back_through_llama_index(config):
    RedisChatMessageHistory("trip", config=config).add_messages(LANGCHAIN_CONVERSATION)
    messages = RedisChatStore(config=config).get_messages("trip")

    assert [m.role for m in messages] == [
        MessageRole.SYSTEM,
        MessageRole.USER,
        MessageRole.ASSISTANT,
        MessageRole.TOOL,
        MessageRole.ASSISTANT,
        MessageRole.USER,
    ]
    assert messages[0].content == "You plan trips."
    assert messages[1].content == "Weather in Porto tomorrow?"
    calls = [b for b in messages[2].blocks if isinstance(b, ToolCallBlock)]
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("call_9", "forecast", {"city": "Porto", "day": 1})
    ]
    assert messages[3].content == "21°C, light wind"
    assert messages[3].additional_kwargs["tool_call_id"] == "call_9"
    assert messages[4].content == "Tomorrow Porto has 21°C and a light wind."
    text, image = messages[5].blocks
    assert text == TextBlock(text="And this bridge?")
    assert isinstance(image, ImageBlock)
    assert str(image.url) == "https://example.com/bridge.jpg"


def test_a_llama_index_conversation_reads_back_through_langchain(config):
    store = RedisChatStore(config=config)
    store.add_messages(
        "trip",
        [
            ChatMessage(role=MessageRole.SYSTEM, content="You plan trips."),
            ChatMessage(role=MessageRole.USER, content="Weather in Porto tomorrow?"),
            ChatMessage(
                role=MessageRole.ASSISTANT,
                blocks=[
                    ToolCallBlock(
                        tool_call_id="call_9",
                        tool_name="forecast",
                        tool_kwargs={"city": "Porto", "day": 1},
                    )
                ],
            ),
            ChatMessage(
                role=MessageRole.TOOL,
                content="21°C, light wind",
                additional_kwargs={"tool_call_id": "call_9"},
            ),
            ChatMessage(role=MessageRole.ASSISTANT, content="21°C and a light wind."),
        ],
    )
    messages = RedisChatMessageHistory("trip", config=config).messages
    assert messages == [
        SystemMessage("You plan trips."),
        HumanMessage("Weather in Porto tomorrow?"),
        AIMessage(
            "",
            tool_calls=[{"name": "forecast", "args": {"city": "Porto", "day": 1}, "id": "call_9"}],
        ),
        ToolMessage("21°C, light wind", tool_call_id="call_9"),
        AIMessage("21°C and a light wind."),
    ]


def test_there_and_back_again_keeps_roles_contents_tool_calls_and_order(config):
    """LangChain -> LlamaIndex -> (written by LlamaIndex) -> LangChain."""
    RedisChatMessageHistory("first", config=config).add_messages(LANGCHAIN_CONVERSATION)
    store = RedisChatStore(config=config)
    store.set_messages("second", store.get_messages("first"))
    back = RedisChatMessageHistory("second", config=config).messages

    def essentials(message):
        return (
            message.type,
            message.content,
            [(c["id"], c["name"], c["args"]) for c in getattr(message, "tool_calls", [])],
            getattr(message, "tool_call_id", None),
        )

    assert [essentials(m) for m in back[:5]] == [essentials(m) for m in LANGCHAIN_CONVERSATION[:5]]
    # LlamaIndex's ImageBlock adds the MIME type it infers from the URL: more, not less.
    assert back[5] == HumanMessage(
        [
            {"type": "text", "text": "And this bridge?"},
            {"type": "image", "url": "https://example.com/bridge.jpg", "mime_type": "image/jpeg"},
        ]
    )


def test_memory_and_langchain_append_to_one_session_in_turn(config):
    history = RedisChatMessageHistory("mixed", config=config)
    memory = Memory.from_defaults(
        session_id="mixed", chat_store=RedisMemoryChatStore(config=config), token_limit=10_000
    )
    history.add_user_message("1 from LangChain")
    memory.put(ChatMessage(role=MessageRole.ASSISTANT, content="2 from LlamaIndex"))

    async def both():
        await history.aadd_messages([HumanMessage("3 from LangChain")])
        await memory.aput(ChatMessage(role=MessageRole.ASSISTANT, content="4 from LlamaIndex"))
        return await memory.aget_all()

    seen_by_llama_index = asyncio.run(both())
    assert [m.content for m in seen_by_llama_index] == [
        "1 from LangChain",
        "2 from LlamaIndex",
        "3 from LangChain",
        "4 from LlamaIndex",
    ]
    assert [m.type for m in history.messages] == ["human", "ai", "human", "ai"]
