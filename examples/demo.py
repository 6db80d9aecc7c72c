"""The redis-memory-backend demo: `make demo`.

Starts a private Redis Stack (no Redis needed on this machine), holds a
conversation through LangChain, continues the same session through a LlamaIndex
``Memory``, reads it back through LangChain, and shows what Redis holds and what
each step cost; then a LangGraph agent stops for a person's approval, another
worker resumes it, and LlamaIndex reads the agent's conversation. The chat models
are stand-ins that answer at once: nothing here calls a network.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from typing import Any

from langchain.agents import create_agent
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import FakeMessagesListChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory
from langchain_core.tools import tool
from langgraph.types import Command, interrupt
from llama_index.core.base.llms.types import ChatMessage, MessageRole
from llama_index.core.memory import Memory

from langchain_redis_memory import RedisChatMessageHistory, RedisSaver, RedisSemanticCache
from llama_index_redis_memory import RedisChatStore, RedisMemoryChatStore
from redis_memory import EventBus, RedisMemoryConfig, TTLPolicy
from redis_memory.coordination import Claims, Findings
from redis_memory.embedded import EmbeddedRedis
from redis_memory.history import MessageLog
from redis_memory.server import status

SESSION = "traveller:ana"
# Deprecated upstream in favour of LangGraph, and still what most LangChain apps run.
warnings.filterwarnings("ignore", "RunnableWithMessageHistory is deprecated")


def step(number: int, text: str) -> None:
    print(f"\n{number}. {text}")


def show(messages: list, indent: str = "   ") -> None:
    for message in messages:
        role = getattr(message, "type", None) or message.role.value
        print(f"{indent}{role:>9}: {message.content}")


def main() -> None:
    started = time.perf_counter()
    with EmbeddedRedis() as server:
        ready_ms = (time.perf_counter() - started) * 1000
        step(1, f"Embedded Redis {server.version} at {server.url}, ready in {ready_ms:.0f} ms")
        print(f"   modules: {', '.join(sorted(server.modules))} (Search: {server.has_search})")
        config = RedisMemoryConfig(url=server.url, prefix="demo", ttl=TTLPolicy(messages=3600))

        step(2, "LangChain: two turns of RunnableWithMessageHistory on Redis")
        model = FakeMessagesListChatModel(
            responses=[
                AIMessage("Alfama at dusk, Belém, and a day trip to Sintra."),
                AIMessage("Pastéis de nata in Belém; grilled sardines in summer."),
            ]
        )
        prompt = ChatPromptTemplate.from_messages(
            [
                ("system", "You are a concise travel assistant."),
                MessagesPlaceholder("history"),
                ("human", "{question}"),
            ]
        )
        chain = RunnableWithMessageHistory(
            prompt | model,
            lambda session_id: RedisChatMessageHistory(session_id, config=config),
            input_messages_key="question",
            history_messages_key="history",
        )
        for question in ("Two days in Lisbon: what should I not miss?", "And to eat?"):
            turn_started = time.perf_counter()
            chain.invoke({"question": question}, {"configurable": {"session_id": SESSION}})
            print(f"   turn took {(time.perf_counter() - turn_started) * 1000:.1f} ms")
        show(RedisChatMessageHistory(SESSION, config=config).messages)

        step(3, "LlamaIndex: Memory on the same session sees the LangChain conversation")
        memory = Memory.from_defaults(
            session_id=SESSION, chat_store=RedisMemoryChatStore(config=config), token_limit=4000
        )
        show(memory.get_all())
        memory.put(ChatMessage(role=MessageRole.USER, content="Is Sintra worth a whole day?"))
        memory.put(
            ChatMessage(role=MessageRole.ASSISTANT, content="Yes: Pena, Regaleira, Moorish castle.")
        )
        print("   LlamaIndex added a question and an answer.")

        step(4, "LangChain reads the conversation LlamaIndex continued")
        show(RedisChatMessageHistory(SESSION, config=config).messages[-2:])

        step(5, "What Redis holds")
        log = MessageLog(config=config)
        info = log.info(SESSION)
        key = config.keys.session_messages(SESSION)
        client = server.client()
        print(
            f"   key {key!r}: {info.message_count} messages, "
            f"{client.memory_usage(key)} bytes, expires in {client.ttl(key)} s (sliding)"
        )
        report = status(client, prefix=config.prefix)
        print(
            f"   keys under prefix 'demo': {report['keys_by_kind']}; "
            f"server memory {report['used_memory_human']}"
        )
        timings = []
        for _ in range(200):
            read_started = time.perf_counter()
            log.messages(SESSION)
            timings.append((time.perf_counter() - read_started) * 1000)
        timings.sort()
        print(f"   reading the whole session: median {timings[100]:.3f} ms over 200 reads")

        async def follow() -> str:
            pubsub = client.pubsub()
            pubsub.subscribe(config.keys.session_channel(SESSION))
            pubsub.get_message(timeout=1)
            await RedisChatMessageHistory(SESSION, config=config).aadd_messages(
                [AIMessage("(a live update)")]
            )
            event = pubsub.get_message(timeout=1)
            pubsub.close()
            return event["data"].decode()

        print(f"   a dashboard subscribed to the session sees: {asyncio.run(follow())}")
        client.close()

        step(6, "LangChain: a semantic LLM cache in front of a (stand-in) chat model")
        cache_demo(config)

        step(7, "Two agents share work: claims, findings, and each other's events")
        agents_demo(config)

        step(8, "LangGraph: an agent stops for approval; another worker resumes it")
        langgraph_demo(config)
    step(9, "Stopped the embedded Redis; nothing is left running.")


def agents_demo(config: RedisMemoryConfig) -> None:
    bus, claims, findings = EventBus(config=config), Claims(config=config), Findings(config=config)
    tasks = ["compare-caches", "check-ttl-policy", "write-summary"]
    with bus.subscribe("tasks", idle_timeout=0.5) as events:
        done: dict[str, list[str]] = {"agent-a": [], "agent-b": []}
        for round_number in range(2):
            for agent in ("agent-a", "agent-b"):
                task = claims.claim_any(tasks, owner=agent)
                if task is None:
                    continue
                findings.add(task, {"round": round_number, "result": "ok"}, author=agent)
                done[agent].append(task)
        for agent, claimed in done.items():
            print(f"   {agent} claimed {claimed}")
        print(f"   a third agent finds nothing left: {claims.claim_any(tasks, owner='agent-c')}")
        for task in tasks:
            authors = [f.author for f in findings.list(task)]
            print(f"   findings on {task!r}: {len(authors)} by {authors}")
        seen = [
            f"{e.data['event']} {e.data['task_id']} by {e.data['owner']}"
            for e in events
            if e.data.get("event") in ("claimed", "released")
        ]
    print(f"   a dashboard following 'tasks' saw {len(seen)} events: {seen[:3]} ...")


@tool
def book_trip(place: str) -> str:
    """Book a day trip; a person approves it first."""
    answer = interrupt({"question": f"Book the day trip to {place}?"})
    return f"booked {place}" if answer == "yes" else f"not booked: {answer}"


class TripPlanner(BaseChatModel):
    """A stand-in chat model: it books the trip, then says so once the tool has answered."""

    @property
    def _llm_type(self) -> str:
        return "trip-planner"

    def bind_tools(self, tools: Any, **kwargs: Any) -> TripPlanner:
        return self

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        if messages[-1].type == "tool":
            reply = AIMessage(f"Done: {messages[-1].content} for Saturday.")
        else:
            call = {"name": "book_trip", "args": {"place": "Sintra"}, "id": "call-1"}
            reply = AIMessage("", tool_calls=[call])
        return ChatResult(generations=[ChatGeneration(message=reply)])


def langgraph_demo(config: RedisMemoryConfig) -> None:
    thread = {"configurable": {"thread_id": "trip:ana"}}

    def worker() -> Any:
        # Each worker builds its own agent and saver, as another process would.
        saver = RedisSaver(config=config, mirror_messages=True)
        return create_agent(TripPlanner(), tools=[book_trip], checkpointer=saver)

    first = worker()
    paused = first.invoke({"messages": [("user", "Book me a day trip to Sintra.")]}, thread)
    question = paused["__interrupt__"][0].value["question"]
    print(f"   worker 1 ran the agent until it asked: {question!r} (saved in Redis)")
    state = first.get_state(thread)
    print(f"   the thread waits at {state.next}; a person answers 'yes' hours later")
    started = time.perf_counter()
    done = worker().invoke(Command(resume="yes"), thread)
    took = (time.perf_counter() - started) * 1000
    print(f"   worker 2 resumed it in {took:.1f} ms: {done['messages'][-1].content!r}")
    checkpoints = len(list(RedisSaver(config=config).list(thread)))
    print(f"   {checkpoints} checkpoints in Redis under {config.keys.thread('trip:ana')!r}")
    print("   LlamaIndex reads the agent's conversation (mirror_messages=True):")
    for message in RedisChatStore(config=config).get_messages("trip:ana"):
        print(f"   {message.role.value:>9}: {message.content or '(calls a tool)'}")


class SlowModel(FakeMessagesListChatModel):
    """A stand-in for a real chat model: it takes 300 ms per answer and counts its calls.

    The demo gives it numbered answers, as a real model's differ from call to call: an
    answer served from the cache repeats an earlier number, a real call gives the next one.
    """

    calls: int = 0

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: Any = None,
        **kwargs: Any,
    ) -> ChatResult:
        self.calls += 1
        time.sleep(0.3)
        return super()._generate(messages, stop=stop, run_manager=run_manager, **kwargs)


def cache_demo(config: RedisMemoryConfig) -> None:
    cache = RedisSemanticCache(config=config)
    answer = "Run `pip install redis` and connect with redis.Redis()."
    model = SlowModel(
        responses=[AIMessage(f"{answer} (answer #{n})") for n in range(1, 4)], cache=cache
    )
    # Load the offline embedding model and create the index now, not on the first call.
    print(f"   (warmed up in {cache.warm_up():.1f} s: the model loads once per process)")
    for label, question in (
        ("miss", "How do I connect to Redis from Python?"),
        ("exact hit", "How do I connect to Redis from Python?"),
        ("semantic hit", "How can I connect to Redis using Python?"),
    ):
        started = time.perf_counter()
        answer = model.invoke(question)
        took = (time.perf_counter() - started) * 1000
        print(f"   {label:>12}: {took:7.1f} ms  {question!r} -> {answer.content!r}")
    stats = cache.stats.as_dict()
    print(
        f"   the model ran {model.calls} time(s); cache: {stats['exact_hits']} exact hit(s), "
        f"{stats['semantic_hits']} semantic hit(s), {stats['misses']} miss(es), "
        f"{stats['errors']} error(s)"
    )
    print("   (each real call gives the next answer number: a repeated number is a hit)")


if __name__ == "__main__":
    main()
