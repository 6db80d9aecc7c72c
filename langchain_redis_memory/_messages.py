"""LangChain messages to and from the neutral stored form of the message log.

The neutral fields (role, content, name, id, tool_calls, tool_call_id) are what
LlamaIndex reads; ``lc`` keeps the rest of a LangChain message (its type,
``additional_kwargs``, ``response_metadata``, ``usage_metadata``,
``invalid_tool_calls``, ``artifact``...) so it comes back equal. Fields left at
their defaults are not stored, which keeps each message small.

A stored message LangChain cannot rebuild (an ``lc`` field of the wrong type,
say) is a :class:`~redis_memory.messages.DamagedMessageError` naming the key,
the index and the field, never pydantic's own error.
"""

from __future__ import annotations

from collections.abc import Sequence
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
from pydantic import ValidationError

from redis_memory import messages as neutral
from redis_memory.keys import KeySchema
from redis_memory.messages import StoredMessage

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
_OPTIONAL_NEUTRAL = _NEUTRAL[1:]
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
    # The fields as they are (model_dump would copy every value first): the
    # serializer writes them out right after, and pydantic extras come along.
    extra = message.__pydantic_extra__
    data = {**message.__dict__, **extra} if extra else message.__dict__
    kind = data["type"]
    cls = _CLASSES.get(kind)
    if cls is None:
        raise TypeError(f"cannot store LangChain message type {kind!r} ({type(message).__name__})")
    role = data["role"] if "role" in data else _ROLE_OF_TYPE[kind]
    stored: dict[str, Any] = {"role": role, "content": data["content"]}
    for name in _OPTIONAL_NEUTRAL:
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


@cache
def _shape(cls: type[BaseMessage]) -> tuple[bool, bool, bool, bool]:
    # Read once per class: pydantic's model_fields is slow to reach per message.
    fields = cls.model_fields
    return (
        "tool_call_id" in fields,
        "role" in fields,
        "name" in fields and fields["name"].is_required(),
        "tool_calls" in fields,
    )


def from_stored(stored: StoredMessage) -> BaseMessage:
    """A LangChain message from the neutral stored form (written by either framework)."""
    role = stored["role"]
    lc: dict[str, Any] = dict(stored.get("lc") or {})
    kind = lc.pop("type", None) or _TYPE_OF_ROLE.get(role, "chat")
    cls = _CLASSES.get(kind, ChatMessage)
    has_tool_call_id, has_role, name_required, has_tool_calls = _shape(cls)
    data: dict[str, Any] = {**lc, "content": stored["content"]}
    for name in ("name", "id"):
        if name in stored:
            data[name] = stored[name]
    if has_tool_call_id:
        data["tool_call_id"] = stored.get("tool_call_id") or ""
    if has_role:
        data["role"] = role
    if name_required:
        data.setdefault("name", "")
    if has_tool_calls and stored.get("tool_calls"):
        data["tool_calls"] = [
            tool_call(name=call["name"], args=call.get("args") or {}, id=call.get("id"))
            for call in stored["tool_calls"]
        ]
    if role == "developer" and "lc" not in stored:
        # LangChain's OpenAI integration marks a developer message this way.
        data["additional_kwargs"] = {"__openai_role__": "developer"}
    return cls(**data)


def rebuild_problem(stored: Any) -> tuple[str, str] | None:
    """Why LangChain cannot rebuild a stored message: ``(field, problem)``, or None."""
    return neutral.rebuild_problem(from_stored, _describe, stored)


def from_stored_list(
    stored: Sequence[StoredMessage], keys: KeySchema, key: str, first: int | None = 0
) -> list[BaseMessage]:
    """:func:`from_stored` of each message read from the list ``key``, whose first is
    at index ``first`` (None: the last ones, counted from the end). A message that
    cannot be rebuilt is a ``DamagedMessageError`` naming the key, index and field."""
    return neutral.rebuild_all(
        from_stored, _describe, stored, keys, key, first, reader="a LangChain message"
    )


def _describe(exc: Exception, stored: Any) -> tuple[str, str]:
    """The field of the ``lc`` part and the problem behind a failed rebuild, in a line."""
    lc = stored.get("lc") or {}
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        loc = [str(part) for part in error["loc"]]
        field = ".".join(loc) if loc else "lc"
        if loc and loc[0] in lc:
            field = "lc." + field
        return field, str(error["msg"])
    return "lc", f"{type(exc).__name__}: {exc}"
