"""langchain_redis_memory.RedisChatMessageHistory: lossless, budgeted, a drop-in history."""

from __future__ import annotations

import asyncio
import socket

import pytest
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from langchain_redis_memory import RedisChatMessageHistory
from redis_memory.history import MessageLog

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

EVERY_KIND = [
    SystemMessage("You are terse.", id="sys-1"),
    HumanMessage("What's the weather in Paris?", name="ana"),
    AIMessage(
        "",
        id="run-1",
        tool_calls=[{"name": "weather", "args": {"city": "Paris", "days": 2}, "id": "call_1"}],
        invalid_tool_calls=[
            {"name": "oops", "args": "{not json", "id": "call_2", "error": "bad JSON"}
        ],
        usage_metadata={"input_tokens": 12, "output_tokens": 7, "total_tokens": 19},
        response_metadata={"model_name": "gpt-x", "finish_reason": "tool_calls"},
        additional_kwargs={"refusal": None},
    ),
    ToolMessage("18°C, sunny", tool_call_id="call_1", artifact={"raw": [18, "C"]}),
    ToolMessage("failed", tool_call_id="call_2", status="error"),
    FunctionMessage('{"ok": true}', name="legacy_fn"),
    ChatMessage("Looks fine to me.", role="critic"),
    ChatMessage("A user in disguise.", role="user"),
    AIMessageChunk("partial ", id="chunk-1"),
    HumanMessage(
        [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image", "url": "https://example.com/cat.png"},
            {"type": "image", "base64": "aGVsbG8=", "mime_type": "image/png"},
        ]
    ),
    AIMessage('It is a cat. 🐈 Ünïcödé\n\t"quoted"', id="run-2"),
]


@pytest.fixture
def history(config):
    return RedisChatMessageHistory("conversation:1", config=config)


def test_every_message_type_comes_back_equal(history):
    history.add_messages(EVERY_KIND)
    assert history.messages == EVERY_KIND
    assert [type(m) for m in history.messages] == [type(m) for m in EVERY_KIND]


def test_every_message_type_comes_back_equal_async(history):
    async def scenario():
        await history.aadd_messages(EVERY_KIND)
        return await history.aget_messages()

    assert asyncio.run(scenario()) == EVERY_KIND


def test_add_helpers_last_n_and_clear(history, config):
    history.add_user_message("hi")
    history.add_ai_message("hello")
    history.add_message(HumanMessage("again"))
    assert [m.content for m in history.messages] == ["hi", "hello", "again"]
    assert [m.content for m in history.get_messages(last=1)] == ["again"]
    assert [m.content for m in asyncio.run(history.aget_messages(last=2))] == ["hello", "again"]
    assert RedisChatMessageHistory("conversation:1", config=config).messages == history.messages
    history.clear()
    assert history.messages == []

    async def aclear():
        await history.aadd_messages([HumanMessage("x")])
        await history.aclear()
        return await history.aget_messages()

    assert asyncio.run(aclear()) == []


def test_len_is_one_llen_and_a_history_is_always_true(history, count_commands):
    # As len(history) of langchain-redis's RedisChatMessageHistory, without its search query.
    assert len(history) == 0
    assert history, "a new session's history is still an object to use, not an empty list"
    history.add_messages(EVERY_KIND)
    with count_commands() as counted:
        assert len(history) == len(EVERY_KIND)
    assert counted.by_name == {"llen": 1}
    history.clear()
    assert len(history) == 0


def test_window(config):
    history = RedisChatMessageHistory("w", config=config, max_messages=2)
    history.add_messages([HumanMessage(str(i)) for i in range(5)])
    assert [m.content for m in history.messages] == ["3", "4"]


def test_session_ids_are_escaped_and_validated(config):
    a = RedisChatMessageHistory("a:b", config=config)
    b = RedisChatMessageHistory("a%3Ab", config=config)
    a.add_user_message("one")
    assert b.messages == []
    assert a.key.endswith(":session:{a%3Ab}:messages")
    with pytest.raises(ValueError, match="session id must not be empty"):
        RedisChatMessageHistory("", config=config)
    with pytest.raises(ValueError, match="at most 512 bytes"):
        RedisChatMessageHistory("x" * 600, config=config)


