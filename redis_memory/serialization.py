"""Encoding values for Redis: JSON on orjson, never pickle.

Stored data is data, not code: whatever is read back is rebuilt from JSON, so a
value written by an attacker can at worst be wrong, never executed.

Example:
    >>> from redis_memory import JSONSerializer
    >>> serializer = JSONSerializer()
    >>> serializer.dumps({"role": "ai", "content": "hi"})
    b'{"role":"ai","content":"hi"}'
    >>> serializer.loads(b'{"role":"ai","content":"hi"}')
    {'role': 'ai', 'content': 'hi'}
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson

from .errors import SerializationError, ValueTooLargeError

DEFAULT_MAX_VALUE_BYTES = 8 * 1024 * 1024


@runtime_checkable
class Serializer(Protocol):
    """What an engine needs to turn values into bytes and back."""

    def dumps(self, value: Any) -> bytes:
        """Encode a value. Raises :class:`SerializationError` if it cannot."""
        ...

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        """Decode what :meth:`dumps` produced. Raises :class:`SerializationError`."""
        ...


def _default(value: Any) -> Any:
    # Pydantic models (LangChain and LlamaIndex types among them) and sets,
    # which orjson does not encode by itself. Anything else is an error.
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        return model_dump(mode="json")
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


class JSONSerializer:
    """JSON on orjson: UTF-8 bytes out, any JSON text in.

    Encodes what JSON can (dict, list, str, int, float, bool, None), plus
    datetimes, dates, UUIDs, dataclasses, enums, numpy arrays, and pydantic
    models (as their ``model_dump(mode="json")``). Dict keys that are not strings
    are turned into strings. Integers beyond 64 bits are refused rather than
    silently changed; NaN and infinite floats become ``null``, as JSON has no
    such numbers.
    """

    __slots__ = ("_options",)

    def __init__(self, *, sort_keys: bool = False) -> None:
        options = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY
        if sort_keys:
            options |= orjson.OPT_SORT_KEYS
        self._options = options

    def dumps(self, value: Any) -> bytes:
        try:
            return orjson.dumps(value, default=_default, option=self._options)
        except (orjson.JSONEncodeError, TypeError) as exc:
            raise SerializationError(
                f"cannot store {type(value).__name__} as JSON: {exc}. Store plain data "
                "(dict, list, str, int, float, bool, None) or a pydantic model."
            ) from exc

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        try:
            return orjson.loads(data)
        except (orjson.JSONDecodeError, TypeError) as exc:
            if isinstance(data, str):
                shown: object = data[:60]
            elif isinstance(data, bytes | bytearray | memoryview):
                shown = bytes(data[:60])
            else:
                shown = f"<{type(data).__name__}>"
            raise SerializationError(
                f"stored value is not valid JSON ({exc}); it starts with {shown!r}. "
                "Was it written by another program under this key prefix?"
            ) from exc

    def __repr__(self) -> str:
        return "JSONSerializer()"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JSONSerializer) and other._options == self._options

    def __hash__(self) -> int:
        return hash((JSONSerializer, self._options))


def check_value_size(data: bytes, limit: int | None, what: str = "a value") -> bytes:
    """``data`` itself if it is at most ``limit`` bytes; else :class:`ValueTooLargeError`.

    Every engine sends values through this check (via :class:`SizeLimitedSerializer`)
    after encoding and before any command, so an oversized value writes nothing.
    """
    if limit is not None and len(data) > limit:
        raise ValueTooLargeError(
            f"{what} is {len(data):,} bytes once encoded, over the limit of {limit:,} bytes "
            "(RedisMemoryConfig.max_value_bytes, env REDIS_MEMORY_MAX_VALUE_BYTES); nothing "
            "was written. Keep large data elsewhere (a file or object store) and store a "
            "reference, or raise the limit."
        )
    return data


class SizeLimitedSerializer:
    """A serializer whose :meth:`dumps` refuses results over ``limit`` bytes.

    Example:
        >>> from redis_memory.serialization import JSONSerializer, SizeLimitedSerializer
        >>> SizeLimitedSerializer(JSONSerializer(), 16).dumps("short")
        b'"short"'
        >>> SizeLimitedSerializer(JSONSerializer(), 16).dumps("x" * 20)
        Traceback (most recent call last):
        ...
        redis_memory.errors.ValueTooLargeError: a value is 22 bytes once encoded, ...
    """

    __slots__ = ("limit", "serializer")

    def __init__(self, serializer: Serializer, limit: int | None) -> None:
        self.serializer = serializer
        self.limit = limit

    def dumps(self, value: Any) -> bytes:
        return check_value_size(self.serializer.dumps(value), self.limit)

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        return self.serializer.loads(data)

    def __repr__(self) -> str:
        return f"SizeLimitedSerializer({self.serializer!r}, {self.limit!r})"


def fast_loads(serializer: Serializer) -> Callable[[Any], Any]:
    """A ``loads`` that decodes valid data as ``serializer.loads`` does, with less overhead.

    For the stock :class:`JSONSerializer` (and a :class:`SizeLimitedSerializer`
    around it) this is ``orjson.loads`` itself, which raises orjson's own error on
    bad data: a read path calls it per value and, when anything fails, decodes
    again through ``serializer.loads`` to get the error that names the problem.
    """
    while isinstance(serializer, SizeLimitedSerializer):
        serializer = serializer.serializer
    if type(serializer) is JSONSerializer:
        return orjson.loads
    return serializer.loads


def fast_dumps(serializer: Serializer) -> Callable[[Any], bytes]:
    """A ``dumps`` that encodes as ``serializer.dumps`` does, with less overhead.

    It applies no size limit, and for the stock :class:`JSONSerializer` it raises
    orjson's own error: a write path checks the size itself and, when anything
    fails, encodes again through ``serializer.dumps`` to raise the error that
    names the problem.
    """
    while isinstance(serializer, SizeLimitedSerializer):
        serializer = serializer.serializer
    if type(serializer) is JSONSerializer:
        return functools.partial(orjson.dumps, default=_default, option=serializer._options)
    return serializer.dumps
