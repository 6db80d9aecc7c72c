"""The LLM caches in front of real provider clients, counted in HTTP requests.

The other cache tests count calls of stand-in models. Here the models are the
real OpenAI clients of both frameworks (langchain-openai's ``ChatOpenAI`` and
LlamaIndex's ``OpenAI``), and what is counted is what they put on the wire:
vcrpy sits under httpx and answers each request from a cassette. A cache hit
must send no HTTP request at all, a miss exactly one.

The cassettes in ``tests/cache/cassettes/`` are hand-written, not recorded (these
tests run without network): each holds one interaction, a POST to
``https://api.openai.com/v1/chat/completions`` answered 200 with an OpenAI
chat-completion body. Their request bodies are what the clients send (checked
once by hand), but requests are matched on method, scheme, host and path only.

How a count is read: the cassette is loaded with ``record_mode="none"`` and
``allow_playback_repeats=False``, so its one response can be played once and a
request it cannot answer raises ``CannotOverwriteExistingCassetteException``
inside the transport instead of being sent: nothing ever reaches a provider, and
``cassette.play_count`` is the number of requests made. Every test ends with a
call that has no cache in front of it and asserts that this call tries a
request and is refused. That proves the cassette guard works, so a cache that
failed to hit would fail the test rather than quietly reach the network. The
two control tests show that without a cache the same call twice needs two
requests.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import openai
import pytest
import vcr
from _paths import TESTS
from langchain_core.globals import set_llm_cache
from langchain_core.messages import HumanMessage
from langchain_openai import ChatOpenAI
from llama_index.core.llms import ChatMessage
from llama_index.llms.openai import OpenAI
from vcr.cassette import Cassette
from vcr.errors import CannotOverwriteExistingCassetteException

from langchain_redis_memory import RedisCache, RedisSemanticCache
from llama_index_redis_memory import RedisCachedLLM, RedisLLMCache

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

CASSETTES = TESTS / "cache" / "cassettes"
MODEL = "gpt-4o-mini"
FAKE_KEY = "sk-test"

# allow_playback_repeats is a cassette option in vcrpy 9 (use_cassette), not a VCR one.
PLAYBACK = vcr.VCR(
    cassette_library_dir=str(CASSETTES),
    record_mode="none",
    match_on=["method", "scheme", "host", "path"],
)


@pytest.fixture(autouse=True)
def _offline_clients(monkeypatch):
    """Clients aimed at api.openai.com (the cassettes' host), no tracing, no global cache."""
    for name in (
        "OPENAI_BASE_URL",
        "OPENAI_API_BASE",
        "OPENAI_ORG_ID",
        "OPENAI_PROJECT_ID",
        "LANGSMITH_TRACING",
        "LANGCHAIN_TRACING_V2",
    ):
        monkeypatch.delenv(name, raising=False)
    set_llm_cache(None)
    yield
    set_llm_cache(None)


@contextmanager
def playback(name: str) -> Iterator[Cassette]:
    """One hand-written cassette, each interaction playable once, no network."""
    with PLAYBACK.use_cassette(name, allow_playback_repeats=False) as cassette:
        assert len(cassette) == 1
        assert cassette.play_count == 0
        yield cassette


def answer_of(cassette: Cassette) -> str:
    """The assistant's text in the cassette's response body."""
    body = cassette.responses[0]["body"]["string"]
    return json.loads(body)["choices"][0]["message"]["content"]


@contextmanager
def refused_request(cassette: Cassette) -> Iterator[None]:
    """The block must try an HTTP request, and the spent cassette must refuse it.

    vcrpy raises in the transport; the OpenAI SDK wraps that (as any transport
    error) in ``APIConnectionError``, with vcrpy's exception as the cause.
    """
    played = cassette.play_count
    with pytest.raises(
        (openai.APIConnectionError, CannotOverwriteExistingCassetteException)
    ) as excinfo:
        yield
    chain: list[BaseException] = []
    error: BaseException | None = excinfo.value
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, CannotOverwriteExistingCassetteException) for e in chain), chain
    assert cassette.play_count == played


def chat_openai(**kwargs: object) -> ChatOpenAI:
    return ChatOpenAI(model=MODEL, api_key=FAKE_KEY, max_retries=0, **kwargs)


def llama_openai() -> OpenAI:
    return OpenAI(model=MODEL, api_key=FAKE_KEY, max_retries=0)


# -- controls: without a cache, the same call twice needs two requests -------------------


def test_control_chat_openai_without_a_cache_needs_a_request_per_call():
    with playback("langchain_chat.yaml") as cassette:
        model = chat_openai()
        first = model.invoke([HumanMessage("What is Redis, in one sentence?")])
        assert first.content == answer_of(cassette)
        assert cassette.play_count == 1
        assert cassette.all_played
        with refused_request(cassette):
            model.invoke([HumanMessage("What is Redis, in one sentence?")])


def test_control_llama_index_openai_without_a_cache_needs_a_request_per_call():
    messages = [ChatMessage(role="user", content="What does LlamaIndex do?")]
    with playback("llama_index_chat.yaml") as cassette:
        llm = llama_openai()
        assert llm.chat(messages).message.content == answer_of(cassette)
        assert cassette.play_count == 1
        with refused_request(cassette):
            llm.chat(messages)


