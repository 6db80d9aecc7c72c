"""Per-user state: small values under a user's keys, shared by every agent and framework.

A state value lives at ``{prefix}:state:{<user_id>}:<key>``, a Redis string
holding JSON (encoded by ``config.serializer``), or raw bytes for the byte
methods (``get_bytes``...) that LangChain's ``ByteStore`` needs. The user id
sits inside ``{...}``, a Redis Cluster hash tag, so every key of one user is in
one slot: ``get_many`` is one ``MGET`` and ``set_many`` one ``MULTI``/``EXEC``,
on a cluster too. User ids and keys are escaped (``:``, ``*``, spaces...), so no
id reads another's keys and no key widens a ``SCAN``.

Every operation is one round trip:

- ``set`` is one ``SET ... PX ... NX`` (inside a script that also announces it,
  unless events are off); the TTL comes from the config's policy
  (``config.ttl.state``, never by default) or the call's ``ttl=``.
- ``update_fields`` and ``increment`` change top-level fields of a JSON object
  inside a Lua script, so concurrent writers never lose each other's fields; the
  key keeps its TTL (``KEEPTTL``). The fields not changed are kept byte for byte
  (a ``cjson`` re-encoding would turn ``[]`` into ``{}``, round large integers
  to 14 digits and reorder the keys).
- Changes are announced on the user's channel ``{prefix}:events:state:{<user_id>}``
  as JSON ``{"event": "state", "user_id", "op": "set"|"delete"|"update", "keys"}``
  (ids and keys, never values), in the same round trip as the write.

:class:`StateStore` is the sync engine and :class:`AsyncStateStore` its native
``redis.asyncio`` twin, with the same method names; both share every key, check
and encoding step in :class:`_StateCore`.

Example:
    >>> from redis_memory.state import StateStore
    >>> state = StateStore()
    >>> state.set("ana", "profile", {"name": "Ana", "lang": "pt"})
    True
    >>> state.update_fields("ana", "profile", {"lang": "en"})
    {'name': 'Ana', 'lang': 'en'}
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import AsyncIterator, Callable, Generator, Iterator, Mapping, Sequence
from typing import Any, Literal, TypeVar

import orjson

from ._checks import decoded, whole
from ._engine import AsyncRunner, Engine, SyncRunner
from ._paging import each_once, each_once_async, every_page
from ._plan import Plan, Script, lua
from ._twins import twin_of
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .errors import SerializationError
from .keys import KeySchema
from .serialization import check_value_size, fast_loads
from .ttl import POLICY, TTLOption, or_default

T = TypeVar("T")
Op = Literal["set", "delete", "update"]

# Lua's doubles hold every integer below 2**53 exactly; increment stays below.
_MAX_EXACT_INT = 2**53

# SET with its expiry and NX in one command, announced only when it wrote.
_SET = lua("state_set.lua")

# Deletes key by key, so that the event names exactly the keys that existed.
# ARGV[1] channel, ARGV[2] the event up to its list of keys, ARGV[2 + i] KEYS[i] as JSON.
_DELETE = lua("state_delete.lua")

# Changes top-level fields of a JSON object without re-encoding the others: the
# stored text (validated by cjson first) is split into its members' raw spans.
# ARGV: mode ('merge' | 'incr'), TTL in ms for a new key ('0': none), channel
# ('' : no event), event, then triples (field, field as JSON, value as JSON | by).
# Returns {1, new text} or {0, reason, detail}.
_UPDATE = lua("state_update.lua")

SET = Script(_SET)
DELETE = Script(_DELETE)
UPDATE = Script(_UPDATE)


def _key_list(keys: Any, what: str = "keys") -> list[str]:
    if isinstance(keys, str | bytes) or not isinstance(keys, Sequence | set | frozenset):
        raise TypeError(f"{what} must be a list of str keys, not {type(keys).__name__}")
    return list(keys)


def _as_bytes(value: Any, key: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, bytearray | memoryview):
        return bytes(value)
    raise SerializationError(
        f"state key {key!r}: the byte methods store bytes, not {type(value).__name__}; "
        "use set()/set_many() for JSON values"
    )


class _StateCore(Engine):
    """What the sync and async state stores share: keys, encoding, checks, plans.

    ``keys`` is a method of the stores (a user's keys), so the key schema is
    :attr:`schema` here.
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
        publish_events: bool = True,
    ) -> None:
        super().__init__(url, client, config)
        self.publish_events = bool(publish_events)
        self._loads = fast_loads(self._serializer)
        self._ttl = self.config.ttl.state

    @property
    def schema(self) -> KeySchema:
        """The key schema that names every key this store reads or writes."""
        return self._key_schema

    def channel(self, user_id: str) -> str:
        """The pub/sub channel on which this user's state changes are announced."""
        return self.schema.state_channel(user_id)

    # -- encoding -----------------------------------------------------------------
    def _expiry(self, ttl: TTLOption) -> int:
        """Milliseconds to live for a write, 0 for none; left out, the policy's."""
        return or_default(ttl, self._ttl, type(self).__name__).milliseconds or 0

    def _encode(self, value: Any, key: str, raw: bool) -> bytes:
        if raw:
            return check_value_size(
                _as_bytes(value, key), self.config.max_value_bytes, f"state key {key!r}"
            )
        try:
            return self._serializer.dumps(value)
        except SerializationError as exc:
            raise SerializationError(f"state key {key!r} cannot be stored: {exc}") from exc

    def _decoder(self, user_id: str, key: str, redis_key: str, raw: bool) -> Callable[[Any], Any]:
        if raw:
            return lambda data: data.encode("utf-8") if isinstance(data, str) else data

        loads = self._loads

        def decode(data: Any) -> Any:
            try:
                return loads(data)
            except (ValueError, TypeError):
                pass  # decoded again below, by the serializer whose error names the problem
            try:
                return self._serializer.loads(data)
            except SerializationError as exc:
                raise SerializationError(
                    f"state key {key!r} of user {user_id!r} ({redis_key}) does not hold a "
                    f"JSON value: {exc}"
                ) from exc

        return decode

    def _event(self, user_id: str, op: Op, keys: Sequence[str]) -> bytes:
        return orjson.dumps({"event": "state", "user_id": user_id, "op": op, "keys": list(keys)})

    def _channel_or_none(self, user_id: str) -> str:
        return self.channel(user_id) if self.publish_events else ""

    def _refresh(self, redis_keys: Sequence[str]) -> list[tuple[Any, ...]]:
        # A sliding policy renews on read every key that expires (XX: a key
        # stored to never expire stays so).
        if not self._ttl.refresh_on_read:
            return []
        return [("PEXPIRE", key, self._ttl.milliseconds, "XX") for key in redis_keys]

    def _user_key_of(self, user_id: str, redis_key: bytes | str) -> str:
        key = self.schema.state_key_of(user_id, redis_key)
        if key is None:
            raise ValueError(f"{decoded(redis_key)!r} is not a state key of user {user_id!r}")
        return key

    # -- plans ----------------------------------------------------------------------
    def _plan_get(self, user_id: str, key: str, default: Any, raw: bool) -> Plan[Any]:
        redis_key = self.schema.state(user_id, key)
        decode = self._decoder(user_id, key, redis_key, raw)
        commands: list[tuple[Any, ...]] = [("GET", redis_key), *self._refresh([redis_key])]
        return Plan(
            "reading state",
            redis_key,
            lambda r: default if r[0] is None else decode(r[0]),
            commands,
        )

    def _plan_set(
        self,
        user_id: str,
        key: str,
        value: Any,
        ttl: TTLOption,
        only_if_absent: bool,
        raw: bool,
    ) -> Plan[bool]:
        redis_key = self.schema.state(user_id, key)
        encoded = self._encode(value, key, raw)
        px = self._expiry(ttl)
        if not self.publish_events:
            command = ("SET", redis_key, encoded, *(("PX", px) if px else ()))
            command += ("NX",) if only_if_absent else ()
            return Plan("writing state", redis_key, lambda r: bool(r[0]), [command])
        args = [
            encoded,
            px,
            "1" if only_if_absent else "0",
            self.channel(user_id),
            self._event(user_id, "set", [key]),
        ]
        return Plan(
            "writing state", redis_key, lambda r: bool(r[0]), script=(SET, [redis_key], args)
        )

    def _plan_get_many(self, user_id: str, keys: Sequence[str], raw: bool) -> Plan[dict[str, Any]]:
        names = _key_list(keys)
        redis_keys = self.schema.states(user_id, names)
        stem = self.schema.state_user(user_id)
        if not names:
            return Plan("reading state", stem, lambda _: {}, [])
        loads = self._loads

        def finish(replies: list[Any]) -> dict[str, Any]:
            if not raw:
                try:
                    return {
                        key: loads(data)
                        for key, data in zip(names, replies[0], strict=True)
                        if data is not None
                    }
                except (ValueError, TypeError):
                    pass  # decoded again below, key by key, to name the one that is bad
            decoders = [
                self._decoder(user_id, key, redis_key, raw)
                for key, redis_key in zip(names, redis_keys, strict=True)
            ]
            return {
                key: decode(data)
                for key, decode, data in zip(names, decoders, replies[0], strict=True)
                if data is not None
            }

        commands = [("MGET", *redis_keys), *self._refresh(redis_keys)]
        return Plan("reading state", stem, finish, commands)

    def _plan_set_many(
        self, user_id: str, mapping: Mapping[str, Any], ttl: TTLOption, raw: bool
    ) -> Plan[None]:
        if not isinstance(mapping, Mapping):
            raise TypeError(
                f"set_many takes a mapping of keys to values, not {type(mapping).__name__}"
            )
        stem = self.schema.state_user(user_id)
        pairs = [
            (self.schema.state(user_id, key), self._encode(value, key, raw))
            for key, value in mapping.items()
        ]
        if not pairs:
            return Plan("writing state", stem, lambda _: None, [])
        px = self._expiry(ttl)
        if px:
            commands: list[tuple[Any, ...]] = [("SET", k, v, "PX", px) for k, v in pairs]
        else:
            commands = [("MSET", *(item for pair in pairs for item in pair))]
        if self.publish_events:
            event = self._event(user_id, "set", list(mapping))
            commands.append(("PUBLISH", self.channel(user_id), event))
        return Plan("writing state", stem, lambda _: None, commands, transaction=len(commands) > 1)

    def _plan_delete(self, user_id: str, keys: Sequence[str]) -> Plan[int]:
        names = _key_list(keys)
        redis_keys = self.schema.states(user_id, names)
        stem = self.schema.state_user(user_id)
        if not names:
            return Plan("deleting state", stem, lambda _: 0, [])
        if not self.publish_events:
            return Plan("deleting state", stem, lambda r: int(r[0]), [("UNLINK", *redis_keys)])
        head = orjson.dumps({"event": "state", "user_id": user_id, "op": "delete"})
        args = [self.channel(user_id), head[:-1] + b',"keys":[', *map(orjson.dumps, names)]
        return Plan("deleting state", stem, lambda r: int(r[0]), script=(DELETE, redis_keys, args))

    def _plan_keys(
        self, user_id: str, cursor: int, count: int, prefix: str | None
    ) -> Plan[tuple[int, list[str]]]:
        whole("cursor", cursor, 0)
        whole("count", count, 1)
        stem = self.schema.state_user(user_id)
        if prefix is None or prefix == "":
            pattern = self.schema.state_pattern(user_id)
        else:
            pattern = self.schema.state(user_id, prefix) + "*"

        def finish(replies: list[Any]) -> tuple[int, list[str]]:
            next_cursor, raw_keys = replies[0]
            names = [self._user_key_of(user_id, raw) for raw in raw_keys]
            if prefix:
                names = [name for name in names if name.startswith(prefix)]
            return int(next_cursor), names

        return Plan(
            "listing state keys", stem, finish, [("SCAN", cursor, "MATCH", pattern, "COUNT", count)]
        )

    def _plan_users(self, cursor: int, count: int) -> Plan[tuple[int, list[str]]]:
        whole("cursor", cursor, 0)
        whole("count", count, 1)
        pattern = self.schema.state_users_pattern()

        def finish(replies: list[Any]) -> tuple[int, list[str]]:
            next_cursor, raw_keys = replies[0]
            users: dict[str, None] = {}
            for raw in raw_keys:
                with contextlib.suppress(ValueError):  # no user: a key of another program
                    users[self.schema.state_user_of(raw)] = None
            return int(next_cursor), list(users)

        return Plan(
            "listing state users",
            pattern,
            finish,
            [("SCAN", cursor, "MATCH", pattern, "COUNT", count)],
        )

    def _plan_update(
        self,
        user_id: str,
        key: str,
        mode: Literal["merge", "incr"],
        triples: list[tuple[str, bytes, Any]],
        doing: str,
    ) -> Plan[Any]:
        redis_key = self.schema.state(user_id, key)
        channel = self._channel_or_none(user_id)
        event = self._event(user_id, "update", [key]) if channel else b""
        args: list[Any] = [mode, self._expiry(POLICY), channel, event]
        for name, json_name, value in triples:
            args += [name, json_name, value]
        decode = self._decoder(user_id, key, redis_key, raw=False)

        def finish(replies: list[Any]) -> Any:
            ok, text, *detail = replies[0]
            if int(ok) == 1:
                return decode(text)
            reason, shown = decoded(text), decoded(detail[0]) if detail else ""
            if reason == "not-json":
                raise SerializationError(
                    f"state key {key!r} of user {user_id!r} ({redis_key}) does not hold a JSON "
                    f"value ({shown}); {doing} needs a JSON object"
                )
            if reason == "not-object":
                raise SerializationError(
                    f"state key {key!r} of user {user_id!r} ({redis_key}) holds {shown!r}..., "
                    f"not a JSON object; {doing} changes fields of a JSON object: use set() to "
                    "replace the value"
                )
            if reason == "not-number":
                raise SerializationError(
                    f"field {triples[0][0]!r} of state key {key!r} of user {user_id!r} "
                    f"({redis_key}) holds {shown!r}, not a number; nothing was changed"
                )
            raise ValueError(
                f"incrementing field {triples[0][0]!r} of state key {key!r} of user "
                f"{user_id!r} ({redis_key}) would give {shown}, beyond what JSON numbers "
                f"hold exactly (integers below 2**53, finite floats); nothing was changed"
            )

        return Plan(doing, redis_key, finish, script=(UPDATE, [redis_key], args))

    def _plan_update_fields(
        self, user_id: str, key: str, changes: Mapping[str, Any]
    ) -> Plan[dict[str, Any]]:
        if not isinstance(changes, Mapping):
            raise TypeError(
                f"changes must be a mapping of field names to values, not {type(changes).__name__}"
            )
        triples = []
        for name, value in changes.items():
            if not isinstance(name, str):
                raise TypeError(f"field names must be str, not {type(name).__name__}: {name!r}")
            try:
                encoded = self._serializer.dumps(value)
            except SerializationError as exc:
                raise SerializationError(
                    f"field {name!r} of state key {key!r} cannot be stored: {exc}"
                ) from exc
            triples.append((name, orjson.dumps(name), encoded))
        return self._plan_update(user_id, key, "merge", triples, "update_fields")

    def _plan_increment(
        self, user_id: str, key: str, field: str, by: int | float
    ) -> Plan[int | float]:
        if not isinstance(field, str):
            raise TypeError(f"a field name must be a str, not {type(field).__name__}: {field!r}")
        if isinstance(by, bool) or not isinstance(by, int | float):
            raise TypeError(f"by must be an int or a float, not {type(by).__name__}")
        if isinstance(by, float) and not math.isfinite(by):
            raise ValueError(f"by must be a finite number, got {by!r}")
        if isinstance(by, int) and abs(by) >= _MAX_EXACT_INT:
            raise ValueError(f"by must be smaller than 2**53 in size, got {by!r}")
        triples = [(field, orjson.dumps(field), repr(by))]
        return self._plan_update(user_id, key, "incr", triples, "increment")

    def _plan_scan_items(self, user_id: str, redis_keys: list[Any]) -> Plan[list[tuple[str, Any]]]:
        names = [self._user_key_of(user_id, raw) for raw in redis_keys]
        decoders = [
            self._decoder(user_id, name, decoded(raw), raw=False)
            for name, raw in zip(names, redis_keys, strict=True)
        ]

        def finish(replies: list[Any]) -> list[tuple[str, Any]]:
            return [
                (name, decode(data))
                for name, decode, data in zip(names, decoders, replies[0], strict=True)
                if data is not None
            ]

        return Plan("reading state", names[0], finish, [("MGET", *redis_keys)])

    def _clear_flow(self, user_id: str) -> Generator[Any, Any, int]:
        removed = 0

        def delete(names: list[str]) -> Generator[Any, Any, None]:
            nonlocal removed
            removed += yield self._plan_delete(user_id, names)

        yield from every_page(
            lambda cursor: self._plan_keys(user_id, cursor, _ITER_COUNT, None), delete
        )
        return removed

    def _plan_scan_raw(self, user_id: str, cursor: int) -> Plan[tuple[int, list[Any]]]:
        pattern = self.schema.state_pattern(user_id)
        return Plan(
            "reading state",
            pattern,
            lambda r: (int(r[0][0]), list(r[0][1])),
            [("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)],
        )


_ITER_COUNT = 1000


def _item_name(item: tuple[str, Any]) -> str:
    return item[0]


class StateStore(_StateCore, SyncRunner):
    """Per-user state, sync. :class:`AsyncStateStore` mirrors it name for name.

    JSON values (or raw bytes, through the ``*_bytes`` methods) under each
    user's keys; user id first in every method.

    Args:
        url, client, config: Where the data lives (a Redis URL or ``"embedded"``,
            your redis-py client, or a :class:`RedisMemoryConfig` with the prefix
            and the TTL policy, whose ``state`` TTL is the default expiry).
        publish_events: Announce each change on ``{prefix}:events:state:{<user_id>}``
            (see :meth:`channel`) as JSON ``{"event": "state", "user_id", "op",
            "keys"}``, with ``op`` ``"set"``, ``"delete"`` or ``"update"``: ids and
            keys, never values.

    Example:
        .. code-block:: python

            from redis_memory.state import StateStore

            state = StateStore(url="embedded")
            state.set("ana", "profile", {"name": "Ana", "visits": 0})
            state.update_fields("ana", "profile", {"lang": "pt"})
            state.increment("ana", "profile", "visits")
            assert state.get("ana", "profile") == {"name": "Ana", "visits": 1, "lang": "pt"}
            assert state.set("ana", "token", "abc", ttl=60, only_if_absent=True)
            assert sorted(state.iter_keys("ana")) == ["profile", "token"]
            assert state.delete("ana", "profile", "token") == 2
    """

    def get(self, user_id: str, key: str, default: Any = None) -> Any:
        """The value stored under ``key``, or ``default`` (one ``GET``)."""
        return self._run(self._plan_get(user_id, key, default, raw=False))

    def set(
        self,
        user_id: str,
        key: str,
        value: Any,
        *,
        ttl: TTLOption = POLICY,
        only_if_absent: bool = False,
    ) -> bool:
        """Store a JSON value in one round trip; False when ``only_if_absent`` found one.

        ``ttl``: seconds, a ``timedelta`` or a :class:`TTL` (``TTL(None)``: never
        expires); ``None`` takes the policy's (``config.ttl.state``).
        """
        return self._run(self._plan_set(user_id, key, value, ttl, only_if_absent, raw=False))

    def delete(self, user_id: str, *keys: str) -> int:
        """Delete keys of the user; returns how many existed."""
        return self._run(self._plan_delete(user_id, keys))

    def get_many(self, user_id: str, keys: Sequence[str]) -> dict[str, Any]:
        """The values of the keys that exist, in one ``MGET``."""
        return self._run(self._plan_get_many(user_id, keys, raw=False))

    def set_many(
        self, user_id: str, mapping: Mapping[str, Any], *, ttl: TTLOption = POLICY
    ) -> None:
        """Store several JSON values atomically, in one round trip."""
        self._run(self._plan_set_many(user_id, mapping, ttl, raw=False))

    def update_fields(self, user_id: str, key: str, changes: Mapping[str, Any]) -> dict[str, Any]:
        """Set top-level fields of the JSON object under ``key`` atomically; returns it.

        Concurrent updates never lose each other's fields. A missing key starts
        as ``{}`` (with the policy's TTL); an existing one keeps its TTL. A value
        that is not a JSON object is refused (:class:`SerializationError`).
        """
        return self._run(self._plan_update_fields(user_id, key, changes))

    def increment(self, user_id: str, key: str, field: str, by: int | float = 1) -> int | float:
        """Add ``by`` to a numeric field of the JSON object under ``key``, atomically.

        A missing key or field starts at 0. Returns the new value.
        """
        return self._run(self._plan_increment(user_id, key, field, by))

    def keys(
        self, user_id: str, *, cursor: int = 0, count: int = 500, prefix: str | None = None
    ) -> tuple[int, list[str]]:
        """One page of the user's keys by ``SCAN``: ``(next_cursor, keys)``; 0 means done.

        A page may be empty while the cursor is not 0, and a key may come twice.
        """
        return self._run(self._plan_keys(user_id, cursor, count, prefix))

    def iter_keys(self, user_id: str, prefix: str | None = None) -> Iterator[str]:
        """Every key of the user (starting with ``prefix``), each once, page by page."""
        return each_once(
            lambda cursor: self.keys(user_id, cursor=cursor, count=_ITER_COUNT, prefix=prefix)
        )

    def users(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        """One page of the ids of users that have state, by ``SCAN``: ``(next_cursor, ids)``.

        0 as the next cursor means done; a page may be empty, and an id may come
        twice (once per key): :meth:`iter_users` gives each once.
        """
        return self._run(self._plan_users(cursor, count))

    def iter_users(self) -> Iterator[str]:
        """Every user id that has state under the prefix, each once, page by page."""
        return each_once(lambda cursor: self.users(cursor=cursor, count=_ITER_COUNT))

    def iter_items(self, user_id: str) -> Iterator[tuple[str, Any]]:
        """Every ``(key, value)`` of the user: a full read, one ``SCAN`` and ``MGET`` per page."""

        def page(cursor: int) -> tuple[int, list[tuple[str, Any]]]:
            cursor, raw_keys = self._run(self._plan_scan_raw(user_id, cursor))
            items = self._run(self._plan_scan_items(user_id, raw_keys)) if raw_keys else []
            return cursor, items

        return each_once(page, key=_item_name)

    def clear(self, user_id: str) -> int:
        """Delete every key of the user; returns how many were deleted."""
        return self._drive(self._clear_flow(user_id))

    # -- raw bytes (LangChain's ByteStore) ------------------------------------------
    def get_bytes(self, user_id: str, key: str, default: bytes | None = None) -> bytes | None:
        """The bytes stored under ``key`` by :meth:`set_bytes`, or ``default``."""
        return self._run(self._plan_get(user_id, key, default, raw=True))

    def set_bytes(
        self,
        user_id: str,
        key: str,
        value: bytes,
        *,
        ttl: TTLOption = POLICY,
        only_if_absent: bool = False,
    ) -> bool:
        """Store raw bytes (not JSON), like :meth:`set`."""
        return self._run(self._plan_set(user_id, key, value, ttl, only_if_absent, raw=True))

    def get_many_bytes(self, user_id: str, keys: Sequence[str]) -> dict[str, bytes]:
        """The bytes of the keys that exist, in one ``MGET``."""
        return self._run(self._plan_get_many(user_id, keys, raw=True))

    def set_many_bytes(
        self, user_id: str, mapping: Mapping[str, bytes], *, ttl: TTLOption = POLICY
    ) -> None:
        """Store several raw byte values atomically, in one round trip."""
        self._run(self._plan_set_many(user_id, mapping, ttl, raw=True))


@twin_of(StateStore)
class AsyncStateStore(_StateCore, AsyncRunner):
    """Per-user state on ``redis.asyncio``: :class:`StateStore`'s twin, name for name.

    Example:
        .. code-block:: python

            import asyncio
            from redis_memory.state import AsyncStateStore

            async def main() -> None:
                state = AsyncStateStore(url="embedded")
                await state.set("ana", "plan", {"step": 1})
                await state.update_fields("ana", "plan", {"step": 2, "done": False})
                assert await state.get("ana", "plan") == {"step": 2, "done": False}
                assert [key async for key in state.iter_keys("ana")] == ["plan"]
                await state.delete("ana", "plan")

            asyncio.run(main())
    """

    async def get(self, user_id: str, key: str, default: Any = None) -> Any:
        return await self._run(self._plan_get(user_id, key, default, raw=False))

    async def set(
        self,
        user_id: str,
        key: str,
        value: Any,
        *,
        ttl: TTLOption = POLICY,
        only_if_absent: bool = False,
    ) -> bool:
        return await self._run(self._plan_set(user_id, key, value, ttl, only_if_absent, raw=False))

    async def delete(self, user_id: str, *keys: str) -> int:
        return await self._run(self._plan_delete(user_id, keys))

    async def get_many(self, user_id: str, keys: Sequence[str]) -> dict[str, Any]:
        return await self._run(self._plan_get_many(user_id, keys, raw=False))

    async def set_many(
        self, user_id: str, mapping: Mapping[str, Any], *, ttl: TTLOption = POLICY
    ) -> None:
        await self._run(self._plan_set_many(user_id, mapping, ttl, raw=False))

    async def update_fields(
        self, user_id: str, key: str, changes: Mapping[str, Any]
    ) -> dict[str, Any]:
        return await self._run(self._plan_update_fields(user_id, key, changes))

    async def increment(
        self, user_id: str, key: str, field: str, by: int | float = 1
    ) -> int | float:
        return await self._run(self._plan_increment(user_id, key, field, by))

    async def keys(
        self, user_id: str, *, cursor: int = 0, count: int = 500, prefix: str | None = None
    ) -> tuple[int, list[str]]:
        return await self._run(self._plan_keys(user_id, cursor, count, prefix))

    def iter_keys(self, user_id: str, prefix: str | None = None) -> AsyncIterator[str]:
        return each_once_async(
            lambda cursor: self.keys(user_id, cursor=cursor, count=_ITER_COUNT, prefix=prefix)
        )

    async def users(self, *, cursor: int = 0, count: int = 500) -> tuple[int, list[str]]:
        return await self._run(self._plan_users(cursor, count))

    def iter_users(self) -> AsyncIterator[str]:
        return each_once_async(lambda cursor: self.users(cursor=cursor, count=_ITER_COUNT))

    def iter_items(self, user_id: str) -> AsyncIterator[tuple[str, Any]]:
        async def page(cursor: int) -> tuple[int, list[tuple[str, Any]]]:
            cursor, raw_keys = await self._run(self._plan_scan_raw(user_id, cursor))
            items = await self._run(self._plan_scan_items(user_id, raw_keys)) if raw_keys else []
            return cursor, items

        return each_once_async(page, key=_item_name)

    async def clear(self, user_id: str) -> int:
        return await self._drive(self._clear_flow(user_id))

    async def get_bytes(self, user_id: str, key: str, default: bytes | None = None) -> bytes | None:
        return await self._run(self._plan_get(user_id, key, default, raw=True))

    async def set_bytes(
        self,
        user_id: str,
        key: str,
        value: bytes,
        *,
        ttl: TTLOption = POLICY,
        only_if_absent: bool = False,
    ) -> bool:
        return await self._run(self._plan_set(user_id, key, value, ttl, only_if_absent, raw=True))

    async def get_many_bytes(self, user_id: str, keys: Sequence[str]) -> dict[str, bytes]:
        return await self._run(self._plan_get_many(user_id, keys, raw=True))

    async def set_many_bytes(
        self, user_id: str, mapping: Mapping[str, bytes], *, ttl: TTLOption = POLICY
    ) -> None:
        await self._run(self._plan_set_many(user_id, mapping, ttl, raw=True))
