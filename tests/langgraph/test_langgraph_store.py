"""RedisLongTermStore: LangGraph's BaseStore on the long-term memory engine.

Most tests are LangGraph's own store tests (InMemoryStore's in libs/checkpoint and
PostgresStore's in libs/checkpoint-postgres), rewritten for this store and run
twice, through the sync methods and through the async ones. Where this store
differs from InMemoryStore on purpose (see the class docstring), the test says so.
Get/put/list/delete and search without a query also run on the cluster pass,
with a store built ``search=False``; search by query is marked ``search``.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections import Counter
from datetime import UTC
from typing import Any

import pytest
from _examples import code_blocks, run_example
from _waiting import wait_until_async
from langchain.agents import create_agent
from langchain.tools import ToolRuntime
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.tools import tool
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.config import get_config, get_store
from langgraph.store.base import (
    GetOp,
    InvalidNamespaceError,
    Item,
    ListNamespacesOp,
    MatchCondition,
    PutOp,
    SearchItem,
    SearchOp,
)

from langchain_redis_memory.long_term import RedisLongTermStore
from redis_memory.errors import SearchModuleMissingError

# The store needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

TTL_SECONDS = 6
TTL_MINUTES = TTL_SECONDS / 60


class CharacterEmbeddings(Embeddings):
    """Character-frequency vectors, as LangGraph's store tests embed: no model needed.

    Each character counts on its own axis (its code point modulo ``dims``), so the
    cosine of two texts is the cosine of their character counts, exactly.
    """

    def __init__(self, dims: int = 512) -> None:
        self.dims = dims
        self.calls = 0

    def embed_query(self, text: str) -> list[float]:
        self.calls += 1
        vector = [0.0] * self.dims
        for char, count in Counter(text).items():
            vector[ord(char) % self.dims] += count
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.embed_query(text) for text in texts]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CharacterEmbeddings) and other.dims == self.dims


def cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True)) / (
        math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    )


class Api:
    """A store's sync or async methods behind one awaitable face: each test runs both."""

    def __init__(self, store: RedisLongTermStore, asynchronous: bool) -> None:
        self.store = store
        self.asynchronous = asynchronous

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.store, "a" + name if self.asynchronous else name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            result = method(*args, **kwargs)
            return await result if self.asynchronous else result

        return call


def on_cluster(redis_url: str) -> bool:
    return "cluster" in redis_url


@pytest.fixture(params=["sync", "async"])
def asynchronous(request: pytest.FixtureRequest) -> bool:
    return request.param == "async"


@pytest.fixture
def store(config, redis_url) -> RedisLongTermStore:
    """A store without index; without search on the cluster (which lacks the module)."""
    return RedisLongTermStore(
        config=config,
        ttl={"default_ttl": None, "refresh_on_read": True},
        search=not on_cluster(redis_url),
    )


@pytest.fixture
def api(store, asynchronous) -> Api:
    return Api(store, asynchronous)


@pytest.fixture
def fake_embeddings() -> CharacterEmbeddings:
    return CharacterEmbeddings()


def vector_store(
    config,
    embeddings: Embeddings,
    fields: list[str] | None = None,
    name: str = "vectors",
    **options: Any,
) -> RedisLongTermStore:
    index: dict[str, Any] = {"dims": 512, "embed": embeddings}
    if fields is not None:
        index["fields"] = fields
    return RedisLongTermStore(config=config, name=name, index=index, **options)


@pytest.fixture
def vapi(config, fake_embeddings, asynchronous) -> Api:
    store = vector_store(config, fake_embeddings, ttl={"default_ttl": 2, "refresh_on_read": True})
    return Api(store, asynchronous)


# -- batches (PostgresStore's tests) -------------------------------------------


async def test_batch_order(api):
    await api.put(("test", "foo"), "key1", {"data": "value1"})
    await api.put(("test", "bar"), "key2", {"data": "value2"})

    results = await api.batch(
        [
            GetOp(namespace=("test", "foo"), key="key1"),
            PutOp(namespace=("test", "bar"), key="key2", value={"data": "value2"}),
            SearchOp(namespace_prefix=("test",), filter={"data": "value1"}, limit=10, offset=0),
            ListNamespacesOp(match_conditions=None, max_depth=None, limit=10, offset=0),
            GetOp(namespace=("test",), key="key3"),
        ]
    )
    assert len(results) == 5
    assert isinstance(results[0], Item)
    assert results[0].value == {"data": "value1"}
    assert results[0].key == "key1"
    assert results[1] is None
    assert [item.key for item in results[2]] == ["key1"]
    assert results[3] == [("test", "bar"), ("test", "foo")]
    assert results[4] is None

    reordered = await api.batch(
        [
            SearchOp(namespace_prefix=("test",), filter=None, limit=5, offset=0),
            GetOp(namespace=("test", "bar"), key="key2"),
            ListNamespacesOp(match_conditions=None, max_depth=None, limit=5, offset=0),
            PutOp(namespace=("test",), key="key3", value={"data": "value3"}),
            GetOp(namespace=("test", "foo"), key="key1"),
        ]
    )
    assert len(reordered) == 5
    assert {item.key for item in reordered[0]} == {"key1", "key2"}
    assert reordered[1].value == {"data": "value2"}
    assert reordered[1].key == "key2"
    assert reordered[2] == [("test", "bar"), ("test", "foo")]
    assert reordered[3] is None
    assert reordered[4].value == {"data": "value1"}
    assert (await api.get(("test",), "key3")).value == {"data": "value3"}


