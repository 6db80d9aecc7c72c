"""Fixtures: one embedded Redis Stack per test session, one key prefix per test.

Tests run against a real server started here (no mocks). Each test gets its own
prefix, so tests never see each other's keys, and its keys are removed after.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from urllib.parse import urlsplit

import pytest
import redis

from redis_memory import RedisMemoryConfig
from redis_memory.acl import acl_rules
from redis_memory.embedded import EmbeddedRedis


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
def redis_url(redis_server: EmbeddedRedis) -> str:
    return redis_server.url


@pytest.fixture
def redis_client(redis_server: EmbeddedRedis) -> Iterator[redis.Redis]:
    client = redis_server.client()
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
def config(
    request: pytest.FixtureRequest, redis_server: EmbeddedRedis, prefix: str
) -> RedisMemoryConfig:
    """The test's config. Tests marked ``acl_user`` (or every test, with
    ``REDIS_MEMORY_TEST_ACL=1``) connect as an ACL user limited to the prefix;
    ``acl_user(enabled=False)`` opts a test out (it works under other prefixes)."""
    marker = request.node.get_closest_marker("acl_user")
    as_acl_user = marker.kwargs.get("enabled", True) if marker else False
    if hasattr(request, "param"):  # parametrize("config", ["admin", "acl_user"], indirect=True)
        as_acl_user = request.param == "acl_user"
    if not (as_acl_user or os.environ.get("REDIS_MEMORY_TEST_ACL")):
        return RedisMemoryConfig(url=redis_server.url, prefix=prefix)
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


def _command_calls(client: redis.Redis) -> dict[str, int]:
    stats = client.info("commandstats")
    return {name.removeprefix("cmdstat_"): int(v["calls"]) for name, v in stats.items()}


@pytest.fixture
def count_commands(redis_client: redis.Redis) -> Callable[[], object]:
    """``with count_commands() as counted: ...`` then ``counted.total`` and ``counted.by_name``.

    Counted from the server's INFO commandstats, so it is exact for what
    reached Redis while tests run one at a time against this server. The
    INFO calls of the counter itself are left out.
    """

    class Counted:
        by_name: dict[str, int]
        total: int

    @contextmanager
    def counting() -> Iterator[Counted]:
        counted = Counted()
        before = _command_calls(redis_client)
        yield counted
        after = _command_calls(redis_client)
        diff = {
            name: calls - before.get(name, 0)
            for name, calls in after.items()
            if calls - before.get(name, 0) > 0
        }
        diff["info"] = diff.get("info", 0) - 1
        counted.by_name = {name: n for name, n in diff.items() if n > 0}
        counted.total = sum(counted.by_name.values())

    return counting


class RoundTrips:
    """A real redis-py client whose connections count what they send.

    Each ``send_packed_command`` is one request written to the socket: one
    command, or a whole pipeline. ``count`` is the number of round trips.
    """

    def __init__(self, port: int) -> None:
        counter = self

        class CountingConnection(redis.Connection):
            def send_packed_command(self, command, check_health=True):
                counter.count += 1
                return super().send_packed_command(command, check_health)

        self.count = 0
        pool = redis.ConnectionPool(
            host="127.0.0.1", port=port, connection_class=CountingConnection
        )
        self.client = redis.Redis(connection_pool=pool)
        self.client.ping()  # connect now: the handshake is not an operation's cost
        self.count = 0


@pytest.fixture
def round_trips(redis_server: EmbeddedRedis) -> Iterator[RoundTrips]:
    counted = RoundTrips(redis_server.port)
    yield counted
    counted.client.close()
