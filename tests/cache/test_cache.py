"""The core LLM response cache (redis_memory.cache), sync and async, against real Redis."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import threading

import numpy as np
import pytest

from redis_memory import RedisMemoryConfig, TTLPolicy
from redis_memory import cache as cache_module
from redis_memory.cache import AsyncResponseCache, CachePrompt, ResponseCache
from redis_memory.embedded import EmbeddedRedis
from redis_memory.embeddings import MiniLMEmbedder
from redis_memory.errors import SearchModuleMissingError

# Functional tests give Redis a budget no loaded machine misses: under the default
# 50 ms a slow lookup fails open, and a test of a hit would see a miss.
BUDGET = 5.0

# The package needs no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user


class WordsEmbedder:
    """A small, deterministic embedder: hashed bag of lower-cased words, unit length.

    Texts with the same words embed identically; sharing most words means a
    small cosine distance. It counts its calls, so tests can assert them.
    """

    dimensions = 256

    def __init__(self) -> None:
        self.calls = 0

    def embed(self, text: str) -> list[float]:
        self.calls += 1
        vector = np.zeros(self.dimensions, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % self.dimensions] += 1
        norm = np.linalg.norm(vector)
        return (vector / norm if norm else vector).tolist()

    async def aembed(self, text: str) -> list[float]:
        return self.embed(text)


@pytest.fixture
def words():
    return WordsEmbedder()


@pytest.fixture
def semantic(config, words):
    return ResponseCache(
        config=config, embedder=words, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )


@pytest.fixture
def exact(config):
    return ResponseCache(config=config, timeout=BUDGET)


ANSWER = {"text": "Redis is an in-memory data store."}


def test_exact_miss_update_hit(exact):
    assert exact.lookup("What is Redis?", "model-a") is None
    exact.update("What is Redis?", "model-a", ANSWER)
    assert exact.lookup("What is Redis?", "model-a") == ANSWER
    assert exact.lookup("What is Redis?", "model-b") is None
    assert exact.lookup("what is redis?", "model-a") is None
    assert exact.stats.as_dict()["hits"] == 1
    assert exact.stats.misses == 3
    assert exact.stats.updates == 1


@pytest.mark.search
def test_an_exact_hit_is_one_command_and_no_embedding(semantic, words, count_commands):
    semantic.update("What is Redis?", "m", ANSWER)
    calls = words.calls
    with count_commands() as counted:
        assert semantic.lookup("What is Redis?", "m") == ANSWER
    assert counted.by_name == {"get": 1}
    assert words.calls == calls, "a repeated prompt never pays for an embedding"


@pytest.mark.search
def test_a_semantic_lookup_is_two_round_trips_and_one_embedding(
    config, words, count_commands, round_trips
):
    cache = ResponseCache(
        client=round_trips.client, config=config, embedder=words, verifier=None,
        distance_threshold=0.2,
        timeout=BUDGET,
    )  # fmt: skip
    cache.update("how do I install redis on ubuntu", "m", ANSWER)  # creates the index
    words.calls, round_trips.count = 0, 0
    with count_commands() as counted:
        assert cache.lookup("how do I install redis on ubuntu please", "m") == ANSWER
    assert round_trips.count == 2
    assert counted.by_name == {"get": 1, "FT.SEARCH": 1}
    assert words.calls == 1


@pytest.mark.search
def test_an_update_after_a_semantic_miss_reuses_the_lookups_embedding(semantic, words):
    assert semantic.lookup("a brand new question", "m") is None
    assert words.calls == 1
    semantic.update("a brand new question", "m", ANSWER)
    assert words.calls == 1
    assert semantic.stats.embeddings == 1


@pytest.mark.search
def test_the_model_is_a_filter_inside_the_query(semantic):
    # The nearest entry overall belongs to another model: it must not shadow this one's.
    semantic.update("how do I install redis on ubuntu", "other-model", {"text": "other"})
    semantic.update("how do I install redis on ubuntu 22", "m", ANSWER)
    assert semantic.lookup("how do I install redis on ubuntu", "m") == ANSWER
    assert semantic.lookup("how do I install redis on ubuntu now", "third-model") is None


@pytest.mark.search
def test_the_context_must_match_exactly(semantic):
    first = CachePrompt("full-1", "how do I install redis on ubuntu", context="system: be brief")
    semantic.update(first, "m", ANSWER)
    same_context = CachePrompt("full-2", "how do I install redis on ubuntu now", "system: be brief")
    other_context = CachePrompt("full-3", "how do I install redis on ubuntu now", "system: rhyme")
    assert semantic.lookup(same_context, "m") == ANSWER
    assert semantic.lookup(other_context, "m") is None


@pytest.mark.search
def test_far_prompts_miss(semantic):
    semantic.update("how do I install redis on ubuntu", "m", ANSWER)
    assert semantic.lookup("what is the capital of france", "m") is None


@pytest.mark.search
def test_entries_expire_per_the_cache_ttl(redis_url, prefix, redis_client, words):
    config = RedisMemoryConfig(url=redis_url, prefix=prefix, ttl=TTLPolicy(cache=600))
    cache = ResponseCache(
        config=config, embedder=words, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )
    cache.update("q", "m", ANSWER)
    keys = list(redis_client.scan_iter(match=f"{prefix}:cache:*"))
    assert len(keys) == 2  # the exact entry and the semantic one
    assert all(590_000 < redis_client.pttl(key) <= 600_000 for key in keys)
    forever = ResponseCache("forever", config=config, ttl=None, timeout=BUDGET)
    forever.update("q", "m", ANSWER)
    key = next(redis_client.scan_iter(match=f"{prefix}:cache:llm:forever:*"))
    assert redis_client.pttl(key) == -1


@pytest.mark.search
def test_clear_removes_only_this_caches_entries(config, redis_client, words, prefix):
    one = ResponseCache("one", config=config, embedder=words, verifier=None, timeout=BUDGET)
    two = ResponseCache("two", config=config, embedder=words, verifier=None, timeout=BUDGET)
    one.update("q1", "model-a", ANSWER)
    one.update("q2", "model-b", ANSWER)
    two.update("q1", "model-a", ANSWER)
    redis_client.set(f"{prefix}:state:{{u}}:k", "1")
    assert one.clear(llm="model-a") == 2
    assert one.lookup("q1", "model-a") is None
    assert one.lookup("q2", "model-b") == ANSWER
    assert one.clear() == 2
    assert one.lookup("q2", "model-b") is None
    assert two.lookup("q1", "model-a") == ANSWER
    assert redis_client.get(f"{prefix}:state:{{u}}:k") == b"1"


def test_a_corrupt_value_is_a_logged_miss(exact, redis_client, caplog):
    exact.update("q", "m", ANSWER)
    key = next(redis_client.scan_iter(match=f"{exact.keys.prefix}:cache:llm:*"))
    redis_client.set(key, b"\x80\x04\x95 pickled bytes are never loaded")
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        assert exact.lookup("q", "m") is None
    assert "not cache data" in caplog.text
    assert exact.stats.errors == 0


@pytest.mark.search
def test_a_corrupt_semantic_entry_is_a_miss_logged_with_its_own_key(semantic, redis_client, caplog):
    semantic.update("how do I install redis on ubuntu", "m", ANSWER)
    entry = next(redis_client.scan_iter(match=f"{semantic.keys.prefix}:cache:sem:*"))
    redis_client.hset(entry, "response", b"\x80\x04\x95 pickled bytes are never loaded")
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        assert semantic.lookup("how do I install redis on ubuntu now", "m") is None
    assert f"not cache data at {entry.decode()}" in caplog.text


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_a_cache_that_times_out_for_long_names_the_budget_to_raise(
    config, redis_client, caplog, monkeypatch
):
    monkeypatch.setattr(cache_module, "BUDGET_NOTICE_SECONDS", 0.3)
    cache = ResponseCache(config=config, timeout=0.05)
    cache.update("q", "m", ANSWER)
    redis_client.execute_command("CLIENT", "PAUSE", 1500, "ALL")
    try:
        with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
            for _ in range(12):  # about 0.6 s of calls that each time out
                assert cache.lookup("q", "m") is None
    finally:
        redis_client.execute_command("CLIENT", "UNPAUSE")
    notices = [r.getMessage() for r in caplog.records if "raise timeout=" in r.getMessage()]
    assert len(notices) == 1
    assert "0.05 s budget" in notices[0]
    assert cache.lookup("q", "m") == ANSWER


def test_a_value_json_cannot_hold_is_not_cached(exact, caplog):
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        exact.update("q", "m", {"obj": object()})
    assert "not caching" in caplog.text
    assert exact.lookup("q", "m") is None


@pytest.mark.standalone_only
def test_redis_down_is_a_miss_and_a_dropped_update_with_one_warning(tmp_path, caplog, words):
    server = EmbeddedRedis().start()
    config = RedisMemoryConfig(url=server.url, prefix="down")
    cache = ResponseCache(config=config, embedder=words, verifier=None, timeout=BUDGET)
    cache.update("q", "m", ANSWER)
    assert cache.lookup("q", "m") == ANSWER
    server.stop()
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        for _ in range(5):
            assert cache.lookup("q", "m") is None
            cache.update("q2", "m", ANSWER)
    assert cache.stats.errors == 10
    warnings = [r for r in caplog.records if "cache is bypassed" in r.getMessage()]
    assert len(warnings) == 1, "one warning per outage, not one per call"


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_redis_slow_is_a_miss_within_the_timeout(config, redis_client, words):
    cache = ResponseCache(config=config, timeout=0.05)
    cache.update("q", "m", ANSWER)
    assert cache.lookup("q", "m") == ANSWER
    redis_client.execute_command("CLIENT", "PAUSE", 1000, "ALL")
    try:
        assert cache.lookup("q", "m") is None
        assert cache.stats.errors == 1
    finally:
        redis_client.execute_command("CLIENT", "UNPAUSE")
    assert cache.lookup("q", "m") == ANSWER


@pytest.mark.search
def test_async_twin(config, words):
    cache = AsyncResponseCache(
        config=config, embedder=words, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )

    async def scenario():
        assert await cache.lookup("how do I install redis on ubuntu", "m") is None
        await cache.update("how do I install redis on ubuntu", "m", ANSWER)
        exact = await cache.lookup("how do I install redis on ubuntu", "m")
        near = await cache.lookup("how do I install redis on ubuntu now", "m")
        cleared = await cache.clear()
        return exact, near, cleared

    assert asyncio.run(scenario()) == (ANSWER, ANSWER, 2)
    assert cache.stats.exact_hits == 1
    assert cache.stats.semantic_hits == 1
    assert words.calls == 2


@pytest.mark.search
def test_concurrent_lookups_and_updates(config, words):
    cache = ResponseCache(config=config, embedder=words, verifier=None, timeout=BUDGET)
    errors = []

    def work(n: int) -> None:
        try:
            for i in range(20):
                cache.update(f"question {n} {i}", "m", {"n": n, "i": i})
                assert cache.lookup(f"question {n} {i}", "m") == {"n": n, "i": i}
        except AssertionError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert cache.stats.errors == 0


@pytest.mark.search
def test_paraphrases_hit_with_the_offline_model(config):
    cache = ResponseCache(
        config=config,
        embedder=MiniLMEmbedder(),
        verifier=None,
        distance_threshold=0.15,
        timeout=BUDGET,
    )
    cache.update("How do I learn Python quickly?", "m", ANSWER)
    assert cache.lookup("How can I learn Python fast?", "m") == ANSWER
    assert cache.lookup("How do I cook rice?", "m") is None


@pytest.mark.search
def test_bad_arguments(config):
    with pytest.raises(ValueError, match="algorithm"):
        ResponseCache(config=config, algorithm="ivf", timeout=BUDGET)
    with pytest.raises(ValueError, match="timeout"):
        ResponseCache(config=config, timeout=0)
    with pytest.raises(ValueError, match="embedder must have"):
        ResponseCache(config=config, embedder=object(), timeout=BUDGET)
    with pytest.raises(ValueError, match="distance_threshold"):
        ResponseCache(config=config, embedder=WordsEmbedder(), distance_threshold=3, timeout=BUDGET)
    with pytest.raises(TypeError, match="llm_string"):
        ResponseCache(config=config, timeout=BUDGET).lookup("q", None)
    with pytest.raises(TypeError, match="prompt"):
        ResponseCache(config=config, timeout=BUDGET).lookup(42, "m")


@pytest.fixture
def plain_server(tmp_path):
    """A Redis without modules: the bundled binary, copied where its modules are not found."""
    import shutil

    from redis_memory.embedded import find_server

    plain = tmp_path / "bin" / "redis-server"
    plain.parent.mkdir()
    shutil.copy2(find_server().path, plain)
    with EmbeddedRedis(binary=plain) as server:
        yield server


@pytest.mark.standalone_only
def test_a_semantic_tier_on_a_server_without_search_is_an_error_at_construction(
    plain_server, words
):
    with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
        ResponseCache(url=plain_server.url, embedder=words, verifier=None, timeout=BUDGET)


@pytest.mark.standalone_only
def test_exact_only_caches_exact_matches_and_says_so(plain_server, words, caplog):
    cache = ResponseCache(
        url=plain_server.url, embedder=words, semantic="exact-only", timeout=BUDGET
    )
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        cache.update("q", "m", ANSWER)
        assert cache.lookup("q", "m") == ANSWER
        assert cache.lookup("a paraphrase of q", "m") is None
    assert caplog.records == []
    assert words.calls == 0
    assert cache.stats.as_dict()["semantic"] == "exact-only"
    assert cache.stats.errors == 0


@pytest.mark.standalone_only
def test_the_async_cache_finds_no_search_on_first_use_and_keeps_the_exact_tier(
    plain_server, words, caplog
):
    cache = AsyncResponseCache(url=plain_server.url, embedder=words, verifier=None, timeout=BUDGET)

    async def scenario():
        for _ in range(3):
            await cache.update("q", "m", ANSWER)
            assert await cache.lookup("q", "m") == ANSWER
            assert await cache.lookup("a paraphrase of q", "m") is None
        with pytest.raises(SearchModuleMissingError, match="semantic='exact-only'"):
            await cache.warm_up()

    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        asyncio.run(scenario())
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1, "said once, loudly"
    assert "Search module" in errors[0].getMessage()
    assert cache.stats.semantic == "no Search module"
    assert (cache.stats.errors, cache.stats.semantic_errors) == (0, 0)


def test_an_exact_cache_is_built_without_a_round_trip_and_a_semantic_one_when_redis_is_down(
    words,
):
    ResponseCache(url="redis://127.0.0.1:1/0", timeout=BUDGET)
    cache = ResponseCache(
        url="redis://127.0.0.1:1/0", embedder=words, verifier=None, timeout=BUDGET
    )
    assert cache.lookup("q", "m") is None, "checked on first use, failing open"
    assert cache.stats.errors == 1


class FailingEmbedder(WordsEmbedder):
    """The words embedder, failing while ``failing`` is set (a model or an API down)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing = True

    def embed(self, text: str) -> list[float]:
        if self.failing:
            raise RuntimeError("embedding service unavailable")
        return super().embed(text)


