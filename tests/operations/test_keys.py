"""Tests of the key schema in ``redis_memory.keys``.

Covers ``escape_id`` / ``unescape_id`` (one-to-one, no reserved characters left,
readable non-ASCII, size and type checks), ``validate_prefix``, every
``KeySchema`` key builder and ``kind_of``, ``session_id_of``, the ``SCAN``
patterns (emulated with ``fnmatch.fnmatchcase``, which like Redis' glob treats
``{`` and ``}`` literally) and the Redis Cluster hash tags, checked with
redis-py's own ``key_slot``.
"""

from __future__ import annotations

import unicodedata
from dataclasses import FrozenInstanceError
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from redis_memory.keys import (
    DEFAULT_PREFIX,
    KINDS,
    MAX_ID_BYTES,
    MAX_PREFIX_LENGTH,
    KeySchema,
    escape_id,
    unescape_id,
    validate_prefix,
)

# Characters that must never appear in an escaped id: the key separator, Redis
# glob characters, hash-tag braces and the backslash (glob escape).
FORBIDDEN = frozenset(":{}*?[]\\")


def _is_valid_id(text: str) -> bool:
    try:
        return len(text.encode("utf-8")) <= MAX_ID_BYTES
    except UnicodeEncodeError:  # a lone surrogate
        return False


ids = st.text(min_size=1).filter(_is_valid_id)
prefix_words = st.text(
    alphabet="abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-",
    min_size=1,
    max_size=8,
)
# Words after the first may not name a kind of data (see validate_prefix).
prefixes = (
    st.lists(prefix_words, min_size=1, max_size=4)
    .filter(lambda words: not set(words[1:]) & set(KINDS))
    .map(":".join)
)


def _hash_tag(key: str) -> str:
    """What Redis Cluster hashes: the text between the first '{' and the next '}'."""
    start = key.index("{")
    return key[start + 1 : key.index("}", start + 1)]


def _all_keys(schema: KeySchema, ident: str) -> dict[str, str]:
    """Every key (and channel) the schema builds from one user-supplied id."""
    return {
        "session_messages": schema.session_messages(ident),
        "session_meta": schema.session_meta(ident),
        "session_channel": schema.session_channel(ident),
        "state_user": schema.state_user(ident),
        "state": schema.state(ident, ident),
        "task_owner": schema.task_owner(ident),
        "task_findings": schema.task_findings(ident),
        "lock": schema.lock(ident),
        "ratelimit": schema.ratelimit(ident),
        "channel": schema.channel(ident),
        "cache_semantic_prefix": schema.cache_semantic_prefix(ident),
        "cache_semantic_index": schema.cache_semantic_index(ident),
        "cache_exact": schema.cache_exact("ab12", "cd34"),
        "audit": schema.audit(),
    }


KIND_OF_BUILDER = {
    "session_messages": "session",
    "session_meta": "session",
    "session_channel": "events",
    "state_user": "state",
    "state": "state",
    "task_owner": "task",
    "task_findings": "task",
    "lock": "lock",
    "ratelimit": "ratelimit",
    "channel": "events",
    "cache_semantic_prefix": "cache",
    "cache_semantic_index": "cache",
    "cache_exact": "cache",
    "audit": "audit",
}


# -- properties of escape_id ---------------------------------------------------


@settings(max_examples=300)
@given(ids)
def test_unescape_reverses_escape(ident):
    assert unescape_id(escape_id(ident)) == ident


@settings(max_examples=300)
@given(ids, ids)
def test_escape_is_one_to_one(first, second):
    if first != second:
        assert escape_id(first) != escape_id(second)
    else:
        assert escape_id(first) == escape_id(second)


@settings(max_examples=300)
@given(ids)
def test_escaped_id_has_no_reserved_space_or_control_characters(ident):
    escaped = escape_id(ident)
    assert escaped
    assert not FORBIDDEN & set(escaped)
    assert not any(char.isspace() for char in escaped)
    assert not any(unicodedata.category(char).startswith("C") for char in escaped)


@settings(max_examples=300)
@given(ids)
def test_escape_keeps_ordinary_characters_readable(ident):
    # Only characters that need it are escaped: the escaped form of an id made of
    # letters, digits and symbols other than the reserved ones is the id itself.
    plain = "".join(
        char
        for char in ident
        if char not in FORBIDDEN | {"%"}
        and not char.isspace()
        and not unicodedata.category(char).startswith("C")
    )
    if plain:
        assert escape_id(plain) == plain


