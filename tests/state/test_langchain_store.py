"""LangChain stores (RedisStore, RedisByteStore) on the core state store, against real Redis."""

from __future__ import annotations

import hashlib

import pytest
from _examples import code_blocks, run_example
from langchain_classic.embeddings import CacheBackedEmbeddings
from langchain_core.embeddings import Embeddings
from langchain_core.stores import BaseStore, ByteStore

from langchain_redis_memory.store import RedisByteStore, RedisStore
from redis_memory import TTL, SerializationError

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


@pytest.fixture
def store(config):
    return RedisStore(config=config, namespace="agent-1")


@pytest.fixture
def byte_store(config):
    return RedisByteStore(config=config, namespace="embeddings")


class CountingEmbeddings(Embeddings):
    """Deterministic vectors from a hash of the text; counts the texts it embeds."""

    def __init__(self) -> None:
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        digest = hashlib.sha256(text.encode()).digest()
        return [byte / 255 for byte in digest[:8]]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.embedded += texts
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        self.embedded.append(text)
        return self._vector(text)


def test_they_are_langchain_stores(store, byte_store):
    assert isinstance(store, BaseStore)
    assert isinstance(byte_store, BaseStore)
    assert ByteStore == BaseStore[str, bytes]
    assert "namespace='agent-1'" in repr(store)


def test_json_store_round_trip(store, config):
    assert store.mget([]) == []
    store.mset([])
    store.mset([("plan", {"step": 1, "tags": []}), ("notes", ["a", "b"]), ("n", 3)])
    assert store.mget(["plan", "missing", "notes", "n"]) == [
        {"step": 1, "tags": []},
        None,
        ["a", "b"],
        3,
    ]
    store.mset([("n", 1), ("n", 2)])  # the later pair wins
    assert store.mget(["n"]) == [2]
    assert sorted(store.yield_keys()) == ["n", "notes", "plan"]
    assert sorted(store.yield_keys(prefix="n")) == ["n", "notes"]
    store.mdelete(["plan", "missing"])
    assert store.mget(["plan"]) == [None]
    other = RedisStore(config=config, namespace="agent-2")
    assert other.mget(["notes"]) == [None]
    assert list(other.yield_keys()) == []


async def test_json_store_async(store):
    await store.amset([("a", {"x": 1}), ("b:c", [1])])
    assert await store.amget(["a", "b:c", "z"]) == [{"x": 1}, [1], None]
    assert sorted([key async for key in store.ayield_keys()]) == ["a", "b:c"]
    assert [key async for key in store.ayield_keys(prefix="b")] == ["b:c"]
    await store.amdelete(["a"])
    assert store.mget(["a", "b:c"]) == [None, [1]]


def test_a_value_json_cannot_hold_writes_nothing(store):
    with pytest.raises(TypeError, match="state key 'b' cannot be stored"):
        store.mset([("a", 1), ("b", object())])
    assert store.mget(["a", "b"]) == [None, None]
    with pytest.raises(TypeError, match="sequence of"):
        store.mset({"a": 1})


def test_byte_store_round_trip(byte_store, redis_client):
    raw = bytes(range(256))
    byte_store.mset([("vec:1", raw), ("vec 2", b"")])
    assert byte_store.mget(["vec:1", "vec 2", "missing"]) == [raw, b"", None]
    assert redis_client.get(byte_store._store.schema.state("embeddings", "vec:1")) == raw
    assert sorted(byte_store.yield_keys(prefix="vec")) == ["vec 2", "vec:1"]
    byte_store.mdelete(["vec:1", "vec 2"])
    assert list(byte_store.yield_keys()) == []


async def test_byte_store_async(byte_store):
    await byte_store.amset([("a", b"\x00\xff"), ("b", b"2")])
    assert await byte_store.amget(["a", "b", "c"]) == [b"\x00\xff", b"2", None]
    assert sorted([key async for key in byte_store.ayield_keys()]) == ["a", "b"]
    await byte_store.amdelete(["a", "b"])
    assert await byte_store.amget(["a", "b"]) == [None, None]


def test_byte_store_refuses_other_values_and_writes_nothing(byte_store):
    with pytest.raises(SerializationError, match="store bytes, not str"):
        byte_store.mset([("a", b"ok"), ("b", "text")])
    with pytest.raises(TypeError):
        byte_store.mset([("c", {"json": True})])
    assert byte_store.mget(["a", "b", "c"]) == [None, None, None]


