"""Tests of ``redis_memory.serialization.JSONSerializer``: a value reads back equal, or is refused.

Covers round trips of plain JSON data (nested containers, unicode, 64-bit
integers, floats), the bytes it produces and the inputs ``loads`` accepts; the
rule (a value is stored only if it reads back equal: tuples come back as lists,
pydantic models as their JSON dump, subclasses as their plain type) and the
:class:`SerializationError` naming where a value JSON cannot hold sits (sets,
datetimes, UUIDs, Decimals, bytes, NaN, keys that are not str, enums,
dataclasses, numpy values, other objects), checked as a property too; errors
for stored data that is not JSON; and that the package never uses pickle.
"""

from __future__ import annotations

import ast
import collections
import dataclasses
import enum
import math
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import redis_memory
from redis_memory.errors import RedisMemoryError, SerializationError
from redis_memory.serialization import (
    JSONSerializer,
    Serializer,
    SizeLimitedSerializer,
    fast_dumps,
)

serializer = JSONSerializer()

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(), children, max_size=5)
    ),
    max_leaves=25,
)


class Message(BaseModel):
    role: str
    content: str
    at: datetime
    id: UUID
    extra: dict[str, int] = {}


class Scored(BaseModel):
    score: float


class Opaque:
    pass


# -- round trips ------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        {"role": "ai", "content": "hi"},
        {"a": {"b": {"c": [1, [2, [3, {"d": None}]]]}}},
        [],
        {},
        "",
        '日本語 😀 é \u00a0 \x00 \n "quoted" \\',
        0,
        -1,
        2**63 - 1,
        -(2**63),
        2**64 - 1,
        0.1,
        -2.5,
        1e300,
        5e-324,
        True,
        False,
        None,
        [1, "two", 3.0, None, True, {"six": [7]}],
    ],
)
def test_round_trip(value):
    data = serializer.dumps(value)
    assert type(data) is bytes
    decoded = serializer.loads(data)
    assert decoded == value
    assert type(decoded) is type(value)


@settings(max_examples=300)
@given(json_values)
def test_round_trip_of_any_json_value(value):
    assert serializer.loads(serializer.dumps(value)) == value


def test_dumps_is_compact_utf8_bytes():
    assert serializer.dumps({"role": "ai", "content": "hi"}) == b'{"role":"ai","content":"hi"}'
    assert serializer.dumps("é") == '"é"'.encode()
    assert serializer.dumps([1, 2.5, None, True]) == b"[1,2.5,null,true]"


@pytest.mark.parametrize(
    "data",
    [
        b'{"role":"ai","content":"hi"}',
        '{"role":"ai","content":"hi"}',
        bytearray(b'{"role":"ai","content":"hi"}'),
        memoryview(b'{"role":"ai","content":"hi"}'),
        b' { "role" : "ai" ,\n "content" : "hi" } ',
    ],
)
def test_loads_accepts_bytes_and_str(data):
    assert serializer.loads(data) == {"role": "ai", "content": "hi"}


def test_sort_keys_option():
    assert JSONSerializer(sort_keys=True).dumps({"b": 1, "a": {"d": 2, "c": 3}}) == (
        b'{"a":{"c":3,"d":2},"b":1}'
    )
    assert serializer.dumps({"b": 1, "a": 2}) == b'{"b":1,"a":2}'


def test_serializer_equality_repr_and_protocol():
    assert JSONSerializer() == JSONSerializer()
    assert JSONSerializer() != JSONSerializer(sort_keys=True)
    assert hash(JSONSerializer()) == hash(JSONSerializer())
    assert repr(JSONSerializer()) == "JSONSerializer()"
    assert isinstance(JSONSerializer(), Serializer)


# -- the rule: a value reads back equal, or is refused ----------------------------------


class Color(enum.Enum):
    RED = 1


class Size(enum.StrEnum):
    SMALL = "s"


class Level(enum.IntEnum):
    HIGH = 3


@dataclasses.dataclass
class Point:
    x: int
    y: int


Pair = collections.namedtuple("Pair", "left right")

SET_HINT = "store a list instead, e.g. sorted(...) or list(...)"
OTHER_HINT = (
    "JSON holds dict (with str keys), list, tuple (read back as a list), str, int, float, "
    "bool and None, and pydantic models: convert it to those yourself"
)

