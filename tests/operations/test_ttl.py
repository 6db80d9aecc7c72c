"""Tests of ``redis_memory.ttl``: :class:`TTL` and :class:`TTLPolicy`.

Covers the units a TTL accepts (int, float and ``timedelta`` seconds) and what
it exposes (``milliseconds``, ``seconds``, ``expires``, ``refresh_on_read``),
the values it refuses and their messages, the policy's defaults, how a bare
number keeps a field's default ``sliding``, ``None`` as "never expires",
``replace()``, ``never_expire()`` and immutability.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from redis_memory.ttl import NEVER, TTL, TTLPolicy

DAY = 24 * 60 * 60

# -- TTL ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "milliseconds"),
    [
        (60, 60_000),
        (1, 1_000),
        (1.5, 1_500),
        (0.001, 1),
        (0.25, 250),
        (timedelta(minutes=2), 120_000),
        (timedelta(days=30), 2_592_000_000),
        (timedelta(milliseconds=1), 1),
        (timedelta(seconds=1, microseconds=500_000), 1_500),
    ],
)
def test_ttl_from_seconds(seconds, milliseconds):
    ttl = TTL(seconds)
    assert ttl.milliseconds == milliseconds
    assert ttl.seconds == milliseconds / 1000
    assert ttl.expires is True
    assert ttl.sliding is False
    assert ttl.refresh_on_read is False


@given(st.integers(min_value=1, max_value=10**9))
def test_ttl_of_whole_seconds_is_exact_milliseconds(seconds):
    assert TTL(seconds).milliseconds == seconds * 1000
    assert TTL(timedelta(seconds=seconds)).milliseconds == seconds * 1000
    assert TTL(float(seconds)).milliseconds == seconds * 1000


def test_sliding_ttl_refreshes_on_read():
    ttl = TTL(60, sliding=True)
    assert ttl.milliseconds == 60_000
    assert ttl.sliding is True
    assert ttl.expires is True
    assert ttl.refresh_on_read is True


@pytest.mark.parametrize("ttl", [TTL(), TTL(None), NEVER])
def test_ttl_none_never_expires(ttl):
    assert ttl.milliseconds is None
    assert ttl.seconds is None
    assert ttl.expires is False
    assert ttl.sliding is False
    assert ttl.refresh_on_read is False
    assert ttl == NEVER


@pytest.mark.parametrize(
    "seconds",
    [0, 0.0, -1, -0.5, timedelta(0), timedelta(seconds=-1), math.nan, math.inf, -math.inf],
)
def test_non_positive_or_non_finite_ttl_is_a_value_error(seconds):
    with pytest.raises(ValueError, match=r"^a TTL must be a positive") as info:
        TTL(seconds)
    assert str(info.value) == (
        f"a TTL must be a positive, finite number of seconds, got {seconds!r}"
    )


@pytest.mark.parametrize("seconds", [0.0004, timedelta(microseconds=400)])
def test_ttl_below_one_millisecond_is_a_value_error(seconds):
    with pytest.raises(ValueError, match=r"^a TTL must be at least") as info:
        TTL(seconds)
    assert str(info.value) == f"a TTL must be at least one millisecond, got {seconds!r}"


@pytest.mark.parametrize(
    ("seconds", "type_name"),
    [(True, "bool"), (False, "bool"), ("60", "str"), (b"60", "bytes"), ([60], "list")],
)
def test_ttl_of_wrong_type_is_a_type_error(seconds, type_name):
    with pytest.raises(TypeError) as info:
        TTL(seconds)
    assert str(info.value) == (
        f"a TTL is a number of seconds, a timedelta or None, not {type_name}"
    )


@pytest.mark.parametrize("sliding", [1, "yes", None])
def test_sliding_must_be_a_bool(sliding):
    with pytest.raises(TypeError, match=r"^sliding must be True or False, not "):
        TTL(60, sliding=sliding)


def test_sliding_without_lifetime_is_a_value_error():
    with pytest.raises(ValueError, match=r"^a sliding TTL") as info:
        TTL(None, sliding=True)
    assert str(info.value) == "a sliding TTL needs a lifetime: TTL(seconds, sliding=True)"


@pytest.mark.parametrize("seconds", [10**400, 1e300, 10**16], ids=["1e400-int", "1e300", "1e16"])
def test_ttl_too_long_for_redis_is_a_value_error(seconds):
    with pytest.raises(ValueError, match=r"TTL"):
        TTL(seconds)


def test_ttl_equality_ignores_the_unit():
    assert TTL(60) == TTL(60.0) == TTL(timedelta(seconds=60))
    assert TTL(60) != TTL(60, sliding=True)
    assert TTL(60) != TTL(61)
    assert hash(TTL(60)) == hash(TTL(timedelta(minutes=1)))


@pytest.mark.parametrize(
    ("ttl", "text"),
    [
        (TTL(60), "TTL(60)"),
        (TTL(1.5, sliding=True), "TTL(1.5, sliding=True)"),
        (TTL(None), "TTL(None)"),
        (TTL(timedelta(days=1)), "TTL(86400)"),
    ],
)
def test_ttl_repr(ttl, text):
    assert repr(ttl) == text


def test_ttl_is_frozen():
    ttl = TTL(60)
    with pytest.raises(FrozenInstanceError):
        ttl.milliseconds = 1
    with pytest.raises(FrozenInstanceError):
        ttl.sliding = True
    assert ttl.milliseconds == 60_000
    assert ttl.sliding is False


# -- TTLPolicy --------------------------------------------------------------------


def test_policy_defaults():
    policy = TTLPolicy()
    assert policy.messages == TTL(30 * DAY, sliding=True)
    assert policy.messages.milliseconds == 2_592_000_000
    assert policy.messages.refresh_on_read is True
    assert policy.cache == TTL(DAY)
    assert policy.cache.milliseconds == 86_400_000
    assert policy.cache.sliding is False
    assert policy.state == TTL(None)
    assert policy.state.expires is False
    assert policy.claims == TTL(60)
    assert policy.claims.milliseconds == 60_000
    assert policy.claims.sliding is False
    assert policy.threads == TTL(30 * 24 * 3600, sliding=True)


def test_policy_repr():
    assert repr(TTLPolicy()) == (
        "TTLPolicy(messages=TTL(2592000, sliding=True), cache=TTL(86400), "
        "state=TTL(None), claims=TTL(60), threads=TTL(2592000, sliding=True), "
        "memories=TTL(None))"
    )


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("messages", 60, TTL(60, sliding=True)),
        ("messages", 1.5, TTL(1.5, sliding=True)),
        ("messages", timedelta(days=7), TTL(7 * DAY, sliding=True)),
        ("cache", 60, TTL(60)),
        ("cache", timedelta(hours=1), TTL(3600)),
        ("state", 60, TTL(60)),
        ("claims", 30, TTL(30)),
        ("threads", 30, TTL(30, sliding=True)),
    ],
)
def test_bare_number_keeps_the_fields_default_sliding(field, value, expected):
    assert getattr(TTLPolicy(**{field: value}), field) == expected


def test_bare_number_examples():
    assert TTLPolicy(messages=60).messages.sliding is True
    assert TTLPolicy(cache=60).cache.sliding is False


def test_explicit_ttl_is_kept_as_given():
    policy = TTLPolicy(messages=TTL(60), cache=TTL(60, sliding=True))
    assert policy.messages == TTL(60)
    assert policy.messages.sliding is False
    assert policy.cache == TTL(60, sliding=True)


@pytest.mark.parametrize("field", ["messages", "cache", "state", "claims", "threads", "memories"])
def test_none_means_never(field):
    ttl = getattr(TTLPolicy(**{field: None}), field)
    assert ttl == NEVER
    assert ttl.expires is False
    assert ttl.refresh_on_read is False


def test_docstring_example():
    policy = TTLPolicy(messages=TTL(timedelta(days=7), sliding=True), state=None)
    assert policy.messages.milliseconds == 604_800_000
    assert policy.state.expires is False


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("60", TypeError, r"^a TTL is a number of seconds, a timedelta or None, not str$"),
        (True, TypeError, r"^a TTL is a number of seconds, a timedelta or None, not bool$"),
        (0, ValueError, r"^a TTL must be a positive, finite number of seconds, got 0$"),
        (-5, ValueError, r"^a TTL must be a positive, finite number of seconds, got -5$"),
        (math.nan, ValueError, r"^a TTL must be a positive, finite number of seconds, got nan$"),
    ],
)
@pytest.mark.parametrize("field", ["messages", "cache", "state", "claims", "threads", "memories"])
def test_policy_rejects_invalid_ttls(field, value, error, message):
    with pytest.raises(error, match=message):
        TTLPolicy(**{field: value})


def test_replace_changes_only_the_named_kinds():
    policy = TTLPolicy()
    changed = policy.replace(cache=3600, state=timedelta(days=1))
    assert changed.cache == TTL(3600)
    assert changed.state == TTL(DAY)
    assert changed.messages == policy.messages
    assert changed.claims == policy.claims
    assert policy == TTLPolicy()  # the original is unchanged


def test_replace_keeps_default_sliding_and_accepts_none():
    policy = TTLPolicy().replace(messages=60, claims=None)
    assert policy.messages == TTL(60, sliding=True)
    assert policy.claims == NEVER
    assert TTLPolicy().replace() == TTLPolicy()


def test_replace_validates():
    with pytest.raises(ValueError, match=r"^a TTL must be a positive, finite number"):
        TTLPolicy().replace(cache=-1)


def test_replace_rejects_unknown_kinds():
    with pytest.raises(TypeError) as info:
        TTLPolicy().replace(messagse=60, bogus=1)
    assert str(info.value) == (
        "unknown kind(s) of data ['bogus', 'messagse']; "
        "a TTLPolicy has messages, cache, state, claims, threads and memories"
    )


def test_never_expire():
    policy = TTLPolicy.never_expire()
    for field in ("messages", "cache", "state", "claims", "threads", "memories"):
        ttl = getattr(policy, field)
        assert ttl == NEVER, field
        assert ttl.expires is False, field
    assert policy == TTLPolicy(
        messages=None, cache=None, state=None, claims=None, threads=None, memories=None
    )


def test_policy_is_frozen_and_hashable():
    policy = TTLPolicy()
    with pytest.raises(FrozenInstanceError):
        policy.messages = TTL(1)
    assert policy.messages == TTL(30 * DAY, sliding=True)
    assert policy == TTLPolicy()
    assert hash(policy) == hash(TTLPolicy())
    assert TTLPolicy(messages=60) == TTLPolicy(messages=TTL(60, sliding=True))
