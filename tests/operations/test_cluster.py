"""Redis Cluster: the embedded cluster, cluster URLs and clients, work spread over primaries.

The feature modules run on the cluster as they are (``pytest --redis-cluster``,
which ``make test`` runs); this module covers what only a cluster has. Tests
that need the cluster skip without ``--redis-cluster``; the rest run on both.
"""

from __future__ import annotations

import asyncio
import socket

import pytest
import redis
import redis.asyncio

from redis_memory import (
    ConfigurationError,
    RedisClients,
    RedisMemoryConfig,
    SearchModuleMissingError,
    StateStore,
)
from redis_memory.cache import AsyncResponseCache, ResponseCache
from redis_memory.embedded import EmbeddedCluster
from redis_memory.embeddings import Embedder
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.server import status


@pytest.fixture
def cluster(redis_cluster: EmbeddedCluster | None) -> EmbeddedCluster:
    if redis_cluster is None:
        pytest.skip("needs the embedded cluster: run with --redis-cluster (make test does)")
    return redis_cluster


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class _Constant(Embedder):
    def embed(self, text: str) -> list[float]:
        return [1.0, 0.0]

    async def aembed(self, text: str) -> list[float]:
        return [1.0, 0.0]


# -- settings (no server) ------------------------------------------------------------------


def test_a_cluster_url_or_cluster_true_names_a_cluster_without_a_round_trip():
    port = _free_port()  # nothing listens: no connection may be tried
    by_scheme = RedisMemoryConfig(url=f"redis+cluster://127.0.0.1:{port}/0")
    assert by_scheme.cluster is True
    assert RedisClients(config=by_scheme).is_cluster
    by_flag = RedisMemoryConfig(url=f"redis://127.0.0.1:{port}/0", cluster=True)
    assert RedisClients(config=by_flag).is_cluster
    assert "cluster=True" in repr(by_flag)
    assert not RedisClients(url=f"redis://127.0.0.1:{port}/0").is_cluster
    assert RedisMemoryConfig(url=f"rediss+cluster://u:secret@h:{port}").cluster
    assert RedisClients(client=redis.asyncio.RedisCluster(host="127.0.0.1", port=port)).is_cluster


def test_cluster_settings_that_cannot_work_are_clear_errors():
    with pytest.raises(ConfigurationError, match="redis:// or rediss:// URL of a cluster node"):
        RedisMemoryConfig(url="embedded", cluster=True)
    with pytest.raises(ConfigurationError, match="redis:// or rediss:// URL of a cluster node"):
        RedisMemoryConfig(url="unix:///tmp/redis.sock", cluster=True)
    with pytest.raises(ConfigurationError, match="cluster must be True or False"):
        RedisMemoryConfig(cluster="yes")  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match=r"redis\+cluster://"):
        RedisMemoryConfig(url="cluster://h:1")


def test_the_semantic_tier_says_at_construction_that_a_cluster_has_no_search():
    url = f"redis+cluster://127.0.0.1:{_free_port()}/0"  # nothing listens: no round trip
    for cls in (ResponseCache, AsyncResponseCache):
        with pytest.raises(SearchModuleMissingError, match="open-source Redis Cluster lacks"):
            cls(url=url, embedder=_Constant())
        assert cls(url=url).semantic is False  # the exact tier alone is fine


# -- the embedded cluster ------------------------------------------------------------------


def test_the_embedded_cluster_has_three_primaries_each_with_an_attached_replica(cluster):
    client = cluster.client()
    try:
        assert client.cluster_info()["cluster_state"] == "ok"
        assert len(client.get_primaries()) == 3
        for node in cluster.nodes[3:]:
            with node.client() as replica:
                replication = replica.info("replication")
                assert replication["role"] == "slave"
                assert replication["master_link_status"] == "up"
        assert all(not node.has_search for node in cluster.nodes)
    finally:
        client.close()
    assert cluster.url.startswith("redis+cluster://127.0.0.1:")


def test_a_stopped_cluster_leaves_no_server_behind(cluster):
    small = EmbeddedCluster(primaries=1, replicas=0).start()
    processes = [node._process for node in small.nodes]
    assert small.client().set("k", "v")
    small.stop()
    assert all(process is not None and process.poll() is not None for process in processes)
    assert not small.is_running
    small.stop()  # idempotent
    with pytest.raises(ValueError, match="primaries"):
        EmbeddedCluster(primaries=0)