# (a value JSON cannot hold exactly, what the error says after "<path> is ")
REFUSED = [
    pytest.param(
        {3, 1},
        f"a set, which JSON cannot hold (it would read back as a list); {SET_HINT}",
        id="set",
    ),
    pytest.param(
        frozenset({"a"}),
        f"a frozenset, which JSON cannot hold (it would read back as a list); {SET_HINT}",
        id="frozenset",
    ),
    pytest.param(
        datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        "a datetime, which JSON cannot hold (it would read back as a str); store .isoformat() "
        "and rebuild it with datetime.fromisoformat(), or a timestamp",
        id="datetime",
    ),
    pytest.param(
        date(2024, 1, 2),
        "a date, which JSON cannot hold (it would read back as a str); store .isoformat() and "
        "rebuild it with date.fromisoformat()",
        id="date",
    ),
    pytest.param(
        time(3, 4),
        "a time, which JSON cannot hold (it would read back as a str); store .isoformat() and "
        "rebuild it with time.fromisoformat()",
        id="time",
    ),
    pytest.param(
        timedelta(seconds=90),
        "a timedelta, which JSON cannot hold; store .total_seconds()",
        id="timedelta",
    ),
    pytest.param(
        UUID(int=1),
        "a UUID, which JSON cannot hold (it would read back as a str); store str(...) and "
        "rebuild it with UUID(...)",
        id="uuid",
    ),
    pytest.param(
        Decimal("1.10"),
        "a Decimal, which JSON cannot hold; store str(...) to keep every digit, or float(...)",
        id="decimal",
    ),
    pytest.param(
        b"\x00raw",
        "bytes, which JSON cannot hold; store text instead, e.g. base64.b64encode(...).decode()",
        id="bytes",
    ),
    pytest.param(
        math.nan,
        "NaN, which JSON cannot hold (it would read back as null); JSON has no NaN or "
        "infinity: store None or a str yourself",
        id="nan",
    ),
    pytest.param(
        -math.inf,
        "infinity, which JSON cannot hold (it would read back as null); JSON has no NaN or "
        "infinity: store None or a str yourself",
        id="infinity",
    ),
    pytest.param(
        {1: "one"},
        "a dict with a key of type int (1), which JSON cannot hold (it would read back as a "
        "str key); JSON object keys are text: convert the keys yourself, e.g. "
        "{str(k): v for k, v in ....items()}",
        id="int-key",
    ),
    pytest.param(
        Color.RED,
        "an enum member (Color.RED), which JSON cannot hold (it would read back as its value); "
        "store .value or .name",
        id="enum",
    ),
    pytest.param(
        Point(1, 2),
        "a dataclass (Point), which JSON cannot hold (it would read back as a dict); store "
        "dataclasses.asdict(...)",
        id="dataclass",
    ),
    pytest.param(
        Pair(1, 2),
        "a named tuple (Pair), which JSON cannot hold (it would read back as a list); store "
        "._asdict() or list(...)",
        id="namedtuple",
    ),
    pytest.param(
        2**64, "an int beyond 64 bits, which JSON cannot hold; store str(...)", id="int-2**64"
    ),
    pytest.param(
        np.array([1.5, 2.5]),
        "a numpy.ndarray, which JSON cannot hold; store .tolist()",
        id="numpy-array",
    ),
    pytest.param(
        np.int64(7), "a numpy.int64, which JSON cannot hold; store .item()", id="numpy-int"
    ),
]


@pytest.mark.parametrize(("bad", "problem"), REFUSED)
def test_a_value_that_would_not_read_back_equal_is_refused_naming_where(bad, problem):
    for value, path in [
        (bad, "value"),
        ({"meta": {"items": ["ok", bad]}}, "value['meta']['items'][1]"),
        ([(0, {"deep": bad})], "value[0][1]['deep']"),
    ]:
        with pytest.raises(SerializationError) as raised:
            serializer.dumps(value)
        assert str(raised.value) == f"{path} is {problem}"
        assert isinstance(raised.value, RedisMemoryError)
        assert isinstance(raised.value, TypeError)  # as json.dumps raises
        assert isinstance(raised.value, ValueError)
        with pytest.raises(SerializationError):
            JSONSerializer(sort_keys=True).dumps(value)


# What orjson's options of old (non-str keys, numpy) or orjson itself (datetime,
# UUID, enum, dataclass, NaN) encoded silently: the fast path must not either.
WERE_CONVERTED = [
    param
    for param in REFUSED
    if param.id not in {"timedelta", "decimal", "bytes", "namedtuple", "int-2**64"}
]