@pytest.mark.search
def test_a_failing_embedder_costs_the_semantic_tier_only(config, caplog):
    embedder = FailingEmbedder()
    cache = ResponseCache(
        config=config, embedder=embedder, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )
    model_calls = 0
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        for _ in range(16):
            if cache.lookup("how do I install redis on ubuntu", "m") is None:
                model_calls += 1
                cache.update("how do I install redis on ubuntu", "m", ANSWER)
        assert model_calls == 1, "the exact tier caches whatever the semantic tier does"
        assert cache.stats.errors == 0
        assert cache.stats.semantic_errors == 2  # the first lookup and its update
        embedder.failing = False
        cache.update("how do I install redis on debian", "m", ANSWER)
        assert cache.lookup("how do I install redis on debian now", "m") == ANSWER
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "semantic tier failed" in m]) == 1
    assert any("semantic tier works again" in m for m in messages)


@pytest.mark.search
def test_a_lost_index_is_recreated_on_the_next_call(config, redis_client, words, caplog):
    cache = ResponseCache(
        config=config, embedder=words, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )
    cache.update("how do I install redis on ubuntu", "m", ANSWER)
    # What FLUSHALL, or a restart without persistence, does to this cache.
    redis_client.execute_command("FT.DROPINDEX", cache.index_name, "DD")
    with caplog.at_level(logging.WARNING, logger="redis_memory.cache"):
        for _ in range(3):
            assert cache.lookup("how do I install redis on ubuntu now", "m") is None
        cache.update("how do I install redis on ubuntu now", "m", ANSWER)
        assert cache.lookup("how do I install redis on ubuntu now please", "m") == ANSWER
    lost = [r for r in caplog.records if "is gone" in r.getMessage()]
    assert len(lost) == 1, "recreated once, then it is there"
    assert (cache.stats.errors, cache.stats.semantic_errors) == (0, 0)


