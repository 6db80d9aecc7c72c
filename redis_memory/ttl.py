"""How long each kind of data lives in Redis.

A :class:`TTLPolicy` holds one :class:`TTL` per kind of data (messages, cache,
state, claims, LangGraph threads, long-term memories). Engines set the expiry in
the same round trip as the write (``SET ... PX`` or ``PEXPIRE`` inside the
write's ``MULTI``), never as a second step that could fail on its own.

Example:
    >>> from datetime import timedelta
    >>> from redis_memory import TTL, TTLPolicy
    >>> policy = TTLPolicy(messages=TTL(timedelta(days=7), sliding=True), state=None)
    >>> policy.messages.milliseconds
    604800000
    >>> policy.state.expires
    False
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Literal, Self

from ._deprecation import meaning_changes

Seconds = int | float | timedelta

# A ``ttl`` left out: the default of its kind (the policy's). ``None`` always means
# "never expires", as in :class:`TTL`.
POLICY: Literal["policy"] = "policy"

_DAY = 24 * 60 * 60
# Redis refuses expiries past 2**63-1 ms from now; a century is past any real need.
MAX_SECONDS = 100 * 365 * _DAY


def _to_milliseconds(value: Seconds) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float | timedelta):
        raise TypeError(
            f"a TTL is a number of seconds, a timedelta or None, not {type(value).__name__}"
        )
    try:
        seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds) or seconds <= 0:
        raise ValueError(f"a TTL must be a positive, finite number of seconds, got {value!r}")
    if seconds > MAX_SECONDS:
        raise ValueError(
            f"a TTL must be at most {MAX_SECONDS} seconds (100 years), got {value!r}; "
            "use None for data that never expires"
        )
    milliseconds = round(seconds * 1000)
    if milliseconds < 1:
        raise ValueError(f"a TTL must be at least one millisecond, got {value!r}")
    return milliseconds


@dataclass(frozen=True, slots=True, init=False)
class TTL:
    """An expiry for one kind of data.

    Args:
        seconds: Lifetime in seconds (int, float or ``timedelta``); ``None`` keeps
            the data until it is deleted.
        sliding: When true, every read of the data restarts its lifetime, so an
            active conversation never expires while an abandoned one does.
    """

    milliseconds: int | None
    sliding: bool

    def __init__(self, seconds: Seconds | None = None, *, sliding: bool = False) -> None:
        if not isinstance(sliding, bool):
            raise TypeError(f"sliding must be True or False, not {sliding!r}")
        milliseconds = None if seconds is None else _to_milliseconds(seconds)
        if sliding and milliseconds is None:
            raise ValueError("a sliding TTL needs a lifetime: TTL(seconds, sliding=True)")
        object.__setattr__(self, "milliseconds", milliseconds)
        object.__setattr__(self, "sliding", sliding)

    @classmethod
    def of(cls, value: TTL | Seconds | None) -> TTL:
        """A TTL from a TTL, a number of seconds, a timedelta, or None (never expires)."""
        if isinstance(value, TTL):
            return value
        return cls(value)

    @property
    def expires(self) -> bool:
        """Whether data of this kind expires at all."""
        return self.milliseconds is not None

    @property
    def seconds(self) -> float | None:
        """The lifetime in seconds, or ``None`` when the data does not expire."""
        return None if self.milliseconds is None else self.milliseconds / 1000

    @property
    def refresh_on_read(self) -> bool:
        """Whether a read must re-arm the expiry (``sliding`` and expiring)."""
        return self.sliding and self.milliseconds is not None

    def __repr__(self) -> str:
        if self.milliseconds is None:
            return "TTL(None)"
        seconds = self.milliseconds / 1000
        shown = int(seconds) if seconds.is_integer() else seconds
        return f"TTL({shown}, sliding={self.sliding})" if self.sliding else f"TTL({shown})"


NEVER = TTL(None)


def _coerce(value: TTL | Seconds | None, default: TTL) -> TTL:
    """A TTL from a TTL, a number of seconds or None; a bare number keeps the default's sliding."""
    if isinstance(value, TTL):
        return value
    if value is None:
        return NEVER
    return TTL(value, sliding=default.sliding)


# The kinds of data a policy holds, in the order of its fields.
KINDS = ("messages", "cache", "state", "claims", "threads", "memories")

_DEFAULT_MESSAGES = TTL(30 * _DAY, sliding=True)
_DEFAULT_CACHE = TTL(_DAY)
_DEFAULT_CLAIMS = TTL(60)


