"""Sans-I/O command plans: the shared core of every sync/async engine twin.

An engine method builds a :class:`Plan`: the Redis commands of one round trip
(a single command, a pipeline, or a script) and a function that turns the
replies into the method's result. :func:`execute` runs a plan on a sync client
and :func:`execute_async` on a ``redis.asyncio`` one, so every key, argument,
check and decoding step is written once and both twins send the same commands.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from time import perf_counter
from typing import Any, Generic, NoReturn, TypeVar

import redis
import redis.asyncio
from redis.crc import key_slot

from . import metrics
from .errors import (
    ConfigurationError,
    PermissionDeniedError,
    RedisOutOfMemoryError,
    RedisUnavailableError,
    UnexpectedDataError,
)
from .sentinel import NO_PRIMARY, no_primary_reason

T = TypeVar("T")

# How the package's Lua scripts report damaged data: error({err = DATA_ERROR .. what}).
DATA_ERROR = "RMEM_DATA "

# redis-py's words for a pool with no free connection (blocking / non-blocking pool).
_POOL_EXHAUSTED = frozenset({"No connection available.", "Too many connections"})


@dataclass(frozen=True, slots=True, init=False)
class Script:
    """A Lua script sent by ``EVALSHA``, loaded with ``EVAL`` the first time a server lacks it."""

    source: str
    sha: str

    def __init__(self, source: str) -> None:
        object.__setattr__(self, "source", source)
        object.__setattr__(self, "sha", hashlib.sha1(source.encode()).hexdigest())  # noqa: S324


@dataclass(slots=True)
class Plan(Generic[T]):
    """One round trip and how to read its replies.

    Args:
        doing: What the user asked for, for error messages ("reading messages").
        key: The main key involved, for error messages.
        commands: Commands as argument tuples, e.g. ``("LRANGE", key, 0, -1)``.
        finish: Turns the list of replies (one per command) into the result.
        script: Instead of ``commands``: a script with its keys and arguments.
        transaction: Wrap several commands in MULTI/EXEC.
        then_wait: ``(replicas, timeout_ms)``: send ``WAIT`` after the plan's
            commands (or script) in the same round trip; its reply (how many
            replicas have the write) is the last one given to ``finish``.
        route: On a Redis Cluster, run a single command on the primary owning
            this key rather than where redis-py would send it.
        advice: What to tell the user when the connection fails or times out,
            which leaves unknown whether Redis applied the plan (a write that is
            not safe to repeat says what is); empty: the generic advice.
    """

    doing: str
    key: str
    finish: Callable[[list[Any]], T]
    commands: list[tuple[Any, ...]] = field(default_factory=list)
    script: tuple[Script, list[str], list[Any]] | None = None
    transaction: bool = False
    then_wait: tuple[int, int] | None = None
    route: str | None = None
    advice: str = ""


def _said(what: object) -> str:
    """An error's text as one sentence: redis-py's often end with a period, some do not."""
    text = str(what).strip()
    return text if text.endswith((".", "!", "?")) else text + "."


@contextmanager
def redis_errors(doing: str, key: str, url: Callable[[], str], advice: str = "") -> Iterator[None]:
    """Turn redis-py's errors into this package's, naming the URL (masked) and key.

    ``advice`` replaces the generic advice after a connection failure or a
    timeout (see :attr:`Plan.advice`).
    """
    try:
        yield
    except redis.exceptions.TimeoutError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} did not answer in time while {doing} ({key}): {_said(exc)} "
            + (
                advice
                or "The command may still have been applied: check before retrying a call "
                "that is not safe to repeat."
            )
        ) from exc
    except redis.exceptions.AuthenticationError as exc:
        raise RedisUnavailableError(
            f"Redis at {url()} refused the credentials while {doing} ({key}): {_said(exc)} "
            "Check the user name and password of the URL (shown masked)."
        ) from exc
    except NO_PRIMARY as exc:
        raise RedisUnavailableError(
            f"no Sentinel of {url()} named a reachable primary while {doing} ({key}): "
            f"{_said(no_primary_reason(exc))} Check the sentinels' addresses and the service "
            "name; during a failover, retry once the sentinels have promoted a replica."
        ) from exc
    except (redis.exceptions.ConnectionError, redis.exceptions.RedisClusterException) as exc:
        if (
            isinstance(exc, redis.exceptions.RedisClusterException)
            and not isinstance(
                exc.__cause__ or exc.__context__, OSError | redis.exceptions.ConnectionError
            )
            and "cannot be connected" not in str(exc)
        ):
            raise
        if isinstance(exc, redis.exceptions.MaxConnectionsError) or str(exc) in _POOL_EXHAUSTED:
            # Redis is fine: every connection of the client's pool stayed busy with
            # other concurrent commands.
            raise RedisUnavailableError(
                f"No free connection to Redis at {url()} while {doing} ({key}): the "
                f"connection pool is full ({str(exc).rstrip('.')}). Raise max_connections "
                "(RedisMemoryConfig) or lower the concurrency."
            ) from exc
        raise RedisUnavailableError(
            f"Redis at {url()} could not be reached while {doing} ({key}): {_said(exc)} "
            + (advice or "Retry once Redis is back.")
        ) from exc
    except redis.exceptions.OutOfMemoryError as exc:
        raise RedisOutOfMemoryError(
            f"Redis at {url()} refused {doing} ({key}): it is full (maxmemory reached, and "
            f"its eviction policy frees nothing): {_said(exc)} Nothing was written. Raise "
            "maxmemory, shorten TTLs or windows, or move the cache to its own Redis (README: "
            "Production)."
        ) from exc
    except redis.exceptions.NoPermissionError as exc:
        raise PermissionDeniedError(
            f"Redis at {url()} refused {doing} ({key}) to this connection's user: {exc}. "
            "Give the user the rules of redis_memory.acl.acl_rules(prefix), and check that "
            "the configured key prefix is the one its ACL allows."
        ) from exc
    except redis.exceptions.ResponseError as exc:
        if str(exc).startswith(DATA_ERROR):
            # A script of this package found its own data damaged, and said where.
            message = str(exc)[len(DATA_ERROR) :].split(" script: ", 1)[0]
            raise UnexpectedDataError(message) from exc
        if "WRONGTYPE" in str(exc):
            raise UnexpectedDataError(
                f"{key} holds a different type of data than redis-memory-backend writes "
                "there (another program uses this key prefix); delete the key or choose "
                "another prefix"
            ) from exc
        raise


def _script_args(plan: Plan[Any]) -> tuple[Script, list[Any]]:
    assert plan.script is not None
    script, keys, args = plan.script
    return script, [len(keys), *keys, *args]


def _waiting_pipeline(client: Any, plan: Plan[Any], script_source: bool) -> Any:
    # MULTI/EXEC is sent by hand: WAIT must follow EXEC on the same connection,
    # outside the transaction (inside one it would not wait).
    if _is_cluster(client):
        raise ConfigurationError(
            "replica_acks (WAIT after each write) is not supported on Redis Cluster, where a "
            "pipeline's keyless WAIT may reach another node; set replica_acks=0"
        )
    pipe = client.pipeline(transaction=False)
    if plan.script is not None:
        script, args = _script_args(plan)
        if script_source:
            pipe.execute_command("EVAL", script.source, *args)
        else:
            pipe.execute_command("EVALSHA", script.sha, *args)
    else:
        if plan.transaction:
            pipe.execute_command("MULTI")
        for command in plan.commands:
            pipe.execute_command(*command)
        if plan.transaction:
            pipe.execute_command("EXEC")
    assert plan.then_wait is not None
    pipe.execute_command("WAIT", *plan.then_wait)
    return pipe


def _waited_replies(plan: Plan[Any], replies: list[Any]) -> list[Any] | None:
    """The plan's own replies followed by WAIT's; None when the script must be sent in full."""
    if plan.script is not None and isinstance(replies[0], redis.exceptions.NoScriptError):
        return None
    own = replies[-2] if plan.transaction and plan.script is None else replies[:-1]
    for reply in [*replies, *(own if isinstance(own, list) else ())]:
        if isinstance(reply, Exception):
            raise reply
    return [*own, replies[-1]]


# redis-py's cluster transactions route PUBLISH by its channel, as if it were a
# key, so a transaction that writes a session's keys and announces it on a
# channel of another slot is refused client-side (the channels of a session or
# a user share its hash tag, so theirs pass). Redis itself accepts PUBLISH in
# any MULTI; a cluster broadcasts it to every node. So on a cluster such a
# PUBLISH goes through this script, whose one declared key is a key of the
# transaction: same reply (the receiver count), same round trip, same atomicity.
_PUBLISH_SOURCE = "return redis.call('PUBLISH', ARGV[1], ARGV[2])"


def _slot(name: Any) -> int:
    return key_slot(name.encode() if isinstance(name, str) else name)


def _cluster_transaction(commands: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    keyed = [command for command in commands if str(command[0]).upper() != "PUBLISH"]
    if not keyed or len(keyed) == len(commands):
        return commands
    key = keyed[0][1]
    return [
        ("EVAL", _PUBLISH_SOURCE, 1, key, *command[1:])
        if str(command[0]).upper() == "PUBLISH" and _slot(command[1]) != _slot(key)
        else command
        for command in commands
    ]


# Commands whose keys redis-py's cluster client cannot read from its command
# table: it would ask the server (COMMAND GETKEYS, a round trip each time), so
# they are sent to the primary owning the key after STREAMS instead.
_MOVABLE_KEYS = frozenset({"XREAD", "XREADGROUP"})


def _routing(client: Any, plan: Plan[Any]) -> dict[str, Any]:
    if not _is_cluster(client):
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


def _per_slot(client: Any, plan: Plan[Any]) -> list[tuple[Any, ...]] | None:
    if not _is_cluster(client) or len(plan.commands) != 1 or plan.script is not None:
        return None
    name, *keys = plan.commands[0]
    if str(name).upper() not in _COUNTING or len({_slot(key) for key in keys}) < 2:
        return None
    by_slot: dict[int, list[Any]] = {}
    for key in keys:
        by_slot.setdefault(_slot(key), []).append(key)
    return [(name, *group) for group in by_slot.values()]


# redis-py's clients are typing Protocols: isinstance() on one that is not a
# subclass runs Python code (0.7 us a class), so the answer is kept per type.
_cluster_types: dict[type, bool] = {}


def _is_cluster(client: Any) -> bool:
    kind = type(client)
    cluster = _cluster_types.get(kind)
    if cluster is None:
        cluster = isinstance(client, redis.RedisCluster | redis.asyncio.RedisCluster)
        _cluster_types[kind] = cluster
    return cluster


def _is_scan(plan: Plan[Any]) -> bool:
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


def _cluster_scan(client: Any, command: tuple[Any, ...]) -> list[Any]:
    scan = _ClusterScan(client.get_primaries(), command)
    while True:
        args, options = scan.request()
        replies = scan.take(client.execute_command(*args, **options))
        if replies is not None:
            return replies


async def _cluster_scan_async(client: Any, command: tuple[Any, ...]) -> list[Any]:
    scan = _ClusterScan(client.get_primaries(), command)
    while True:
        args, options = scan.request()
        replies = scan.take(await client.execute_command(*args, **options))
        if replies is not None:
            return replies


def _pipeline_commands(client: Any, plan: Plan[Any]) -> list[tuple[Any, ...]]:
    if plan.transaction and _is_cluster(client):
        return _cluster_transaction(plan.commands)
    return plan.commands


def drive(
    flow: Generator[Any, Any, T],
    step: Callable[[Any], Any],
    errors: tuple[type[BaseException], ...] = (),
) -> T:
    """Run a flow of several steps (an engine's generator) to its result.

    Each value the flow yields goes to ``step``, and what ``step`` returns is sent
    back in; when ``step`` raises one of ``errors``, that error is thrown into the
    flow instead, which may handle it (e.g. create a missing consumer group).
    """
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value
        reply, error = None, None
        try:
            reply = step(yielded)
        except errors as exc:
            error = exc


async def drive_async(
    flow: Generator[Any, Any, T],
    step: Callable[[Any], Awaitable[Any]],
    errors: tuple[type[BaseException], ...] = (),
) -> T:
    """The twin of :func:`drive` for an async ``step``."""
    reply: Any = None
    error: BaseException | None = None
    while True:
        try:
            yielded = flow.send(reply) if error is None else flow.throw(error)
        except StopIteration as done:
            return done.value
        reply, error = None, None
        try:
            reply = await step(yielded)
        except errors as exc:
            error = exc


def execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a sync client: one round trip (two the first time a script is new)."""
    if metrics.tracing():
        with metrics.span(plan.doing, plan.key, _command_count(plan)):
            return _execute(client, plan, url)
    return _execute(client, plan, url)


def _command_count(plan: Plan[Any]) -> int:
    return len(plan.commands) + (plan.script is not None) + (plan.then_wait is not None)


def _execute(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    started = perf_counter()
    # A try costs nothing until something fails; entering redis_errors on every
    # call cost more than a microsecond.
    try:
        if plan.then_wait is not None:
            pipe = _waiting_pipeline(client, plan, False)
            replies = _waited_replies(plan, pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = _waiting_pipeline(client, plan, True)
                replies = _waited_replies(plan, pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = _script_args(plan)
            try:
                replies = [client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [client.eval(script.source, *args)]
        elif _is_cluster(client) and _is_scan(plan):
            replies = _cluster_scan(client, plan.commands[0])
        elif (split := _per_slot(client, plan)) is not None:
            pipe = client.pipeline(transaction=False)
            for command in split:
                pipe.execute_command(*command)
            replies = [sum(int(n) for n in pipe.execute())]
        elif len(plan.commands) == 1:
            replies = [client.execute_command(*plan.commands[0], **_routing(client, plan))]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in _pipeline_commands(client, plan):
                pipe.execute_command(*command)
            replies = pipe.execute()
    except Exception as exc:
        _failed(plan, url, started, exc)
    metrics.operation(plan.doing, plan.key, perf_counter() - started, None)
    return plan.finish(replies)


def _failed(plan: Plan[Any], url: Callable[[], str], started: float, exc: Exception) -> NoReturn:
    """Count the failure, then raise it as the package's error for what the plan was doing."""
    try:
        with redis_errors(plan.doing, plan.key, url, plan.advice):
            raise exc
    except Exception as translated:
        metrics.operation(plan.doing, plan.key, perf_counter() - started, translated)
        raise


async def execute_async(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    """Run a plan on a ``redis.asyncio`` client; the twin of :func:`execute`."""
    if metrics.tracing():
        with metrics.span(plan.doing, plan.key, _command_count(plan)):
            return await _execute_async(client, plan, url)
    return await _execute_async(client, plan, url)


async def _execute_async(client: Any, plan: Plan[T], url: Callable[[], str]) -> T:
    started = perf_counter()
    try:
        if _is_cluster(client) and isinstance(client, redis.asyncio.RedisCluster):
            # A no-op once the cluster's layout is known. Tasks that reach a
            # new client at once, each left to start it, break its connections
            # (redis-py 8.1); here they queue behind one start.
            await client.initialize()
        if plan.then_wait is not None:
            pipe = _waiting_pipeline(client, plan, False)
            replies = _waited_replies(plan, await pipe.execute(raise_on_error=False))
            if replies is None:
                pipe = _waiting_pipeline(client, plan, True)
                replies = _waited_replies(plan, await pipe.execute(raise_on_error=False))
            assert replies is not None
        elif plan.script is not None:
            script, args = _script_args(plan)
            try:
                replies = [await client.evalsha(script.sha, *args)]
            except redis.exceptions.NoScriptError:
                replies = [await client.eval(script.source, *args)]
        elif _is_cluster(client) and _is_scan(plan):
            replies = await _cluster_scan_async(client, plan.commands[0])
        elif (split := _per_slot(client, plan)) is not None:
            pipe = client.pipeline(transaction=False)
            for command in split:
                pipe.execute_command(*command)
            replies = [sum(int(n) for n in await pipe.execute())]
        elif len(plan.commands) == 1:
            command = plan.commands[0]
            replies = [await client.execute_command(*command, **_routing(client, plan))]
        else:
            pipe = client.pipeline(transaction=plan.transaction)
            for command in _pipeline_commands(client, plan):
                pipe.execute_command(*command)
            replies = await pipe.execute()
    except Exception as exc:
        _failed(plan, url, started, exc)
    metrics.operation(plan.doing, plan.key, perf_counter() - started, None)
    return plan.finish(replies)
