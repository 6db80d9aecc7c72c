"""What a plan becomes on Redis Cluster: routing, per-slot splits, scans over every primary."""

from __future__ import annotations

from typing import Any

from redis.crc import key_slot

from ._plan import Plan, lua
from .connection import is_cluster_client

# redis-py's cluster transactions route PUBLISH by its channel, as if it were a
# key, so a transaction that writes a session's keys and announces it on a
# channel of another slot is refused client-side (the channels of a session or
# a user share its hash tag, so theirs pass). Redis itself accepts PUBLISH in
# any MULTI; a cluster broadcasts it to every node. So on a cluster such a
# PUBLISH goes through this script, whose one declared key is a key of the
# transaction: same reply (the receiver count), same round trip, same atomicity.
_PUBLISH_SOURCE = lua("cluster_publish.lua")


def slot(name: Any) -> int:
    return key_slot(name.encode() if isinstance(name, str) else name)


def cluster_transaction(commands: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    keyed = [command for command in commands if str(command[0]).upper() != "PUBLISH"]
    if not keyed or len(keyed) == len(commands):
        return commands
    key = keyed[0][1]
    return [
        ("EVAL", _PUBLISH_SOURCE, 1, key, *command[1:])
        if str(command[0]).upper() == "PUBLISH" and slot(command[1]) != slot(key)
        else command
        for command in commands
    ]


# Commands whose keys redis-py's cluster client cannot read from its command
# table: it would ask the server (COMMAND GETKEYS, a round trip each time), so
# they are sent to the primary owning the key after STREAMS instead.
_MOVABLE_KEYS = frozenset({"XREAD", "XREADGROUP"})


def routing(client: Any, plan: Plan[Any]) -> dict[str, Any]:
    if not is_cluster(client):
        return {}
    command = plan.commands[0]
    key = plan.route
    if key is None and str(command[0]).upper() in _MOVABLE_KEYS:
        upper = [str(arg).upper() for arg in command]
        key = command[upper.index("STREAMS") + 1]
    return {} if key is None else {"target_nodes": client.get_node_from_key(key)}


# Commands over many keys whose reply is a count; on a cluster, keys of
# several slots are sent as one command per slot (one request per primary, in
# a pipeline) and the counts added up. Nothing else of this package spans slots.
_COUNTING = frozenset({"UNLINK", "DEL", "EXISTS", "TOUCH"})


def per_slot(client: Any, plan: Plan[Any]) -> list[tuple[Any, ...]] | None:
    if not is_cluster(client) or len(plan.commands) != 1 or plan.script is not None:
        return None
    name, *keys = plan.commands[0]
    if str(name).upper() not in _COUNTING or len({slot(key) for key in keys}) < 2:
        return None
    by_slot: dict[int, list[Any]] = {}
    for key in keys:
        by_slot.setdefault(slot(key), []).append(key)
    return [(name, *group) for group in by_slot.values()]


# redis-py's clients are typing Protocols: isinstance() on one that is not a
# subclass runs Python code (0.7 us a class), so the answer is kept per type.
_cluster_types: dict[type, bool] = {}


def is_cluster(client: Any) -> bool:
    kind = type(client)
    cluster = _cluster_types.get(kind)
    if cluster is None:
        cluster = is_cluster_client(client)
        _cluster_types[kind] = cluster
    return cluster


def is_scan(plan: Plan[Any]) -> bool:
    return len(plan.commands) == 1 and str(plan.commands[0][0]).upper() == "SCAN"


# A SCAN on a cluster walks the primaries one after the other, in the order of
# their names. The cursor handed out says where: ``node_cursor * n + index``
# (n primaries), so 0 still means "start" and "done", and the next primary
# starts at its index. A primary that is done hands over to the next in the
# same call while the page is short of COUNT, so a small key space comes back
# in one page as from one server. A failover during a walk changes the order:
# the walk may then repeat or miss keys, as SCAN may across a server restart.
class _ClusterScan:
    def __init__(self, primaries: list[Any], command: tuple[Any, ...]) -> None:
        self.nodes = sorted(primaries, key=lambda node: node.name)
        self.rest = command[2:]
        cursor = int(command[1])
        self.index, self.node_cursor = cursor % len(self.nodes), cursor // len(self.nodes)
        upper = [str(arg).upper() for arg in self.rest]
        self.wanted = int(self.rest[upper.index("COUNT") + 1]) if "COUNT" in upper else 10
        self.keys: list[Any] = []

    def request(self) -> tuple[tuple[Any, ...], dict[str, Any]]:
        args = ("SCAN", self.node_cursor, *self.rest)
        return args, {"target_nodes": self.nodes[self.index]}

    def take(self, reply: Any) -> list[Any] | None:
        """The replies of the plan once this page is complete, else None (scan on)."""
        node_cursor, keys = reply
        if isinstance(node_cursor, dict):  # redis-py's cluster SCAN reply: {node name: cursor}
            (node_cursor,) = node_cursor.values()
        self.keys += keys
        self.node_cursor = int(node_cursor)
        count = len(self.nodes)
        if self.node_cursor != 0:
            return [[self.node_cursor * count + self.index, self.keys]]
        self.index += 1
        if self.index == count:
            return [[0, self.keys]]
        if len(self.keys) >= self.wanted:
            return [[self.index, self.keys]]
        return None


def cluster_scan(client: Any, command: tuple[Any, ...]) -> list[Any]:
    scan = _ClusterScan(client.get_primaries(), command)
    while True:
        args, options = scan.request()
        replies = scan.take(client.execute_command(*args, **options))
        if replies is not None:
            return replies


async def cluster_scan_async(client: Any, command: tuple[Any, ...]) -> list[Any]:
    scan = _ClusterScan(client.get_primaries(), command)
    while True:
        args, options = scan.request()
        replies = scan.take(await client.execute_command(*args, **options))
        if replies is not None:
            return replies


def pipeline_commands(client: Any, plan: Plan[Any]) -> list[tuple[Any, ...]]:
    if plan.transaction and is_cluster(client):
        return cluster_transaction(plan.commands)
    return plan.commands
