"""Searching past messages: a searchable log keeps a search copy in the append's own script."""

from __future__ import annotations

import pytest

from redis_memory.embeddings import MiniLMEmbedder
from redis_memory.history import AsyncMessageLog, MessageLog

pytestmark = [pytest.mark.acl_user, pytest.mark.search]


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEmbedder()


def _talk(log, session, user, lines):
    roles = ["user", "assistant"]
    log.append(
        session,
        [{"role": roles[i % 2], "content": text} for i, text in enumerate(lines)],
        user_id=user,
    )


def test_full_text_search_names_session_position_role_and_text(config):
    log = MessageLog(config=config, searchable=True)
    _talk(log, "ana:1", "ana", ["I want to visit Lisbon", "Lisbon is lovely in May"])
    _talk(log, "ana:2", "ana", ["Book a table for two", "Done: Friday at eight"])
    _talk(log, "bob:1", "bob", ["Lisbon or Porto?", "Porto, for the wine"])
    hits = log.search_messages("lisbon", user_id="ana")
    assert [(h.session_id, h.position, h.role) for h in hits] == [
        ("ana:1", 2, "assistant"),
        ("ana:1", 1, "user"),
    ] or [(h.session_id, h.position, h.role) for h in hits] == [
        ("ana:1", 1, "user"),
        ("ana:1", 2, "assistant"),
    ]
    assert {h.text for h in hits} == {"I want to visit Lisbon", "Lisbon is lovely in May"}
    assert hits[0].score == 1.0
    assert [h.session_id for h in log.search_messages("lisbon", session_id="bob:1")] == ["bob:1"]
    assert {h.session_id for h in log.search_messages("lisbon")} == {"ana:1", "bob:1"}
    assert log.search_messages('wine @user:{*} | -"x"', user_id="ana") == []


def test_an_append_stays_one_round_trip(config, round_trips):
    log = MessageLog(client=round_trips.client, config=config, searchable=True)
    log.append("s", [{"role": "user", "content": "warm up"}])
    round_trips.count = 0
    log.append("s", [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}])
    assert round_trips.count == 1
    assert [h.position for h in log.search_messages("hello hi", session_id="s")] in ([2, 3], [3, 2])


def test_clear_and_replace_take_the_search_copy_with_them(config):
    log = MessageLog(config=config, searchable=True)
    _talk(log, "s", "u", ["the blue whale", "is big"])
    log.replace("s", [{"role": "user", "content": "a red fox"}])
    assert log.search_messages("whale") == []
    assert [h.text for h in log.search_messages("fox")] == ["a red fox"]
    log.clear("s")
    assert log.search_messages("fox") == []


def test_semantic_and_hybrid_search(config, minilm):
    log = MessageLog(config=config, searchable=True, embedder=minilm)
    _talk(log, "s", "u", ["My flight to Tokyo leaves at 9", "I adopted a kitten named Miso"])
    [hit] = log.search_messages("when does my plane depart?", mode="vector", limit=1)
    assert hit.text == "My flight to Tokyo leaves at 9"
    assert log.search_messages("cat", limit=1)[0].text == "I adopted a kitten named Miso"


async def test_async_twin(config, minilm):
    log = AsyncMessageLog(config=config, searchable=True, embedder=minilm)
    await log.append("s", [{"role": "user", "content": "the piano lesson is on Tuesday"}])
    [hit] = await log.search_messages("music class", limit=1)
    assert (hit.session_id, hit.position, hit.role) == ("s", 1, "user")


def test_a_log_that_is_not_searchable_says_how_to_make_it(config):
    with pytest.raises(ValueError, match="searchable=True"):
        MessageLog(config=config).search_messages("x")


def test_langchain_history_searches_its_session_or_its_users_sessions(config):
    from langchain_core.messages import AIMessage, HumanMessage

    from langchain_redis_memory import RedisChatMessageHistory

    first = RedisChatMessageHistory("ana:1", config=config, user_id="ana", searchable=True)
    first.add_messages([HumanMessage("I am allergic to peanuts"), AIMessage("Noted.")])
    second = RedisChatMessageHistory("ana:2", config=config, user_id="ana", searchable=True)
    second.add_messages([HumanMessage("Suggest a snack")])
    bob = RedisChatMessageHistory("bob:1", config=config, user_id="bob", searchable=True)
    bob.add_messages([HumanMessage("peanuts are my favourite")])
    assert second.search_messages("peanuts") == []
    [hit] = second.search_messages("peanuts", scope="user")
    assert (hit.session_id, hit.position, hit.role, hit.text) == (
        "ana:1",
        1,
        "user",
        "I am allergic to peanuts",
    )
    with pytest.raises(ValueError, match="user_id"):
        RedisChatMessageHistory("x", config=config, searchable=True).search_messages(
            "y", scope="user"
        )


async def test_langchain_history_async_search_by_meaning(config):
    from langchain_core.messages import HumanMessage

    from langchain_redis_memory import MiniLMEmbeddings, RedisChatMessageHistory

    history = RedisChatMessageHistory("s", config=config, embeddings=MiniLMEmbeddings(), dims=384)
    await history.aadd_messages([HumanMessage("My dog Rex loves the beach")])
    [hit] = await history.asearch_messages("pets", mode="vector", limit=1)
    assert hit.text == "My dog Rex loves the beach"


def test_llama_index_chat_store_searches_its_keys(config):
    from llama_index.core.llms import ChatMessage

    from llama_index_redis_memory import MiniLMEmbedding, RedisChatStore

    store = RedisChatStore(config=config, embed_model=MiniLMEmbedding())
    store.set_messages("trip", [ChatMessage(role="user", content="Book a train to Porto")])
    store.add_message("chores", ChatMessage(role="user", content="Buy milk and eggs"))
    [hit] = store.search_messages("railway journey", mode="vector", limit=1)
    assert (hit.session_id, hit.role, hit.text) == ("trip", "user", "Book a train to Porto")
    assert [h.session_id for h in store.search_messages("milk", key="chores")] == ["chores"]
    assert store.search_messages("milk", key="trip", mode="text") == []