@settings(max_examples=300)
@given(prefixes, ids)
def test_session_key_stays_in_its_prefix_and_kind(prefix, ident):
    schema = KeySchema(prefix)
    key = schema.session_messages(ident)
    escaped = escape_id(ident)
    assert key.startswith(f"{prefix}:session:{{")
    assert key == f"{prefix}:session:{{{escaped}}}:messages"
    # The id adds no separator: the key has exactly the prefix's segments + 3.
    assert key.split(":") == [*prefix.split(":"), "session", f"{{{escaped}}}", "messages"]
    assert schema.kind_of(key) == "session"
    assert key.count("{") == 1
    assert key.count("}") == 1


@settings(max_examples=300)
@given(prefixes, ids)
def test_every_key_builder_stays_in_its_prefix_and_kind(prefix, ident):
    schema = KeySchema(prefix)
    depth = len(prefix.split(":"))
    for builder, key in _all_keys(schema, ident).items():
        kind = KIND_OF_BUILDER[builder]
        assert key.startswith(prefix + ":"), builder
        assert key.split(":")[: depth + 1] == [*prefix.split(":"), kind], builder
        assert schema.kind_of(key) == kind, builder


@settings(max_examples=300)
@given(prefixes, ids)
def test_session_id_of_reverses_session_keys(prefix, ident):
    schema = KeySchema(prefix)
    assert schema.session_id_of(schema.session_messages(ident)) == ident
    assert schema.session_id_of(schema.session_meta(ident)) == ident
    assert schema.session_id_of(schema.session_messages(ident).encode("utf-8")) == ident


@settings(max_examples=300)
@given(prefixes, prefixes, ids)
def test_sessions_pattern_matches_no_key_of_another_prefix(prefix, other_prefix, ident):
    pattern = KeySchema(prefix).sessions_pattern()
    if other_prefix != prefix:
        for builder, key in _all_keys(KeySchema(other_prefix), ident).items():
            assert not fnmatchcase(key, pattern), (builder, key, pattern)


@settings(max_examples=300)
@given(prefixes, ids)
def test_sessions_pattern_matches_only_message_keys_of_its_prefix(prefix, ident):
    schema = KeySchema(prefix)
    pattern = schema.sessions_pattern()
    for builder, key in _all_keys(schema, ident).items():
        assert fnmatchcase(key, pattern) is (builder == "session_messages"), (builder, key)


@settings(max_examples=300)
@given(ids)
def test_hash_tag_is_the_escaped_id(ident):
    schema = KeySchema("myapp")
    escaped = escape_id(ident)
    tagged = [
        schema.session_messages(ident),
        schema.session_meta(ident),
        schema.state_user(ident),
        schema.state(ident, "k"),
        schema.task_owner(ident),
        schema.task_findings(ident),
    ]
    slot = key_slot(escaped.encode("utf-8"))
    for key in tagged:
        assert _hash_tag(key) == escaped, key
        assert key_slot(key.encode("utf-8")) == slot, key


# -- particular ids -------------------------------------------------------------


@pytest.mark.parametrize(
    ("ident", "escaped"),
    [
        ("s1", "s1"),
        ("a:b", "a%3Ab"),
        ("a}b", "a%7Db"),
        ("a{b", "a%7Bb"),
        ("*", "%2A"),
        ("?", "%3F"),
        ("[x]", "%5Bx%5D"),
        ("a\\b", "a%5Cb"),
        ("%", "%25"),
        ("%3A", "%253A"),
        (":", "%3A"),
        ("user 1", "user%201"),
        ("x\n", "x%0A"),
        ("tab\there", "tab%09here"),
        ("é", "é"),
        ("日本語", "日本語"),
        ("😀", "😀"),
        ("user@example.com", "user@example.com"),
        ("\u00a0", "%C2%A0"),
        ("\u200b", "%E2%80%8B"),
        ("\x00", "%00"),
    ],
)
def test_escape_of_particular_ids(ident, escaped):
    assert escape_id(ident) == escaped
    assert unescape_id(escaped) == ident


def test_percent_escapes_and_the_characters_they_stand_for_give_distinct_keys():
    keys = KeySchema("myapp")
    assert keys.session_messages("%3A") == "myapp:session:{%253A}:messages"
    assert keys.session_messages(":") == "myapp:session:{%3A}:messages"
    assert keys.session_id_of(keys.session_messages("%3A")) == "%3A"
    assert keys.session_id_of(keys.session_messages(":")) == ":"