@pytest.mark.search
def test_a_repeated_query_is_embedded_once(config, words):
    cache = ResponseCache(config=config, embedder=words, verifier=None, timeout=BUDGET)
    for _ in range(3):
        assert cache.lookup("a question nobody asked", "m") is None
    assert (words.calls, cache.stats.embeddings, cache.stats.embedding_reuses) == (1, 1, 2)
    cache.update("a question nobody asked", "m", ANSWER)
    assert words.calls == 1, "the update reuses the lookup's embedding"

    uncached = ResponseCache(
        "uncached", config=config, embedder=words, embedding_cache=0, timeout=BUDGET
    )
    words.calls = 0
    for _ in range(2):
        uncached.lookup("a question nobody asked", "m")
    assert words.calls == 2


@pytest.mark.search
def test_the_twins_share_counters_index_and_embeddings(config, words):
    cache = ResponseCache(
        config=config, embedder=words, verifier=None, distance_threshold=0.2, timeout=BUDGET
    )
    twin = cache.twin()
    cache.update("how do I install redis on ubuntu", "m", ANSWER)
    near = asyncio.run(twin.lookup("how do I install redis on ubuntu", "m"))
    assert near == ANSWER
    assert twin.stats is cache.stats
    assert cache.stats.exact_hits == 1
    assert words.calls == 1


