"""langchain_redis_memory.RedisCache and RedisSemanticCache as LangChain users use them."""

from __future__ import annotations

import asyncio

import pytest
from langchain_core.globals import set_llm_cache
from langchain_core.language_models.fake import FakeListLLM
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.load import dumps
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage
from langchain_core.outputs import ChatGeneration, Generation

from langchain_redis_memory import MiniLMEmbeddings, RedisCache, RedisSemanticCache
from langchain_redis_memory.cache import chat_prompt

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