async def test_batch_get_ops(api):
    await api.put(("test",), "key1", {"data": "value1"})
    await api.put(("test",), "key2", {"data": "value2"})

    results = await api.batch(
        [
            GetOp(namespace=("test",), key="key1"),
            GetOp(namespace=("test",), key="key2"),
            GetOp(namespace=("test",), key="key3"),
        ]
    )
    assert [r.key if r else None for r in results] == ["key1", "key2", None]


async def test_batch_put_ops(api):
    await api.put(("test",), "key3", {"data": "soon deleted"})
    results = await api.batch(
        [
            PutOp(namespace=("test",), key="key1", value={"data": "value1"}),
            PutOp(namespace=("test",), key="key2", value={"data": "value2"}),
            PutOp(namespace=("test",), key="key3", value=None),  # a delete
        ]
    )
    assert results == [None, None, None]
    assert (await api.get(("test",), "key1")).value == {"data": "value1"}
    assert (await api.get(("test",), "key2")).value == {"data": "value2"}
    assert await api.get(("test",), "key3") is None


async def test_batch_reads_see_the_store_before_its_puts_and_the_last_put_wins(api):
    # As InMemoryStore and PostgresStore run a batch: reads first, then the puts,
    # one per key (the last one given).
    await api.put(("test",), "key", {"n": 0})
    results = await api.batch(
        [
            PutOp(("test",), "key", {"n": 1}),
            GetOp(("test",), "key"),
            PutOp(("test",), "key", {"n": 2}),
            PutOp(("test",), "new", {"n": 3}),
            SearchOp(("test",)),
            PutOp(("test",), "new", None),
        ]
    )
    assert results[1].value == {"n": 0}
    assert [item.value for item in results[4]] == [{"n": 0}]
    assert (await api.get(("test",), "key")).value == {"n": 2}
    assert await api.get(("test",), "new") is None


async def test_batch_search_ops(api):
    for namespace, key, value in [
        (("test", "foo"), "key1", {"data": "value1", "tag": "a"}),
        (("test", "bar"), "key2", {"data": "value2", "tag": "a"}),
        (("test", "baz"), "key3", {"data": "value3", "tag": "b"}),
    ]:
        await api.put(namespace, key, value)

    results = await api.batch(
        [
            SearchOp(namespace_prefix=("test",), filter={"tag": "a"}, limit=10, offset=0),
            SearchOp(namespace_prefix=("test",), filter=None, limit=2, offset=0),
            SearchOp(namespace_prefix=("test", "foo"), filter=None, limit=10, offset=0),
        ]
    )
    assert len(results[0]) == 2
    assert all(item.value["tag"] == "a" for item in results[0])
    assert len(results[1]) == 2
    assert [item.namespace for item in results[2]] == [("test", "foo")]
    assert all(isinstance(item, SearchItem) and item.score is None for item in results[1])


async def test_batch_list_namespaces_ops(api):
    test_data = [
        (("test", "documents", "public"), "doc1", {"content": "public doc"}),
        (("test", "documents", "private"), "doc2", {"content": "private doc"}),
        (("test", "images", "public"), "img1", {"content": "public image"}),
        (("prod", "documents", "public"), "doc3", {"content": "prod doc"}),
    ]
    for namespace, key, value in test_data:
        await api.put(namespace, key, value)

    results = await api.batch(
        [
            ListNamespacesOp(match_conditions=None, max_depth=None, limit=10, offset=0),
            ListNamespacesOp(match_conditions=None, max_depth=2, limit=10, offset=0),
            ListNamespacesOp(
                match_conditions=(MatchCondition("suffix", ("public",)),),
                max_depth=None,
                limit=10,
                offset=0,
            ),
        ]
    )
    assert sorted(results[0]) == sorted(ns for ns, _, _ in test_data)
    assert results[1] == [("prod", "documents"), ("test", "documents"), ("test", "images")]
    assert results[2] == [
        ("prod", "documents", "public"),
        ("test", "documents", "public"),
        ("test", "images", "public"),
    ]


# -- get, put, delete ----------------------------------------------------------


async def test_basic_store_ops(api):
    namespace = ("test", "documents")
    await api.put(namespace, "doc1", {"title": "Test Document", "content": "Hello, World!"})
    item = await api.get(namespace, "doc1")
    assert item.namespace == namespace
    assert item.key == "doc1"
    assert item.value == {"title": "Test Document", "content": "Hello, World!"}
    assert item.created_at.tzinfo is UTC
    assert item.updated_at.tzinfo is UTC
    assert abs(item.created_at.timestamp() - time.time()) < 60

    await api.put(namespace, "doc1", {"title": "Updated Document", "content": "Hello, Updated!"})
    updated = await api.get(namespace, "doc1")
    assert updated.value == {"title": "Updated Document", "content": "Hello, Updated!"}
    assert updated.updated_at > item.updated_at
    assert updated.created_at == item.created_at

    assert await api.get(("test", "other_documents"), "doc1") is None
    await api.delete(namespace, "doc1")
    assert await api.get(namespace, "doc1") is None
    await api.delete(namespace, "doc1")  # deleting what is gone is no error


