"""Long-term memory's framework faces: LangChain's retriever and agent tools, LlamaIndex's
memory block and retriever, on the core MemoryStore against a real Redis Stack.

The agent runs ``langchain.agents.create_agent`` with a fake tool-calling model; LlamaIndex's
``Memory`` really flushes messages out of its window into the block and reads them back.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from _examples import code_blocks, run_example
from langchain.agents import create_agent
from langchain_core.embeddings import DeterministicFakeEmbedding
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, ToolMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langgraph.checkpoint.memory import InMemorySaver
from llama_index.core.llms import ChatMessage
from llama_index.core.memory import Memory
from llama_index.core.storage.chat_store.base_db import MessageStatus

from langchain_redis_memory import MiniLMEmbeddings
from langchain_redis_memory.memory_tools import RedisMemoryRetriever, memory_tools
from llama_index_redis_memory import MiniLMEmbedding, RedisMemoryChatStore
from llama_index_redis_memory.memory_block import RedisMemoryBlock
from llama_index_redis_memory.memory_block import RedisMemoryRetriever as LlamaMemoryRetriever
from redis_memory.embeddings import MiniLMEmbedder
from redis_memory.memory import AsyncMemoryStore, MemoryStore

# The faces need no more than redis_memory.acl grants: these tests run as such a user.
pytestmark = pytest.mark.acl_user

ANA, BOB = ("users", "ana"), ("users", "bob")


@pytest.fixture(scope="module")
def minilm():
    return MiniLMEmbedder()


@pytest.fixture
def store(config, minilm):
    return MemoryStore("mem", config=config, embedder=minilm)


@pytest.fixture
def text_store(config):
    return MemoryStore("words", config=config)


def facts(store: MemoryStore) -> None:
    store.put(
        ANA, "diet", {"text": "Ana is vegetarian", "source": "chat", "key": "x"}, tags=["food"]
    )
    store.put(ANA, "city", {"text": "Ana lives in Lisbon", "source": "form"})
    store.put((*ANA, "work"), "job", {"text": "Ana cooks in a restaurant kitchen"})
    store.put(BOB, "diet", {"text": "Bob eats only vegetables and salad"})


# -- LangChain: the retriever -------------------------------------------------------------


@pytest.mark.search
def test_retriever_returns_documents_of_the_namespace_only(store):
    facts(store)
    retriever = RedisMemoryRetriever(namespace=ANA, store=store, k=3)
    docs = retriever.invoke("vegetarian food")
    assert docs[0].page_content == "Ana is vegetarian"
    assert {doc.metadata["namespace"] for doc in docs} <= {ANA, (*ANA, "work")}
    assert all("Bob" not in doc.page_content for doc in docs)
    first = docs[0].metadata
    assert first["key"] == "diet"  # the item's key wins over the value's field "key"
    assert first["source"] == "chat"
    assert first["tags"] == ["food"]
    assert "text" not in first
    assert 0 < first["score"] <= 1
    assert first["created_at"] <= first["updated_at"]
    assert [doc.metadata["score"] for doc in docs] == sorted(
        (doc.metadata["score"] for doc in docs), reverse=True
    )


@pytest.mark.search
async def test_retriever_async_path_finds_the_same(store):
    facts(store)
    retriever = RedisMemoryRetriever(namespace=ANA, store=store, k=2)
    sync = retriever.invoke("where does she live?")
    found = await retriever.ainvoke("where does she live?")
    assert [d.page_content for d in found] == [d.page_content for d in sync]
    assert found[0].page_content == "Ana lives in Lisbon"


@pytest.mark.search
async def test_retriever_accepts_an_async_store_for_both_paths(config, minilm):
    astore = AsyncMemoryStore("mem", config=config, embedder=minilm)
    await astore.put(ANA, "city", {"text": "Ana lives in Lisbon"})
    retriever = RedisMemoryRetriever(namespace=ANA, store=astore, k=1)
    assert retriever.astore is astore
    assert [d.metadata["key"] for d in retriever.invoke("home town")] == ["city"]
    assert [d.metadata["key"] for d in await retriever.ainvoke("home town")] == ["city"]


@pytest.mark.search
def test_retriever_mode_filter_and_k(store):
    facts(store)
    retriever = RedisMemoryRetriever(namespace=ANA, store=store, mode="text", k=5)
    assert [d.metadata["key"] for d in retriever.invoke("Lisbon")] == ["city"]
    assert retriever.invoke("Tokyo") == []
    only_forms = RedisMemoryRetriever(namespace=ANA, store=store, filter={"source": "form"})
    assert [d.metadata["key"] for d in only_forms.invoke("anything about Ana")] == ["city"]
    one = RedisMemoryRetriever(namespace=("users",), store=store, k=1)
    assert len(one.invoke("vegetables")) == 1


@pytest.mark.search
def test_retriever_builds_its_store_from_langchain_embeddings(config):
    retriever = RedisMemoryRetriever(
        namespace=ANA, config=config, embeddings=MiniLMEmbeddings(), name="built"
    )
    assert retriever.store.dims == 384
    assert retriever.store.name == "built"
    retriever.store.put(ANA, "pet", {"text": "Ana has a cat called Miso"})
    [doc] = retriever.invoke("which animal lives with Ana?")
    assert doc.page_content == "Ana has a cat called Miso"
    # A model that does not say its dimensions is asked once.
    fake = RedisMemoryRetriever(
        namespace=ANA, config=config, embeddings=DeterministicFakeEmbedding(size=12), name="f"
    )
    assert fake.store.dims == 12


@pytest.mark.search
def test_retriever_text_of_items_without_a_text_field(config):
    store = MemoryStore("fields", config=config, text_fields=["title", "body"])
    store.put(ANA, "note", {"title": "Trip", "body": "Porto in May", "n": 1})
    [doc] = RedisMemoryRetriever(namespace=ANA, store=store, mode="text").invoke("porto")
    assert doc.page_content == "Trip Porto in May"
    assert doc.metadata["title"] == "Trip"
    assert doc.metadata["n"] == 1


def test_retriever_bad_arguments_are_named(config):
    plain = MemoryStore("plain", config=config, search=False)
    with pytest.raises(ValueError, match="not both"):
        RedisMemoryRetriever(namespace=ANA, store=plain, config=config)
    with pytest.raises(TypeError, match="MemoryStore"):
        RedisMemoryRetriever(namespace=ANA, store=object())
    with pytest.raises(TypeError, match="tuple of strings"):
        RedisMemoryRetriever(namespace="users", store=plain)
    with pytest.raises(ValueError, match="non-empty"):
        RedisMemoryRetriever(namespace=("users", ""), store=plain)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        RedisMemoryRetriever(namespace=ANA, store=plain, k=0)
    with pytest.raises(TypeError, match="Embeddings"):
        RedisMemoryRetriever(namespace=ANA, config=config, embeddings=MiniLMEmbedder())


# -- LangChain: the tools -----------------------------------------------------------------


def by_user(config: dict[str, Any]) -> tuple[str, ...]:
    return ("users", config["configurable"]["user_id"])


def user(name: str, thread: str = "t") -> dict[str, Any]:
    return {"configurable": {"user_id": name, "thread_id": thread}}


@pytest.mark.search
def test_tools_save_search_delete_per_user(text_store):
    save, search, delete = memory_tools(by_user, store=text_store)
    assert [t.name for t in (save, search, delete)] == [
        "save_memory",
        "search_memory",
        "delete_memory",
    ]
    assert set(save.tool_call_schema.model_json_schema()["properties"]) == {"text", "tags"}
    key = save.invoke({"text": "Ana is allergic to peanuts", "tags": ["health"]}, user("ana"))
    assert save.invoke({"text": "Ana is allergic to peanuts"}, user("ana")) == key  # one memory
    other = save.invoke({"text": "Ana plays the cello"}, user("ana"))
    assert text_store.get(ANA, key).value == {"text": "Ana is allergic to peanuts"}
    assert search.invoke({"query": "peanuts"}, user("ana")) == f"[{key}] Ana is allergic to peanuts"
    both = search.invoke({"query": "ana cello peanuts"}, user("ana")).splitlines()
    assert sorted(both) == sorted(
        [f"[{key}] Ana is allergic to peanuts", f"[{other}] Ana plays the cello"]
    )
    assert (
        len(search.invoke({"query": "ana cello peanuts", "limit": 1}, user("ana")).splitlines())
        == 1
    )
    # Bob sees none of Ana's memories, and cannot delete one by its key.
    assert search.invoke({"query": "peanuts"}, user("bob")) == "No memories found."
    assert delete.invoke({"key": key}, user("bob")) == f"No memory has the key {key}."
    assert text_store.get(ANA, key) is not None
    assert delete.invoke({"key": key}, user("ana")) == f"Deleted memory {key}."
    assert text_store.get(ANA, key) is None


@pytest.mark.search
async def test_tools_async_forms(text_store):
    save, search, delete = memory_tools(ANA, store=text_store, k=1)
    key = await save.ainvoke({"text": "Ana runs on Sundays", "tags": ["sport"]}, {})
    assert text_store.get(ANA, key).tags == ("sport",)
    found = await search.ainvoke({"query": "sundays"}, {})
    assert found == f"[{key}] Ana runs on Sundays (tags: sport)"
    assert await delete.ainvoke({"key": key}, {}) == f"Deleted memory {key}."
    assert await search.ainvoke({"query": "sundays"}, {}) == "No memories found."


def test_tools_reject_a_bad_namespace(config):
    plain = MemoryStore("plain", config=config, search=False)
    with pytest.raises(TypeError, match="tuple of strings"):
        memory_tools("ana", store=plain)
    with pytest.raises(ValueError, match="k must be"):
        memory_tools(ANA, store=plain, k=0)
    save, _, _ = memory_tools(lambda config: "ana", store=plain)
    with pytest.raises(TypeError, match="tuple of strings"):
        save.invoke({"text": "x"}, {})
    with pytest.raises(Exception, match="blank"):
        save.invoke({"text": "  "}, {})
    assert plain.list_namespaces() == []


class MemoryAgentModel(GenericFakeChatModel):
    """Saves on "remember: ...", searches on "recall: ...", then repeats what the tool said."""

    messages: Any = iter(())

    def bind_tools(self, tools: Any, **kwargs: Any) -> MemoryAgentModel:
        return self

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        last = messages[-1]
        call_id = f"call-{len(messages)}"
        if isinstance(last, ToolMessage):
            reply = AIMessage(f"{last.name} said: {last.content}")
        elif isinstance(last, HumanMessage) and last.content.startswith("remember: "):
            text = last.content.removeprefix("remember: ")
            reply = AIMessage(
                "", tool_calls=[{"name": "save_memory", "args": {"text": text}, "id": call_id}]
            )
        elif isinstance(last, HumanMessage) and last.content.startswith("recall: "):
            query = last.content.removeprefix("recall: ")
            reply = AIMessage(
                "", tool_calls=[{"name": "search_memory", "args": {"query": query}, "id": call_id}]
            )
        else:
            reply = AIMessage(f"echo: {last.content}")
        return ChatResult(generations=[ChatGeneration(message=reply)])


def ask(agent: Any, text: str, who: str, thread: str) -> str:
    state = agent.invoke({"messages": [HumanMessage(text)]}, user(who, thread))
    return state["messages"][-1].content


async def aask(agent: Any, text: str, who: str, thread: str) -> str:
    state = await agent.ainvoke({"messages": [HumanMessage(text)]}, user(who, thread))
    return state["messages"][-1].content


@pytest.mark.search
def test_agent_remembers_across_threads_of_a_user_and_never_across_users(store):
    agent = create_agent(
        MemoryAgentModel(), tools=memory_tools(by_user, store=store), checkpointer=InMemorySaver()
    )
    saved = ask(agent, "remember: I am allergic to peanuts", "ana", "monday")
    [key] = [item.key for item in store.search(ANA)]
    assert saved == f"save_memory said: {key}"
    # Another thread of Ana's: its checkpoint holds nothing of Monday's; the memory does.
    found = ask(agent, "recall: which foods should I avoid?", "ana", "tuesday")
    assert found == f"search_memory said: [{key}] I am allergic to peanuts"
    assert "peanuts" not in str(agent.get_state(user("ana", "tuesday")).values["messages"][0])
    # Bob, with the same agent, never sees her memory.
    for question in ("recall: which foods should I avoid?", "recall: peanuts"):
        assert ask(agent, question, "bob", "bob-1") == "search_memory said: No memories found."
    assert store.search(BOB) == []


@pytest.mark.search
async def test_agent_async_remembers_per_user(store):
    agent = create_agent(
        MemoryAgentModel(), tools=memory_tools(by_user, store=store), checkpointer=InMemorySaver()
    )
    await aask(agent, "remember: My sister is called Rita", "ana", "a1")
    await aask(agent, "remember: I play chess on Fridays", "bob", "b1")
    ana = await aask(agent, "recall: family members", "ana", "a2")
    bob = await aask(agent, "recall: family members", "bob", "b2")
    assert ana.startswith("search_memory said: [")
    assert "Rita" in ana
    assert "chess" not in ana
    assert "chess" in bob
    assert "Rita" not in bob


# -- LlamaIndex: the memory block ---------------------------------------------------------


def block(store: MemoryStore, namespace: tuple[str, ...] = ANA, **options: Any) -> RedisMemoryBlock:
    return RedisMemoryBlock(namespace=namespace, store=store, **options)


def small_memory(config, session_id: str, blocks: list[RedisMemoryBlock]) -> Memory:
    return Memory.from_defaults(
        session_id=session_id,
        chat_store=RedisMemoryChatStore(config=config),
        memory_blocks=blocks,
        token_limit=80,
        chat_history_token_ratio=0.5,
        token_flush_size=20,
    )


CHAT = [
    ("user", "Please remember that I am allergic to peanuts."),
    ("assistant", "Noted: no peanuts in anything I suggest."),
    ("user", "What time is the team meeting on Tuesday?"),
    ("assistant", "The team meeting is at ten in the morning."),
    ("user", "Which train goes to Porto on Saturday?"),
    ("assistant", "The eight o'clock train goes to Porto."),
    ("user", "Thanks, and what is the weather like?"),
    ("assistant", "Sunny and warm all week."),
]


def memory_text(messages: list[ChatMessage]) -> str:
    return "\n".join(m.content or "" for m in messages if m.role.value == "system")


@pytest.mark.search
def test_memory_flushes_into_the_block_and_brings_back_what_is_relevant(config, store):
    memory = small_memory(config, "monday", [block(store)])
    for role, content in CHAT:
        memory.put(ChatMessage(role=role, content=content))
    archived = memory.get_all(status=MessageStatus.ARCHIVED)
    assert archived, "the window is small: some messages were flushed"
    kept = {item.value["text"]: item.value for item in store.search(ANA, limit=100)}
    assert set(kept) == {m.content for m in archived}
    allergy = kept["Please remember that I am allergic to peanuts."]
    assert allergy["role"] == "user"
    assert allergy["session_id"] == "monday"
    assert isinstance(allergy["time"], float)

    messages = memory.get(input="Can you suggest a snack with nuts for me?")
    assert "user: Please remember that I am allergic to peanuts." in memory_text(messages)
    assert "<long_term_memory>" in memory_text(messages)

    # Another session of the same user gets it too; another user's session does not.
    tuesday = small_memory(config, "tuesday", [block(store)])
    assert "allergic to peanuts" in memory_text(tuesday.get(input="A snack with nuts?"))
    bob = small_memory(config, "bob-1", [block(store, BOB)])
    assert "peanuts" not in str(bob.get(input="A snack with nuts?"))


@pytest.mark.search
async def test_memory_async_and_a_block_built_from_an_embed_model(config):
    made = RedisMemoryBlock(
        namespace=ANA,
        config=config,
        embed_model=MiniLMEmbedding(),
        store_name="li",
        similarity_top_k=1,
    )
    assert made.store.dims == 384
    assert made.store.name == "li"
    memory = small_memory(config, "s1", [made])
    await memory.aput_messages([ChatMessage(role=r, content=c) for r, c in CHAT])
    flushed = {m.content for m in await memory.aget_all(status=MessageStatus.ARCHIVED)}
    assert "Please remember that I am allergic to peanuts." in flushed
    later = small_memory(config, "s2", [made])
    found = memory_text(await later.aget(input="Do I have any food allergies?"))
    assert "user: Please remember that I am allergic to peanuts." in found
    assert found.count("allerg") == 1  # similarity_top_k=1


@pytest.mark.search
async def test_block_reads_the_latest_user_message_and_skips_what_the_context_holds(store):
    memories = block(store, similarity_top_k=2)
    await memories.aput(
        [
            ChatMessage(role="system", content="You are terse."),
            ChatMessage(role="user", content="I live in Lisbon."),
            ChatMessage(role="assistant", content="Lisbon is lovely."),
            ChatMessage(role="tool", content="{'weather': 'sunny'}"),
            ChatMessage(role="user", content=""),
        ],
        from_short_term_memory=True,
        session_id="s",
    )
    kept = sorted(item.value["text"] for item in store.search(ANA))
    assert kept == ["I live in Lisbon.", "Lisbon is lovely."]
    assert await memories.aget([]) == ""
    got = await memories.aget(
        [
            ChatMessage(role="user", content="Where is my home?"),
            ChatMessage(role="assistant", content=""),
        ]
    )
    assert got.splitlines()[0] == "user: I live in Lisbon."
    # Already in the messages given: not repeated.
    got = await memories.aget(
        [
            ChatMessage(role="user", content="I live in Lisbon."),
            ChatMessage(role="user", content="home?"),
        ]
    )
    assert got == "assistant: Lisbon is lovely."
    strict = block(store, mode="vector", min_score=0.99)
    assert await strict.aget([ChatMessage(role="user", content="favourite colour?")]) == ""


@pytest.mark.search
async def test_block_options_match_the_base_interface(store):
    off = block(store, accept_short_term_memory=False, name="ltm", priority=2)
    assert (off.name, off.priority) == ("ltm", 2)
    await off.aput([ChatMessage(role="user", content="I have a dog.")], from_short_term_memory=True)
    assert store.search(ANA) == []
    everyone = block(store, roles=None)
    await everyone.aput([ChatMessage(role="system", content="Be kind.")])
    assert [item.value["role"] for item in store.search(ANA)] == ["system"]
    lines = "user: one two three\nuser: four five six\nuser: seven eight nine"
    assert await everyone.atruncate(lines, 2) == "user: one two three\nuser: four five six"
    assert await everyone.atruncate(lines, 10_000) is None
    with pytest.raises(ValueError, match="roles"):
        block(store, roles=[])
    with pytest.raises(ValueError, match="not both"):
        RedisMemoryBlock(namespace=ANA, store=store, url="embedded")


@pytest.mark.search
def test_block_in_memory_with_priority_is_truncated_not_dropped(config, store):
    store.put(ANA, "a", {"text": "Ana likes green tea", "role": "user"})
    store.put(ANA, "b", {"text": "Ana likes black tea", "role": "user"})
    memory = Memory.from_defaults(
        session_id="tea",
        chat_store=RedisMemoryChatStore(config=config),
        memory_blocks=[block(store, priority=1)],
        token_limit=8,
    )
    text = memory_text(memory.get(input="Which tea does Ana like?"))
    assert text.count("Ana likes") == 1


# -- LlamaIndex: the retriever ------------------------------------------------------------


@pytest.mark.search
async def test_llama_retriever_returns_nodes(store):
    facts(store)
    retriever = LlamaMemoryRetriever(ANA, store=store, similarity_top_k=2)
    hits = retriever.retrieve("vegetarian food")
    top = hits[0]
    assert top.node.get_content() == "Ana is vegetarian"
    assert top.node.node_id == json.dumps(["users", "ana", "diet"])
    assert top.node.metadata["key"] == "diet"
    assert top.node.metadata["source"] == "chat"
    assert top.node.metadata["namespace"] == ["users", "ana"]
    assert 0 < top.score <= 1
    from llama_index.core.schema import MetadataMode

    assert "created_at" not in top.node.get_content(metadata_mode=MetadataMode.LLM)
    assert "source: chat" in top.node.get_content(metadata_mode=MetadataMode.LLM)
    ahits = await retriever.aretrieve("vegetarian food")
    assert [h.node.node_id for h in ahits] == [h.node.node_id for h in hits]
    only = LlamaMemoryRetriever(ANA, store=store, mode="text", filter={"source": "form"})
    assert [h.node.metadata["key"] for h in only.retrieve("Ana")] == ["city"]
    assert all("Bob" not in h.node.get_content() for h in retriever.retrieve("vegetables"))
    with pytest.raises(ValueError, match="similarity_top_k"):
        LlamaMemoryRetriever(ANA, store=store, similarity_top_k=0)


# -- docstring examples -------------------------------------------------------------------


@pytest.mark.search
@pytest.mark.parametrize(
    "documented",
    [RedisMemoryRetriever, memory_tools, RedisMemoryBlock, LlamaMemoryRetriever],
    ids=["lc-retriever", "lc-tools", "li-block", "li-retriever"],
)
def test_docstring_examples_run(documented):
    blocks = code_blocks(documented.__doc__)
    assert blocks
    for example in blocks:
        assert 'url="embedded"' in example
        run_example(example)
