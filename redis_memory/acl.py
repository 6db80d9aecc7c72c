"""The Redis ACL of a user that can do everything this package does, and nothing else.

Every key the package touches is under ``{prefix}:`` (the semantic cache's index
and its entries included: ``{prefix}:cache:sem:<name>:...``), and every channel it
publishes or listens on is under ``{prefix}:``. :data:`COMMANDS` is the complete
list of commands it sends, including those its Lua scripts call (Redis checks those
against the user's ACL too). :func:`acl_rules` puts them together for ``ACL SETUSER``.

Example:
    >>> from redis_memory.acl import acl_rules
    >>> rules = acl_rules("myapp")
    >>> rules[:5]
    ['resetkeys', '~myapp:*', 'resetchannels', '&myapp:*', '-@all']
    >>> "+ft.search" in rules, "+ft.create" in acl_rules("myapp", create_indexes=False)
    (True, False)
    >>> print("ACL SETUSER myapp on >password", " ".join(rules))  # doctest: +ELLIPSIS
    ACL SETUSER myapp on >password resetkeys ~myapp:* resetchannels &myapp:* -@all +ping ...
"""

from __future__ import annotations

from .keys import KeySchema

# Grouped by what needs them. Redis checks commands run by a script (EVALSHA)
# against the caller's ACL, so the scripts' commands are listed as well.
COMMANDS: tuple[str, ...] = (
    # connecting: redis-py's health checks and library name
    "ping", "client|setinfo",
    # strings: exact cache, state, claims, locks
    "get", "set", "mget", "mset",
    # lists: messages, findings
    "rpush", "lpop", "rpop", "lrange", "llen", "lindex", "lset", "lrem", "ltrim", "lpos",
    # hashes: semantic cache entries, rate limits, LangGraph checkpoints and values
    "hset", "hmget", "hget", "hdel", "hsetnx", "hgetall", "hlen", "hexists", "hincrby",
    # sorted sets and sets: LangGraph checkpoint order, pending writes, runs, mirrored ids
    "zadd", "zrem", "zrange", "zcard", "zrangebylex", "zrevrangebylex", "zremrangebylex",
    "sadd", "sismember",
    # agents: presence and capabilities, permissions, the priority queue, the holds index
    "zremrangebyscore", "zrangebyscore", "zscore", "zcount", "zpopmax", "zinter",
    "srem", "smembers", "smismember", "sinter", "scard", "incr",
    # keys
    "del", "unlink", "exists", "pexpire", "persist", "scan", "pttl", "memory|usage",
    # streams: audit log, work queue
    "xadd", "xrange", "xrevrange", "xlen", "xreadgroup", "xack", "xpending", "xautoclaim",
    "xgroup|create",
    # pub/sub: events
    "publish", "subscribe", "unsubscribe", "psubscribe", "punsubscribe",
    # scripts (one round trip per atomic operation), server time for rate limits
    "evalsha", "eval", "time",
    # transactions: MULTI/EXEC pipelines
    "multi", "exec",
    # the semantic cache's vector index (Redis Search); FT.CREATE is apart, below
    "ft.search", "ft.info", "ft._list",
    # `redis-memory status`: server version and memory (INFO); modules are probed
    # with FT._LIST when MODULE LIST is denied
    "info",
)  # fmt: skip


# Creating the semantic cache's index on first use. Redis Stack 7.4 does not check
# FT.CREATE's PREFIX against the user's key patterns: a user who may create indexes
# can index, and so read, another prefix's hashes. Where the users of one database
# must not read each other's data, leave it out and create indexes as an admin.
# FT.DROPINDEX (a cache's drop()) goes with it: index names are not keys to the ACL.
INDEX_CREATION_COMMANDS: tuple[str, ...] = ("ft.create", "ft.dropindex")


def acl_rules(prefix: str, *, create_indexes: bool = True) -> list[str]:
    """``ACL SETUSER`` rules: keys and channels under ``prefix:``, and :data:`COMMANDS`.

    Add the user's name, ``on`` and a password (``>secret``) in front, e.g.
    ``ACL SETUSER myapp on >secret <rules...>``. ``create_indexes=False`` leaves
    out ``FT.CREATE`` and ``FT.DROPINDEX`` (see :data:`INDEX_CREATION_COMMANDS`):
    the semantic cache then needs its index created (and dropped) by a user who may.
    """
    everything = KeySchema(prefix).pattern()  # checks the prefix
    commands = COMMANDS + (INDEX_CREATION_COMMANDS if create_indexes else ())
    return [
        "resetkeys",
        f"~{everything}",
        "resetchannels",
        f"&{everything}",
        "-@all",
        *(f"+{command}" for command in commands),
    ]