async def test_invalid_namespaces_are_refused_as_langgraph_refuses_them(api):
    doc = {"foo": "bar"}
    for namespace in [(), ("the", "thing.about"), ("some", "fun", ""), ("langgraph", "foo")]:
        with pytest.raises(InvalidNamespaceError):
            await api.put(namespace, "foo", doc)
    # Past the public methods, LangGraph's root "langgraph" is a namespace as any other.
    await api.batch([PutOp(("langgraph", "foo"), "bar", doc)])
    assert (await api.get(("langgraph", "foo"), "bar")).value == doc
    assert (await api.search(("langgraph", "foo")))[0].value == doc
    await api.delete(("langgraph", "foo"), "bar")
    assert await api.get(("langgraph", "foo"), "bar") is None

    await api.put(("foo", "langgraph", "foo"), "bar", doc)
    assert (await api.get(("foo", "langgraph", "foo"), "bar")).value == doc
    # Through batch, what no Redis key could hold is still refused, and named.
    for op in [
        PutOp((), "k", doc),
        GetOp((), "k"),
        PutOp(("a", ""), "k", doc),
        SearchOp(("a", "")),
        ListNamespacesOp((MatchCondition("prefix", ("",)),)),
    ]:
        with pytest.raises(InvalidNamespaceError):
            await api.batch([op])


async def test_bad_values_and_keys_are_named(api):
    with pytest.raises(TypeError, match="dict"):
        await api.batch([PutOp(("test",), "k", ["not", "a", "dict"])])
    with pytest.raises(ValueError, match="must not be empty"):
        await api.put(("test",), "", {"v": 1})
    with pytest.raises(TypeError, match="minutes"):
        await api.put(("test",), "k", {"v": 1}, ttl="soon")
    assert await api.get(("test",), "k") is None


# -- list_namespaces (InMemoryStore's and PostgresStore's tests) ------------------


async def test_list_namespaces_basic(api):
    namespaces = [
        ("a", "b", "c"),
        ("a", "b", "d", "e"),
        ("a", "b", "d", "i"),
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
        ("users", "123"),
        ("users", "456", "settings"),
        ("admin", "users", "789"),
    ]
    for i, ns in enumerate(namespaces):
        await api.put(namespace=ns, key=f"id_{i}", value={"data": f"value_{i:02d}"})

    ab = [("a", "b", "c"), ("a", "b", "d", "e"), ("a", "b", "d", "i"), ("a", "b", "f")]
    assert await api.list_namespaces(prefix=("a", "b")) == ab
    assert await api.list_namespaces(suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert await api.list_namespaces(prefix=("a",), suffix=("f",)) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
    ]
    assert await api.list_namespaces(prefix=("a", "b"), max_depth=3) == [
        ("a", "b", "c"),
        ("a", "b", "d"),
        ("a", "b", "f"),
    ]
    assert await api.list_namespaces(prefix=("a", "b"), limit=2) == ab[:2]
    assert await api.list_namespaces(prefix=("a", "b"), offset=2) == ab[2:]
    assert await api.list_namespaces(prefix=("a", "*", "f")) == [("a", "b", "f"), ("a", "c", "f")]
    assert await api.list_namespaces(suffix=("*", "f")) == [
        ("a", "b", "f"),
        ("a", "c", "f"),
        ("b", "a", "f"),
    ]
    assert await api.list_namespaces(prefix=("nonexistent",)) == []
    assert await api.list_namespaces(prefix=("users", "123")) == [("users", "123")]


async def test_list_namespaces_with_wildcards(api):
    namespaces = [
        ("users", "123"),
        ("users", "456"),
        ("users", "789", "settings"),
        ("admin", "users", "789"),
        ("guests", "123"),
        ("guests", "456", "preferences"),
    ]
    for i, ns in enumerate(namespaces):
        await api.put(namespace=ns, key=f"id_{i}", value={"data": f"value_{i:02d}"})

    assert await api.list_namespaces(prefix=("users", "*")) == [
        ("users", "123"),
        ("users", "456"),
        ("users", "789", "settings"),
    ]
    assert await api.list_namespaces(suffix=("*", "preferences")) == [
        ("guests", "456", "preferences")
    ]
    assert await api.list_namespaces(prefix=("*", "users"), suffix=("*", "settings")) == []

    await api.put(("admin", "users", "settings", "789"), "foo", {"data": "some_val"})
    assert await api.list_namespaces(prefix=("*", "users"), suffix=("settings", "*")) == [
        ("admin", "users", "settings", "789")
    ]
    assert await api.list_namespaces(prefix=("*", "users"), max_depth=2, limit=1, offset=0) == [
        ("admin", "users")
    ]


async def test_list_namespaces_pagination(api):
    for i in range(20):
        await api.put(("namespace", f"sub_{i:02d}"), f"id_{i:02d}", {"data": f"value_{i:02d}"})

    for offset in (0, 5, 15):
        assert await api.list_namespaces(prefix=("namespace",), limit=5, offset=offset) == [
            ("namespace", f"sub_{i:02d}") for i in range(offset, offset + 5)
        ]


async def test_list_namespaces_max_depth_no_conditions_and_empty(api):
    assert await api.list_namespaces() == []
    for i, ns in enumerate(
        [("a", "b", "c", "d"), ("a", "b", "c", "e"), ("a", "b", "f"), ("a", "g"), ("h", "i", "j")]
    ):
        await api.put(ns, f"id_{i}", {"data": i})
    assert await api.list_namespaces(max_depth=2) == [("a", "b"), ("a", "g"), ("h", "i")]
    assert await api.list_namespaces() == [
        ("a", "b", "c", "d"),
        ("a", "b", "c", "e"),
        ("a", "b", "f"),
        ("a", "g"),
        ("h", "i", "j"),
    ]