@dataclass(frozen=True, slots=True)
class TTLPolicy:
    """One TTL per kind of data.

    Each field takes a :class:`TTL`, a number of seconds (which keeps that kind's
    default ``sliding``), a ``timedelta``, or ``None`` for no expiry.

    Defaults: messages live 30 days and every read renews them (sliding); cache
    entries live one day from when they were written; state never expires;
    task claims expire after 60 seconds unless their owner extends them; a
    LangGraph thread (checkpoints, writes, blobs) lives like a conversation, 30
    days renewed by every read; long-term memories never expire.
    """

    messages: TTL = field(default=_DEFAULT_MESSAGES)
    cache: TTL = field(default=_DEFAULT_CACHE)
    state: TTL = field(default=NEVER)
    claims: TTL = field(default=_DEFAULT_CLAIMS)
    threads: TTL = field(default=_DEFAULT_MESSAGES)
    memories: TTL = field(default=NEVER)

    def __post_init__(self) -> None:
        object.__setattr__(self, "messages", _coerce(self.messages, _DEFAULT_MESSAGES))
        object.__setattr__(self, "cache", _coerce(self.cache, _DEFAULT_CACHE))
        object.__setattr__(self, "state", _coerce(self.state, NEVER))
        object.__setattr__(self, "claims", _coerce(self.claims, _DEFAULT_CLAIMS))
        object.__setattr__(self, "threads", _coerce(self.threads, _DEFAULT_MESSAGES))
        object.__setattr__(self, "memories", _coerce(self.memories, NEVER))

    def replace(self, **changes: TTL | Seconds | None) -> Self:
        """A copy with some kinds changed: ``policy.replace(cache=3600)``."""
        unknown = set(changes) - set(KINDS)
        if unknown:
            raise TypeError(
                f"unknown kind(s) of data {sorted(unknown)}; "
                "a TTLPolicy has messages, cache, state, claims, threads and memories"
            )
        return replace(self, **changes)

    @classmethod
    def never_expire(cls) -> Self:
        """A policy under which nothing expires (data lives until deleted)."""
        return cls(**dict.fromkeys(KINDS, NEVER))


# Said where ``ttl=None`` still means the default, the old meaning on its way out.
NONE_MEANING_CHANGES = (
    "ttl=None takes the policy's default here, but will mean 'never expires' as it does "
    "everywhere else; leave ttl out for the default, or pass TTL(None) to keep the data "
    "until it is deleted"
)

# What a ``ttl=`` parameter takes: a lifetime, None (never expires), or "policy" (left out).
TTLOption = TTL | Seconds | Literal["policy"] | None


def or_default(ttl: TTLOption, default: TTL, where: str) -> TTL:
    """The TTL a call asked for: ``ttl`` itself, or ``default`` when it was left out.

    A number keeps the default's ``sliding``. ``ttl=None`` used to mean the
    default in the state and memory stores and the claims; it still does there,
    with a ``DeprecationWarning``, until it means "never expires" everywhere.

    Example:
        >>> week = TTL(7 * 24 * 3600, sliding=True)
        >>> or_default("policy", week, "StateStore.set()") is week
        True
        >>> or_default(60, week, "StateStore.set()")
        TTL(60, sliding=True)
    """
    if isinstance(ttl, str):
        if ttl != POLICY:
            raise TypeError(
                f"{where}: ttl must be seconds, a timedelta, a TTL, None (never expires) or "
                f"left out (the policy's default), not {ttl!r}"
            )
        return default
    if ttl is None:
        _none_is_still_the_default(where)
        return default
    if isinstance(ttl, TTL):
        return ttl
    return TTL(ttl, sliding=default.sliding)


def kept_ttl(ttl: TTLOption, where: str) -> TTLOption:
    """A ``ttl`` a class keeps to pass on with each write, checked when the class is built.

    ``None``, where it still means the policy's default, becomes ``"policy"`` with
    one ``DeprecationWarning`` now rather than one per write.
    """
    if ttl is None:
        _none_is_still_the_default(where)
        return POLICY
    if isinstance(ttl, str):
        or_default(ttl, TTL(None), where)  # only "policy" passes
    else:
        TTL.of(ttl)
    return ttl


def _none_is_still_the_default(where: str) -> None:
    meaning_changes(where, NONE_MEANING_CHANGES)