@pytest.mark.parametrize(("bad", "problem"), WERE_CONVERTED)
def test_the_fast_dumps_of_write_paths_never_stores_what_the_rule_refuses(bad, problem):
    fast = fast_dumps(SizeLimitedSerializer(serializer, None))
    with pytest.raises((TypeError, ValueError)):
        fast({"role": "user", "content": "hi", "meta": bad})
    assert fast({"role": "user", "content": "hi"}) == b'{"role":"user","content":"hi"}'


def test_tuples_read_back_as_lists_but_sets_are_refused():
    # A tuple is an ordered array as JSON has one: its items come back, in order,
    # as a list (as with json.dumps, LangChain and LlamaIndex). A set has no order
    # to keep and compares unequal to any list: it is refused.
    value = {"args": (1, ("a", None)), "path": [(0.5, 2)]}
    assert serializer.loads(serializer.dumps(value)) == {
        "args": [1, ["a", None]],
        "path": [[0.5, 2]],
    }
    with pytest.raises(SerializationError, match=r"^value\['args'\]\[1\] is a set, "):
        serializer.dumps({"args": (1, {"a"})})


def test_values_equal_to_what_reads_back_are_stored_as_plain_types():
    value = {
        Size.SMALL: Size.SMALL,  # a str enum: its text, which equals it, also as a key
        "level": Level.HIGH,
        "ordered": collections.OrderedDict(b=1, a=2),
        "score": np.float64(0.25),
        "flag": True,
    }
    data = serializer.dumps(value)
    assert data == b'{"s":"s","level":3,"ordered":{"b":1,"a":2},"score":0.25,"flag":true}'
    assert serializer.loads(data) == value
    # ... but not a NaN inside a float subclass, nor an enum of other values.
    with pytest.raises(SerializationError, match=r"^value\['score'\] is NaN, "):
        serializer.dumps({"score": np.float64("nan")})
    with pytest.raises(SerializationError, match=r"^value\[0\] is an enum member \(Color.RED\)"):
        serializer.dumps([Color.RED])


def test_pydantic_model_is_stored_as_its_json_dump_which_must_read_back_too():
    message = Message(
        role="ai",
        content="hi",
        at=datetime(2024, 1, 2, tzinfo=UTC),
        id=UUID(int=1),
        extra={"tokens": 3},
    )
    expected = {
        "role": "ai",
        "content": "hi",
        "at": "2024-01-02T00:00:00Z",
        "id": "00000000-0000-0000-0000-000000000001",
        "extra": {"tokens": 3},
    }
    # The model's own JSON form, which its model_validate reads back exactly.
    assert serializer.loads(serializer.dumps({"messages": [message]})) == {"messages": [expected]}
    assert Message.model_validate(serializer.loads(serializer.dumps(message))) == message
    # pydantic keeps NaN in its JSON form; JSON would hold null, which the model refuses.
    scored = Scored(score=math.nan)
    with pytest.raises(SerializationError) as raised:
        serializer.dumps({"results": [scored]})
    assert str(raised.value).startswith("value['results'][0]['score'] is NaN, ")


def test_pydantic_model_class_is_not_a_value():
    with pytest.raises(SerializationError) as raised:
        serializer.dumps(Message)
    assert str(raised.value) == (
        "value is a class (Message), which JSON cannot hold; store data (an instance's "
        "fields), not a class"
    )


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_int_beyond_64_bits_is_refused(value):
    with pytest.raises(SerializationError) as raised:
        serializer.dumps({"count": [value]})
    assert str(raised.value) == (
        "value['count'][0] is an int beyond 64 bits, which JSON cannot hold; store str(...)"
    )
    assert serializer.loads(serializer.dumps([2**64 - 1, -(2**63)])) == [2**64 - 1, -(2**63)]


def test_arbitrary_objects_are_refused_naming_their_type_and_place():
    def callback():
        return None

    for value, path, what in [
        (Opaque(), "value", f"a {Opaque.__module__}.Opaque"),
        ({"payload": [Opaque()]}, "value['payload'][0]", f"a {Opaque.__module__}.Opaque"),
        ({"f": callback}, "value['f']", "a function"),
        ({"f": len}, "value['f']", "a builtin_function_or_method"),
        ({"z": 1j}, "value['z']", "a complex"),
    ]:
        with pytest.raises(SerializationError) as raised:
            serializer.dumps(value)
        assert str(raised.value) == f"{path} is {what}, which JSON cannot hold; {OTHER_HINT}"