async def test_list_namespaces_segment_boundary(api):
    for namespace in [
        ("foo",),
        ("foo", "child"),
        ("foobar",),
        ("foobar", "baz"),
        ("uid", "users", "alice"),
        ("uid", "users", "malice"),
        ("uid", "a", "b", "alice"),
    ]:
        await api.put(namespace, "k", {"v": 1})

    assert set(await api.list_namespaces(prefix=["foo"], limit=100)) == {("foo",), ("foo", "child")}
    assert set(await api.list_namespaces(suffix=["alice"], limit=100)) == {
        ("uid", "users", "alice"),
        ("uid", "a", "b", "alice"),
    }
    assert set(await api.list_namespaces(prefix=["uid", "*", "alice"], limit=100)) == {
        ("uid", "users", "alice")
    }
    assert len(await api.list_namespaces(prefix=["uid"], limit=100)) == 3


async def test_namespace_labels_with_trailing_newline(api):
    await api.put(("users", "alice"), "k", {"v": 1})
    await api.put(("users", "alice\n"), "k", {"v": 2})
    assert await api.list_namespaces(suffix=["alice"], limit=100) == [("users", "alice")]
    assert await api.list_namespaces(prefix=["users", "alice"], limit=100) == [("users", "alice")]
    assert [item.value for item in await api.search(("users", "alice\n"))] == [{"v": 2}]


# -- search without a query: any Redis ---------------------------------------------


async def test_search(api):
    test_data = [
        (("test", "docs"), "doc1", {"title": "First Doc", "author": "Alice", "tags": ["a"]}),
        (("test", "docs"), "doc2", {"title": "Second Doc", "author": "Bob", "tags": ["d"]}),
        (("test", "images"), "img1", {"title": "Image 1", "author": "Alice", "tags": ["f"]}),
    ]
    for namespace, key, value in test_data:
        await api.put(namespace, key, value)
        await asyncio.sleep(0.01)  # distinct updated times: the newest comes first

    assert [item.key for item in await api.search(["test"])] == ["img1", "doc2", "doc1"]
    docs = await api.search(["test", "docs"])
    assert [item.key for item in docs] == ["doc2", "doc1"]
    assert all(item.namespace == ("test", "docs") for item in docs)
    alice = await api.search(["test"], filter={"author": "Alice"})
    assert [item.key for item in alice] == ["img1", "doc1"]
    assert [item.key for item in await api.search(["test"], limit=2)] == ["img1", "doc2"]
    assert [item.key for item in await api.search(["test"], offset=2)] == ["doc1"]
    # A list or dict value is compared whole; operators compare numbers.
    assert [i.key for i in await api.search(["test"], filter={"tags": ["d"]})] == ["doc2"]
    assert [i.key for i in await api.search(["test"], filter={"author": {"$ne": "Bob"}})] == [
        "img1",
        "doc1",
    ]


async def test_search_filters_with_operators(api):
    for i in range(12):
        await api.put(("test",), f"doc{i:02d}", {"score": i, "color": ["red", "blue"][i % 2]})
    found = await api.search(("test",), filter={"score": {"$gte": 3, "$lt": 9}, "color": "red"})
    assert sorted(item.key for item in found) == ["doc04", "doc06", "doc08"]
    found = await api.search(("test",), filter={"score": {"$gt": 10}})
    assert [item.key for item in found] == ["doc11"]
    found = await api.search(("test",), filter={"score": {"$lte": 1}, "color": {"$eq": "blue"}})
    assert [item.key for item in found] == ["doc01"]


