"""Fixtures: one embedded Redis Stack per test session, one key prefix per test.

Tests run against a real server started here (no mocks). Each test gets its own
prefix, so tests never see each other's keys, and its keys are removed after.

``pytest --redis-cluster`` runs the same tests against an embedded Redis
Cluster (three primaries, three replicas, no modules): ``redis_url``,
``redis_client``, ``config``, ``count_commands`` and ``round_trips`` then point at
the cluster. Tests marked ``standalone_only`` (and those asking for
``redis_server``, one node) are skipped there, as are ``search`` tests and the
tests that use no test server at all (argument checks, docstring examples with
their own embedded Redis): they would only repeat the first pass.
"""

from __future__ import annotations

import importlib
import os
import pkgutil
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from urllib.parse import urlsplit

import pytest
import redis

from redis_memory import RedisMemoryConfig
from redis_memory._plan import Script
from redis_memory.acl import acl_rules
from redis_memory.embedded import EmbeddedCluster, EmbeddedRedis

CLUSTER_OPTION = "--redis-cluster"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        CLUSTER_OPTION,
        action="store_true",
        help="run the tests against an embedded Redis Cluster instead of one Redis Stack",
    )


def on_cluster(config: pytest.Config) -> bool:
    return bool(config.getoption(CLUSTER_OPTION))


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not on_cluster(config):
        return
    single = pytest.mark.skip(reason="needs a single Redis server, not a cluster")
    search = pytest.mark.skip(reason="needs the Search module, which an OSS cluster lacks")
    same = pytest.mark.skip(reason="uses no test server: the same as on the first pass")
    for item in items:
        fixtures = getattr(item, "fixturenames", ())
        if "standalone_only" in item.keywords or "redis_server" in fixtures:
            item.add_marker(single)
        elif "redis_url" not in fixtures and "redis_cluster" not in fixtures:
            item.add_marker(same)
        elif "search" in item.keywords:
            item.add_marker(search)


@pytest.fixture(scope="session")
def redis_cluster(pytestconfig: pytest.Config) -> Iterator[EmbeddedCluster | None]:
    """The embedded cluster under ``--redis-cluster``, else None."""
    if not on_cluster(pytestconfig):
        yield None
        return
    with EmbeddedCluster() as cluster:
        client = cluster.client()
        # As a long-running server has them: a budget test warms a script on
        # one primary, then may count a call that lands on another.
        for source in _package_scripts():
            client.script_load(source)  # redis-py sends SCRIPT LOAD to every primary
        client.close()
        yield cluster


def _package_scripts() -> set[str]:
    import redis_memory

    modules = [
        importlib.import_module(f"redis_memory.{info.name}")
        for info in pkgutil.iter_modules(redis_memory.__path__)
    ]
    return {
        value.source
        for module in modules
        for value in vars(module).values()
        if isinstance(value, Script)
    }


@pytest.fixture(scope="session")
def redis_server() -> Iterator[EmbeddedRedis]:
    with EmbeddedRedis() as server:
        if not server.has_search:
            pytest.fail(
                f"the test server ({server.binary}) has no Search module; run `make test`, "
                "which installs Redis Stack"
            )
        yield server


@pytest.fixture(scope="session")
def redis_url(request: pytest.FixtureRequest, redis_cluster: EmbeddedCluster | None) -> str:
    if redis_cluster is not None:
        return redis_cluster.url
    return request.getfixturevalue("redis_server").url


@pytest.fixture
def redis_client(
    request: pytest.FixtureRequest, redis_cluster: EmbeddedCluster | None
) -> Iterator[redis.Redis]:
    """A sync client of the test server: a ``RedisCluster`` under ``--redis-cluster``."""
    if redis_cluster is not None:
        client: Any = redis_cluster.client()
    else:
        client = request.getfixturevalue("redis_server").client()
    yield client
    client.close()


@pytest.fixture
def prefix(redis_client: redis.Redis) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    keys = list(redis_client.scan_iter(match=f"{name}:*", count=1000))
    if keys:
        redis_client.unlink(*keys)


# One ACL user serves every test marked acl_user: its key and channel rules are
# switched to each test's prefix, so all such tests share one connection pool.
ACL_TEST_USER = "rmem-test"


@pytest.fixture(scope="session")
def acl_test_url(redis_server: EmbeddedRedis) -> Iterator[str]:
    password = uuid.uuid4().hex
    yield f"redis://{ACL_TEST_USER}:{password}@127.0.0.1:{redis_server.port}/0"
    admin = redis_server.client()
    admin.execute_command("ACL", "DELUSER", ACL_TEST_USER)
    admin.close()


