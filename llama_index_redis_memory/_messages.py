"""LlamaIndex ``ChatMessage`` <-> the neutral stored form of :mod:`redis_memory.messages`.

Writing fills the neutral fields that both frameworks read:

- ``role``: the ``MessageRole`` value; ``chatbot`` and ``model`` (Cohere's and
  Gemini's name for the assistant) are stored as ``assistant``.
- ``content``: the text (a str), or a list of standard blocks when there is more
  than one text block or an image: ``{"type": "text", "text"}``,
  ``{"type": "image", "url"}`` or ``{"type": "image", "base64", "mime_type"}``.
- ``tool_calls``: every ``ToolCallBlock`` and every OpenAI-style entry of
  ``additional_kwargs["tool_calls"]`` as ``{"id", "name", "args"}`` (JSON-string
  arguments parsed; arguments that are not a JSON object become ``{}``).
- ``tool_call_id`` (role ``tool``) and ``name`` from ``additional_kwargs``.

``li`` then holds only what those fields cannot carry, so that the message is
rebuilt equal (``==``) to what was written. A message the neutral fields
describe exactly (plain text, text plus tool calls, a tool result) has no
``li`` at all. Otherwise ``li`` may hold:

- ``"role"``: the exact ``MessageRole`` value, when it differs from the neutral one;
- ``"blocks"``: the block list, each entry either an int (the block rebuilt from
  the neutral fields at that position, so text and image data are never stored
  twice), ``{"$": i, field: value...}`` (that block with some fields changed,
  e.g. an image's ``detail``), or a whole block (``ThinkingBlock``, audio,
  documents, images given by a local path...);
- ``"kw"``: the ``additional_kwargs`` entries the neutral fields do not give back,
  and ``"kw-"``: keys to drop from those they do.

Reading a message without ``li`` (written by LangChain or by the core itself):

- roles: ``MessageRole`` values as they are; ``human``/``ai`` as user/assistant;
  any other role becomes ``MessageRole.USER`` (no model is led to treat text of an
  unknown party as its own words or as instructions) and the original is kept in
  ``additional_kwargs["original_role"]``; writing such a message back restores it;
- text blocks and plain strings become ``TextBlock``; image blocks (standard,
  ``source_type`` style and OpenAI's ``image_url``) become ``ImageBlock``;
- neutral ``tool_calls`` become ``ToolCallBlock`` blocks after the content blocks;
- ``tool_call_id`` and ``name`` go to ``additional_kwargs``;
- content blocks of any other type are kept, unchanged and in order, in
  ``additional_kwargs["unknown_content_blocks"]``; writing the message back puts
  them into the neutral content again (after the text and images).

LlamaIndex messages have no id, so a neutral ``id`` (LangChain's) is not read;
``ts`` and ``lc`` are ignored.

A stored message that cannot be rebuilt (an ``li`` entry of the wrong type, say)
is a :class:`~redis_memory.messages.DamagedMessageError` naming the key, the
index and the field (:func:`from_stored_list`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from llama_index.core.base.llms.types import (
    ChatMessage,
    ContentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ToolCallBlock,
)
from pydantic import TypeAdapter, ValidationError

from redis_memory import messages as neutral
from redis_memory.keys import KeySchema

ORIGINAL_ROLE = "original_role"
UNKNOWN_BLOCKS = "unknown_content_blocks"

_ROLES = {role.value: role for role in MessageRole}
_ALIASES = {"human": MessageRole.USER, "ai": MessageRole.ASSISTANT}
_NEUTRAL_ROLE = {MessageRole.CHATBOT: "assistant", MessageRole.MODEL: "assistant"}
_block_adapter: TypeAdapter[Any] = TypeAdapter(ContentBlock)


# -- writing -----------------------------------------------------------------------


def to_stored(message: ChatMessage) -> dict[str, Any]:
    """The neutral stored form of a LlamaIndex ``ChatMessage`` (``li`` only if needed)."""
    if not isinstance(message, ChatMessage):
        raise TypeError(
            f"expected a llama_index ChatMessage, got {type(message).__name__}; build one "
            "with ChatMessage(role=..., content=...)"
        )
    kwargs = message.additional_kwargs
    stored: dict[str, Any] = {"role": _neutral_role(message.role, kwargs)}

    parts: list[Any] = []
    calls: list[dict[str, Any]] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock):
            part = _image_part(block)
            if part is not None:
                parts.append(part)
        elif isinstance(block, ToolCallBlock):
            calls.append(
                {
                    "id": block.tool_call_id,
                    "name": block.tool_name,
                    "args": _args(block.tool_kwargs),
                }
            )
    unknown = kwargs.get(UNKNOWN_BLOCKS)
    if isinstance(unknown, list):
        parts.extend(unknown)
    calls.extend(_openai_calls(kwargs.get("tool_calls"), {c["id"] for c in calls if c["id"]}))

    if len(parts) == 1 and isinstance(parts[0], dict) and parts[0].keys() == {"type", "text"}:
        stored["content"] = parts[0]["text"] if parts[0]["type"] == "text" else parts
    else:
        stored["content"] = parts or ""
    if calls:
        stored["tool_calls"] = calls
    if message.role is MessageRole.TOOL and isinstance(kwargs.get("tool_call_id"), str):
        stored["tool_call_id"] = kwargs["tool_call_id"]
    if isinstance(kwargs.get("name"), str):
        stored["name"] = kwargs["name"]

    li = _extras(message, stored)
    if li:
        stored["li"] = li
    return stored


def _neutral_role(role: MessageRole, kwargs: Mapping[str, Any]) -> str:
    original = kwargs.get(ORIGINAL_ROLE)
    if (
        role is MessageRole.USER
        and isinstance(original, str)
        and original
        and original not in _ROLES
        and original not in _ALIASES
    ):
        return original
    return _NEUTRAL_ROLE.get(role, role.value)


def _image_part(block: ImageBlock) -> dict[str, Any] | None:
    if block.image is not None:
        if isinstance(block.image, bytes):
            data = block.image
        else:  # a file-like object: stored as its base64 data
            data = block.resolve_image(as_base64=True).read()
        part: dict[str, Any] = {"type": "image", "base64": data.decode("ascii")}
    elif block.url is not None:
        part = {"type": "image", "url": str(block.url)}
    else:  # a local path means nothing to another process: kept in ``li`` only
        return None
    if block.image_mimetype:
        part["mime_type"] = block.image_mimetype
    return part


def _args(value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, str | bytes):
        try:
            parsed = orjson.loads(value)
        except orjson.JSONDecodeError:
            return {}
        return parsed if isinstance(parsed, dict) else {}
    return {}


def _openai_calls(value: Any, seen: set[str]) -> list[dict[str, Any]]:
    """Neutral tool calls from OpenAI-style ``additional_kwargs["tool_calls"]``."""
    if not isinstance(value, list | tuple):
        return []
    calls = []
    for entry in value:
        call = entry.model_dump() if callable(getattr(entry, "model_dump", None)) else entry
        if not isinstance(call, Mapping):
            continue
        function = call.get("function")
        if isinstance(function, Mapping):
            name, args = function.get("name"), function.get("arguments")
        else:
            name, args = call.get("name"), call.get("args", call.get("arguments"))
        call_id = call.get("id")
        if not isinstance(name, str) or (isinstance(call_id, str) and call_id in seen):
            continue
        call_id = call_id if isinstance(call_id, str) else None
        calls.append({"id": call_id, "name": name, "args": _args(args)})
    return calls


def _extras(message: ChatMessage, stored: Mapping[str, Any]) -> dict[str, Any]:
    """What ``li`` must hold so that ``from_stored(stored) == message``."""
    role, blocks, kwargs = _from_neutral(stored)
    li: dict[str, Any] = {}
    if role is not message.role:
        li["role"] = message.role.value
    if blocks != message.blocks:
        li["blocks"] = _encode_blocks(message.blocks, blocks)
    wanted = message.additional_kwargs
    changed = {k: v for k, v in wanted.items() if k not in kwargs or not _same(kwargs[k], v)}
    if changed:
        li["kw"] = changed
    dropped = [k for k in kwargs if k not in wanted]
    if dropped:
        li["kw-"] = dropped
    return li


def _same(a: Any, b: Any) -> bool:
    try:
        return type(a) is type(b) and bool(a == b)
    except Exception:  # exotic values that cannot be compared
        return False


def _encode_blocks(blocks: Sequence[Any], derived: Sequence[Any]) -> list[Any]:
    entries: list[Any] = [None] * len(blocks)
    used: set[int] = set()
    for position, block in enumerate(blocks):  # exact matches first: a reference
        for index, candidate in enumerate(derived):
            if index not in used and candidate == block:
                entries[position] = index
                used.add(index)
                break
    for position, block in enumerate(blocks):
        if entries[position] is not None:
            continue
        for index, candidate in enumerate(derived):  # same kind of block: a patch
            if index not in used and type(candidate) is type(block):
                patch = _patch(block, candidate, index)
                if patch is not None:
                    entries[position] = patch
                    used.add(index)
                break
        if entries[position] is None:
            entries[position] = _dump(block)
    return entries


def _patch(block: Any, base: Any, index: int) -> dict[str, Any] | None:
    wanted, have = block.model_dump(mode="json"), base.model_dump(mode="json")
    changes = {k: v for k, v in wanted.items() if have.get(k) != v}
    try:
        if _apply_patch(base, changes) == block:
            return {"$": index, **changes}
    except (ValidationError, ValueError, TypeError):
        pass
    return None


def _dump(block: Any) -> dict[str, Any]:
    compact = block.model_dump(mode="json", exclude_none=True)
    try:
        if _block_adapter.validate_python(compact) == block:
            return compact
    except (ValidationError, ValueError, TypeError):
        pass
    return block.model_dump(mode="json")


# -- reading -----------------------------------------------------------------------


def from_stored(stored: Mapping[str, Any]) -> ChatMessage:
    """Rebuild a LlamaIndex ``ChatMessage`` from the neutral stored form (and ``li``)."""
    role, blocks, kwargs = _from_neutral(stored)
    li = stored.get("li")
    if isinstance(li, Mapping) and li:
        if "role" in li:
            role = MessageRole(li["role"])
        if "blocks" in li:
            blocks = [_rebuild_block(entry, blocks) for entry in li["blocks"]]
        kwargs.update(li.get("kw") or {})
        for key in li.get("kw-") or ():
            kwargs.pop(key, None)
    # Everything is validated already: skip ChatMessage's validators (one of them
    # turns a legacy additional_kwargs["images"] into blocks a second time).
    return ChatMessage.model_construct(role=role, blocks=blocks, additional_kwargs=kwargs)


def _from_neutral(stored: Mapping[str, Any]) -> tuple[MessageRole, list[Any], dict[str, Any]]:
    kwargs: dict[str, Any] = {}
    raw_role = stored["role"]
    role = _ROLES.get(raw_role) or _ALIASES.get(raw_role)
    if role is None:
        role = MessageRole.USER
        kwargs[ORIGINAL_ROLE] = raw_role

    calls = stored.get("tool_calls") or []
    content = stored["content"]
    unknown: list[Any] = []
    if isinstance(content, str):
        blocks: list[Any] = [TextBlock(text=content)] if content or not calls else []
    else:
        blocks = []
        for part in content:
            block = _block_from_part(part)
            if block is None:
                unknown.append(part)
            else:
                blocks.append(block)
    for call in calls:
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.get("id"),
                tool_name=call.get("name") or "",
                tool_kwargs=call.get("args") or {},
            )
        )
    if isinstance(stored.get("tool_call_id"), str):
        kwargs["tool_call_id"] = stored["tool_call_id"]
    if isinstance(stored.get("name"), str):
        kwargs["name"] = stored["name"]
    if unknown:
        kwargs[UNKNOWN_BLOCKS] = unknown
    return role, blocks, kwargs


def _block_from_part(part: Any) -> Any:
    """A LlamaIndex block for a neutral content block, or None for an unknown one."""
    if isinstance(part, str):
        return TextBlock(text=part)
    if not isinstance(part, Mapping):
        return None
    kind = part.get("type")
    try:
        if kind == "text" and isinstance(part.get("text"), str):
            return TextBlock(text=part["text"])
        if kind == "image":
            mime = part.get("mime_type")
            source = part.get("source_type")
            url = part.get("url")
            data = part.get("base64")
            if data is None and source == "base64":
                data = part.get("data")
            if isinstance(data, str):
                return ImageBlock(image=data.encode("ascii"), image_mimetype=mime)
            if isinstance(url, str):
                return ImageBlock(url=url, image_mimetype=mime)
        if kind == "image_url":  # OpenAI's chat format
            image_url = part.get("image_url")
            url = image_url.get("url") if isinstance(image_url, Mapping) else image_url
            if isinstance(url, str):
                detail = image_url.get("detail") if isinstance(image_url, Mapping) else None
                return ImageBlock(url=url, detail=detail)
    except (ValidationError, ValueError, TypeError, UnicodeError):
        return None
    return None


def _rebuild_block(entry: Any, derived: Sequence[Any]) -> Any:
    if isinstance(entry, int) and not isinstance(entry, bool):
        return derived[entry]
    if isinstance(entry, Mapping) and "$" in entry:
        return _apply_patch(derived[entry["$"]], {k: v for k, v in entry.items() if k != "$"})
    return _block_adapter.validate_python(entry)


def _apply_patch(base: Any, changes: Mapping[str, Any]) -> Any:
    return type(base).model_validate({**base.model_dump(), **changes})


def rebuild_problem(stored: Any) -> tuple[str, str] | None:
    """Why a stored message cannot be rebuilt as a ``ChatMessage``: ``(field, problem)``."""
    return neutral.rebuild_problem(from_stored, _describe, stored)


def from_stored_list(
    stored: Sequence[Mapping[str, Any]],
    keys: KeySchema,
    key: str,
    first: int | None = 0,
    *,
    where: str | None = None,
    hint: bool = True,
) -> list[ChatMessage]:
    """:func:`from_stored` of each message read from the list ``key`` (see
    :func:`redis_memory.messages.rebuild_all` for ``first``, ``where`` and ``hint``)."""
    return neutral.rebuild_all(
        from_stored,
        _describe,
        stored,
        keys,
        key,
        first,
        reader="a LlamaIndex ChatMessage",
        where=where,
        hint=hint,
    )


def _describe(exc: Exception, stored: Any) -> tuple[str, str]:
    """The problem behind a failed rebuild of the ``li`` part, in a line."""
    if isinstance(exc, ValidationError) and exc.errors():
        error = exc.errors()[0]
        loc = ".".join(str(part) for part in error["loc"])
        return "li", f"{loc}: {error['msg']}" if loc else str(error["msg"])
    return "li", f"{type(exc).__name__}: {exc}"