@pytest.mark.parametrize(
    ("ident", "key"),
    [
        ("a:b", "myapp:session:{a%3Ab}:messages"),
        ("a}b", "myapp:session:{a%7Db}:messages"),
        ("*", "myapp:session:{%2A}:messages"),
        ("user 1", "myapp:session:{user%201}:messages"),
        ("x\n", "myapp:session:{x%0A}:messages"),
        ("é", "myapp:session:{é}:messages"),
        ("\u00a0", "myapp:session:{%C2%A0}:messages"),
    ],
)
def test_session_keys_of_particular_ids(ident, key):
    keys = KeySchema("myapp")
    assert keys.session_messages(ident) == key
    assert keys.session_id_of(key) == ident
    assert keys.kind_of(key) == "session"


def test_a_brace_in_an_id_does_not_move_the_hash_tag():
    keys = KeySchema("myapp")
    key = keys.session_messages("a}b")
    assert _hash_tag(key) == "a%7Db"
    assert key_slot(key.encode()) == key_slot(keys.session_meta("a}b").encode())
    assert key_slot(key.encode()) == key_slot(b"a%7Db")


# -- invalid ids ------------------------------------------------------------------


def test_empty_id_is_refused_naming_it():
    with pytest.raises(ValueError, match=r"^a session id must not be empty$"):
        KeySchema().session_messages("")
    with pytest.raises(ValueError, match=r"^a id must not be empty$"):
        escape_id("")


def test_id_of_exactly_512_utf8_bytes_is_accepted():
    assert escape_id("a" * 512) == "a" * 512
    assert escape_id("é" * 256) == "é" * 256  # two bytes each
    assert KeySchema().session_id_of(KeySchema().session_messages("é" * 256)) == "é" * 256


@pytest.mark.parametrize(("ident", "size"), [("a" * 513, 513), ("é" * 256 + "a", 513)])
def test_id_over_512_utf8_bytes_is_refused(ident, size):
    with pytest.raises(
        ValueError, match=rf"^a session id must be at most 512 bytes of UTF-8, got {size} bytes$"
    ):
        KeySchema().session_messages(ident)


@pytest.mark.parametrize(
    ("ident", "message"),
    [
        (1, "a session id must be a str, not int: 1"),
        (b"s1", "a session id must be a str, not bytes: b's1'"),
        (None, "a session id must be a str, not NoneType: None"),
    ],
)
def test_non_str_id_is_a_type_error(ident, message):
    with pytest.raises(TypeError) as info:
        KeySchema().session_messages(ident)
    assert str(info.value) == message


def test_lone_surrogate_is_refused():
    with pytest.raises(ValueError, match=r"^a session id must be valid Unicode text"):
        KeySchema().session_messages("\ud800")
    with pytest.raises(ValueError, match=r"^a id must be valid Unicode text"):
        escape_id("a\udfffb")


@pytest.mark.parametrize(
    ("build", "what"),
    [
        (lambda keys: keys.session_meta(""), "session id"),
        (lambda keys: keys.session_channel(""), "session id"),
        (lambda keys: keys.state_user(""), "user id"),
        (lambda keys: keys.state("u1", ""), "state key"),
        (lambda keys: keys.task_owner(""), "task id"),
        (lambda keys: keys.lock(""), "lock name"),
        (lambda keys: keys.ratelimit(""), "rate limit name"),
        (lambda keys: keys.channel(""), "event topic"),
        (lambda keys: keys.cache_semantic_prefix(""), "cache name"),
    ],
)
def test_errors_name_the_kind_of_id(build, what):
    with pytest.raises(ValueError, match=rf"^a {what} must not be empty$"):
        build(KeySchema())


# -- prefixes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "prefix", ["", "a b", "a*", "a{b}", ":a", "a:", "a::b", "a" * 65, "a\n", "é", "a/b"]
)
def test_invalid_prefixes_are_refused(prefix):
    with pytest.raises(ValueError, match=r"^invalid key prefix "):
        validate_prefix(prefix)
    with pytest.raises(ValueError, match=r"^invalid key prefix "):
        KeySchema(prefix)


@pytest.mark.parametrize("prefix", ["myapp", "my-app.v2", "myapp:prod", "a", "a" * 64, "A_1"])
def test_valid_prefixes_are_accepted(prefix):
    assert validate_prefix(prefix) == prefix
    assert KeySchema(prefix).prefix == prefix


def test_non_str_prefix_is_a_type_error():
    with pytest.raises(TypeError, match=r"^the key prefix must be a str, not int$"):
        KeySchema(5)