@pytest.mark.search
def test_warm_up_creates_the_index_so_the_first_lookup_only_embeds_its_query(
    config, redis_client, words
):
    cache = ResponseCache(config=config, embedder=words, verifier=None, timeout=BUDGET)
    cache.warm_up()
    assert cache.index_name.encode() in redis_client.execute_command("FT._LIST")
    words.calls = 0
    cache.lookup("the first question", "m")
    assert words.calls == 1


@pytest.mark.standalone_only  # CLIENT PAUSE stops one server
def test_explicit_acts_wait_out_a_stall_longer_than_the_lookup_budget(config, redis_client):
    cache = ResponseCache(config=config, timeout=0.05)
    cache.update("q", "m", ANSWER)

    def stalled(act):
        redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
        return act()

    assert stalled(lambda: cache.lookup("q", "m")) is None, "a lookup fails open"
    assert stalled(cache.count_entries) == {"exact": 1, "semantic": 0}
    assert stalled(cache.clear) == 1
    assert asyncio.run(_after_pause(redis_client, cache.twin().drop)) == 0


async def _after_pause(redis_client, act):
    redis_client.execute_command("CLIENT", "PAUSE", 300, "ALL")
    return await act()


@pytest.mark.search
def test_entry_counts_per_cache_and_tier(config, redis_client, words, prefix):
    from redis_memory.cache import list_caches

    one = ResponseCache("one", config=config, embedder=words, verifier=None, timeout=BUDGET)
    two = ResponseCache("a:b", config=config, timeout=BUDGET)
    assert one.count_entries() == {"exact": 0, "semantic": 0}
    assert list_caches(config=config) == {}
    one.update("q1", "model-a", ANSWER)
    one.update("q2", "model-b", ANSWER)
    two.update("q1", "model-a", ANSWER)
    redis_client.set(f"{prefix}:state:{{u}}:k", "1")
    assert one.count_entries() == {"exact": 2, "semantic": 2}
    assert two.count_entries() == {"exact": 1, "semantic": 0}
    assert asyncio.run(
        AsyncResponseCache("one", config=config, embedder=words, timeout=BUDGET).count_entries()
    ) == {"exact": 2, "semantic": 2}
    assert list_caches(config=config) == {
        "a:b": {"exact": 1, "semantic": 0},
        "one": {"exact": 2, "semantic": 2},
    }