def test_ttl(config, redis_client):
    store = RedisByteStore(config=config, namespace="short", ttl=30)
    store.mset([("k", b"v")])
    assert 29_000 < redis_client.pttl(store._store.schema.state("short", "k")) <= 30_000
    forever = RedisStore(config=config, namespace="long", ttl=TTL(None))
    forever.mset([("k", 1)])
    assert redis_client.pttl(forever._store.schema.state("long", "k")) == -1
    default = RedisStore(config=config, namespace="default-ttl")
    default.mset([("k", 1)])
    assert redis_client.pttl(default._store.schema.state("default-ttl", "k")) == -1


@pytest.mark.parametrize("namespace", ["", "x" * 513])
def test_a_bad_namespace_fails_at_construction(config, namespace):
    with pytest.raises(ValueError, match="user id"):
        RedisByteStore(config=config, namespace=namespace)


def test_a_bad_ttl_fails_at_construction(config):
    with pytest.raises(ValueError, match="positive"):
        RedisStore(config=config, ttl=0)


def test_budgets(config, count_commands, round_trips):
    store = RedisByteStore(client=round_trips.client, config=config, namespace="ns")
    keys = [f"k{i}" for i in range(100)]
    round_trips.count = 0
    with count_commands() as mset:
        store.mset([(key, key.encode()) for key in keys])
    assert round_trips.count == 1
    assert mset.by_name == {"multi": 1, "mset": 1, "publish": 1, "exec": 1}
    round_trips.count = 0
    with count_commands() as mget:
        assert store.mget(keys) == [key.encode() for key in keys]
    assert round_trips.count == 1
    assert mget.by_name == {"mget": 1}


def test_cache_backed_embeddings_from_bytes_store(byte_store):
    underlying = CountingEmbeddings()
    embedder = CacheBackedEmbeddings.from_bytes_store(
        underlying,
        byte_store,
        namespace="counting-8",
        query_embedding_cache=True,
        key_encoder="sha256",
    )
    texts = ["Redis keeps state.", "LangChain calls it.", "Redis keeps state."]
    first = embedder.embed_documents(texts)
    assert underlying.embedded == texts  # it does not deduplicate within one call
    assert first[0] == first[2] == underlying._vector(texts[0])
    underlying.embedded.clear()
    assert embedder.embed_documents(texts) == first
    assert underlying.embedded == []  # served from Redis
    assert embedder.embed_documents(["new text", texts[1]])[1] == first[1]
    assert underlying.embedded == ["new text"]
    assert len(list(byte_store.yield_keys(prefix="counting-8"))) == 3
    underlying.embedded.clear()
    assert embedder.embed_query("a question") == embedder.embed_query("a question")
    assert underlying.embedded == ["a question"]


async def test_cache_backed_embeddings_async(config):
    underlying = CountingEmbeddings()
    store = RedisByteStore(config=config, namespace="async-embeddings")
    embedder = CacheBackedEmbeddings.from_bytes_store(
        underlying, store, namespace="m", key_encoder="sha256"
    )
    first = await embedder.aembed_documents(["a", "b"])
    underlying.embedded.clear()
    assert await embedder.aembed_documents(["b", "a"]) == [first[1], first[0]]
    assert underlying.embedded == []
    # A second store on the same namespace sees the same cache.
    again = CacheBackedEmbeddings.from_bytes_store(
        underlying,
        RedisByteStore(config=config, namespace="async-embeddings"),
        namespace="m",
        key_encoder="sha256",
    )
    assert again.embed_documents(["a"]) == [first[0]]
    assert underlying.embedded == []


@pytest.mark.parametrize("cls", [RedisStore, RedisByteStore])
def test_docstring_examples_run(cls):
    blocks = code_blocks(cls.__doc__)
    assert blocks
    for block in blocks:
        assert 'url="embedded"' in block
        run_example(block)


def test_mdelete_of_a_string_is_refused_not_split_into_characters(config):
    store = RedisStore(config=config)
    store.mset([("a", 1), ("b", 2), ("c", 3), ("abc", 4)])
    with pytest.raises(TypeError, match="list of str keys"):
        store.mdelete("abc")
    assert store.mget(["a", "b", "c", "abc"]) == [1, 2, 3, 4]
