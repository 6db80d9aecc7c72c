"""The long-term memory engine: get/put/list/delete anywhere, search with the Search module."""

from __future__ import annotations

import time

import pytest
from _waiting import wait_until_async

from redis_memory import TTL
from redis_memory.embedded import EmbeddedRedis
from redis_memory.embeddings import MiniLMEmbedder
from redis_memory.errors import SearchModuleMissingError, SerializationError
from redis_memory.memory import AsyncMemoryStore, MemoryStore, query_words, text_of

pytestmark = pytest.mark.acl_user


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEmbedder()


@pytest.fixture
def plain(config):
    """A store without search: what works on any Redis, Cluster included."""
    return MemoryStore("plain", config=config, search=False)


def test_put_get_update_delete_on_any_redis(plain):
    ns = ("users", "ana")
    plain.put(ns, "diet", {"text": "vegetarian"}, tags=["food"])
    first = plain.get(ns, "diet")
    assert first.value == {"text": "vegetarian"}
    assert first.tags == ("food",)
    time.sleep(0.01)
    plain.put(ns, "diet", {"text": "vegan"})
    second = plain.get(ns, "diet")
    assert second.value == {"text": "vegan"}
    assert second.created_at == first.created_at
    assert second.updated_at > first.updated_at
    assert plain.delete(ns, "diet") is True
    assert plain.get(ns, "diet") is None
    assert plain.delete(ns, "diet") is False


def test_list_without_search_reads_the_prefix_newest_first(plain):
    plain.put(("u", "a"), "1", {"n": 1})
    plain.put(("u", "a", "deep"), "2", {"n": 2})
    plain.put(("u", "b"), "3", {"n": 3})
    plain.put(("u", "ab"), "4", {"n": 4})
    found = plain.search(("u", "a"))
    assert [item.key for item in found] == ["2", "1"]
    assert [item.key for item in plain.search(("u",), filter={"n": {"$gte": 3}})] == ["4", "3"]
    assert plain.list_namespaces(prefix=("u",)) == [
        ("u", "a"),
        ("u", "a", "deep"),
        ("u", "ab"),
        ("u", "b"),
    ]
    assert plain.list_namespaces(max_depth=1) == [("u",)]
    assert plain.list_namespaces(suffix=("deep",)) == [("u", "a", "deep")]


@pytest.mark.parametrize(
    "label", ["a:b", "{x}", "*", "a-b.c#d@e?f,g", '"quoted"', "'single'", "with space", "%41"]
)
def test_hostile_namespace_labels_stay_apart(plain, label):
    plain.put(("t", label), "k", {"who": label})
    plain.put(("t", label + "x"), "k", {"who": "other"})
    assert [item.value["who"] for item in plain.search(("t", label))] == [label]
    assert plain.get(("t", label), "k").namespace == ("t", label)


def test_bad_input_is_named(plain):
    with pytest.raises(TypeError, match="tuple of strings"):
        plain.put("users", "k", {})
    with pytest.raises(ValueError, match="non-empty str"):
        plain.put(("users", ""), "k", {})
    with pytest.raises(TypeError, match="is a dict"):
        plain.put(("users",), "k", ["not", "a", "dict"])
    with pytest.raises(SerializationError, match="cannot be stored"):
        plain.put(("users",), "k", {"when": object()})
    with pytest.raises(ValueError, match="unknown filter operator"):
        plain.search(("users",), filter={"n": {"$regex": "x"}})
    with pytest.raises(ValueError, match="search=False"):
        plain.search(("users",), "words")


@pytest.mark.search
def test_text_search_ranks_by_bm25_and_keeps_tenants_apart(config):
    store = MemoryStore("text", config=config)
    store.put(("users", "ana"), "diet", {"text": "Ana is vegetarian and loves lentils"})
    store.put(("users", "ana"), "city", {"text": "Ana lives in Lisbon"})
    store.put(("users", "bob"), "diet", {"text": "Bob is vegetarian too"})
    found = store.search(("users", "ana"), "vegetarian | lentils @key:{*}", limit=5)
    assert [item.key for item in found] == ["diet"]
    assert found[0].score == 1.0
    both = store.search(("users",), "vegetarian")
    assert {item.namespace for item in both} == {("users", "ana"), ("users", "bob")}


@pytest.mark.search
def test_vector_and_hybrid_search_with_filters(config, minilm):
    store = MemoryStore(
        "vec", config=config, embedder=minilm, filter_fields={"kind": "tag", "n": "numeric"}
    )
    ns = ("u", "a")
    store.put(ns, "hike", {"text": "I love hiking in the mountains", "kind": "hobby", "n": 3})
    store.put(ns, "dog", {"text": "My dog is called Rex", "kind": "pet", "n": 5})
    store.put(("u", "b"), "hike", {"text": "Tenant B loves mountains too", "kind": "hobby", "n": 1})
    vector = store.search(ns, "walks in the hills", mode="vector", limit=1)
    assert [item.key for item in vector] == ["hike"]
    hybrid = store.search(ns, "mountains", mode="hybrid")
    assert hybrid[0].key == "hike"
    assert {item.namespace for item in hybrid} == {ns}
    only_pets = store.search(("u",), "mountains", filter={"kind": "pet"})
    assert [item.key for item in only_pets] == ["dog"]
    big = store.search(("u",), "mountains", filter={"n": {"$gt": 1}, "kind": {"$in": ["hobby"]}})
    assert [(item.namespace, item.key) for item in big] == [(ns, "hike")]


