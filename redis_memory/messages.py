"""The stored message format: the neutral form both frameworks write, and its rules.

A message is stored as one JSON object (:class:`StoredMessage`): ``role`` and
``content`` always, ``name``, ``tool_calls``, ``tool_call_id``, ``id`` and ``ts``
when known, and each framework's own fields under ``lc`` (LangChain) or ``li``
(LlamaIndex), so a message comes back exactly as its framework wrote it while the
other framework reads the neutral fields.

The log refuses to store a message that breaks the rules (:func:`check_new`), and
an entry read back that breaks them (written by another program, or damaged) is
a :class:`DamagedMessageError` naming the key, the entry's index and the field,
with the command that moves such entries aside (:func:`repair_command`). The
frameworks' readers go through :func:`rebuild_all`, so an entry they cannot
rebuild is reported the same way.

Example:
    >>> from redis_memory.messages import stored_problem
    >>> stored_problem({"role": "user", "content": "hi"}) is None
    True
    >>> stored_problem({"role": "user", "content": 3})
    ('content', 'must be a str or a list of content blocks, not int 3')
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any, Literal, NotRequired, Required, TypedDict, TypeVar

from .errors import SerializationError, UnexpectedDataError
from .keys import DEFAULT_PREFIX, KeySchema

R = TypeVar("R")


class ToolCall(TypedDict):
    """A tool call requested by the assistant: the same shape in both frameworks."""

    id: str | None
    name: str
    args: dict[str, Any]


class StoredMessage(TypedDict, total=False):
    """The neutral stored form of one message.

    ``role`` is ``user``, ``assistant``, ``system``, ``developer``, ``tool``,
    ``function`` or a custom role; ``content`` is text or a list of content
    blocks (``{"type": "text", "text": ...}``, ``{"type": "image", ...}``).
    ``ts`` is set when the message is appended (seconds since the epoch).
    ``lc`` and ``li`` hold LangChain's and LlamaIndex's own fields, so a message
    comes back exactly as its framework wrote it; the other framework reads the
    neutral fields.
    """

    role: Required[str]
    content: Required[str | list[Any]]
    name: NotRequired[str]
    tool_calls: NotRequired[list[ToolCall]]
    tool_call_id: NotRequired[str]
    id: NotRequired[str]
    ts: NotRequired[float]
    lc: NotRequired[dict[str, Any]]
    li: NotRequired[dict[str, Any]]


class DamagedMessageError(UnexpectedDataError, SerializationError):
    """A stored message cannot be read: names its key, its index in that list, and the field.

    ``redis-memory sessions check SESSION --repair`` moves such entries, unchanged,
    to the session's quarantine list; the rest of the session then reads. Both an
    :class:`UnexpectedDataError` and a :class:`SerializationError` (and so a
    ``ValueError``). ``index`` is a list index as ``LINDEX`` takes it (negative:
    from the end), or None when the entry was read across the archived and active
    lists; ``field`` is ``"value"`` when the entry as a whole is not a message.
    """

    def __init__(
        self, message: str, *, key: str = "", index: int | None = None, field: str = ""
    ) -> None:
        super().__init__(message)
        self.key = key
        self.index = index
        self.field = field


def repair_command(keys: KeySchema, session_id: str) -> str:
    """The command line that moves a session's damaged entries to its quarantine list."""
    prefix = "" if keys.prefix == DEFAULT_PREFIX else f" --prefix {keys.prefix}"
    return f"redis-memory sessions check {shlex.quote(session_id)} --repair{prefix}"


def damaged_message(
    keys: KeySchema,
    key: str,
    index: int | None,
    field: str,
    problem: str,
    *,
    reader: str | None = None,
    hint: bool = True,
    where: str | None = None,
) -> DamagedMessageError:
    """The error for a damaged entry at ``index`` of the list ``key``.

    ``reader``: the framework type the entry could not be rebuilt as (None: the
    stored form itself is damaged); ``hint``: add how to repair it (not for an
    entry the call removed); ``where``: the place, when not one list's index.
    """
    if where is not None:
        place = where
    else:
        place = f"index {index}" + (
            " (counted from the end)" if index is not None and index < 0 else ""
        )
    if reader is None:
        text = f"{key} holds a damaged message at {place} ({field}: {problem})"
    else:
        text = (
            f"{key} holds a message at {place} that cannot be rebuilt as {reader} "
            f"({field}: {problem})"
        )
    if hint:
        try:
            session_id = keys.session_id_of(key)
        except ValueError:
            session_id = None
        if session_id is not None:
            text += (
                f". `{repair_command(keys, session_id)}` moves damaged entries, unchanged, to "
                f"{keys.session_quarantine(session_id)} (nothing is deleted), and the rest of "
                "the session reads again"
            )
    return DamagedMessageError(text, key=key, index=index, field=field)


