"""Encoding values for Redis: JSON on orjson, never pickle.

Stored data is data, not code: whatever is read back is rebuilt from JSON, so a
value written by an attacker can at worst be wrong, never executed.

The rule, for every engine (messages, state, cache, events, findings, jobs,
long-term memory): **a value is stored only if it reads back equal** (``==``).
Nothing is converted behind the user's back: a value JSON cannot hold exactly
(a set, a datetime, a UUID, NaN, an int dict key...) is a
:class:`~redis_memory.errors.SerializationError` that names where it sits inside
the value and what to store instead, and nothing is written. Two documented
exceptions, both the way Python's ``json``, LangChain and LlamaIndex treat them:

- a tuple reads back as a list with the same items, in the same order (JSON has
  one kind of array; tool-call arguments and many user values hold tuples that
  their readers treat as lists);
- a pydantic model is stored as its ``model_dump(mode="json")`` (itself checked
  by this rule) and reads back as that dict: ``Model.model_validate`` rebuilds it.

Subclasses of str, int, float and dict (str and int enums, ``numpy.float64``,
``OrderedDict``) read back as the plain type, which compares equal.

Example:
    >>> from redis_memory import JSONSerializer
    >>> serializer = JSONSerializer()
    >>> serializer.dumps({"role": "ai", "content": "hi"})
    b'{"role":"ai","content":"hi"}'
    >>> serializer.loads(b'{"role":"ai","content":"hi"}')
    {'role': 'ai', 'content': 'hi'}
    >>> serializer.dumps({"tags": {"a", "b"}})
    Traceback (most recent call last):
    ...
    redis_memory.errors.SerializationError: value['tags'] is a set, which JSON cannot hold ...
"""

from __future__ import annotations

import dataclasses
import datetime
import decimal
import enum
import math
import uuid
from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

import orjson

from .errors import SerializationError, ValueTooLargeError

DEFAULT_MAX_VALUE_BYTES = 8 * 1024 * 1024

# orjson writes datetimes and dataclasses itself unless told to pass them to
# ``default``; it has no such switch for UUIDs, enums or NaN (written as null),
# which the checks below catch instead. Without OPT_NON_STR_KEYS it refuses a
# dict key that is not a str, and it is faster.
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS

# The most containers orjson nests ("Recursion limit reached" beyond): a deeper
# value, or one that contains itself, is refused by name before orjson sees it.
_MAX_DEPTH = 254

# orjson's integers: signed or unsigned 64 bits.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


@runtime_checkable
class Serializer(Protocol):
    """What an engine needs to turn values into bytes and back."""

    def dumps(self, value: Any) -> bytes:
        """Encode a value. Raises :class:`SerializationError` if it cannot."""
        ...

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        """Decode what :meth:`dumps` produced. Raises :class:`SerializationError`."""
        ...


def _reads_back_equal(value: Any, data: bytes) -> bool:
    """Whether ``data``, orjson's encoding of ``value``, decodes to something equal to it.

    The rule itself, checked in C (orjson's decoder and ``==``): the fast path for
    ordinary values. False means "look closer" (:func:`_refusal`), not
    "refused": a tuple (read back as a list) or a pydantic model is fine.
    """
    try:
        return bool(orjson.loads(data) == value)
    except Exception:  # an __eq__ of the user's that raises: let _refusal judge
        return False