@pytest.mark.search
def test_add_dedupes_by_content_and_by_meaning(config, minilm):
    exact = MemoryStore("exact", config=config, embedder=minilm)
    assert exact.add(("u",), {"text": "same"}) == exact.add(("u",), {"text": "same"})
    close = MemoryStore("close", config=config, embedder=minilm, dedupe_distance=0.1)
    first = close.add(("u",), {"text": "I love hiking in the mountains"})
    second = close.add(("u",), {"text": "I love hiking in the mountains!"})
    third = close.add(("u",), {"text": "The invoice is due on Friday"})
    assert first == second != third
    assert len(close.search(("u",))) == 2


@pytest.mark.search
def test_recency_weight_prefers_what_was_updated_last(config):
    store = MemoryStore("recent", config=config)
    store.put(("u",), "old", {"text": "coffee coffee coffee"})
    time.sleep(0.05)
    store.put(("u",), "new", {"text": "coffee"})
    assert store.search(("u",), "coffee")[0].key == "old"
    assert store.search(("u",), "coffee", recency_weight=0.9, half_life=0.01)[0].key == "new"


def test_ttl_per_store_and_per_item_and_sliding_refresh(config, redis_client):
    store = MemoryStore("ttl", config=config, ttl=TTL(60, sliding=True), search=False)
    store.put(("u",), "k", {"v": 1})
    store.put(("u",), "fixed", {"v": 2}, ttl=TTL(30))
    store.put(("u",), "forever", {"v": 3}, ttl=TTL(None))
    key, fixed, forever = (store.key_of(("u",), k) for k in ("k", "fixed", "forever"))
    assert 0 < redis_client.pttl(key) <= 60_000
    assert 0 < redis_client.pttl(fixed) <= 30_000
    assert redis_client.pttl(forever) == -1
    for name in (key, fixed):
        redis_client.pexpire(name, 5_000)
    assert store.get(("u",), "k").sliding_ttl == 60
    assert redis_client.pttl(key) > 5_000
    store.get(("u",), "fixed")
    assert redis_client.pttl(fixed) <= 5_000
    redis_client.pexpire(key, 5_000)
    assert {item.key for item in store.search(("u",))} == {"k", "fixed", "forever"}
    assert redis_client.pttl(key) > 5_000
    redis_client.pexpire(key, 5_000)
    store.search(("u",), refresh=False)
    assert redis_client.pttl(key) <= 5_000


def test_text_of_and_query_words():
    value = {"title": "Trip", "notes": ["by train", {"where": "Porto"}], "n": 3}
    assert text_of(value) == "Trip by train Porto"
    assert text_of(value, ["notes[*].where"]) == "Porto"
    assert query_words('ana @key:{*} -"x" | (lisbon)') == ["ana", "key", "x", "lisbon"]


@pytest.mark.search
async def test_async_twin(config, minilm):
    store = AsyncMemoryStore("async", config=config, embedder=minilm)
    await store.put(("u",), "k", {"text": "I play the piano"})
    assert (await store.get(("u",), "k")).value == {"text": "I play the piano"}
    [hit] = await store.search(("u",), "music instrument", limit=1)
    assert hit.key == "k"
    assert await store.list_namespaces() == [("u",)]
    assert [item.key async for item in store.iter_items()] == ["k"]
    assert await store.delete(("u",), "k") is True


@pytest.mark.search
async def test_async_create_index_brings_back_a_dropped_index(config, redis_client):
    store = AsyncMemoryStore("reindexed", config=config)
    await store.put(("u",), "k", {"text": "Ana plays the cello"})
    redis_client.execute_command("FT.DROPINDEX", store.index_name)
    await store.create_index()
    await store.create_index()  # an index that exists is left as it is
    # Redis indexes the keys already there in the background.
    [hit] = await wait_until_async(lambda: store.search(("u",), "cello", limit=1))
    assert hit.key == "k"


def test_search_on_a_server_without_search_says_so_once_at_construction(redis_url, prefix, request):
    if "cluster" not in redis_url:
        pytest.skip("the cluster pass has a server without Search")
    with pytest.raises(SearchModuleMissingError, match="memory store 'x'"):
        MemoryStore("x", url=redis_url)


@pytest.mark.search
def test_questions_full_of_stop_words_are_searched_safely(prefix):
    # Two stop words in a row in a query union crashed Redis Stack 7.4's Search
    # module (the whole server): a private server, so a regression kills only it.
    with EmbeddedRedis() as server:
        store = MemoryStore("stop", url=server.url)
        store.put(("u",), "k", {"text": "The train to Porto leaves at nine"})
        for question in ("is there a train?", "you is there train", "is it the one?", "the a"):
            store.search(("u",), question, mode="text")
        assert [hit.key for hit in store.search(("u",), "is there a train?")] == ["k"]
        assert server.client().ping()
    assert query_words("Is there a TRAIN to the sea?") == ["train", "sea"]


def test_add_refuses_a_value_that_would_not_read_back_naming_where(plain):
    with pytest.raises(
        SerializationError, match=r"the memory cannot be stored: value\['s'\] is a set"
    ):
        plain.add(("ana",), {"s": {1, 2}})
    assert plain.search(("ana",)) == []
