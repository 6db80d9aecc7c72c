"""Topics and their channels: what a subscription listens to, and what its messages mean.

A topic is a pub/sub channel ``{prefix}:events:<topic>``, the topic escaped like
every id; a glob over topic names becomes a channel pattern under that base
(a superset) and an exact test on the unescaped topic. :class:`Selection` is
the whole of one subscription's choice (topics, patterns, the message log's
session channels, the state store's user channels) and turns each pub/sub
message into an :class:`Event`, or drops it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from . import _streams
from .errors import SerializationError
from .keys import MAX_ID_BYTES, KeySchema, escape_id, unescape_id

# One logger for the whole of redis_memory.events, whichever private module logs.
log = logging.getLogger("redis_memory.events")

_BUILTIN_KINDS = ("session", "state")


def _str_list(value: Any, what: str) -> list[str]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{what} must be a list of str, not {type(value).__name__}: {value!r}")
    return list(value)


@dataclass(frozen=True, slots=True)
class Event:
    """One event received by a subscription.

    ``channel`` is the pub/sub channel it came on; ``topic`` the topic name it
    was published to (``"session"`` for the message log's channels, ``"state"``
    for the state store's, whose ``data`` name the session or user); ``data``
    the decoded JSON object; ``received_at`` when it arrived (``time.time()``).

    Example:
        .. code-block:: python

            from redis_memory.events import EventBus

            bus = EventBus(url="embedded")
            with bus.subscribe("builds", idle_timeout=0.5) as events:
                bus.publish("builds", {"status": "green"})
                event = next(events)
            assert (event.topic, event.data) == ("builds", {"status": "green"})
            assert event.channel == bus.channel("builds") == "rmem:events:builds"
    """

    channel: str
    topic: str
    data: dict[str, Any]
    received_at: float


@dataclass(frozen=True, slots=True)
class _TopicPattern:
    source: str  # as the user wrote it
    server: str  # the channel pattern subscribed to (a superset)
    regex: re.Pattern[str]  # the exact test, on the unescaped topic


def _literal(char: str) -> str:
    # Escaped exactly as KeySchema escapes topics; the result holds no glob
    # character (those are all escaped themselves).
    return escape_id(char, what="event pattern")


def compile_pattern(base: str, pattern: Any) -> _TopicPattern:
    """A Redis-style glob over topic names, as a channel pattern under ``base``.

    Literal characters are escaped like topics, so a pattern only ever matches
    channels of this prefix's topics. ``?`` and ``[...]`` match one character of
    the topic, but an escaped character spans several of the channel name: the
    channel pattern uses ``*`` for them, and the exact test runs on the topic.
    """
    if not isinstance(pattern, str):
        raise TypeError(f"an event pattern must be a str, not {type(pattern).__name__}")
    if not pattern:
        raise ValueError("an event pattern must not be empty")
    if len(pattern.encode("utf-8", "surrogatepass")) > MAX_ID_BYTES:
        raise ValueError(f"an event pattern must be at most {MAX_ID_BYTES} bytes of UTF-8")
    server: list[str] = []
    regex: list[str] = []
    i, n = 0, len(pattern)
    while i < n:
        char = pattern[i]
        if char == "\\":
            if i + 1 == n:
                raise ValueError(f"event pattern {pattern!r} ends with a lone '\\'")
            server.append(_literal(pattern[i + 1]))
            regex.append(re.escape(pattern[i + 1]))
            i += 2
        elif char in "*?":
            if not server or server[-1] != "*":
                server.append("*")
            regex.append(".*" if char == "*" else ".")
            i += 1
        elif char == "[":
            i, klass = _char_class(pattern, i + 1)
            if not server or server[-1] != "*":
                server.append("*")
            regex.append(klass)
        else:
            server.append(_literal(char))
            regex.append(re.escape(char))
            i += 1
    return _TopicPattern(pattern, base + "".join(server), re.compile("".join(regex), re.DOTALL))


def _char_class(pattern: str, i: int) -> tuple[int, str]:
    """Parse ``[...]`` from just after the ``[``: (index after ``]``, regex class)."""
    parts = ["["]
    if i < len(pattern) and pattern[i] == "^":
        parts.append("^")
        i += 1
    members = 0
    while True:
        if i >= len(pattern):
            raise ValueError(f"event pattern {pattern!r} has a '[' without its ']'")
        char = pattern[i]
        if char == "]":
            break
        if char == "\\" and i + 1 < len(pattern):
            char = pattern[i + 1]
            i += 1
        if i + 2 < len(pattern) and pattern[i + 1] == "-" and pattern[i + 2] != "]":
            low, high = sorted((char, pattern[i + 2]))
            parts.append(f"{re.escape(low)}-{re.escape(high)}")
            i += 3
        else:
            parts.append(re.escape(char))
            i += 1
        members += 1
    if not members:
        raise ValueError(f"event pattern {pattern!r} has an empty '[]'")
    return i + 1, "".join(parts) + "]"


class Selection:
    """What one subscription listens to, and how its messages become events."""

    def __init__(
        self,
        schema: KeySchema,
        serializer: Any,
        topics: Iterable[str],
        patterns: Iterable[str],
        session_ids: Iterable[str],
        user_ids: Iterable[str],
    ) -> None:
        self.base = schema.channel_prefix()
        self.home = schema.audit()
        self._serializer = serializer
        channels = [schema.channel(topic) for topic in topics]
        channels += [schema.session_channel(i) for i in _str_list(session_ids, "session_ids")]
        channels += [schema.state_channel(i) for i in _str_list(user_ids, "user_ids")]
        self.channels = tuple(dict.fromkeys(channels))
        self._channel_set = frozenset(self.channels)
        self.patterns = [compile_pattern(self.base, p) for p in _str_list(patterns, "patterns")]
        self.server_patterns = tuple(dict.fromkeys(p.server for p in self.patterns))
        self._namespace = schema.pattern()
        self._widened = False
        if not self.channels and not self.patterns:
            raise ValueError("subscribe to something: topics, patterns=, session_ids= or user_ids=")

    def widen(self) -> bool:
        """Listen to every channel of the prefix instead of the patterns; False if done.

        An ACL user limited to ``&{prefix}:*`` may ``PSUBSCRIBE`` to exactly that
        pattern and no narrower one (Redis compares patterns literally), so the
        patterns are then matched here, on each message.
        """
        if self._widened or not self.patterns:
            return False
        self._widened = True
        self.server_patterns = (self._namespace,)
        return True

    @property
    def confirmations(self) -> int:
        return len(self.channels) + len(self.server_patterns)

    def describe(self) -> str:
        return ", ".join([*self.channels, *self.server_patterns])

    def _topic(self, channel: str) -> tuple[str | None, bool]:
        """(topic, whether the channel is the message log's or the state store's)."""
        if not channel.startswith(self.base):
            return None, False
        rest = channel[len(self.base) :]
        kind, colon, _ = rest.partition(":")
        if colon:
            return (kind, True) if kind in _BUILTIN_KINDS else (None, True)
        try:
            return unescape_id(rest), False
        except ValueError:  # not UTF-8 once unescaped: a foreign channel name
            return None, False

    def event(self, message: Mapping[str, Any] | None) -> Event | None:
        """The event in a pub/sub message, or None (a confirmation, a duplicate, bad data)."""
        if not message or message.get("type") not in ("message", "pmessage"):
            return None
        channel = _streams.text(message["channel"])
        topic, builtin = self._topic(channel)
        if message["type"] == "pmessage":
            # A channel subscribed by name comes as a "message" too; a topic that
            # several patterns match comes once per pattern: keep the first one's.
            if channel in self._channel_set or builtin or topic is None:
                return None
            first = next((p for p in self.patterns if p.regex.fullmatch(topic)), None)
            server = self._namespace if self._widened else first and first.server
            if first is None or server != _streams.text(message["pattern"]):
                return None
        raw = message.get("data")
        try:
            data = self._serializer.loads(raw)
        except SerializationError as exc:
            log.warning("skipped a message on %s that is not JSON: %s", channel, exc)
            return None
        if not isinstance(data, dict):
            log.warning(
                "skipped a message on %s that is not a JSON object: %.80r",
                channel,
                _streams.text(raw),
            )
            return None
        return Event(channel, topic if topic is not None else channel, data, time.time())