@pytest.mark.search
def test_drop_deletes_the_entries_and_the_semantic_index(config, redis_client, words, prefix):
    def indexes() -> list[str]:
        names = [n.decode() for n in redis_client.execute_command("FT._LIST")]
        return [n for n in names if n.startswith(f"{prefix}:")]

    near = {"verifier": None, "distance_threshold": 0.2}
    scratch = ResponseCache("scratch", config=config, embedder=words, **near, timeout=BUDGET)
    kept = ResponseCache("kept", config=config, embedder=words, **near, timeout=BUDGET)
    scratch.update("how do I install redis on ubuntu", "m", ANSWER)
    kept.update("how do I install redis on ubuntu", "m", ANSWER)
    assert sorted(indexes()) == sorted([kept.index_name, scratch.index_name])
    assert scratch.drop() == 2
    assert indexes() == [kept.index_name]
    assert kept.lookup("how do I install redis on ubuntu now", "m") == ANSWER
    assert scratch.drop() == 0  # no index left: nothing to drop, no error
    scratch.update("how do I install redis on debian", "m", ANSWER)  # the index comes back
    assert scratch.lookup("how do I install redis on debian now", "m") == ANSWER

    async def async_drop() -> int:
        return await AsyncResponseCache(
            "scratch", config=config, embedder=words, timeout=BUDGET
        ).drop()

    assert asyncio.run(async_drop()) == 2
    assert indexes() == [kept.index_name]
    kept.drop()