# -- LangChain -----------------------------------------------------------------------


def test_chat_openai_with_its_own_redis_cache_sends_one_request(config):
    cache = RedisCache(config=config)
    messages = [HumanMessage("What is Redis, in one sentence?")]
    with playback("langchain_chat.yaml") as cassette:
        model = chat_openai(cache=cache)
        first = model.invoke(messages)
        assert cassette.play_count == 1  # the miss: exactly one request
        second = model.invoke(messages)
        assert cassette.play_count == 1  # the hit: no request at all
        assert cassette.all_played
        assert first.content == second.content == answer_of(cassette)
        assert second.response_metadata["id"] == first.response_metadata["id"]
        assert (cache.stats.misses, cache.stats.exact_hits, cache.stats.errors) == (1, 1, 0)
        with refused_request(cassette):
            chat_openai().invoke(messages)


def test_chat_openai_through_set_llm_cache_sends_one_request(config):
    cache = RedisCache(config=config)
    set_llm_cache(cache)
    with playback("langchain_chat.yaml") as cassette:
        model = chat_openai()
        first = model.invoke("What is Redis, in one sentence?")
        assert cassette.play_count == 1
        second = model.invoke("What is Redis, in one sentence?")
        assert cassette.play_count == 1
        assert cassette.all_played
        assert first.content == second.content == answer_of(cassette)
        assert cache.stats.exact_hits == 1
        # cache=False opts a model out of the global cache: a real request again.
        with refused_request(cassette):
            chat_openai(cache=False).invoke("What is Redis, in one sentence?")


def test_chat_openai_with_the_semantic_cache_answers_a_paraphrase_without_a_request(config):
    cache = RedisSemanticCache(config=config, verifier=None, distance_threshold=0.15)
    with playback("langchain_semantic.yaml") as cassette:
        model = chat_openai(cache=cache)
        first = model.invoke("How do I learn Python quickly?")
        assert cassette.play_count == 1
        second = model.invoke("How can I learn Python fast?")
        assert cassette.play_count == 1
        assert cassette.all_played
        assert first.content == second.content == answer_of(cassette)
        assert (cache.stats.semantic_hits, cache.stats.exact_hits) == (1, 0)
        with refused_request(cassette):
            chat_openai().invoke("How can I learn Python fast?")


def test_the_semantic_cache_sends_a_request_for_an_unrelated_question(config):
    cache = RedisSemanticCache(config=config, verifier=None, distance_threshold=0.15)
    with playback("langchain_semantic.yaml") as cassette:
        model = chat_openai(cache=cache)
        model.invoke("How do I learn Python quickly?")
        assert cassette.play_count == 1
        with refused_request(cassette):
            model.invoke("What is the capital of France?")
        assert cache.stats.hits == 0


async def test_chat_openai_async_with_the_semantic_cache_sends_one_request(config):
    cache = RedisSemanticCache(config=config, verifier=None, distance_threshold=0.15)
    with playback("langchain_semantic_async.yaml") as cassette:
        model = chat_openai(cache=cache)
        first = await model.ainvoke("How do I learn Python quickly?")
        assert cassette.play_count == 1
        second = await model.ainvoke("How can I learn Python fast?")
        assert cassette.play_count == 1
        assert cassette.all_played
        assert first.content == second.content == answer_of(cassette)
        assert cache.stats.semantic_hits == 1
        with refused_request(cassette):
            await chat_openai().ainvoke("How can I learn Python fast?")


# -- LlamaIndex ----------------------------------------------------------------------


def test_llama_index_openai_chat_through_redis_cached_llm_sends_one_request(config):
    cache = RedisLLMCache(config=config)
    messages = [ChatMessage(role="user", content="What does LlamaIndex do?")]
    with playback("llama_index_chat.yaml") as cassette:
        llm = RedisCachedLLM(llm=llama_openai(), cache=cache)
        first = llm.chat(messages)
        assert cassette.play_count == 1
        second = llm.chat(messages)
        assert cassette.play_count == 1
        assert cassette.all_played
        assert first.message.content == second.message.content == answer_of(cassette)
        # The provider's response object came with the miss only: the hit is Redis's.
        assert first.raw is not None
        assert second.raw is None
        assert (cache.stats.misses, cache.stats.exact_hits, cache.stats.errors) == (1, 1, 0)
        with refused_request(cassette):
            llm.llm.chat(messages)  # the wrapped model, no cache in front


def test_llama_index_openai_complete_through_redis_cached_llm_sends_one_request(config):
    cache = RedisLLMCache(config=config)
    prompt = "Explain an LLM cache hit in one sentence."
    with playback("llama_index_complete.yaml") as cassette:
        llm = RedisCachedLLM(llm=llama_openai(), cache=cache)
        # complete() on a chat model goes to /v1/chat/completions too.
        first = llm.complete(prompt)
        assert cassette.play_count == 1
        second = llm.complete(prompt)
        assert cassette.play_count == 1
        assert cassette.all_played
        assert first.text == second.text == answer_of(cassette)
        assert second.raw is None
        assert cache.stats.exact_hits == 1
        with refused_request(cassette):
            llama_openai().complete(prompt)
