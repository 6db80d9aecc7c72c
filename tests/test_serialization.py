"""Tests of ``redis_memory.serialization.JSONSerializer``.

Covers round trips of plain JSON data (nested containers, unicode, 64-bit
integers, floats), the bytes it produces and the inputs ``loads`` accepts, the
extra types it encodes (datetime, UUID, pydantic models, sets, non-str dict
keys), NaN/infinity becoming ``null``, the :class:`SerializationError` raised
for values and stored data it cannot handle, and that the package never uses
pickle.
"""

from __future__ import annotations

import ast
import math
from datetime import UTC, date, datetime, timedelta, timezone
from pathlib import Path
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel

import redis_memory
from redis_memory.errors import RedisMemoryError, SerializationError
from redis_memory.serialization import JSONSerializer, Serializer

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


# -- extra types ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), b'"2024-01-02T03:04:05+00:00"'),
        (
            datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=2))),
            b'"2024-01-02T03:04:05+02:00"',
        ),
        (datetime(2024, 1, 2, 3, 4, 5, 678000), b'"2024-01-02T03:04:05.678000"'),
        (date(2024, 1, 2), b'"2024-01-02"'),
        (
            UUID("12345678-1234-5678-1234-567812345678"),
            b'"12345678-1234-5678-1234-567812345678"',
        ),
    ],
)
def test_datetime_and_uuid_are_encoded_as_text(value, encoded):
    assert serializer.dumps(value) == encoded
    assert serializer.loads(encoded) == str(value).replace(" ", "T")


def test_pydantic_model_is_encoded_as_its_json_dump():
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
    assert message.model_dump(mode="json") == expected
    assert serializer.loads(serializer.dumps(message)) == expected
    assert serializer.loads(serializer.dumps({"messages": [message]})) == {"messages": [expected]}
    assert Message.model_validate(serializer.loads(serializer.dumps(message))) == message


def test_pydantic_model_class_is_not_a_value():
    with pytest.raises(SerializationError, match=r"^cannot store ModelMetaclass as JSON"):
        serializer.dumps(Message)


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        ({"b", "a", "c"}, b'["a","b","c"]'),
        (frozenset({"y", "x"}), b'["x","y"]'),
        ({"tags": {"b", "a"}}, b'{"tags":["a","b"]}'),
        (set(), b"[]"),
    ],
)
def test_sets_become_sorted_lists(value, encoded):
    assert serializer.dumps(value) == encoded


def test_set_of_numbers_becomes_a_list_of_its_members():
    decoded = serializer.loads(serializer.dumps({3, 1, 2}))
    assert isinstance(decoded, list)
    assert sorted(decoded) == [1, 2, 3]
    assert serializer.dumps({3, 1, 2}) == serializer.dumps({2, 3, 1})


@pytest.mark.parametrize(
    ("value", "decoded"),
    [
        ({1: "a"}, {"1": "a"}),
        ({2.5: "b"}, {"2.5": "b"}),
        ({None: "c"}, {"null": "c"}),
        ({True: "d"}, {"true": "d"}),
        ({UUID(int=1): "e"}, {"00000000-0000-0000-0000-000000000001": "e"}),
        ({date(2024, 1, 2): "f"}, {"2024-01-02": "f"}),
    ],
)
def test_non_str_dict_keys_become_strings(value, decoded):
    assert serializer.loads(serializer.dumps(value)) == decoded


def test_nan_and_infinity_become_null():
    # Documented: JSON has no NaN or infinity, so they are stored as null.
    assert serializer.dumps(math.nan) == b"null"
    assert serializer.dumps([math.nan, math.inf, -math.inf]) == b"[null,null,null]"
    assert serializer.loads(serializer.dumps({"score": math.nan})) == {"score": None}


# -- errors --------------------------------------------------------------------------


def _dumps_error(value) -> SerializationError:
    with pytest.raises(SerializationError) as info:
        serializer.dumps(value)
    return info.value


@pytest.mark.parametrize("value", [2**64, -(2**63) - 1, 10**30])
def test_int_beyond_64_bits_is_refused(value):
    error = _dumps_error(value)
    assert isinstance(error, ValueError)
    assert isinstance(error, RedisMemoryError)
    assert str(error).startswith("cannot store int as JSON: Integer exceeds 64-bit range")
    assert error.__cause__ is not None


def test_int_beyond_64_bits_inside_a_container_is_refused():
    error = _dumps_error({"count": [2**64]})
    assert "Integer exceeds 64-bit range" in str(error)


def test_arbitrary_object_is_refused_naming_its_type():
    error = _dumps_error(Opaque())
    assert isinstance(error, ValueError)
    assert str(error) == (
        "cannot store Opaque as JSON: Type is not JSON serializable: Opaque. "
        "Store plain data (dict, list, str, int, float, bool, None) or a pydantic model."
    )


def test_object_inside_a_container_is_refused_naming_its_type():
    error = _dumps_error({"payload": [Opaque()]})
    assert str(error).startswith("cannot store dict as JSON: ")
    assert "Type is not JSON serializable: Opaque" in str(error)


def test_function_is_refused_naming_its_type():
    def callback():
        return None

    error = _dumps_error(callback)
    assert str(error).startswith(
        "cannot store function as JSON: Type is not JSON serializable: function"
    )
    assert "Type is not JSON serializable: builtin_function_or_method" in str(
        _dumps_error({"f": len})
    )


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