def test_default_prefix():
    assert DEFAULT_PREFIX == "rmem"
    assert KeySchema().prefix == "rmem"
    assert MAX_PREFIX_LENGTH == 64
    assert KeySchema().session_messages("s1") == "rmem:session:{s1}:messages"


# -- key builders ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "expected", "kind"),
    [
        (lambda k: k.session_messages("s1"), "myapp:session:{s1}:messages", "session"),
        (lambda k: k.session_meta("s1"), "myapp:session:{s1}:meta", "session"),
        (lambda k: k.session_channel("s1"), "myapp:events:session:{s1}", "events"),
        (lambda k: k.state_user("u1"), "myapp:state:{u1}", "state"),
        (lambda k: k.state("u1", "k:1"), "myapp:state:{u1}:k%3A1", "state"),
        (lambda k: k.task_owner("t1"), "myapp:task:{t1}:owner", "task"),
        (lambda k: k.task_findings("t1"), "myapp:task:{t1}:findings", "task"),
        (lambda k: k.lock("l 1"), "myapp:lock:l%201", "lock"),
        (lambda k: k.ratelimit("r1"), "myapp:ratelimit:r1", "ratelimit"),
        (lambda k: k.channel("news"), "myapp:events:news", "events"),
        (lambda k: k.audit(), "myapp:audit", "audit"),
        (lambda k: k.cache_exact("ab12", "cd34"), "myapp:cache:llm:default:ab12:cd34", "cache"),
        (lambda k: k.cache_semantic_prefix("faq"), "myapp:cache:sem:faq", "cache"),
        (lambda k: k.cache_semantic_index("faq"), "myapp:cache:sem:faq:idx", "cache"),
        (lambda k: k.session_index(), "myapp:session:messages-idx", "session"),
        (lambda k: k.memory("notes 1"), "myapp:mem:notes%201", "mem"),
    ],
)
def test_key_builders(key, expected, kind):
    keys = KeySchema("myapp")
    built = key(keys)
    assert built == expected
    assert built.startswith("myapp:")
    assert keys.kind_of(built) == kind
    assert keys.kind_of(built.encode()) == kind
    assert kind in KINDS


def test_patterns():
    keys = KeySchema("myapp")
    assert keys.pattern() == "myapp:*"
    assert keys.sessions_pattern() == "myapp:session:{*}:messages"
    assert keys.state_pattern("u:1") == "myapp:state:{u%3A1}:*"
    assert keys.cache_exact_pattern() == "myapp:cache:llm:default:*:*"
    assert keys.cache_exact_pattern("ab12") == "myapp:cache:llm:default:ab12:*"
    assert keys.cache_exact_pattern(cache="a:b") == "myapp:cache:llm:a%3Ab:*:*"
    assert not fnmatchcase(
        keys.cache_exact("ab12", "ff", cache="other"), keys.cache_exact_pattern("ab12")
    )
    assert fnmatchcase(keys.state("u:1", "k"), keys.state_pattern("u:1"))
    assert not fnmatchcase(keys.state("u:2", "k"), keys.state_pattern("u:1"))
    assert fnmatchcase(keys.cache_exact("ab12", "ff"), keys.cache_exact_pattern("ab12"))
    assert not fnmatchcase(keys.cache_exact("ab13", "ff"), keys.cache_exact_pattern("ab12"))


@pytest.mark.parametrize(
    "key",
    [
        "other:session:{s1}:messages",
        "myappx:session:{s1}:messages",
        "myapp",
        "myapp:",
        "myapp:unknown:x",
        "myapp:prod:session:{s1}:messages",
        "MYAPP:session:{s1}:messages",
        "",
        b"other:audit",
    ],
)
def test_kind_of_foreign_keys_is_none(key):
    assert KeySchema("myapp").kind_of(key) is None


def test_kind_of_bytes_that_are_not_utf8():
    assert KeySchema("myapp").kind_of(b"myapp:cache:\xff\xfe") == "cache"
    assert KeySchema("myapp").kind_of(b"\xffmyapp:cache:x") is None


@pytest.mark.parametrize("prefix", ["myapp:cache", "myapp:session", "a:b:state"])
def test_a_prefix_word_after_a_colon_cannot_be_a_kind_of_data(prefix):
    # Otherwise 'myapp:cache:...' keys would read as the cache of prefix 'myapp'.
    with pytest.raises(ValueError, match="names a kind of data"):
        KeySchema(prefix)


def test_a_kind_name_may_start_a_prefix():
    assert KeySchema("cache").session_messages("s") == "cache:session:{s}:messages"