def test_constructing_one_costs_no_round_trip():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    history = RedisChatMessageHistory("s", url=f"redis://127.0.0.1:{port}/0")
    assert "session:{s}" in repr(history)


def test_unstorable_content_is_a_type_error_and_nothing_is_written(history):
    history.add_user_message("kept")
    with pytest.raises(TypeError, match="cannot be stored"):
        history.add_messages(
            [HumanMessage("fine"), ToolMessage("x", tool_call_id="1", artifact=object())]
        )
    assert [m.content for m in history.messages] == ["kept"]
    with pytest.raises(TypeError, match="LangChain message"):
        history.add_messages(["not a message"])


def test_messages_written_by_the_core_in_the_neutral_form(config):
    MessageLog(config=config).append(
        "neutral",
        [
            {"role": "system", "content": "sys"},
            {"role": "developer", "content": "dev rules"},
            {"role": "user", "content": [{"type": "text", "text": "hi"}], "name": "bo"},
            {
                "role": "assistant",
                "content": "",
                "id": "a1",
                "tool_calls": [{"id": "c1", "name": "search", "args": {"q": "redis"}}],
            },
            {"role": "tool", "content": "found", "tool_call_id": "c1"},
            {"role": "chatbot", "content": "custom role"},
        ],
    )
    messages = RedisChatMessageHistory("neutral", config=config).messages
    assert messages[0] == SystemMessage("sys")
    assert messages[1] == SystemMessage(
        "dev rules", additional_kwargs={"__openai_role__": "developer"}
    )
    assert messages[2] == HumanMessage([{"type": "text", "text": "hi"}], name="bo")
    assert messages[3] == AIMessage(
        "", id="a1", tool_calls=[{"name": "search", "args": {"q": "redis"}, "id": "c1"}]
    )
    assert messages[4] == ToolMessage("found", tool_call_id="c1")
    assert messages[5] == ChatMessage("custom role", role="chatbot")


def _chain():
    model = FakeMessagesListChatModel(
        responses=[AIMessage("Hello Ana!", id="r1"), AIMessage("You are Ana.", id="r2")]
    )
    prompt = ChatPromptTemplate.from_messages(
        [("system", "Be brief."), MessagesPlaceholder("history"), ("human", "{question}")]
    )
    return prompt | model


def test_runnable_with_message_history_turns_cost_at_most_three_round_trips(config, round_trips):
    chain = RunnableWithMessageHistory(
        _chain(),
        lambda session_id: RedisChatMessageHistory(
            session_id, client=round_trips.client, config=config
        ),
        input_messages_key="question",
        history_messages_key="history",
    )
    MessageLog(client=round_trips.client, config=config).append(
        "warm", [{"role": "user", "content": "x"}]
    )
    turns = []
    for question in ("I am Ana.", "Who am I?"):
        round_trips.count = 0
        chain.invoke({"question": question}, config={"configurable": {"session_id": "chat"}})
        turns.append(round_trips.count)
    assert max(turns) <= 3, turns
    assert turns == [2, 2], "read history once, then append human + AI in one script call"
    history = RedisChatMessageHistory("chat", config=config).messages
    assert history == [
        HumanMessage("I am Ana."),
        AIMessage("Hello Ana!", id="r1"),
        HumanMessage("Who am I?"),
        AIMessage("You are Ana.", id="r2"),
    ]


def test_runnable_with_message_history_async(config):
    chain = RunnableWithMessageHistory(
        _chain(),
        lambda session_id: RedisChatMessageHistory(session_id, config=config),
        input_messages_key="question",
        history_messages_key="history",
    )

    async def scenario():
        for question in ("I am Ana.", "Who am I?"):
            await chain.ainvoke(
                {"question": question}, config={"configurable": {"session_id": "achat"}}
            )

    asyncio.run(scenario())
    contents = [m.content for m in RedisChatMessageHistory("achat", config=config).messages]
    assert contents == ["I am Ana.", "Hello Ana!", "Who am I?", "You are Ana."]


def test_a_chat_loop_without_langgraph(config):
    model = FakeMessagesListChatModel(responses=[AIMessage("one"), AIMessage("two")])
    history = RedisChatMessageHistory("loop", config=config)
    for text in ("first", "second"):
        history.add_user_message(text)
        reply = model.invoke(history.messages)
        history.add_message(reply)
    assert [m.content for m in history.messages] == ["first", "one", "second", "two"]