@pytest.fixture
def config(request: pytest.FixtureRequest, redis_url: str, prefix: str) -> RedisMemoryConfig:
    """The test's config. Tests marked ``acl_user`` (or every test, with
    ``REDIS_MEMORY_TEST_ACL=1``) connect as an ACL user limited to the prefix;
    ``acl_user(enabled=False)`` opts a test out (it works under other prefixes)."""
    marker = request.node.get_closest_marker("acl_user")
    as_acl_user = marker.kwargs.get("enabled", True) if marker else False
    if hasattr(request, "param"):  # parametrize("config", ["admin", "acl_user"], indirect=True)
        as_acl_user = request.param == "acl_user"
    if on_cluster(request.config) or not (as_acl_user or os.environ.get("REDIS_MEMORY_TEST_ACL")):
        # The ACL runs are a single server's; the cluster pass runs the same paths as admin.
        return RedisMemoryConfig(url=redis_url, prefix=prefix)
    redis_server = request.getfixturevalue("redis_server")
    url = request.getfixturevalue("acl_test_url")
    password = urlsplit(url).password
    admin = redis_server.client()
    rules = acl_rules(prefix)
    admin.execute_command("ACL", "SETUSER", ACL_TEST_USER, "on", f">{password}", *rules)
    admin.close()
    return RedisMemoryConfig(url=url, prefix=prefix)


@contextmanager
def acl_user(server: EmbeddedRedis, prefix: str, *, create_indexes: bool = True) -> Iterator[str]:
    """A user named like the prefix, allowed only what ``redis_memory.acl`` lists: its URL."""
    password = uuid.uuid4().hex
    rules = acl_rules(prefix, create_indexes=create_indexes)
    admin = server.client()
    admin.execute_command("ACL", "SETUSER", prefix, "reset", "on", f">{password}", *rules)
    try:
        yield f"redis://{prefix}:{password}@127.0.0.1:{server.port}/0"
    finally:
        admin.execute_command("ACL", "DELUSER", prefix)
        admin.close()


@pytest.fixture
def acl_user_url(redis_server: EmbeddedRedis) -> Iterator[Callable[..., str]]:
    """``acl_user_url(prefix, create_indexes=True)``: the URL of a new ACL user of that prefix."""
    with ExitStack() as users:
        yield lambda prefix, **rules: users.enter_context(acl_user(redis_server, prefix, **rules))


def _command_calls(client: Any) -> tuple[dict[str, int], int]:
    """Calls per command, summed over every primary, and how many INFO calls that took."""
    if isinstance(client, redis.RedisCluster):
        per_node = client.info("commandstats", target_nodes=redis.RedisCluster.PRIMARIES)
        stats_list = list(per_node.values())
    else:
        stats_list = [client.info("commandstats")]
    calls: dict[str, int] = {}
    for stats in stats_list:
        for name, value in stats.items():
            name = name.removeprefix("cmdstat_")
            if name.startswith("replconf"):  # a replica's acknowledgements, once a second
                continue
            calls[name] = calls.get(name, 0) + int(value["calls"])
    return calls, len(stats_list)


@pytest.fixture
def count_commands(redis_client: redis.Redis) -> Callable[[], object]:
    """``with count_commands() as counted: ...`` then ``counted.total`` and ``counted.by_name``.

    Counted from the server's INFO commandstats (summed over the primaries of
    a cluster), so it is exact for what reached Redis while tests run one at a
    time against this server. The INFO calls of the counter itself are left out.
    """

    class Counted:
        by_name: dict[str, int]
        total: int

    @contextmanager
    def counting() -> Iterator[Counted]:
        counted = Counted()
        before, _ = _command_calls(redis_client)
        yield counted
        after, info_calls = _command_calls(redis_client)
        diff = {
            name: calls - before.get(name, 0)
            for name, calls in after.items()
            if calls - before.get(name, 0) > 0
        }
        diff["info"] = diff.get("info", 0) - info_calls
        counted.by_name = {name: n for name, n in diff.items() if n > 0}
        counted.total = sum(counted.by_name.values())

    return counting


class RoundTrips:
    """A real redis-py client whose connections count what they send.

    Each ``send_packed_command`` is one request written to the socket: one
    command, or a whole pipeline. ``count`` is the number of round trips.
    """

    def __init__(self, port: int, *, cluster: bool = False) -> None:
        counter = self

        class CountingConnection(redis.Connection):
            def send_packed_command(self, command, check_health=True):
                counter.count += 1
                return super().send_packed_command(command, check_health)

        self.count = 0
        self.client: Any
        if cluster:
            self.client = redis.RedisCluster(host="127.0.0.1", port=port)
            for node in self.client.get_nodes():
                pool = node.redis_connection.connection_pool
                pool.disconnect()
                pool.connection_class = CountingConnection
                pool.reset()
            # Connect to every primary now: handshakes are not an operation's cost.
            self.client.ping(target_nodes=redis.RedisCluster.PRIMARIES)
        else:
            pool = redis.ConnectionPool(
                host="127.0.0.1", port=port, connection_class=CountingConnection
            )
            self.client = redis.Redis(connection_pool=pool)
            self.client.ping()  # connect now: the handshake is not an operation's cost
        self.count = 0


@pytest.fixture
def round_trips(
    request: pytest.FixtureRequest, redis_cluster: EmbeddedCluster | None
) -> Iterator[RoundTrips]:
    if redis_cluster is not None:
        counted = RoundTrips(redis_cluster.primaries[0].port or 0, cluster=True)
    else:
        counted = RoundTrips(request.getfixturevalue("redis_server").port)
    yield counted
    counted.client.close()
