"""The index of what agents hold: claims and leases, by holder and expiry.

One sorted set, ``{prefix}:holds`` (:meth:`KeySchema.holds`), scored by the
time (server milliseconds) each hold runs out, ``inf`` for none. A member is
``<kind>:<name>:<holder>`` with the name and holder escaped (:func:`escape_id`),
so splitting on ``:`` is exact; a lease's name is ``<queue>:<task id>``, both
escaped. Claims and leases stay the truth: the index is what makes "who holds
what" one read instead of a ``SCAN``.

On one server the index is written in the claim's or lease's own script. On a
cluster it lives in another slot than the task or queue, so it is written in a
second round trip right after (:data:`HOLD`, :data:`LET_GO`); a hold whose
second step failed is missing from the index until its holder extends it.
Every write drops the entries that ran out, so the set never outgrows what is
held.
"""

from __future__ import annotations

import logging
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

from ._checks import text as decoded_text
from ._plan import Plan, Script, lua
from .errors import RedisMemoryError
from .keys import KeySchema, escape_id, unescape_id

_log = logging.getLogger(__name__)

CLAIM = "claim"
LEASE = "lease"

# Lua, for the scripts of claims and leases: the server's time in ms, then drop
# what ran out and add (or update) one hold; the caller's script puts the index's
# key in `holds`, the member in `member` and the milliseconds ('' = no expiry) in
# `ms`. UNINDEX_LUA removes `member` instead.
NOW_LUA = lua("now.lua")
INDEX_LUA = NOW_LUA + lua("holds_index.lua")
UNINDEX_LUA = NOW_LUA + lua("holds_unindex.lua")


def with_index(source: str) -> str:
    """A script's source with its ``--[[index]]`` and ``--[[unindex]]`` lines filled in."""
    return source.replace("--[[index]]", INDEX_LUA).replace("--[[unindex]]", UNINDEX_LUA)


# KEYS[1] the index; ARGV[1] the member; ARGV[2] milliseconds ('' = no expiry).
_HOLD = with_index(lua("holds_hold.lua"))

# KEYS[1] the index; ARGV[1] the member.
_LET_GO = with_index(lua("holds_let_go.lua"))

# KEYS[1] the index; ARGV[1] at most this many. Returns {now, member, score, ...}.
_HELD = NOW_LUA + lua("holds_held.lua")

HOLD = Script(_HOLD)
LET_GO = Script(_LET_GO)
HELD = Script(_HELD)


@dataclass(frozen=True, slots=True)
class Hold:
    """Something an agent holds: a task's claim or a queued task's lease.

    ``kind`` is ``"claim"`` or ``"lease"``; ``name`` the task id (a claim) or
    ``"<queue>/<task id>"`` (a lease); ``holder`` the owner or worker id it was
    taken for; ``expires_in`` seconds left, None for a hold without expiry.
    """

    kind: str
    name: str
    holder: str
    expires_in: float | None


def member(kind: str, name: str, holder: str, *, queue: str | None = None) -> str:
    """The index member of one hold (ids escaped, so ``:`` splits it exactly)."""
    escaped = escape_id(name, what="task id")
    if queue is not None:
        return f"{lease_prefix(queue)}{escaped}:{escape_id(holder, what='holder')}"
    return f"{kind}:{escaped}:{escape_id(holder, what='holder')}"


def lease_prefix(queue: str) -> str:
    """What the members of one queue's leases begin with (its scripts add the escaped
    task id and worker): ``lease:<queue>:``."""
    return f"{LEASE}:{escape_id(queue, what='queue name')}:"


def parse(raw: bytes | str, score: float, now_ms: int) -> Hold | None:
    """A :class:`Hold` from one index entry, or None for an entry of an unknown shape."""
    text = decoded_text(raw)
    parts = text.split(":")
    expires_in = None if score == float("inf") else max(0.0, (score - now_ms) / 1000)
    if parts[0] == CLAIM and len(parts) == 3:
        return Hold(CLAIM, unescape_id(parts[1]), unescape_id(parts[2]), expires_in)
    if parts[0] == LEASE and len(parts) == 4:
        name = f"{unescape_id(parts[1])}/{unescape_id(parts[2])}"
        return Hold(LEASE, name, unescape_id(parts[3]), expires_in)
    return None


def plan_hold(keys: KeySchema, entry: str, milliseconds: int | None) -> Plan[None]:
    """The cluster's second step after a claim or a lease: index it."""
    args = [entry, "" if milliseconds is None else milliseconds]
    key = keys.holds()
    return Plan("indexing a hold", key, lambda _: None, script=(HOLD, [key], args))


def plan_let_go(keys: KeySchema, entry: str) -> Plan[None]:
    """The cluster's second step after a release, ack or expiry: drop it from the index."""
    key = keys.holds()
    return Plan("indexing a hold", key, lambda _: None, script=(LET_GO, [key], [entry]))


def hold(keys: KeySchema, entry: str, milliseconds: int | None) -> Generator[Plan[Any], Any, None]:
    """The cluster's second step after a claim or a lease: a failure is logged, not raised.

    The claim or lease itself succeeded; only ``doing()`` misses it until it is
    extended or ends.
    """
    try:
        yield plan_hold(keys, entry, milliseconds)
    except RedisMemoryError as exc:
        _log.warning("%s is held, but could not be listed in %s: %s", entry, keys.holds(), exc)


def let_go(keys: KeySchema, entry: str) -> Generator[Plan[Any], Any, None]:
    """The cluster's second step after a release, ack or lost lease: a failure is logged."""
    try:
        yield plan_let_go(keys, entry)
    except RedisMemoryError as exc:
        _log.warning("%s ended, but is still listed in %s: %s", entry, keys.holds(), exc)


def plan_held(keys: KeySchema, limit: int) -> Plan[tuple[int, list[Hold]]]:
    """Server time (ms) and every live hold, at most ``limit`` of them, soonest to expire first."""
    key = keys.holds()

    def finish(replies: list[object]) -> tuple[int, list[Hold]]:
        now, *flat = replies[0]  # type: ignore[misc]
        now_ms = int(now)
        holds = (parse(flat[i], float(flat[i + 1]), now_ms) for i in range(0, len(flat), 2))
        return now_ms, [hold for hold in holds if hold is not None]

    return Plan("reading what agents hold", key, finish, script=(HELD, [key], [limit]))