def test_a_key_that_is_not_a_str_is_refused_whatever_its_type():
    for key in (2.5, None, True, UUID(int=1), date(2024, 1, 2), Color.RED, ("a", 1)):
        with pytest.raises(SerializationError) as raised:
            serializer.dumps({"ok": 1, "nested": {key: "x"}})
        assert str(raised.value).startswith(
            f"value['nested'] is a dict with a key of type {type(key).__name__} ({key!r}), "
        )


def test_a_lone_surrogate_is_refused_naming_its_place():
    with pytest.raises(SerializationError) as raised:
        serializer.dumps({"text": ["ok", "ab\ud800c"]})
    assert str(raised.value) == (
        "value['text'][1] is a str with a lone surrogate ('\\ud800' at index 2), which JSON "
        "cannot hold; JSON text is valid Unicode only: remove or replace it"
    )
    with pytest.raises(SerializationError, match=r"^a key of value\['m'\] is a str with a lone"):
        serializer.dumps({"m": {"k\udfff": 1}})


def test_cycles_and_too_deep_values_are_refused_by_name():
    loop: list = [1]
    loop.append({"again": loop})
    with pytest.raises(SerializationError) as raised:
        serializer.dumps({"items": loop})
    assert str(raised.value) == (
        "value['items'][1]['again'] is a container that holds itself (a cycle), which JSON "
        "cannot hold; store a value without cycles"
    )
    deep: list = []
    for _ in range(253):
        deep = [deep]
    assert serializer.loads(serializer.dumps(deep)) == deep  # 254 containers: orjson's limit
    with pytest.raises(SerializationError) as raised:
        serializer.dumps([deep])
    message = str(raised.value)
    assert "is nested more than 254 containers deep" in message
    assert len(message) < 300  # the path is shortened in the middle


def test_a_long_key_is_shortened_in_the_path():
    with pytest.raises(SerializationError) as raised:
        serializer.dumps({"k" * 80: {1}})
    assert str(raised.value).startswith(f"value['{'k' * 46}...] is a set")


def test_sort_keys_keeps_the_rule():
    sorted_serializer = JSONSerializer(sort_keys=True)
    assert sorted_serializer.dumps({"b": (1, 2), Size.SMALL: Level.HIGH, "a": 1}) == (
        b'{"a":1,"b":[1,2],"s":3}'
    )
    with pytest.raises(SerializationError, match=r"^value\['b'\] is a set"):
        sorted_serializer.dumps({"a": 1, "b": {2}})


# -- the rule as a property ---------------------------------------------------------------

# Leaves JSON cannot hold exactly; each one must be refused wherever it sits.
refused_leaves = st.one_of(
    st.sets(st.integers(), max_size=3),
    st.frozensets(st.text(max_size=3), max_size=3),
    st.datetimes(),
    st.dates(),
    st.uuids(),
    st.decimals(allow_nan=False),
    st.binary(max_size=5),
    st.sampled_from([math.nan, math.inf, -math.inf, Color.RED, 2**64, -(2**63) - 1]),
    st.builds(Point, st.integers(), st.integers()),
    st.dictionaries(st.integers(), st.none(), min_size=1, max_size=2),
)