async def test_search_namespace_segment_boundary(api):
    for namespace in [
        ("foo",),
        ("foo", "child"),
        ("foo", "child", "deep"),
        ("foobar",),
        ("foobar", "baz"),
        ("foo2",),
    ]:
        await api.put(namespace, "k", {"v": 1})

    async def namespaces(prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        return {item.namespace for item in await api.search(prefix, limit=100)}

    assert await namespaces(("foo",)) == {("foo",), ("foo", "child"), ("foo", "child", "deep")}
    assert await namespaces(("foobar",)) == {("foobar",), ("foobar", "baz")}
    assert await namespaces(("foo", "child")) == {("foo", "child"), ("foo", "child", "deep")}
    assert await namespaces(("foo2",)) == {("foo2",)}
    assert await namespaces(("fo",)) == set()
    # An empty prefix constrains nothing.
    assert len(await namespaces(())) == 6


async def test_search_namespace_like_metacharacters(api):
    for namespace in [("user_1",), ("user_1", "child"), ("userX1",), ("a%b",), ("axxb",)]:
        await api.put(namespace, "k", {"v": 1})

    async def namespaces(prefix: tuple[str, ...]) -> set[tuple[str, ...]]:
        return {item.namespace for item in await api.search(prefix, limit=100)}

    assert await namespaces(("user_1",)) == {("user_1",), ("user_1", "child")}
    assert await namespaces(("a%b",)) == {("a%b",)}


HOSTILE = [
    "a-b",
    "a.b",
    "a#b",
    "a@b",
    "a?b",
    "a,b",
    "{a}",
    "}",
    "a*",
    "a:b",
    '"a"',
    "'a'",
    "a b",
    "a|b",
    "@nsp:{*}",
    "%7B",
    "\\",
    "[x",
    "a]",
    "é ü",
]
HOSTILE_QUERIES = [
    "secret",
    "*",
    "secret | *",
    "-secret",
    '"secret" @nsp:{*}',
    ") | (@text:secret",
    "{*}",
    "secret => [KNN 100 @vec $vector]",
    "%secret%",
]


def test_tenants_never_see_each_others_items(store, redis_url):
    # Through batch, which checks nothing LangGraph's public methods would (a "." too).
    puts = []
    for label in HOSTILE:
        puts += [
            PutOp(("tenant", label), "k", {"text": f"secret of {label}", "who": label}),
            PutOp((label,), "k", {"text": f"secret of {label}", "who": label}),
            PutOp(("tenant", label, "deep"), "k", {"text": "secret deeper", "who": label}),
        ]
    assert store.batch(puts) == [None] * len(puts)
    queries = HOSTILE_QUERIES if store.memory.search_enabled else [None]
    for label in HOSTILE:
        got = store.batch([GetOp(("tenant", label), "k"), GetOp((label,), "k")])
        assert [item.value["who"] for item in got] == [label, label]
        for prefix in [("tenant", label), (label,)]:
            ops = [SearchOp(prefix, query=q, limit=100) for q in queries]
            ops.append(SearchOp(prefix, filter={"who": {"$ne": label}}, limit=100))
            *found, others = store.batch(ops)
            for query, items in zip(queries, found, strict=True):
                assert {item.value["who"] for item in items} <= {label}, (prefix, query)
                if query is None or query in ("secret", "secret | *", "%secret%"):
                    assert items
                    assert all(item.namespace[: len(prefix)] == prefix for item in items)
            assert others == []
        listed = store.batch([ListNamespacesOp((MatchCondition("prefix", ("tenant", label)),))])
        if label != "*":  # a "*" label is LangGraph's wildcard
            assert listed == [[("tenant", label), ("tenant", label, "deep")]]
    everyone = store.search(("tenant",), limit=1000)
    assert len(everyone) == 2 * len(HOSTILE)


# -- search by query: full text without an index (the Search module) ---------------


@pytest.mark.search
async def test_search_by_words_without_an_index(api):
    await api.put(("users", "ana"), "diet", {"text": "Ana is vegetarian", "n": 1})
    await api.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon", "n": 2})
    await api.put(("users", "bo"), "diet", {"text": "Bo is vegetarian too", "n": 3})
    await api.put(("users", "ana"), "hidden", {"text": "vegetarian"}, index=False)
    await api.put(("users", "ana"), "some", {"text": "x", "note": "vegetarian"}, index=["text"])

    found = await api.search(("users", "ana"), query="what does a vegetarian eat?")
    assert [item.key for item in found] == ["diet"]
    assert found[0].score == 1.0
    found = await api.search(("users",), query="vegetarian Lisbon", filter={"n": {"$gte": 2}})
    assert {item.key for item in found} == {"city", "diet"}
    assert all(item.namespace == ("users", "bo") or item.key == "city" for item in found)
    assert await api.search(("users",), query="nothing matches") == []


def test_a_query_on_a_store_without_search_says_so(config):
    plain = RedisLongTermStore(config=config, search=False)
    plain.put(("users",), "k", {"text": "hello"})
    with pytest.raises(ValueError, match="search=False"):
        plain.search(("users",), query="hello")
    assert [item.key for item in plain.search(("users",), query="  ")] == ["k"]


def test_without_search_module_the_engine_error_propagates(redis_url, prefix):
    if not on_cluster(redis_url):
        pytest.skip("the cluster pass has a server without Search")
    with pytest.raises(SearchModuleMissingError):
        RedisLongTermStore(url=redis_url)
    assert RedisLongTermStore(url=redis_url, search=False).get(("x",), "y") is None


# -- search by meaning: LangGraph's vector tests -----------------------------------


@pytest.mark.search
def test_vector_store_initialization(config, fake_embeddings):
    store = vector_store(config, fake_embeddings)
    assert store.index_config is not None
    assert store.index_config["dims"] == 512
    assert store.index_config["embed"] == fake_embeddings


@pytest.mark.search
async def test_vector_insert_with_auto_embedding(vapi):
    for key, value in [
        ("doc1", {"text": "short text"}),
        ("doc2", {"text": "longer text document"}),
        ("doc3", {"text": "longest text document here"}),
        ("doc4", {"description": "text in description field"}),
        ("doc5", {"content": "text in content field"}),
        ("doc6", {"body": "text in body field"}),
    ]:
        await vapi.put(("test",), key, value)

    results = await vapi.search(("test",), query="long text")
    assert {"doc2", "doc3"} <= {r.key for r in results}
    assert len(results) == 6
    assert [r.score for r in results] == sorted((r.score for r in results), reverse=True)


@pytest.mark.search
async def test_vector_update_with_embedding(vapi):
    await vapi.put(("test",), "doc1", {"text": "zany zebra Xerxes"})
    await vapi.put(("test",), "doc2", {"text": "something about dogs"})
    await vapi.put(("test",), "doc3", {"text": "text about birds"})

    initial = await vapi.search(("test",), query="Zany Xerxes")
    assert initial[0].key == "doc1"
    initial_score = initial[0].score

    await vapi.put(("test",), "doc1", {"text": "new text about dogs"})
    after = await vapi.search(("test",), query="Zany Xerxes")
    after_score = next(r.score for r in after if r.key == "doc1")
    assert after_score < initial_score

    new = await vapi.search(("test",), query="new text about dogs")
    assert new[0].key == "doc1"
    assert new[0].score > after_score

    # Not indexed: found by get, never by a query.
    await vapi.put(("test",), "doc4", {"text": "new text about dogs"}, index=False)
    new = await vapi.search(("test",), query="new text about dogs", limit=3)
    assert not any(r.key == "doc4" for r in new)
    assert (await vapi.get(("test",), "doc4")).value == {"text": "new text about dogs"}


@pytest.mark.search
@pytest.mark.parametrize("refresh_ttl", [True, False])
async def test_vector_search_with_filters(vapi, refresh_ttl):
    for key, value in [
        ("doc1", {"text": "red apple", "color": "red", "score": 4.5}),
        ("doc2", {"text": "red car", "color": "red", "score": 3.0}),
        ("doc3", {"text": "green apple", "color": "green", "score": 4.0}),
        ("doc4", {"text": "blue car", "color": "blue", "score": 3.5}),
    ]:
        await vapi.put(("test",), key, value)

    results = await vapi.search(
        ("test",), query="apple", filter={"color": "red"}, refresh_ttl=refresh_ttl
    )
    assert [r.key for r in results] == ["doc1", "doc2"]
    results = await vapi.search(
        ("test",), query="car", filter={"color": "red"}, refresh_ttl=refresh_ttl
    )
    assert [r.key for r in results] == ["doc2", "doc1"]
    results = await vapi.search(
        ("test",), query="bbbbluuu", filter={"score": {"$gt": 3.2}}, refresh_ttl=refresh_ttl
    )
    assert len(results) == 3
    assert results[0].key == "doc4"
    results = await vapi.search(
        ("test",), query="apple", filter={"score": {"$gte": 4.0}, "color": "green"}
    )
    assert [r.key for r in results] == ["doc3"]


@pytest.mark.search
async def test_vector_search_pagination(vapi):
    for i in range(5):
        await vapi.put(("test",), f"doc{i}", {"text": f"test document number {i}"})

    page1 = await vapi.search(("test",), query="test", limit=2)
    page2 = await vapi.search(("test",), query="test", limit=2, offset=2)
    everything = await vapi.search(("test",), query="test", limit=10)
    assert len(page1) == len(page2) == 2
    assert len(everything) == 5
    assert [r.key for r in everything[:4]] == [r.key for r in page1 + page2]
    assert [r.score for r in everything] == sorted((r.score for r in everything), reverse=True)


@pytest.mark.search
async def test_vector_search_edge_cases(vapi):
    await vapi.put(("test",), "doc1", {"text": "test document"})
    for query in ["", None, "test " * 100, "test!@#$%^&*()"]:
        assert len(await vapi.search(("test",), query=query)) == 1, query


@pytest.mark.search
async def test_embed_with_path(config, fake_embeddings, asynchronous):
    # Differs from InMemoryStore: an item has one vector, of its fields' text joined,
    # not one per field with the best kept. So a field that alone matches the query
    # ranks its item first; a field left out of "fields" is never embedded.
    api = Api(vector_store(config, fake_embeddings, ["key0", "key1", "key3"]), asynchronous)
    doc1 = {"key1": "xxx", "key2": "yyy", "key3": "zzz"}  # no key0: no error
    doc2 = {"key0": "uuu", "key1": "vvv", "key2": "www", "key3": "xxx"}
    await api.put(("test",), "doc1", doc1)
    await api.put(("test",), "doc2", doc2)

    embed = fake_embeddings.embed_query
    results = await api.search(("test",), query="xxx")
    assert [r.key for r in results] == ["doc1", "doc2"]
    assert results[0].score == pytest.approx(cosine(embed("xxx"), embed("xxx zzz")), abs=1e-4)
    assert results[1].score == pytest.approx(cosine(embed("xxx"), embed("uuu vvv xxx")), abs=1e-4)
    results = await api.search(("test",), query="uuu")
    assert [r.key for r in results] == ["doc2", "doc1"]
    assert results[0].score > results[1].score
    results = await api.search(("test",), query="yyy www")  # key2 only: not embedded
    assert all(r.score < 0.2 for r in results)

    # Fields per put override the store's (which match nothing here).
    api = Api(
        vector_store(config, fake_embeddings, ["key17"], name="vectors2"),
        asynchronous,
    )
    doc3 = {"key0": "aaa", "key1": "bbb", "key2": "ccc", "key3": "ddd"}
    doc4 = {"key0": "eee", "key1": "bbb", "key2": "fff", "key3": "ggg"}
    await api.put(("test",), "doc3", doc3, index=["key0", "key1"])
    await api.put(("test",), "doc4", doc4, index=["key1", "key3"])
    results = await api.search(("test",), query="aaa")
    assert [r.key for r in results] == ["doc3", "doc4"]
    assert results[0].score > results[1].score
    results = await api.search(("test",), query="ggg")
    assert [r.key for r in results] == ["doc4", "doc3"]
    results = await api.search(("test",), query="bbb")
    assert {r.key for r in results} == {"doc3", "doc4"}
    assert results[0].score == pytest.approx(results[1].score, abs=1e-4)
    results = await api.search(("test",), query="ccc")
    assert all(r.score < 0.2 for r in results)

    await api.put(("test",), "doc5", {"key0": "hhh", "key1": "iii"}, index=False)
    results = await api.search(("test",))
    assert [r.key for r in results] == ["doc5", "doc4", "doc3"]
    assert all(r.score is None for r in results)
    # Differs from InMemoryStore (as PostgresStore): an unindexed item is not
    # appended, unscored, to a short page of a query's results.
    assert {r.key for r in await api.search(("test",), query="hhh")} == {"doc3", "doc4"}


def test_field_paths_langgraph_has_but_this_store_does_not_read_are_refused(
    config, fake_embeddings
):
    for path in ["items[0].value", "{a,b}", "a.*", "a[-1]"]:
        with pytest.raises(ValueError, match="unsupported field path"):
            vector_store(config, fake_embeddings, [path], search=False)
    store = vector_store(config, fake_embeddings, ["a.b", "c[*]", "d[*].e"], search=False)
    with pytest.raises(ValueError, match="unsupported field path"):
        store.put(("test",), "k", {"a": "x"}, index=["a[0]"])
    with pytest.raises(ValueError, match='needs "dims" and "embed"'):
        RedisLongTermStore(config=config, index={"embed": fake_embeddings}, search=False)


@pytest.mark.search
@pytest.mark.parametrize("query", ["aaa", "bbb", "ccc", "abcd", "poisson"])
def test_scores_are_cosine_similarities(config, fake_embeddings, query):
    store = vector_store(config, fake_embeddings, ["key0"])
    store.put(("test",), "doc", {"key0": "aaa"}, index=["key0", "key1"])
    [result] = store.search((), query=query)
    expected = cosine(fake_embeddings.embed_query(query), fake_embeddings.embed_query("aaa"))
    assert result.score == pytest.approx(expected, abs=1e-3)


@pytest.mark.search
async def test_non_ascii(vapi):
    texts = ["这是中文", "これは日本語です", "이건 한국어야", "Это русский", "यह रूसी है"]
    for i, text in enumerate(texts, 1):
        await vapi.put(("user_123", "memories"), str(i), {"text": text})
    for i, text in enumerate(texts, 1):
        assert (await vapi.search(("user_123", "memories"), query=text))[0].key == str(i)


@pytest.mark.search
async def test_async_concurrent_vector_searches(config, fake_embeddings):
    store = vector_store(config, fake_embeddings)
    colors = ["red", "blue", "green", "yellow", "purple"]
    things = ["apple", "car", "house", "book", "phone"]
    docs = [
        (
            f"doc{i}",
            {
                "text": f"{colors[i % 5]} {things[i % 5]}",
                "color": colors[i % 5],
                "score": [3.0, 3.5, 4.0, 4.5, 5.0][i % 5],
                "index": i,
            },
        )
        for i in range(50)
    ]
    # Concurrent calls are separate batches here (no AsyncBatchedBaseStore), so the
    # put/delete/put rounds of LangGraph's test run one after the other.
    await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))
    await asyncio.gather(*(store.adelete(("test",), key) for key, _ in docs))
    assert await store.asearch(("test",)) == []
    await asyncio.gather(*(store.aput(("test",), key, value) for key, value in docs))

    searches: list[tuple[str, dict[str, Any]]] = [
        ("apple", {"color": "red"}),
        ("car", {"color": "blue"}),
        ("phone", {"score": {"$gt": 4.99}}),
        ("book", {"score": {"$lte": 3.5}}),
        ("apple", {"score": {"$gte": 3.0}, "color": "red"}),
        ("house", {"index": {"$gt": 25}}),
        ("phone", {"index": {"$lte": 10}}),
    ]
    found = await asyncio.gather(
        *(store.asearch(("test",), query=q, filter=f) for q, f in searches)
    )
    ops = {"$gt": float.__gt__, "$gte": float.__ge__, "$lte": float.__le__}
    for results, (query, conditions) in zip(found, searches, strict=True):
        assert len(results) == 10, query
        for result in results:
            for field, condition in conditions.items():
                if isinstance(condition, dict):
                    for op, bound in condition.items():
                        assert ops[op](float(result.value[field]), float(bound))
                else:
                    assert result.value[field] == condition
    assert {r.value["text"] for r in found[0]} == {"red apple"}


