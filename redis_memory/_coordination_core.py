"""What claims, findings and locks share (see :mod:`redis_memory.coordination`).

The connection they start from, the owner scripts that claims and locks both run,
and how a ``ttl=`` argument becomes milliseconds. Their Lua scripts are
``redis_memory/lua/{claims,findings,owner}_*.lua``, read once at import.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Literal, TypedDict, Unpack

from . import _holds
from ._plan import Script, lua
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .keys import KeySchema
from .ttl import TTL

Seconds = int | float | timedelta
# What a left-out ``ttl=`` stands for: the TTLPolicy's (``config.ttl``) lifetime, as in
# ResponseCache. None is kept for "never expires".
Policy = Literal["policy"]
POLICY: Policy = "policy"
# A ``ttl=`` argument of the claims', findings' and locks' methods.
TTLArg = TTL | Seconds | Policy | None

TASKS_TOPIC = "tasks"

# Said by the claims' and locks' methods given ``ttl=None``, which means the default
# there today; elsewhere in the package None means "never expires".
NONE_TTL = (
    "ttl=None means the default lifetime (config.ttl.claims) here, and will mean "
    "'never expires' as everywhere else in the package; leave ttl out for the default, "
    "or pass TTL(None) to never expire"
)


# Claims and locks both hold a key for an owner string (a claim's owner, a lock's
# token); their release and extension compare it in the script. A claim also passes
# the holds index, which a lock never does.
RELEASE = Script(_holds.with_index(lua("owner_release.lua")))
EXTEND = Script(_holds.with_index(lua("owner_extend.lua")))


def milliseconds(ttl: TTLArg, default: TTL) -> int | None:
    """The expiry in ms for a ``ttl=`` argument: ``"policy"`` (or None) the default.

    None is what callers passed for the default before ``"policy"``; the public
    method has warned about it already. ``TTL(None)`` is no expiry.
    """
    if ttl is None or ttl == POLICY:
        return default.milliseconds
    return TTL.of(ttl).milliseconds


def ms_arg(milliseconds: int | None) -> int | str:
    """A script's milliseconds argument: ``''`` for no expiry."""
    return "" if milliseconds is None else milliseconds


class Where(TypedDict, total=False):
    """Where the data lives: the ``url``, ``client`` and ``config`` every engine takes."""

    url: str | None
    client: SyncClient | AsyncClient | None
    config: RedisMemoryConfig | None


class Core:
    """Connection, key schema and serializer: what every coordination twin starts from."""

    def __init__(self, *, publish_events: bool = True, **where: Unpack[Where]) -> None:
        unknown = sorted(where.keys() - Where.__optional_keys__)
        if unknown:  # as Python says it of a misspelt keyword, not RedisClients' words
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        self._clients = RedisClients.shared(**where)
        self.config: RedisMemoryConfig = self._clients.config
        self.keys: KeySchema = self.config.keys
        self._serializer = self.config.checked_serializer
        self.publish_events = bool(publish_events)

    def _url(self) -> str:
        return self._clients.masked_url()

    @property
    def channel(self) -> str:
        """The pub/sub channel on which task events are published."""
        return self.keys.channel(TASKS_TOPIC)

    def _event(self, **fields: Any) -> bytes:
        return self._serializer.dumps(fields)
