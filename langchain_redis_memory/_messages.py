"""LangChain messages to and from the neutral stored form of the message log.

The neutral fields (role, content, name, id, tool_calls, tool_call_id) are what
LlamaIndex reads; ``lc`` keeps the rest of a LangChain message (its type,
``additional_kwargs``, ``response_metadata``, ``usage_metadata``,
``invalid_tool_calls``, ``artifact``...) so it comes back equal. Fields left at
their defaults are not stored, which keeps each message small.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    ChatMessageChunk,
    FunctionMessage,
    FunctionMessageChunk,
    HumanMessage,
    HumanMessageChunk,
    SystemMessage,
    SystemMessageChunk,
    ToolMessage,
    ToolMessageChunk,
)
from langchain_core.messages.tool import tool_call

from redis_memory.history import StoredMessage

_CLASSES: dict[str, type[BaseMessage]] = {
    cls.model_fields["type"].default: cls
    for cls in (
        HumanMessage,
        AIMessage,
        SystemMessage,
        ChatMessage,
        FunctionMessage,
        ToolMessage,
        HumanMessageChunk,
        AIMessageChunk,
        SystemMessageChunk,
        ChatMessageChunk,
        FunctionMessageChunk,
        ToolMessageChunk,
    )
}

_ROLE_OF_TYPE = {
    "human": "user",
    "HumanMessageChunk": "user",
    "ai": "assistant",
    "AIMessageChunk": "assistant",
    "system": "system",
    "SystemMessageChunk": "system",
    "function": "function",
    "FunctionMessageChunk": "function",
    "tool": "tool",
    "ToolMessageChunk": "tool",
}

_TYPE_OF_ROLE = {
    "user": "human",
    "human": "human",
    "assistant": "ai",
    "ai": "ai",
    "system": "system",
    "developer": "system",
    "tool": "tool",
    "function": "function",
}

_NEUTRAL = ("content", "name", "id", "tool_call_id")
# Kept in the neutral form, or implied by the type: never repeated in ``lc``.
_NOT_IN_LC = frozenset({*_NEUTRAL, "type", "role", "tool_calls"})


@cache
def _defaults(cls: type[BaseMessage]) -> dict[str, Any]:
    defaults: dict[str, Any] = {}
    for name, field in cls.model_fields.items():
        if not field.is_required():
            defaults[name] = field.get_default(call_default_factory=True)
    return defaults


def to_stored(message: BaseMessage) -> StoredMessage:
    """The neutral stored form of a LangChain message."""
    if not isinstance(message, BaseMessage):
        raise TypeError(f"expected a LangChain message (BaseMessage), got {type(message).__name__}")
    data = message.model_dump()
    kind = data["type"]
    cls = _CLASSES.get(kind)
    if cls is None:
        raise TypeError(f"cannot store LangChain message type {kind!r} ({type(message).__name__})")
    role = data["role"] if "role" in data else _ROLE_OF_TYPE[kind]
    stored: dict[str, Any] = {"role": role, "content": data["content"]}
    for name in _NEUTRAL[1:]:
        if data.get(name) is not None:
            stored[name] = data[name]
    if data.get("tool_calls"):
        stored["tool_calls"] = [
            {"id": call.get("id"), "name": call["name"], "args": call["args"]}
            for call in data["tool_calls"]
        ]
    defaults = _defaults(cls)
    lc = {
        name: value
        for name, value in data.items()
        if name not in _NOT_IN_LC and (name not in defaults or value != defaults[name])
    }
    if kind != _TYPE_OF_ROLE.get(role, "chat"):
        lc["type"] = kind
    if lc:
        stored["lc"] = lc
    return stored  # type: ignore[return-value]


def from_stored(stored: StoredMessage) -> BaseMessage:
    """A LangChain message from the neutral stored form (written by either framework)."""
    role = stored["role"]
    lc: dict[str, Any] = dict(stored.get("lc") or {})
    kind = lc.pop("type", None) or _TYPE_OF_ROLE.get(role, "chat")
    cls = _CLASSES.get(kind, ChatMessage)
    data: dict[str, Any] = {**lc, "content": stored["content"]}
    for name in ("name", "id"):
        if name in stored:
            data[name] = stored[name]
    if "tool_call_id" in cls.model_fields:
        data["tool_call_id"] = stored.get("tool_call_id", "")
    if "role" in cls.model_fields:
        data["role"] = role
    if "name" in cls.model_fields and cls.model_fields["name"].is_required():
        data.setdefault("name", "")
    if stored.get("tool_calls") and "tool_calls" in cls.model_fields:
        data["tool_calls"] = [
            tool_call(name=call["name"], args=call.get("args") or {}, id=call.get("id"))
            for call in stored["tool_calls"]
        ]
    if role == "developer" and "lc" not in stored:
        # LangChain's OpenAI integration marks a developer message this way.
        data["additional_kwargs"] = {"__openai_role__": "developer"}
    return cls(**data)
