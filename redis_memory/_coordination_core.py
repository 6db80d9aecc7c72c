"""What claims, findings and locks share (see :mod:`redis_memory.coordination`).

The connection they start from, the owner scripts that claims and locks both run,
and how a ``ttl=`` argument becomes milliseconds. Their Lua scripts are
``redis_memory/lua/{claims,findings,owner}_*.lua``, read once at import.
"""

from __future__ import annotations

from typing import Any, TypedDict, Unpack

from . import _holds
from ._engine import Engine
from ._plan import Script, lua
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .ttl import POLICY, TTL, TTLOption

# Claims and locks both hold a key for an owner string (a claim's owner, a lock's
# token); their release and extension compare it in the script. A claim also passes
# the holds index, which a lock never does.
RELEASE = Script(_holds.with_index(lua("owner_release.lua")))
EXTEND = Script(_holds.with_index(lua("owner_extend.lua")))


def milliseconds(ttl: TTLOption, default: TTL) -> int | None:
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


class Core(Engine):
    """Connection, key schema and serializer: what every coordination twin starts from."""

    def __init__(self, *, publish_events: bool = True, **where: Unpack[Where]) -> None:
        unknown = sorted(where.keys() - Where.__optional_keys__)
        if unknown:  # as Python says it of a misspelt keyword, not RedisClients' words
            raise TypeError(
                f"{type(self).__name__}() got an unexpected keyword argument {unknown[0]!r}"
            )
        super().__init__(where.get("url"), where.get("client"), where.get("config"))
        self.publish_events = bool(publish_events)

    @property
    def channel(self) -> str:
        """The pub/sub channel on which task events are published."""
        return self.keys.tasks_channel()

    def _event(self, **fields: Any) -> bytes:
        return self._serializer.dumps(fields)
