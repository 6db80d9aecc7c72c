"""What each user may do, and who may do X and Y: Redis sets, one slot per scope.

- :class:`Permissions` / :class:`AsyncPermissions`: :meth:`~Permissions.grant`
  and :meth:`~Permissions.revoke` permissions, read a user's
  :meth:`~Permissions.permissions`, check :meth:`~Permissions.allowed`, and find
  the :meth:`~Permissions.users` that have every one of a set: one ``SINTER``.

Keys (one hash tag per scope, so every operation is one slot and one round trip
on a cluster)::

    {prefix}:perms:{<scope>}:user:<id>          set of the user's permissions
    {prefix}:perms:{<scope>}:granted:<perm>     set of the users granted <perm>

Permissions never expire, like state. Ids and permission names are any text
(escaped, as agent ids are).
"""

from __future__ import annotations

from ._checks import distinct_names, text
from ._engine import AsyncRunner, Engine, SyncRunner
from ._plan import Plan, Script, lua
from .config import RedisMemoryConfig
from .connection import AsyncClient, SyncClient
from .keys import escape_id, unescape_id

DEFAULT_SCOPE = "default"

# KEYS[1] the user's set; ARGV[1] the stem of the permissions' sets; ARGV[2] the
# user (escaped); ARGV[3..] permissions (escaped). Returns how many were new.
_GRANT = lua("permissions_grant.lua")

# As _GRANT; no permissions: all of the user's. Returns how many were removed.
_REVOKE = lua("permissions_revoke.lua")

GRANT = Script(_GRANT)
REVOKE = Script(_REVOKE)


class _PermissionsCore(Engine):
    def __init__(
        self,
        scope: str = DEFAULT_SCOPE,
        *,
        url: str | None = None,
        client: SyncClient | AsyncClient | None = None,
        config: RedisMemoryConfig | None = None,
    ) -> None:
        super().__init__(url, client, config)
        self.scope = scope
        self._stem = self.keys.perms_holders_prefix(scope)  # checks the scope

    def _plan_change(
        self, script: Script, user_id: str, permissions: tuple[str, ...], doing: str
    ) -> Plan[int]:
        key = self.keys.perms_user(self.scope, user_id)
        perms = [escape_id(p, what="permission") for p in distinct_names(permissions, "permission")]
        if script is GRANT and not perms:
            raise ValueError("grant() needs at least one permission, e.g. grant(user, 'read')")
        args = [self._stem, escape_id(user_id, what="user id"), *perms]
        return Plan(doing, key, lambda r: int(r[0]), script=(script, [key], args))

    def _plan_permissions(self, user_id: str) -> Plan[set[str]]:
        key = self.keys.perms_user(self.scope, user_id)
        return Plan(
            "reading a user's permissions",
            key,
            lambda r: {unescape_id(text(p)) for p in r[0]},
            [("SMEMBERS", key)],
        )

    def _plan_allowed(self, user_id: str, permissions: tuple[str, ...]) -> Plan[bool]:
        key = self.keys.perms_user(self.scope, user_id)
        perms = [escape_id(p, what="permission") for p in distinct_names(permissions, "permission")]
        if not perms:
            raise ValueError("allowed() needs at least one permission")
        return Plan(
            "checking a user's permissions",
            key,
            lambda r: all(int(flag) for flag in r[0]),
            [("SMISMEMBER", key, *perms)],
        )

    def _plan_users(self, permissions: tuple[str, ...]) -> Plan[set[str]]:
        perms = [escape_id(p, what="permission") for p in distinct_names(permissions, "permission")]
        if not perms:
            raise ValueError("users() needs at least one permission, e.g. users('read')")
        keys = [self._stem + perm for perm in perms]
        return Plan(
            "finding users by permission",
            keys[0],
            lambda r: {unescape_id(text(user)) for user in r[0]},
            [("SINTER", *keys)],
        )


class Permissions(_PermissionsCore, SyncRunner):
    """What each user may do, and who may do X and Y: Redis sets, one slot per scope.

    Permissions never expire (like state); :meth:`revoke` with no permissions
    removes all of a user's. Ids and permission names are any text (escaped).

    Example:
        >>> from redis_memory.permissions import Permissions
        >>> perms = Permissions("acme")
        >>> perms.grant("alice", "read", "deploy")
        2
        >>> perms.allowed("alice", "deploy"), perms.users("read", "deploy")
        (True, {'alice'})
    """

    def grant(self, user_id: str, *permissions: str) -> int:
        """Give a user permissions; returns how many it did not have."""
        return self._run(self._plan_change(GRANT, user_id, permissions, "granting permissions"))

    def revoke(self, user_id: str, *permissions: str) -> int:
        """Take permissions away (all of them if none are named); returns how many it had."""
        return self._run(self._plan_change(REVOKE, user_id, permissions, "revoking permissions"))

    def permissions(self, user_id: str) -> set[str]:
        """Everything a user may do."""
        return self._run(self._plan_permissions(user_id))

    def allowed(self, user_id: str, *permissions: str) -> bool:
        """True if the user has every one of ``permissions``."""
        return self._run(self._plan_allowed(user_id, permissions))

    def users(self, *permissions: str) -> set[str]:
        """The users that have every one of ``permissions``."""
        return self._run(self._plan_users(permissions))


class AsyncPermissions(_PermissionsCore, AsyncRunner):
    """:class:`Permissions` on ``redis.asyncio``, name for name.

    Example:
        >>> import asyncio
        >>> from redis_memory.permissions import AsyncPermissions
        >>> async def main():
        ...     perms = AsyncPermissions("globex")
        ...     await perms.grant("bob", "read")
        ...     return await perms.allowed("bob", "read"), await perms.permissions("bob")
        >>> asyncio.run(main())
        (True, {'read'})
    """

    async def grant(self, user_id: str, *permissions: str) -> int:
        """Give a user permissions; returns how many it did not have."""
        plan = self._plan_change(GRANT, user_id, permissions, "granting permissions")
        return await self._run(plan)

    async def revoke(self, user_id: str, *permissions: str) -> int:
        """Take permissions away (all of them if none are named); returns how many it had."""
        plan = self._plan_change(REVOKE, user_id, permissions, "revoking permissions")
        return await self._run(plan)

    async def permissions(self, user_id: str) -> set[str]:
        """Everything a user may do."""
        return await self._run(self._plan_permissions(user_id))

    async def allowed(self, user_id: str, *permissions: str) -> bool:
        """True if the user has every one of ``permissions``."""
        return await self._run(self._plan_allowed(user_id, permissions))

    async def users(self, *permissions: str) -> set[str]:
        """The users that have every one of ``permissions``."""
        return await self._run(self._plan_users(permissions))
