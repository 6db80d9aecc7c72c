"""Reading Redis Stream replies, shared by the work queue and the audit log.

redis-py hands stream replies over in RESP2 or RESP3 shapes depending on the
command and the protocol; these helpers give one view of both.
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Iterator, Mapping
from typing import Any

import redis

from ._checks import text
from .errors import SerializationError

_STREAM_ID_RE = re.compile(r"\d{1,20}(?:-\d{1,20})?")


def stream_id(value: Any, name: str, *, new: bool = False) -> str:
    """Check a stream entry id (``'0'``, ``'1700000000000-0'``; ``'>'`` if ``new``)."""
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a stream id str, not {type(value).__name__}")
    if not (_STREAM_ID_RE.fullmatch(value) or (new and value == ">")):
        extra = ", or '>' for new entries" if new else ""
        raise ValueError(f"{name} must be a stream id like '0' or '1700000000000-0'{extra}")
    return value


def is_error(exc: redis.exceptions.ResponseError, code: str) -> bool:
    """Whether a Redis error reply carries ``code`` (``BUSYGROUP``, ``NOGROUP``...)."""
    return str(exc).startswith(code) or f" {code} " in str(exc)


def entries(reply: Any) -> Iterator[tuple[Any, Any]]:
    """(id, fields) pairs of an XREAD/XREADGROUP reply, in redis-py's RESP2 or RESP3 shapes."""
    if not reply:
        return
    streams = reply.values() if isinstance(reply, dict) else (pair[1] for pair in reply)
    for stream_entries in streams:
        yield from flatten(stream_entries)


def flatten(stream_entries: Any) -> Iterator[tuple[Any, Any]]:
    """(id, fields) pairs of one stream's entries (XRANGE shape, or RESP3's extra nesting)."""
    for entry in stream_entries or ():
        if (
            isinstance(entry, list | tuple)
            and len(entry) == 2
            and (entry[0] is None or isinstance(entry[0], bytes | str))
        ):
            yield entry[0], entry[1]
        else:  # RESP3 wraps a stream's entries in one more list
            yield from flatten(entry)


def fields(raw: Any) -> dict[str, Any]:
    """An entry's fields as a dict with str keys."""
    if isinstance(raw, Mapping):
        return {text(k): v for k, v in raw.items()}
    items = list(raw or ())
    return {text(items[i]): items[i + 1] for i in range(0, len(items) - 1, 2)}


def json_object(
    serializer: Any, key: str, entry_id: Any, raw_fields: Any, field: str, what: str
) -> tuple[str, dict[str, Any]]:
    """``(id, the JSON object in field)`` of a stream entry this package wrote.

    Anything else (no such field, not JSON, not an object) is a
    ``SerializationError`` naming the entry: another program writes to the stream.
    """
    ident = text(entry_id)
    raw = fields(raw_fields).get(field)
    try:
        value = None if raw is None else serializer.loads(raw)
    except SerializationError as exc:
        raise SerializationError(
            f"entry {ident} of {key} is not {what} of redis-memory-backend ({exc})"
        ) from exc
    if not isinstance(value, dict):
        raise SerializationError(
            f"entry {ident} of {key} has no JSON object in its {field!r} field; "
            "another program may write to this stream"
        )
    return ident, value


def pending_summary(reply: Any) -> tuple[int, str | None, str | None, dict[str, int]]:
    """(count, first id, last id, pending per consumer) of an XPENDING summary reply."""
    if isinstance(reply, Mapping):
        count, first, last = reply["pending"], reply["min"], reply["max"]
        rows = [(c["name"], c["pending"]) for c in reply.get("consumers") or ()]
    else:
        count, first, last = reply[0], reply[1], reply[2]
        rows = [(name, n) for name, n in reply[3] or ()]
    return (
        int(count),
        None if first is None else text(first),
        None if last is None else text(last),
        {text(name): int(n) for name, n in rows},
    )


def block_slice_ms(client: Any) -> int | None:
    """How long one blocking read may wait: a quarter of the client's socket timeout.

    Redis ends a ``BLOCK`` on its timer (every 100 ms at the default ``hz``), so
    the reply can come that much later than asked: hence the wide margin. None
    when the client has no socket timeout.
    """
    holder = (
        getattr(client, "connection_pool", None)  # redis.Redis, redis.asyncio.Redis
        or getattr(client, "nodes_manager", None)  # redis.RedisCluster
        or client  # redis.asyncio.RedisCluster
    )
    kwargs = getattr(holder, "connection_kwargs", None) or {}
    timeout = kwargs.get("socket_timeout")
    return None if not timeout else max(1, int(timeout * 250))


def next_block_ms(deadline: float | None, slice_ms: int | None) -> int:
    """The ``BLOCK`` of the next read of a wait that ends at ``deadline`` (None: never).

    A long wait goes in slices shorter than the socket timeout, so that the
    client never times out; 0 asks Redis to wait as long as it takes.
    """
    remaining = (
        None if deadline is None else max(1, math.ceil((deadline - time.monotonic()) * 1000))
    )
    candidates = [n for n in (remaining, slice_ms) if n is not None]
    return min(candidates) if candidates else 0