# -- TTL (minutes, as LangGraph counts) ----------------------------------------------


async def test_ttl_is_a_redis_expiry_renewed_by_reads_that_ask(api, store, redis_client):
    ns = ("foo",)
    key = store.memory.key_of(ns, "item1")
    await api.put(ns, "item1", {"foo": "bar"}, ttl=TTL_MINUTES)
    assert 5000 < redis_client.pttl(key) <= 6000

    redis_client.pexpire(key, 3000)
    assert await api.get(ns, "item1", refresh_ttl=False) is not None
    assert redis_client.pttl(key) <= 3000
    assert await api.get(ns, "item1") is not None  # refresh_on_read: True
    assert redis_client.pttl(key) > 5000

    redis_client.pexpire(key, 3000)
    assert len(await api.search(ns, refresh_ttl=False)) == 1
    assert redis_client.pttl(key) <= 3000
    assert len(await api.search(ns)) == 1
    assert redis_client.pttl(key) > 5000
    if store.memory.search_enabled:
        redis_client.pexpire(key, 3000)
        assert len(await api.search(ns, query="bar")) == 1
        assert redis_client.pttl(key) > 5000

    await api.put(ns, "item1", {"foo": "bar"}, ttl=None)
    assert redis_client.pttl(key) == -1
    await api.put(ns, "item1", {"foo": "bar"})  # default_ttl: None
    assert redis_client.pttl(key) == -1