@dataclass(frozen=True, slots=True)
class DamagedEntry:
    """A damaged entry of a session, found by :meth:`~redis_memory.history.MessageLog.find_damaged`.

    ``raw`` is the stored value, byte for byte; ``index`` its index in the
    ``section``'s list when it was read.
    """

    session_id: str
    section: Literal["active", "archived"]
    index: int
    field: str
    problem: str
    raw: bytes


def _shown(value: Any) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text if len(text) <= 40 else text[:39] + '…'}"


def _is_mapping(value: Any) -> bool:
    # isinstance(..., Mapping) runs the ABC machinery; a dict needs none of it.
    return type(value) is dict or isinstance(value, Mapping)


def _content_problem(content: Any) -> tuple[str, str] | None:
    if type(content) is str:
        return None
    if type(content) is not list and not isinstance(content, list):
        return "content", f"must be a str or a list of content blocks, not {_shown(content)}"
    for position, block in enumerate(content):
        if type(block) is not dict and not isinstance(block, str) and not _is_mapping(block):
            return (
                f"content[{position}]",
                f"must be a content block (an object) or a str, not {_shown(block)}",
            )
    return None


_TEXT_FIELDS = ("name", "id", "tool_call_id")


def _field_problem(message: Mapping[str, Any]) -> tuple[str, str] | None:
    """What is wrong with the fields of a message other than its role: (field, problem)."""
    problem = _content_problem(message.get("content"))
    if problem is not None or len(message) == 2:
        return problem
    for field in _TEXT_FIELDS:
        value = message.get(field)
        if value is not None and not isinstance(value, str):
            return field, f"must be a str, not {_shown(value)}"
    calls = message.get("tool_calls")
    if calls is not None:
        if not isinstance(calls, list):
            return "tool_calls", f"must be a list of tool calls, not {_shown(calls)}"
        for position, call in enumerate(calls):
            where = f"tool_calls[{position}]"
            if not _is_mapping(call):
                return where, f"must be a tool call {{'id', 'name', 'args'}}, not {_shown(call)}"
            if not isinstance(call.get("name"), str):
                return f"{where}.name", f"must be a str, not {_shown(call.get('name'))}"
            args, call_id = call.get("args"), call.get("id")
            if args is not None and not _is_mapping(args):
                return f"{where}.args", f"must be an object, not {_shown(args)}"
            if call_id is not None and not isinstance(call_id, str):
                return f"{where}.id", f"must be a str, not {_shown(call_id)}"
    ts = message.get("ts")
    if ts is not None and (isinstance(ts, bool) or not isinstance(ts, int | float)):
        return "ts", f"must be a number (seconds since the epoch), not {_shown(ts)}"
    for field in ("lc", "li"):
        value = message.get(field)
        if value is not None and not _is_mapping(value):
            return field, f"must be an object, not {_shown(value)}"
    return None


# What a framework's rebuild of a stored message may raise (pydantic's ValidationError
# is a ValueError).
REBUILD_ERRORS = (ValueError, TypeError, KeyError, IndexError, AttributeError)

Rebuild = Callable[[Any], R]
Describe = Callable[[Exception, Any], tuple[str, str]]


def rebuild_problem(
    rebuild: Rebuild[Any], describe: Describe, stored: Any
) -> tuple[str, str] | None:
    """Why ``rebuild`` (a framework's reader) cannot rebuild ``stored``: ``(field, problem)``."""
    try:
        rebuild(stored)
    except REBUILD_ERRORS as exc:
        return _described(describe, exc, stored)
    return None


def rebuild_all(
    rebuild: Rebuild[R],
    describe: Describe,
    stored: Sequence[Any],
    keys: KeySchema,
    key: str,
    first: int | None = 0,
    *,
    reader: str,
    where: str | None = None,
    hint: bool = True,
) -> list[R]:
    """``rebuild`` of each message read from the list ``key``, whose first is at index
    ``first`` (None: the last ones, counted from the end; ``where`` names the place
    instead, ``{position}`` standing for the message's position).

    A message that cannot be rebuilt is a :class:`DamagedMessageError` naming the
    key, the index and the field (with how to repair it, unless ``hint=False``).
    """
    messages: list[R] = []
    try:
        for message in stored:
            messages.append(rebuild(message))
    except REBUILD_ERRORS as exc:
        position = len(messages)
        field, problem = _described(describe, exc, stored[position])
        start = -len(stored) if first is None else first
        raise damaged_message(
            keys,
            key,
            None if where else start + position,
            field,
            problem,
            reader=reader,
            hint=hint,
            where=where.format(position=start + position) if where else None,
        ) from exc
    return messages


