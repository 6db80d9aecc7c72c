"""LlamaIndex RedisKVStore on the core state store, under LlamaIndex's own stores."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

import pytest
from _examples import code_blocks, run_example
from llama_index.core import Document, StorageContext, SummaryIndex, load_index_from_storage
from llama_index.core.ingestion import IngestionCache, IngestionPipeline
from llama_index.core.node_parser import SentenceSplitter
from llama_index.core.schema import BaseNode, TransformComponent
from llama_index.core.storage.docstore.keyval_docstore import KVDocumentStore
from llama_index.core.storage.index_store.keyval_index_store import KVIndexStore
from llama_index.core.storage.kvstore.types import BaseKVStore

from llama_index_redis_memory.kvstore import RedisKVStore
from redis_memory import TTL, SerializationError, TTLPolicy

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


@pytest.fixture
def kvstore(config):
    return RedisKVStore(config=config)


# Outside the component: a pydantic field would change the transformation's hash.
CALLS: list[int] = []


class CountingUpper(TransformComponent):
    """Upper-cases node text and counts the nodes it transforms."""

    def __call__(self, nodes: Sequence[BaseNode], **kwargs: Any) -> Sequence[BaseNode]:
        CALLS.append(len(nodes))
        for node in nodes:
            node.set_content(node.get_content().upper())
        return nodes


def test_it_is_a_base_kv_store(kvstore):
    assert isinstance(kvstore, BaseKVStore)


def test_put_get_delete(kvstore):
    assert kvstore.get("k") is None
    kvstore.put("k", {"a": 1, "nested": {"b": []}})
    assert kvstore.get("k") == {"a": 1, "nested": {"b": []}}
    kvstore.put("k", {"a": 2}, collection="other")
    assert kvstore.get("k") == {"a": 1, "nested": {"b": []}}
    assert kvstore.get("k", collection="other") == {"a": 2}
    assert kvstore.get_all() == {"k": {"a": 1, "nested": {"b": []}}}
    assert kvstore.get_all(collection="other") == {"k": {"a": 2}}
    assert kvstore.get_all(collection="empty") == {}
    assert kvstore.delete("k") is True
    assert kvstore.delete("k") is False
    assert kvstore.get("k") is None
    assert kvstore.get("k", collection="other") == {"a": 2}


async def test_async_twins(kvstore):
    await kvstore.aput("k", {"a": 1}, collection="c/1")
    assert await kvstore.aget("k", collection="c/1") == {"a": 1}
    await kvstore.aput_all([(f"n{i}", {"i": i}) for i in range(5)], collection="c/1", batch_size=2)
    assert await kvstore.aget_all(collection="c/1") == {
        "k": {"a": 1},
        **{f"n{i}": {"i": i} for i in range(5)},
    }
    assert await kvstore.adelete("k", collection="c/1") is True
    assert await kvstore.adelete("k", collection="c/1") is False
    assert await kvstore.aget("k", collection="c/1") is None


def test_values_must_be_dicts_and_json(kvstore):
    with pytest.raises(TypeError, match="stores dicts"):
        kvstore.put("k", ["not", "a", "dict"])
    with pytest.raises(SerializationError, match="cannot be stored"):
        kvstore.put("k", {"a": object()})
    with pytest.raises(TypeError, match="stores dicts"):
        kvstore.put_all([("a", {"ok": 1}), ("b", "text")], batch_size=10)
    assert kvstore.get_all() == {}


def test_put_all_is_one_round_trip_per_batch(config, round_trips, count_commands):
    kvstore = RedisKVStore(client=round_trips.client, config=config)
    pairs = [(f"doc-{i}", {"text": f"t{i}"}) for i in range(25)]
    round_trips.count = 0
    with count_commands() as counted:
        kvstore.put_all(pairs, collection="docs", batch_size=10)
    assert round_trips.count == 3
    assert counted.by_name == {"multi": 3, "mset": 3, "publish": 3, "exec": 3}
    assert kvstore.get_all(collection="docs") == dict(pairs)
    round_trips.count = 0
    kvstore.put_all(pairs[:3], collection="docs")  # LlamaIndex's default batch size: 1
    assert round_trips.count == 3
    with pytest.raises(ValueError, match="batch_size"):
        kvstore.put_all(pairs, batch_size=0)


def test_get_all_reads_every_page(kvstore):
    pairs = [(f"node {i}", {"i": i}) for i in range(2500)]
    kvstore.put_all(pairs, collection="big", batch_size=1000)
    kvstore.put("outside", {"i": -1}, collection="big2")
    assert kvstore.get_all(collection="big") == dict(pairs)
    assert asyncio.run(kvstore.aget_all(collection="big")) == dict(pairs)


def test_ttl(config, redis_client):
    kvstore = RedisKVStore(config=config, ttl=30)
    kvstore.put("k", {"a": 1})
    kvstore.put_all([("m", {"b": 2})], batch_size=5)
    for key in ("k", "m"):
        pttl = redis_client.pttl(kvstore._store.schema.state("data", key))
        assert 29_000 < pttl <= 30_000
    policy = config.replace(ttl=TTLPolicy(state=60))
    RedisKVStore(config=policy).put("p", {})
    assert 59_000 < redis_client.pttl(kvstore._store.schema.state("data", "p")) <= 60_000
    RedisKVStore(config=policy, ttl=TTL(None)).put("n", {})
    assert redis_client.pttl(kvstore._store.schema.state("data", "n")) == -1
    with pytest.raises(ValueError, match="positive"):
        RedisKVStore(config=config, ttl=-5)


def test_under_kv_document_store(kvstore, config):
    docstore = KVDocumentStore(kvstore, namespace="docs", batch_size=50)
    documents = [Document(text=f"Document {i}.", id_=f"d{i}") for i in range(60)]
    docstore.add_documents(documents)
    assert docstore.get_document("d7").text == "Document 7."
    assert docstore.document_exists("d59")
    assert len(docstore.docs) == 60
    assert docstore.get_document_hash("d3") == documents[3].hash
    nodes = SentenceSplitter(chunk_size=64, chunk_overlap=0).get_nodes_from_documents(documents[:2])
    docstore.add_documents(nodes)
    assert set(docstore.get_all_ref_doc_info()) == {"d0", "d1"}
    assert docstore.get_ref_doc_info("d0").node_ids == [nodes[0].node_id]
    docstore.delete_ref_doc("d0")
    assert docstore.get_ref_doc_info("d0") is None
    assert not docstore.document_exists(nodes[0].node_id)
    # Another store on the same Redis sees the same documents.
    again = KVDocumentStore(RedisKVStore(config=config), namespace="docs")
    assert again.get_document("d7").text == "Document 7."


async def test_under_kv_document_store_async(kvstore):
    docstore = KVDocumentStore(kvstore, namespace="adocs")
    await docstore.async_add_documents([Document(text="async", id_="a1")])
    assert (await docstore.aget_document("a1")).text == "async"
    assert await docstore.adocument_exists("a1")
    await docstore.adelete_document("a1")
    assert not await docstore.adocument_exists("a1")


def test_an_index_persists_through_docstore_and_index_store(config):
    def storage() -> StorageContext:
        kvstore = RedisKVStore(config=config)
        return StorageContext.from_defaults(
            docstore=KVDocumentStore(kvstore), index_store=KVIndexStore(kvstore)
        )

    documents = [Document(text="Redis holds the index.", id_="doc-1")]
    index = SummaryIndex.from_documents(documents, storage_context=storage())
    index.set_index_id("summary")
    loaded = load_index_from_storage(storage(), index_id="summary")
    assert isinstance(loaded, SummaryIndex)
    assert loaded.index_struct.nodes == index.index_struct.nodes
    node = loaded.docstore.get_node(loaded.index_struct.nodes[0])
    assert node.get_content() == "Redis holds the index."
    index_store = KVIndexStore(RedisKVStore(config=config))
    assert [struct.index_id for struct in index_store.index_structs()] == ["summary"]
    index_store.delete_index_struct("summary")
    assert index_store.index_structs() == []


def test_ingestion_cache_serves_the_second_run(config):
    CALLS.clear()
    documents = [Document(text=f"Text number {i}.", id_=f"t{i}") for i in range(3)]

    def pipeline() -> IngestionPipeline:
        cache = IngestionCache(cache=RedisKVStore(config=config), collection="ingest")
        return IngestionPipeline(transformations=[CountingUpper()], cache=cache)

    first = pipeline().run(documents=[d.model_copy() for d in documents])
    assert CALLS == [3]
    second = pipeline().run(documents=[d.model_copy() for d in documents])
    assert CALLS == [3]  # from Redis: the transformation did not run again
    assert [n.get_content() for n in second] == [n.get_content() for n in first]
    assert second[0].get_content() == "TEXT NUMBER 0."
    changed = pipeline().run(documents=[Document(text="Another text.", id_="t9")])
    assert CALLS == [3, 1]
    assert changed[0].get_content() == "ANOTHER TEXT."
    cache = IngestionCache(cache=RedisKVStore(config=config), collection="ingest")
    assert len(cache.cache.get_all(collection="ingest")) == 2
    cache.clear()
    assert cache.cache.get_all(collection="ingest") == {}


async def test_ingestion_cache_async(config):
    CALLS.clear()
    cache = IngestionCache(cache=RedisKVStore(config=config), collection="aingest")
    pipeline = IngestionPipeline(transformations=[CountingUpper()], cache=cache)
    await pipeline.arun(documents=[Document(text="once", id_="o1")])
    await pipeline.arun(documents=[Document(text="once", id_="o1")])
    assert CALLS == [1]


def test_docstring_example_runs():
    blocks = code_blocks(RedisKVStore.__doc__)
    assert blocks
    for block in blocks:
        assert 'url="embedded"' in block
        run_example(block)