any_values = st.recursive(
    json_values | refused_leaves,
    lambda children: (
        st.lists(children, max_size=4)
        | st.tuples(children, children)
        | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


def _as_read_back(value):
    """What JSON gives back for a value made of JSON types and tuples."""
    if isinstance(value, dict):
        return {key: _as_read_back(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_as_read_back(item) for item in value]
    return value


def _holds_json_only(value) -> bool:
    if isinstance(value, dict):
        return all(isinstance(k, str) and _holds_json_only(v) for k, v in value.items())
    if isinstance(value, list | tuple) and not isinstance(value, Point):
        return all(_holds_json_only(item) for item in value)
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return True
    if type(value) is int:
        return -(2**63) <= value < 2**64
    return type(value) is float and math.isfinite(value)


@settings(max_examples=400, deadline=None)
@given(any_values)
def test_every_value_reads_back_equal_or_is_refused(value):
    fast = fast_dumps(serializer)
    if _holds_json_only(value):
        data = serializer.dumps(value)
        assert serializer.loads(data) == _as_read_back(value)
        if _as_read_back(value) == value:
            assert fast(value) == data  # the write paths' shortcut agrees...
        else:  # ... or, for a value holding a tuple, leaves it to serializer.dumps
            with pytest.raises(ValueError, match=r"serializer\.dumps decides"):
                fast(value)
    else:
        with pytest.raises(SerializationError, match=r"\bvalue\b.* is .*, which JSON cannot hold"):
            serializer.dumps(value)
        with pytest.raises((TypeError, ValueError)):
            fast(value)


def _step(key) -> str:
    """A step of a path as errors show it: the key's repr, shortened past 50 characters."""
    shown = repr(key)
    return f"[{shown if len(shown) <= 50 else shown[:47] + '...'}]"


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_the_error_names_the_path_of_the_one_bad_leaf(data):
    value = data.draw(st.dictionaries(st.text(max_size=6), json_values, max_size=4))
    leaf = data.draw(refused_leaves)
    # Walk down into the value, then put the bad leaf there.
    path, container = "value", value
    while True:
        inner = [
            (key, item)
            for key, item in (
                container.items() if isinstance(container, dict) else enumerate(container)
            )
            if isinstance(item, dict | list)
        ]
        if not inner or data.draw(st.booleans()):
            break
        key, container = data.draw(st.sampled_from(inner))
        path += _step(key)
    if isinstance(container, dict):
        key = data.draw(st.text(max_size=6).filter(lambda k: k not in container))
        container[key] = leaf
        path += _step(key)
    else:
        index = data.draw(st.integers(0, len(container)))
        container.insert(index, leaf)
        path += f"[{index}]"
    with pytest.raises(SerializationError) as raised:
        serializer.dumps(value)
    assert str(raised.value).startswith(f"{path} is ")


# -- errors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "shown"),
    [
        (b"{not json", "b'{not json'"),
        ("{not json", "'{not json'"),
        (b"", "b''"),
        (bytearray(b"[1,"), "b'[1,'"),
        (memoryview(b"\x80\x03pickle"), "b'\\x80\\x03pickle'"),
    ],
)
def test_invalid_json_shows_the_start_of_the_data(data, shown):
    with pytest.raises(SerializationError) as info:
        serializer.loads(data)
    message = str(info.value)
    assert isinstance(info.value, ValueError)
    assert message.startswith("stored value is not valid JSON (")
    assert f"; it starts with {shown}. " in message
    assert message.endswith("Was it written by another program under this key prefix?")


def test_invalid_json_shows_only_the_first_60_characters():
    data = b"<html>" + b"x" * 200
    with pytest.raises(SerializationError) as info:
        serializer.loads(data)
    assert f"it starts with {data[:60]!r}." in str(info.value)
    assert repr(data[:61]) not in str(info.value)


@pytest.mark.parametrize("data", [None, 123])
def test_loads_of_non_text_raises_serialization_error(data):
    with pytest.raises(SerializationError, match=r"^stored value is not valid JSON"):
        serializer.loads(data)


# -- no pickle ---------------------------------------------------------------------------

_PICKLE_LIKE = ("pickle", "dill", "marshal", "shelve")


def _docstring_nodes(tree: ast.AST) -> set[int]:
    nodes = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                nodes.add(id(body[0].value))
    return nodes


def _code_words(source: str) -> list[str]:
    """Every identifier, import and string constant of a module, docstrings excepted."""
    tree = ast.parse(source)
    docstrings = _docstring_nodes(tree)
    words: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            words.append(node.id)
        elif isinstance(node, ast.Attribute):
            words.append(node.attr)
        elif isinstance(node, ast.alias):
            words.append(node.name)
        elif isinstance(node, ast.ImportFrom) and node.module:
            words.append(node.module)
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str | bytes)
            and id(node) not in docstrings
        ):
            words.append(str(node.value))
    return words


def test_package_never_uses_pickle():
    # A plain text search would find the docstring "JSON on orjson, never pickle",
    # so Python sources are searched in their code (imports, names, strings), and
    # every other file of the package as text.
    package = Path(redis_memory.__file__).parent
    sources = sorted(package.rglob("*.py"))
    assert package / "serialization.py" in sources
    for path in sources:
        words = _code_words(path.read_text(encoding="utf-8"))
        assert words, path
        for word in words:
            assert not any(name in word.lower() for name in _PICKLE_LIKE), (path, word)
    others = [p for p in package.rglob("*") if p.is_file() and p.suffix not in {".py", ".pyc"}]
    for path in others:
        assert b"pickle" not in path.read_bytes().lower(), path


def test_the_no_pickle_check_finds_pickle_in_code():
    # The check above must be able to fail: it does see pickle used in code.
    assert "pickle" in _code_words("import pickle\n")
    assert "pickle" in _code_words("from pickle import loads\n")
    assert "loads" in _code_words("import pickle\npickle.loads(b'')\n")
    assert "pickle" in _code_words("importlib.import_module('pickle')\n")
    assert "pickle" not in _code_words('"""Never pickle."""\nX = 1\n')