# -- clients -------------------------------------------------------------------------------


def test_clients_built_from_a_cluster_url_are_cluster_clients_per_kind_and_loop(cluster, prefix):
    clients = RedisClients(url=cluster.url)
    assert isinstance(clients.sync, redis.RedisCluster)

    async def scenario() -> type:
        client = clients.async_
        await clients.aclose()
        return type(client)

    assert asyncio.run(scenario()) is redis.asyncio.RedisCluster
    clients.close()


def test_a_users_sync_cluster_client_is_used_and_its_async_twin_reaches_the_same_cluster(
    cluster, prefix
):
    own = cluster.client()
    config = RedisMemoryConfig(prefix=prefix)
    MessageLog(client=own, config=config).append("s", [{"role": "user", "content": "sync"}])

    async def scenario() -> list[str]:
        log = AsyncMessageLog(client=own, config=config)  # sync client: async twin derived
        await log.append("s", [{"role": "user", "content": "async"}])
        return [m["content"] for m in await log.messages("s")]

    assert asyncio.run(scenario()) == ["sync", "async"]
    own.close()


def test_a_users_async_cluster_client_is_used_natively(cluster, prefix):
    config = RedisMemoryConfig(prefix=prefix)

    async def scenario() -> list[str]:
        own = redis.asyncio.RedisCluster.from_url(cluster.nodes[1].url)
        log = AsyncMessageLog(client=own, config=config)
        await log.append("s", [{"role": "user", "content": "a"}])
        stored = [m["content"] for m in await log.messages("s")]
        await own.aclose()
        return stored

    assert asyncio.run(scenario()) == ["a"]
    # The sync twin of a user's async cluster client reaches the same cluster.
    own = redis.asyncio.RedisCluster.from_url(cluster.nodes[1].url)
    assert [m["content"] for m in MessageLog(client=own, config=config).messages("s")] == ["a"]


# -- work spread over every primary ---------------------------------------------------------


def _primaries_holding(client: redis.RedisCluster, keys: list[str]) -> set[str]:
    return {client.get_node_from_key(key).name for key in keys}


def test_sessions_are_listed_from_every_primary_page_by_page(cluster, config, redis_client):
    log = MessageLog(config=config)
    ids = [f"user:{n}" for n in range(40)]
    for session_id in ids:
        log.append(session_id, [{"role": "user", "content": "hi"}])
    keys = [config.keys.session_messages(i) for i in ids]
    assert len(_primaries_holding(redis_client, keys)) == 3
    seen: list[str] = []
    cursor, pages = 0, 0
    while True:
        cursor, page = log.sessions(cursor=cursor, count=7)
        seen += page
        pages += 1
        if cursor == 0:
            break
    assert sorted(seen) == sorted(ids)
    assert pages > 3
    assert sorted(log.iter_sessions()) == sorted(ids)

    async def listed() -> list[str]:
        return [i async for i in AsyncMessageLog(config=config).iter_sessions(count=5)]

    assert sorted(asyncio.run(listed())) == sorted(ids)


def test_exact_cache_clear_removes_entries_on_every_primary(cluster, config, redis_client):
    cache = ResponseCache(config=config)
    for n in range(30):
        cache.update(f"prompt {n}", "model-a", {"text": str(n)})
    cache.update("other", "model-b", {"text": "b"})
    pattern = f"{config.prefix}:cache:*"
    keys = [key.decode() for key in redis_client.scan_iter(match=pattern)]
    assert len(keys) == 31
    assert len(_primaries_holding(redis_client, keys)) == 3
    assert cache.clear(llm="model-a") == 30
    assert cache.lookup("other", "model-b") == {"text": "b"}
    assert cache.lookup("prompt 3", "model-a") is None

    async def clear_async() -> int:
        return await AsyncResponseCache(config=config).clear()

    assert asyncio.run(clear_async()) == 1
    assert list(redis_client.scan_iter(match=pattern)) == []


def test_state_of_many_users_and_the_status_report_cover_every_primary(cluster, config):
    store = StateStore(config=config)
    for n in range(20):
        store.set(f"user{n}", "theme", "dark")
        store.set(f"user{n}", "lang", "en")
    assert dict(store.iter_items("user7")) == {"theme": "dark", "lang": "en"}
    report = status(RedisClients(config=config).sync, prefix=config.prefix)
    assert report["keys_by_kind"] == {"state": 40}
    assert report["mode"] == "cluster"