def _default(value: Any) -> Any:
    # What orjson hands over after _refusal has accepted the value: pydantic
    # models (LangChain and LlamaIndex types among them) and float subclasses
    # such as numpy.float64. Anything else was refused already.
    if _is_model(value):
        return value.model_dump(mode="json")
    if isinstance(value, float):
        return float(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _is_model(value: Any) -> bool:
    # A pydantic model instance (duck-typed, as pydantic's own helpers do); a
    # model class has the attribute too, but is not a value.
    return not isinstance(value, type) and callable(getattr(value, "model_dump", None))


def _shown(key: Any) -> str:
    """A dict key as an error shows it: its repr, shortened past 50 characters."""
    shown = repr(key)
    return shown if len(shown) <= 50 else shown[:47] + "..."


@dataclasses.dataclass(slots=True)
class _Refusal:
    """What is wrong with a part of a value, and where: built only when something is."""

    what: str
    back: str | None  # what JSON would give back instead, if it holds something
    hint: str
    # The steps from that part up to the value, innermost first ("[2]", "['items']"),
    # appended on the way out of the recursion, so a value without a problem
    # builds no path at all.
    steps: list[str] = dataclasses.field(default_factory=list)
    in_key: bool = False  # the problem is a dict key's text, not a value

    def message(self) -> str:
        path = "value" + "".join(reversed(self.steps))
        if len(path) > 160:  # deep inside: the start and the end of the path say enough
            path = f"{path[:80]}...{path[-60:]}"
        if self.in_key:
            path = f"a key of {path}"
        returns = f" (it would read back as {self.back})" if self.back else ""
        return f"{path} is {self.what}, which JSON cannot hold{returns}; {self.hint}"


_OTHER_HINT = (
    "JSON holds dict (with str keys), list, tuple (read back as a list), str, int, float, "
    "bool and None, and pydantic models: convert it to those yourself"
)


def _leaf_refusal(value: Any) -> _Refusal:
    """Why ``value``, which is not a container JSON holds, is refused; what to store instead."""
    kind = type(value)
    name = kind.__qualname__
    if isinstance(value, set | frozenset):
        return _Refusal(
            f"a {name}", "a list", "store a list instead, e.g. sorted(...) or list(...)"
        )
    if isinstance(value, datetime.datetime):
        return _Refusal(
            "a datetime",
            "a str",
            "store .isoformat() and rebuild it with datetime.fromisoformat(), or a timestamp",
        )
    if isinstance(value, datetime.date | datetime.time):
        return _Refusal(
            f"a {name}", "a str", f"store .isoformat() and rebuild it with {name}.fromisoformat()"
        )
    if isinstance(value, datetime.timedelta):
        return _Refusal("a timedelta", None, "store .total_seconds()")
    if isinstance(value, uuid.UUID):
        return _Refusal("a UUID", "a str", "store str(...) and rebuild it with UUID(...)")
    if isinstance(value, decimal.Decimal):
        return _Refusal("a Decimal", None, "store str(...) to keep every digit, or float(...)")
    if isinstance(value, bytes | bytearray | memoryview):
        return _Refusal(
            "bytes" if kind is bytes else f"a {name}",
            None,
            "store text instead, e.g. base64.b64encode(...).decode()",
        )
    if isinstance(value, enum.Enum):
        return _Refusal(
            f"an enum member ({name}.{value.name})", "its value", "store .value or .name"
        )
    if isinstance(value, tuple) and hasattr(value, "_fields"):
        return _Refusal(f"a named tuple ({name})", "a list", "store ._asdict() or list(...)")
    if dataclasses.is_dataclass(value):
        return _Refusal(f"a dataclass ({name})", "a dict", "store dataclasses.asdict(...)")
    if isinstance(value, type):
        return _Refusal(
            f"a class ({value.__qualname__})",
            None,
            "store data (an instance's fields), not a class",
        )
    if kind.__module__ == "numpy":
        hint = "store .tolist()" if getattr(value, "shape", None) else "store .item()"
        return _Refusal(f"a numpy.{name}", None, hint)
    module = "" if kind.__module__ == "builtins" else f"{kind.__module__}."
    return _Refusal(f"a {module}{name}", None, _OTHER_HINT)


def _refusal(value: Any, depth: int, inside: set[int]) -> _Refusal | None:
    """What in ``value`` would not read back equal, or None if all of it would.

    The thorough check behind :func:`_reads_back_equal`, a Python step per item:
    it accepts tuples (read back as lists) and pydantic models (their JSON dump,
    checked in turn), and finds the first part of anything else that JSON
    cannot hold exactly. ``inside`` holds the ids of the containers around
    ``value``: one of them met again is a value that contains itself.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, enum.Enum) and not isinstance(value, str | int | float):
        # A str, int or float enum reads back as its value, which equals it.
        return _leaf_refusal(value)
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            return _Refusal(
                f"a str with a lone surrogate ({value[exc.start]!r} at index {exc.start})",
                None,
                "JSON text is valid Unicode only: remove or replace it",
            )
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return _Refusal("an int beyond 64 bits", None, "store str(...)")
    if isinstance(value, float):
        if math.isfinite(value):
            return None
        return _Refusal(
            "NaN" if math.isnan(value) else "infinity",
            "null",
            "JSON has no NaN or infinity: store None or a str yourself",
        )
    if isinstance(value, dict | list) or type(value) is tuple:
        if id(value) in inside:
            return _Refusal(
                "a container that holds itself (a cycle)", None, "store a value without cycles"
            )
        if depth >= _MAX_DEPTH:
            return _Refusal(
                f"nested more than {_MAX_DEPTH} containers deep", None, "store a flatter value"
            )
        inside.add(id(value))
        try:
            return _container_refusal(value, depth, inside)
        finally:
            inside.discard(id(value))
    if _is_model(value):
        try:
            dumped = value.model_dump(mode="json")
        except Exception as exc:  # whatever pydantic or the model raised
            return _Refusal(
                f"a {type(value).__qualname__} whose model_dump(mode='json') failed ({exc})",
                None,
                "store plain data instead",
            )
        # Its JSON form is what is stored: it must read back equal too.
        return _refusal(dumped, depth, inside)
    return _leaf_refusal(value)


def _container_refusal(value: Any, depth: int, inside: set[int]) -> _Refusal | None:
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return _Refusal(
                    f"a dict with a key of type {type(key).__name__} ({_shown(key)})",
                    "a str key",
                    "JSON object keys are text: convert the keys yourself, "
                    "e.g. {str(k): v for k, v in ....items()}",
                )
            found = _refusal(key, depth + 1, inside)
            if found is not None:
                found.in_key = True
                return found
            found = _refusal(item, depth + 1, inside)
            if found is not None:
                found.steps.append(f"[{_shown(key)}]")
                return found
        return None
    for index, item in enumerate(value):
        found = _refusal(item, depth + 1, inside)
        if found is not None:
            found.steps.append(f"[{index}]")
            return found
    return None


class JSONSerializer:
    """JSON on orjson: UTF-8 bytes out, any JSON text in; a value reads back equal, or is refused.

    Stores dict (str keys), list, str, int (64 bits), float (finite), bool and
    None as they are; a tuple as a list; a pydantic model as its
    ``model_dump(mode="json")``; subclasses of str, int, float and dict (str and
    int enums, ``numpy.float64``, ``OrderedDict``) as the plain type, which
    compares equal. Anything that would not read back equal is a
    :class:`SerializationError` naming where it sits in the value and what to
    store instead: sets, datetimes, dates, times, UUIDs, Decimals, bytes, other
    enums, dataclasses, named tuples, numpy arrays, NaN and infinity, dict keys
    that are not str, ints beyond 64 bits, other objects.

    Every value is encoded by orjson, decoded again and compared with ``==``,
    all in C: that is the whole check for ordinary values. Only a value that
    fails it (or that orjson cannot encode alone) is checked item by item in
    Python, which accepts tuples and pydantic models and names the first
    problem of anything else.
    """

    __slots__ = ("_options",)

    def __init__(self, *, sort_keys: bool = False) -> None:
        options = _OPTIONS
        if sort_keys:
            options |= orjson.OPT_SORT_KEYS
        self._options = options

    def dumps(self, value: Any) -> bytes:
        """The value as UTF-8 JSON; :class:`SerializationError` if it would not read back equal."""
        try:
            data: bytes | None = orjson.dumps(value, option=self._options)
        except orjson.JSONEncodeError:
            data = None  # a type orjson leaves to ``default``, or no JSON at all
        if data is not None and _reads_back_equal(value, data):
            return data
        return _checked_dumps(value, self._options)

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        """The value a JSON text holds; a :class:`SerializationError` if it is not valid JSON."""
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


def _checked_dumps(value: Any, options: int) -> bytes:
    """The thorough path: find what would not read back equal, else encode it all."""
    refusal = _refusal(value, 0, set())
    if refusal is not None:
        raise SerializationError(refusal.message())
    try:
        # Every key is a str by now; OPT_NON_STR_KEYS lets str subclasses (str
        # enums) through as their text, which equals them.
        return orjson.dumps(value, default=_default, option=options | orjson.OPT_NON_STR_KEYS)
    except orjson.JSONEncodeError as exc:  # what the check above did not foresee
        raise SerializationError(
            f"cannot store {type(value).__name__} as JSON: {exc}. Store plain data "
            "(dict, list, str, int, float, bool, None) or a pydantic model."
        ) from exc


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
        """The wrapped serializer's bytes; a :class:`ValueTooLargeError` if over ``limit``."""
        return check_value_size(self.serializer.dumps(value), self.limit)

    def loads(self, data: bytes | bytearray | memoryview | str) -> Any:
        """Decode as the wrapped serializer does (no size check on reading)."""
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
    """A ``dumps`` that encodes ordinary values as ``serializer.dumps`` does, with less overhead.

    It applies no size limit, and for the stock :class:`JSONSerializer` it
    raises a plain ``TypeError`` or ``ValueError`` for anything off its fast path
    (a tuple and a pydantic model included, which ``serializer.dumps`` stores): a
    write path checks the size itself and, when anything fails, encodes again
    through ``serializer.dumps``, which stores the value or raises the error
    that names the problem.
    """
    while isinstance(serializer, SizeLimitedSerializer):
        serializer = serializer.serializer
    if type(serializer) is not JSONSerializer:
        return serializer.dumps
    options = serializer._options
    encode = orjson.dumps

    def dumps(value: Any) -> bytes:
        data = encode(value, option=options)
        if _reads_back_equal(value, data):
            return data
        raise ValueError("not plain JSON data: serializer.dumps decides")

    return dumps