async def test_a_search_renews_items_of_every_slot(api, store, redis_client):
    # Namespaces with different first labels live in different hash slots of a cluster.
    namespaces = [(f"user{i}", "memories") for i in range(8)]
    for ns in namespaces:
        await api.put(ns, "k", {"text": "hello"}, ttl=TTL_MINUTES)
    keys = [store.memory.key_of(ns, "k") for ns in namespaces]
    for key in keys:
        redis_client.pexpire(key, 3000)
    assert len(await api.search((), limit=100)) == len(namespaces)
    assert all(redis_client.pttl(key) > 5000 for key in keys)


async def test_ttl_config_default_and_refresh_on_read(config, redis_client, asynchronous):
    store = RedisLongTermStore(
        config=config,
        ttl={"default_ttl": TTL_MINUTES, "refresh_on_read": False, "sweep_interval_minutes": 1},
        search=False,
    )
    api = Api(store, asynchronous)
    key = store.memory.key_of(("foo",), "k")
    await api.put(("foo",), "k", {"v": 1})
    assert 5000 < redis_client.pttl(key) <= 6000
    redis_client.pexpire(key, 3000)
    await api.get(("foo",), "k")
    await api.search(("foo",))
    assert redis_client.pttl(key) <= 3000
    await api.get(("foo",), "k", refresh_ttl=True)
    assert redis_client.pttl(key) > 5000