@pytest.mark.parametrize(
    ("llm_hash", "prompt_hash"),
    [
        ("ABCD", "ab"),
        ("ab", "ABCD"),
        ("xyz", "ab"),
        ("", "ab"),
        ("ab", ""),
        ("ab:cd", "ab"),
        ("ab\n", "ab"),
        ("ab", "*"),
        ("a" * 129, "ab"),
    ],
)
def test_cache_exact_rejects_non_hex_digests(llm_hash, prompt_hash):
    with pytest.raises(ValueError, match=r"^expected a lower-case hex digest, got "):
        KeySchema().cache_exact(llm_hash, prompt_hash)


def test_cache_exact_accepts_long_hex_digests():
    digest = "0123456789abcdef" * 8  # 128 hex digits, e.g. sha512
    assert KeySchema("p").cache_exact(digest, "0") == f"p:cache:llm:default:{digest}:0"


def test_cache_exact_pattern_rejects_non_hex_digest():
    with pytest.raises(ValueError, match=r"^expected a lower-case hex digest, got '\*'$"):
        KeySchema().cache_exact_pattern("*")


@pytest.mark.parametrize(
    "key",
    [
        "myapp:state:{s1}:k",
        "other:session:{s1}:messages",
        "myapp:session:s1:messages",
        "myapp:session:{s1",
        "",
    ],
)
def test_session_id_of_refuses_other_keys(key):
    with pytest.raises(ValueError, match=r"is not a session key under prefix 'myapp'$"):
        KeySchema("myapp").session_id_of(key)


def test_schema_is_frozen_and_comparable():
    keys = KeySchema("myapp")
    assert keys == KeySchema("myapp")
    assert keys != KeySchema("other")
    with pytest.raises(FrozenInstanceError):
        keys.prefix = "other"


# -- hostile ids: no collisions, no widened patterns ------------------------------------

GLOB = frozenset("*?[]\\")


def _keys_of(schema: KeySchema, ident: str) -> dict[str, str]:
    """Every key and channel name built from one user-supplied id, by builder."""
    keys = {b: k for b, k in _all_keys(schema, ident).items() if b not in ("cache_exact", "audit")}
    return {
        **keys,
        "state_key": schema.state("user", ident),
        "state_channel": schema.state_channel(ident),
        "queue": schema.queue(ident),
        "cache_exact": schema.cache_exact("ab12", "cd34", cache=ident),
    }


@settings(max_examples=100)
@given(ids, ids)
def test_no_two_ids_or_kinds_share_a_key(first, second):
    schema = KeySchema("myapp")
    keys_a, keys_b = _keys_of(schema, first), _keys_of(schema, second)
    assert len(set(keys_a.values())) == len(keys_a)
    for builder_a, key_a in keys_a.items():
        for builder_b, key_b in keys_b.items():
            same = builder_a == builder_b and first == second
            assert (key_a == key_b) is same, (builder_a, builder_b, key_a)


@settings(max_examples=100)
@given(ids, ids, ids, ids)
def test_state_keys_of_two_ids_are_one_to_one(user_a, key_a, user_b, key_b):
    schema = KeySchema("myapp")
    same = (user_a, key_a) == (user_b, key_b)
    assert (schema.state(user_a, key_a) == schema.state(user_b, key_b)) is same


@settings(max_examples=100)
@given(ids, ids, ids)
def test_scan_patterns_built_from_ids_are_never_widened(user, other, key):
    schema = KeySchema("myapp")
    pattern = schema.state_pattern(user)
    assert pattern.endswith(":*")
    assert not GLOB & set(pattern[:-1]), "the id adds no glob character"
    assert fnmatchcase(schema.state(user, key), pattern)
    assert fnmatchcase(schema.state(other, key), pattern) is (other == user)
    for builder, built in _keys_of(schema, other).items():
        if builder not in ("state", "state_key"):
            assert not fnmatchcase(built, pattern), (builder, built)

    cache_pattern = schema.cache_exact_pattern(cache=user)
    assert not GLOB & set(cache_pattern.removesuffix(":*:*"))
    assert fnmatchcase(schema.cache_exact("ab", "cd", cache=user), cache_pattern)
    assert fnmatchcase(schema.cache_exact("ab", "cd", cache=other), cache_pattern) is (
        other == user
    )
    # A semantic cache's index covers its own entries only, never another cache's.
    index_prefix = schema.cache_semantic_prefix(user) + ":"
    other_entry = schema.cache_semantic_prefix(other) + ":ab:cd"
    assert other_entry.startswith(index_prefix) is (other == user)