def _described(describe: Describe, exc: Exception, stored: Any) -> tuple[str, str]:
    # The neutral form's own rules first: a framework's reader is not asked to check them.
    return stored_problem(stored) or describe(exc, stored)


def stored_problem(message: Any) -> tuple[str, str] | None:
    """What is wrong with a decoded stored message: ``(field, problem)``, or None.

    The neutral form's rules: ``role`` a non-empty str; ``content`` a str or a
    list of blocks (objects) and strs; ``name``, ``id``, ``tool_call_id`` strs;
    ``tool_calls`` a list of ``{"name": str, "args": object, "id": str}``; ``ts``
    a number; ``lc`` and ``li`` objects (the optional ones may be null). The log
    refuses to store a message that breaks them.
    """
    if type(message) is not dict:
        return "value", (
            f"is not a stored message of redis-memory-backend (a JSON {_json_kind(message)}, "
            "not an object); another program may write under this key prefix"
        )
    role = message.get("role")
    if type(role) is not str or not role:
        if role is None and "content" not in message:
            return "value", (
                "is not a stored message of redis-memory-backend (it has no role and "
                "content); another program may write under this key prefix"
            )
        return "role", f"must be a non-empty str, not {_shown(role)}"
    if "content" not in message:
        return "content", "is missing"
    return _field_problem(message)


# The types each known field may have once decoded (orjson gives exact types).
_FIELD_TYPES: dict[str, frozenset[type]] = {
    "name": frozenset({str, type(None)}),
    "id": frozenset({str, type(None)}),
    "tool_call_id": frozenset({str, type(None)}),
    "tool_calls": frozenset({list, type(None)}),
    "ts": frozenset({float, int, type(None)}),
    "lc": frozenset({dict, type(None)}),
    "li": frozenset({dict, type(None)}),
}
_TEXT = frozenset({str})
_CONTENT = frozenset({str, list})
_BLOCK = frozenset({str, dict})
_NEUTRAL_PAIR = frozenset({"role", "content"})


def well_formed(messages: list[Any]) -> bool:
    """Whether every decoded message keeps :func:`stored_problem`'s rules, checked
    field by field across the batch by C code; False: look at each (it is exact)."""
    try:  # dict.__getitem__ refuses what is not a dict, and a missing field
        roles = list(map(dict.__getitem__, messages, repeat("role")))
        contents = list(map(dict.__getitem__, messages, repeat("content")))
    except (KeyError, TypeError):
        return False
    if not set(map(type, roles)) <= _TEXT or not all(roles):
        return False
    kinds = set(map(type, contents))
    if not kinds <= _CONTENT:
        return False
    if list in kinds and not all(
        set(map(type, content)) <= _BLOCK for content in contents if type(content) is list
    ):
        return False
    for field in set().union(*messages) - _NEUTRAL_PAIR:
        allowed = _FIELD_TYPES.get(field)
        if allowed is None:
            continue
        values = list(map(dict.get, messages, repeat(field)))
        if not set(map(type, values)) <= allowed:
            return False
        if field == "tool_calls" and any(
            _field_problem({"role": "-", "content": "", "tool_calls": calls})
            for calls in values
            if calls
        ):
            return False
    return True


def _json_kind(value: Any) -> str:
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if value is None:
        return "null"
    return "boolean" if isinstance(value, bool) else "number"


def check_new(message: Any, position: int) -> None:
    """Refuse a message about to be stored that breaks the rules: a :class:`TypeError`
    naming its ``position`` in the batch and what is wrong."""
    if type(message) is not dict and not isinstance(message, Mapping):
        raise TypeError(
            f"message {position} is a {type(message).__name__}; the message log stores "
            "mappings in the neutral form {'role': ..., 'content': ...}"
        )
    role = message.get("role")
    if not isinstance(role, str) or not role:
        raise TypeError(f"message {position} needs a non-empty str 'role', got {role!r}")
    content = message.get("content")
    if not isinstance(content, str | list):
        raise TypeError(
            f"message {position} needs 'content' as a str or a list of content blocks, "
            f"got {type(content).__name__}"
        )
    problem = _field_problem(message)
    if problem is not None:
        raise TypeError(f"message {position} cannot be stored: {problem[0]} {problem[1]}")


def message_text(message: Mapping[str, Any]) -> str:
    """The text of a stored message: its content, or the text of its content blocks."""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            block["text"]
            for block in content
            if isinstance(block, Mapping) and isinstance(block.get("text"), str)
        )
    return ""