async def test_expired_items_are_gone_from_every_read(api, redis_client):
    await api.put(("gone",), "soon", {"data": "x"}, ttl=1)  # a minute: readable for sure
    await api.put(("gone", "kept"), "k", {"data": "y"})
    assert (await api.get(("gone",), "soon", refresh_ttl=False)) is not None
    await api.put(("gone",), "soon", {"data": "x"}, ttl=0.2 / 60)  # now 0.2 s
    key = api.store.memory.key_of(("gone",), "soon")

    async def expired() -> bool:
        return not redis_client.exists(key)

    await wait_until_async(expired, what="the item's key to expire")
    assert await api.get(("gone",), "soon") is None
    assert [item.key for item in await api.search(("gone",))] == ["k"]
    assert await api.list_namespaces(prefix=("gone",)) == [("gone", "kept")]


# -- costs -------------------------------------------------------------------------


def test_budgets_get_put_and_a_batch(config, count_commands, round_trips, redis_url):
    store = RedisLongTermStore(
        client=round_trips.client, config=config, search=not on_cluster(redis_url)
    )
    store.put(("users", "ana"), "a", {"text": "hello"})
    store.get(("users", "ana"), "a")  # loads the script
    round_trips.count = 0
    with count_commands() as get:
        assert store.get(("users", "ana"), "a").value == {"text": "hello"}
    assert round_trips.count == 1
    assert get.by_name == {"evalsha": 1, "hmget": 1, "hget": 1}

    round_trips.count = 0
    with count_commands() as put:
        store.put(("users", "ana"), "b", {"text": "bye"})
    assert round_trips.count == 1
    assert put.by_name == {"multi": 1, "hsetnx": 1, "hdel": 1, "hset": 1, "persist": 1, "exec": 1}

    round_trips.count = 0
    store.batch(
        [
            GetOp(("users", "ana"), "a"),
            GetOp(("users", "ana"), "b"),
            PutOp(("users", "ana"), "c", {"text": "c"}),
            PutOp(("users", "ana"), "b", None),
        ]
    )
    assert round_trips.count == 4  # one per operation: the engine has no batched get


# -- LangGraph agents and tools ------------------------------------------------------


@tool
def save_memory(text: str, runtime: ToolRuntime) -> str:
    """Save something worth remembering about the user."""
    user = runtime.config["configurable"]["user_id"]
    key = f"m{len(runtime.store.search(('memories', user), limit=100))}"
    runtime.store.put(("memories", user), key, {"text": text})
    return f"saved {key}"


@tool
async def recall() -> str:
    """Everything remembered about the user."""
    user = get_config()["configurable"]["user_id"]
    found = await get_store().asearch(("memories", user), limit=100)
    return "; ".join(sorted(item.value["text"] for item in found)) or "nothing yet"


class MemoryAgentModel(GenericFakeChatModel):
    """A fake chat model: "remember X" calls save_memory, "what do you know?" recall."""

    messages: Any = iter(())

    def bind_tools(self, tools: Any, **kwargs: Any) -> MemoryAgentModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"tool: {last.content}")
        elif last.content.startswith("remember "):
            args = {"text": last.content.removeprefix("remember ")}
            reply = AIMessage("", tool_calls=[{"name": "save_memory", "args": args, "id": "c1"}])
        elif last.content == "what do you know?":
            reply = AIMessage("", tool_calls=[{"name": "recall", "args": {}, "id": "c2"}])
        else:
            reply = AIMessage(f"echo: {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


async def test_an_agent_remembers_across_threads_of_one_user(store):
    agent = create_agent(
        MemoryAgentModel(), tools=[save_memory, recall], checkpointer=InMemorySaver(), store=store
    )

    def run(thread: str, user: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": thread, "user_id": user}}

    out = agent.invoke({"messages": [HumanMessage("remember I am vegetarian")]}, run("t1", "ana"))
    assert out["messages"][-1].content == "tool: saved m0"
    agent.invoke({"messages": [HumanMessage("remember I live in Lisbon")]}, run("t1", "ana"))
    assert (await store.aget(("memories", "ana"), "m1")).value == {"text": "I live in Lisbon"}

    # A later thread of the same user, run async, reads what the first one saved.
    out = await agent.ainvoke({"messages": [HumanMessage("what do you know?")]}, run("t2", "ana"))
    assert [m.content for m in out["messages"]] == [
        "what do you know?",
        "",
        "I am vegetarian; I live in Lisbon",
        "tool: I am vegetarian; I live in Lisbon",
    ]
    # Another user's thread sees none of it.
    out = await agent.ainvoke({"messages": [HumanMessage("what do you know?")]}, run("t3", "bo"))
    assert out["messages"][-1].content == "tool: nothing yet"
    assert store.list_namespaces(prefix=("memories",)) == [("memories", "ana")]


# -- the docstring ---------------------------------------------------------------------


@pytest.mark.search
def test_docstring_example_runs():
    blocks = code_blocks(RedisLongTermStore.__doc__)
    assert blocks
    for block in blocks:
        run_example(block)
