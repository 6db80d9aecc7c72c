"""The benchmark cases: ours, the floor (raw redis-py) and the peers, per operation.

Every implementation works on its own keys of the same Redis. The peers are used
as their documentation shows, at their defaults. The floor is raw redis-py doing
the same logical work sensibly: one pipelined round trip, orjson, and the decode
into plain Python objects (or into the framework's objects, for the framework
cases), with the same expiry behaviour as our defaults (sliding 30-day TTL on
messages, so a floor read also renews it).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
import time
import uuid
import warnings
from typing import Any

import numpy as np
import orjson
import redis
import redis.asyncio
from harness import Case, Impl
from langchain_core.chat_history import BaseChatMessageHistory
from langchain_core.embeddings import Embeddings
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    message_to_dict,
    messages_from_dict,
)
from langchain_core.outputs import ChatGeneration
from langchain_core.prompts import ChatPromptTemplate, MessagesPlaceholder
from langchain_core.runnables.history import RunnableWithMessageHistory

from redis_memory import RedisMemoryConfig
from redis_memory.cache import ResponseCache
from redis_memory.history import AsyncMessageLog, MessageLog
from redis_memory.state import StateStore

warnings.filterwarnings("ignore", category=DeprecationWarning)
warnings.filterwarnings("ignore", message=".*sunset.*")

TTL_MS = 30 * 24 * 3600 * 1000  # our default sliding TTL for messages
DIMS = 384
_ids = itertools.count()


def fresh(name: str) -> str:
    return f"{name}-{next(_ids)}-{uuid.uuid4().hex[:6]}"


def user_text(i: int) -> str:
    return f"Question {i}: how do I keep the chat history of my assistant in Redis, and how fast?"


def ai_text(i: int) -> str:
    return (
        f"Answer {i}: keep one list per session, append each turn with one round trip, read "
        "the whole session or the last few messages with LRANGE, and let a sliding expiry "
        "remove sessions nobody uses any more. Pipelining keeps every operation to a single "
        "round trip."
    )


def lc_messages(n: int, start: int = 0) -> list[BaseMessage]:
    out: list[BaseMessage] = []
    for i in range(start, start + n):
        out.append(HumanMessage(user_text(i)) if i % 2 == 0 else AIMessage(ai_text(i)))
    return out


def dict_messages(n: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": user_text(i)}
        if i % 2 == 0
        else {"role": "assistant", "content": ai_text(i)}
        for i in range(start, start + n)
    ]


# -- the floor --------------------------------------------------------------------------------
class FloorLog:
    """Raw redis-py message log: RPUSH+PEXPIRE pipelined, LRANGE+PEXPIRE, orjson."""

    def __init__(self, client: redis.Redis, prefix: str = "floor") -> None:
        self.client = client
        self.prefix = prefix

    def key(self, session: str) -> str:
        return f"{self.prefix}:{{{session}}}:messages"

    def append_raw(self, session: str, encoded: list[bytes]) -> None:
        key = self.key(session)
        pipe = self.client.pipeline(transaction=False)
        pipe.rpush(key, *encoded)
        pipe.pexpire(key, TTL_MS)
        pipe.execute()

    def append(self, session: str, messages: list[dict[str, Any]]) -> None:
        self.append_raw(session, [orjson.dumps(m) for m in messages])

    def read_raw(self, session: str, start: int = 0, stop: int = -1) -> list[bytes]:
        key = self.key(session)
        pipe = self.client.pipeline(transaction=False)
        pipe.lrange(key, start, stop)
        pipe.pexpire(key, TTL_MS)
        return pipe.execute()[0]

    def read(self, session: str, start: int = 0, stop: int = -1) -> list[dict[str, Any]]:
        return [orjson.loads(raw) for raw in self.read_raw(session, start, stop)]


class FloorChatHistory(BaseChatMessageHistory):
    """The floor in LangChain's shape: FloorLog plus LangChain's own message (de)coding."""

    def __init__(self, log: FloorLog, session_id: str) -> None:
        self.log = log
        self.session_id = session_id

    @property
    def messages(self) -> list[BaseMessage]:  # type: ignore[override]
        return messages_from_dict([orjson.loads(r) for r in self.log.read_raw(self.session_id)])

    def get_last(self, n: int) -> list[BaseMessage]:
        raws = self.log.read_raw(self.session_id, -n, -1)
        return messages_from_dict([orjson.loads(r) for r in raws])

    def add_messages(self, messages: Any) -> None:
        self.log.append_raw(self.session_id, [orjson.dumps(message_to_dict(m)) for m in messages])

    def clear(self) -> None:
        self.log.client.unlink(self.log.key(self.session_id))


# -- the peers --------------------------------------------------------------------------------
_resp2_clients: dict[str, redis.Redis] = {}


def peer_langchain_redis(url: str, session: str) -> BaseChatMessageHistory:
    from langchain_redis import RedisChatMessageHistory

    # langchain-redis 0.2.6 parses FT.INFO as RESP2 lists: with redis-py 8's RESP3 replies
    # a second history on the same index fails, so it gets a RESP2 client (its redis_client=).
    if url not in _resp2_clients:
        _resp2_clients[url] = redis.Redis.from_url(url, protocol=2)
    return RedisChatMessageHistory(session, redis_client=_resp2_clients[url])


def peer_langchain_community(url: str, session: str) -> BaseChatMessageHistory:
    from langchain_community.chat_message_histories import RedisChatMessageHistory

    return RedisChatMessageHistory(session, url=url)


class Ctx:
    """What every case needs: the server's URL, a sync client and our config."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.client = redis.Redis.from_url(url)
        self.config = RedisMemoryConfig(url=url, prefix="bench")
        self.floor = FloorLog(self.client)
        self.log = MessageLog(config=self.config)


# -- history ----------------------------------------------------------------------------------
def _lc_histories(ctx: Ctx, session: str) -> dict[str, Any]:
    from langchain_redis_memory import RedisChatMessageHistory

    return {
        "ours": RedisChatMessageHistory(session, config=ctx.config),
        "floor": FloorChatHistory(ctx.floor, session),
        "langchain-redis": peer_langchain_redis(ctx.url, session),
        "langchain-community": peer_langchain_community(ctx.url, session),
    }


def _fill_lc(histories: dict[str, Any], n: int) -> None:
    for start in range(0, n, 500):
        batch = lc_messages(min(500, n - start), start)
        for history in histories.values():
            history.add_messages(batch)


def history_cases(ctx: Ctx) -> list[Case]:
    cases: list[Case] = []
    one = [HumanMessage(user_text(1))]
    ten = lc_messages(10)
    # Appends: LangChain level, each implementation appends to its own fresh session.
    hs = _lc_histories(ctx, fresh("append1"))
    cases.append(
        Case(
            "history",
            "append 1 message (LangChain)",
            [Impl(n, lambda h=h: h.add_messages(one)) for n, h in hs.items()],
            iters=60,
        )
    )
    hs = _lc_histories(ctx, fresh("append10"))
    cases.append(
        Case(
            "history",
            "append batch of 10 (LangChain)",
            [Impl(n, lambda h=h: h.add_messages(ten)) for n, h in hs.items()],
            iters=30,
        )
    )
    # Reads of whole sessions.
    for length, iters in ((10, 60), (200, 30), (2000, 4)):
        hs = _lc_histories(ctx, fresh(f"read{length}"))
        _fill_lc(hs, length)
        cases.append(
            Case(
                "history",
                f"read {length} messages (LangChain)",
                [Impl(n, lambda h=h: h.messages) for n, h in hs.items()],
                iters=iters,
                x=length,
            )
        )
    hs = _lc_histories(ctx, fresh("last20"))
    _fill_lc(hs, 2000)
    impls = [
        Impl("ours", lambda h=hs["ours"]: h.get_messages(last=20)),
        Impl("floor", lambda h=hs["floor"]: h.get_last(20)),
        # The peers have no "last N" read: their documented way is messages[-20:].
        Impl("langchain-redis", lambda h=hs["langchain-redis"]: h.messages[-20:]),
        Impl("langchain-community", lambda h=hs["langchain-community"]: h.messages[-20:]),
    ]
    cases.append(Case("history", "read last 20 of 2,000 (LangChain)", impls, iters=8))

    # One RunnableWithMessageHistory turn, a fresh session per implementation, growing.
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are terse."), MessagesPlaceholder("history"), ("human", "{q}")]
    )
    model = FakeListChatModel(responses=["Sure."])
    chain = prompt | model
    impls = []
    for name in ("ours", "floor", "langchain-redis", "langchain-community"):
        session = fresh("turn")
        history = _lc_histories(ctx, session)[name]
        runnable = RunnableWithMessageHistory(
            chain,
            lambda _sid, h=history: h,
            input_messages_key="q",
            history_messages_key="history",
        )
        conf = {"configurable": {"session_id": session}}
        impls.append(Impl(name, lambda r=runnable, c=conf: r.invoke({"q": "Hello?"}, config=c)))
    cases.append(Case("history", "RunnableWithMessageHistory turn", impls, iters=15))

    # Core level: plain dicts in and out, against the floor and redisvl's MessageHistory.
    from redisvl.extensions.message_history import MessageHistory

    core_sessions = {n: fresh("core") for n in ("ours", "floor", "redisvl")}
    redisvl_history = MessageHistory(
        "bench-rvl", redis_url=ctx.url, session_tag=core_sessions["redisvl"]
    )
    d1 = dict_messages(1)
    cases.append(
        Case(
            "history-core",
            "append 1 message (dicts)",
            [
                Impl("ours", lambda s=core_sessions["ours"]: ctx.log.append(s, d1)),
                Impl("floor", lambda s=core_sessions["floor"]: ctx.floor.append(s, d1)),
                Impl("redisvl", lambda: redisvl_history.add_messages(d1)),
            ],
            iters=60,
        )
    )
    for length, iters in ((10, 60), (200, 30), (2000, 4)):
        sessions = {n: fresh(f"core{length}") for n in ("ours", "floor", "redisvl")}
        rvl = MessageHistory(f"bench-rvl{length}", redis_url=ctx.url)
        for start in range(0, length, 500):
            batch = dict_messages(min(500, length - start), start)
            ctx.log.append(sessions["ours"], batch)
            ctx.floor.append(sessions["floor"], batch)
            rvl.add_messages(batch, session_tag=sessions["redisvl"])
        cases.append(
            Case(
                "history-core",
                f"read {length} messages (dicts)",
                [
                    Impl("ours", lambda s=sessions["ours"]: ctx.log.messages(s)),
                    Impl("floor", lambda s=sessions["floor"]: ctx.floor.read(s)),
                    # redisvl's documented read of a whole session.
                    Impl(
                        "redisvl",
                        lambda r=rvl, s=sessions["redisvl"], n=length: r.get_recent(
                            top_k=n, session_tag=s
                        ),
                    ),
                ],
                iters=iters,
                x=length,
            )
        )
    return cases


# -- LlamaIndex -------------------------------------------------------------------------------
def llama_cases(ctx: Ctx) -> list[Case]:
    from llama_index.core.llms import ChatMessage
    from llama_index.core.memory import ChatMemoryBuffer, Memory
    from llama_index.storage.chat_store.redis import RedisChatStore as PeerStore

    from llama_index_redis_memory import RedisChatStore, RedisMemoryChatStore

    def li_messages(n: int, start: int = 0) -> list[ChatMessage]:
        return [
            ChatMessage(role="user" if d["role"] == "user" else "assistant", content=d["content"])
            for d in dict_messages(n, start)
        ]

    ours = RedisChatStore(config=ctx.config)
    peer = PeerStore(redis_url=ctx.url)
    cases: list[Case] = []
    for length in (10, 200):
        buffers = {}
        for name, store in (("ours", ours), ("llama-index-redis", peer)):
            key = fresh(f"li{length}")
            store.set_messages(key, li_messages(length))
            buffers[name] = ChatMemoryBuffer.from_defaults(
                chat_store=store, chat_store_key=key, token_limit=10**6
            )
        cases.append(
            Case(
                "llama-index",
                f"ChatMemoryBuffer.get, {length} messages",
                [Impl(n, lambda b=b: b.get()) for n, b in buffers.items()],
                iters=30 if length == 10 else 15,
                floor=None,
            )
        )
    message = li_messages(1)[0]
    keys = {n: fresh("liput") for n in ("ours", "llama-index-redis")}
    cases.append(
        Case(
            "llama-index",
            "chat store add_message",
            [
                Impl("ours", lambda: ours.add_message(keys["ours"], message)),
                Impl(
                    "llama-index-redis",
                    lambda: peer.add_message(keys["llama-index-redis"], message),
                ),
            ],
            iters=60,
            floor=None,
        )
    )
    # Memory (LlamaIndex's newer memory) needs an AsyncDBChatStore: the peer package has
    # none, so the alternative a user has is Memory's default, SQLite in memory.
    memories = {
        "ours": Memory.from_defaults(
            session_id=fresh("mem"), chat_store=RedisMemoryChatStore(config=ctx.config)
        ),
        "llama-index default (SQLite)": Memory.from_defaults(session_id=fresh("mem")),
    }
    for memory in memories.values():
        for m in li_messages(20):
            memory.put(m)
    cases.append(
        Case(
            "llama-index",
            "Memory.aget (20 messages)",
            [Impl(n, lambda m=m: m.aget(), is_async=True) for n, m in memories.items()],
            iters=30,
            floor=None,
        )
    )
    put_memories = {
        "ours": Memory.from_defaults(
            session_id=fresh("mput"),
            chat_store=RedisMemoryChatStore(config=ctx.config),
            token_limit=10**7,
        ),
        "llama-index default (SQLite)": Memory.from_defaults(
            session_id=fresh("mput"), token_limit=10**7
        ),
    }
    cases.append(
        Case(
            "llama-index",
            "Memory.aput",
            [Impl(n, lambda m=m: m.aput(message), is_async=True) for n, m in put_memories.items()],
            iters=30,
            floor=None,
        )
    )
    return cases


# -- cache ------------------------------------------------------------------------------------
class StandInEmbeddings(Embeddings):
    """Returns at once: a bag of words hashed into 384 dimensions, unit length.

    Texts with the same words (case and punctuation aside) get the same vector,
    which makes a paraphrase hit deterministic; its time is measured apart.
    """

    def __init__(self) -> None:
        self.seconds = 0.0

    def vector(self, text: str) -> list[float]:
        start = time.perf_counter()
        v = np.zeros(DIMS, dtype=np.float32)
        for word in re.findall(r"[a-z0-9]+", text.lower()):
            h = int.from_bytes(hashlib.blake2b(word.encode(), digest_size=4).digest(), "little")
            v[h % DIMS] += 1.0 if h & 1 << 31 else -1.0
        norm = float(np.linalg.norm(v)) or 1.0
        out = (v / norm).tolist()
        self.seconds += time.perf_counter() - start
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self.vector(text)


LLM = "ChatFake:model=bench-1,temperature=0"
ANSWER = [ChatGeneration(message=AIMessage("Redis keeps data in memory and answers fast."))]


class FloorCache:
    """Raw redis-py exact cache: SET EX / GET of orjson, LangChain's own message dicts."""

    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def key(self, prompt: str, llm: str) -> str:
        return "floorcache:" + hashlib.sha256(f"{llm}\x00{prompt}".encode()).hexdigest()

    def lookup(self, prompt: str, llm: str) -> list[ChatGeneration] | None:
        raw = self.client.get(self.key(prompt, llm))
        if raw is None:
            return None
        return [ChatGeneration(message=messages_from_dict([m])[0]) for m in orjson.loads(raw)]

    def update(self, prompt: str, llm: str, value: list[ChatGeneration]) -> None:
        data = orjson.dumps([message_to_dict(g.message) for g in value])
        self.client.set(self.key(prompt, llm), data, ex=86400)


class FloorSemanticCache(FloorCache):
    """Raw redis-py semantic cache: exact GET first, then FT.SEARCH KNN with an llm filter."""

    def __init__(self, client: redis.Redis, embeddings: StandInEmbeddings) -> None:
        super().__init__(client)
        from redis.commands.search.field import TagField, TextField, VectorField
        from redis.commands.search.index_definition import IndexDefinition

        self.embeddings = embeddings
        self.index = client.ft("floorsem-idx")
        fields = [
            TagField("llm"),
            TextField("response", no_stem=True),
            VectorField("v", "FLAT", {"TYPE": "FLOAT32", "DIM": DIMS, "DISTANCE_METRIC": "COSINE"}),
        ]
        with contextlib.suppress(redis.ResponseError):
            self.index.create_index(fields, definition=IndexDefinition(prefix=["floorsem:"]))

    def _search(self, vector: bytes, llm_hash: str) -> Any:
        from redis.commands.search.query import Query

        query = (
            Query(f"(@llm:{{{llm_hash}}})=>[KNN 1 @v $vec AS d]")
            .return_fields("response", "d")
            .dialect(2)
        )
        return self.index.search(query, query_params={"vec": vector})

    def lookup(self, prompt: str, llm: str) -> list[ChatGeneration] | None:
        exact = super().lookup(prompt, llm)
        if exact is not None:
            return exact
        vector = np.asarray(self.embeddings.vector(prompt), dtype=np.float32).tobytes()
        found = self._search(vector, hashlib.sha256(llm.encode()).hexdigest()[:16])
        if not found.docs or float(found.docs[0].d) > 0.1:
            self._last = vector
            return None
        return [
            ChatGeneration(message=messages_from_dict([m])[0])
            for m in orjson.loads(found.docs[0].response)
        ]

    def update(self, prompt: str, llm: str, value: list[ChatGeneration]) -> None:
        data = orjson.dumps([message_to_dict(g.message) for g in value])
        vector = (
            getattr(self, "_last", None)
            or np.asarray(self.embeddings.vector(prompt), dtype=np.float32).tobytes()
        )
        key = "floorsem:" + hashlib.sha256(f"{llm}\x00{prompt}".encode()).hexdigest()
        pipe = self.client.pipeline(transaction=False)
        pipe.set(self.key(prompt, llm), data, ex=86400)
        llm_hash = hashlib.sha256(llm.encode()).hexdigest()[:16]
        pipe.hset(key, mapping={"llm": llm_hash, "response": data, "v": vector})
        pipe.expire(key, 86400)
        pipe.execute()


def _exact_caches(ctx: Ctx) -> dict[str, Any]:
    from langchain_community.cache import RedisCache as CommunityCache
    from langchain_redis import RedisCache as LangchainRedisCache

    from langchain_redis_memory import RedisCache

    return {
        "ours": RedisCache(fresh("exact"), config=ctx.config),
        "floor": FloorCache(ctx.client),
        "langchain-redis": LangchainRedisCache(redis_url=ctx.url),
        "langchain-community": CommunityCache(redis_=redis.Redis.from_url(ctx.url)),
    }


def _semantic_caches(ctx: Ctx) -> dict[str, tuple[Any, StandInEmbeddings]]:
    from langchain_redis import RedisSemanticCache as LangchainRedisSemantic
    from redisvl.extensions.cache.llm import SemanticCache
    from redisvl.utils.vectorize import CustomTextVectorizer

    from langchain_redis_memory import RedisSemanticCache

    out: dict[str, tuple[Any, StandInEmbeddings]] = {}
    e = StandInEmbeddings()
    out["ours"] = (RedisSemanticCache(fresh("sem"), config=ctx.config, embeddings=e), e)
    # The same with a plain distance threshold (as the peers use) instead of the
    # default hit verifier: shows what the verifier's precision costs.
    e = StandInEmbeddings()
    out["ours (threshold)"] = (
        RedisSemanticCache(
            fresh("semthr"), config=ctx.config, embeddings=e, distance_threshold=0.1
        ),
        e,
    )
    e = StandInEmbeddings()
    out["floor"] = (FloorSemanticCache(ctx.client, e), e)
    e = StandInEmbeddings()
    out["langchain-redis"] = (
        LangchainRedisSemantic(embeddings=e, redis_url=ctx.url, name=fresh("lcr")),
        e,
    )
    e = StandInEmbeddings()
    vectorizer = CustomTextVectorizer(embed=e.embed_query)
    out["redisvl"] = (
        _RedisVLCache(SemanticCache(name=fresh("rvl"), redis_url=ctx.url, vectorizer=vectorizer)),
        e,
    )
    return out


class _RedisVLCache:
    """redisvl's SemanticCache behind LangChain's lookup/update names (its check/store)."""

    def __init__(self, cache: Any) -> None:
        self.cache = cache

    def lookup(self, prompt: str, llm: str) -> Any:
        hits = self.cache.check(prompt=prompt, num_results=1)
        return orjson.loads(hits[0]["response"]) if hits else None

    def update(self, prompt: str, llm: str, value: list[ChatGeneration]) -> None:
        data = orjson.dumps([message_to_dict(g.message) for g in value]).decode()
        self.cache.store(prompt=prompt, response=data)


def cache_cases(ctx: Ctx) -> list[Case]:
    cases: list[Case] = []
    caches = _exact_caches(ctx)
    prompt = orjson.dumps([{"type": "human", "content": "What is Redis?"}]).decode()
    for cache in caches.values():
        cache.update(prompt, LLM, ANSWER)
    cases.append(
        Case(
            "cache",
            "exact hit",
            [Impl(n, lambda c=c: c.lookup(prompt, LLM)) for n, c in caches.items()],
            iters=60,
        )
    )

    def miss_update(cache: Any) -> None:
        p = fresh("prompt")
        if cache.lookup(p, LLM) is None:
            cache.update(p, LLM, ANSWER)

    cases.append(
        Case(
            "cache",
            "exact miss + update",
            [Impl(n, lambda c=c: miss_update(c)) for n, c in caches.items()],
            iters=40,
        )
    )
    sem = _semantic_caches(ctx)
    stored = "How do I keep chat history in Redis?"
    for cache, _ in sem.values():
        cache.update(stored, LLM, ANSWER)
        for i in range(200):  # other entries, so the index is not trivially small
            cache.update(f"unrelated question number {i} about topic t{i}", LLM, ANSWER)
    paraphrase = "how do i keep chat history in redis"  # same words: distance 0
    for name, (cache, _) in sem.items():
        if cache.lookup(paraphrase, LLM) is None:
            raise RuntimeError(f"semantic cache {name} misses its paraphrase")
    cases.append(
        Case(
            "cache",
            "semantic hit (paraphrase)",
            [
                Impl(n, lambda c=c: c.lookup(paraphrase, LLM), embed_seconds=lambda e=e: e.seconds)
                for n, (c, e) in sem.items()
            ],
            iters=40,
        )
    )
    cases.append(
        Case(
            "cache",
            "semantic miss + update",
            [
                Impl(n, lambda c=c: miss_update(c), embed_seconds=lambda e=e: e.seconds)
                for n, (c, e) in sem.items()
            ],
            iters=30,
        )
    )
    # Core level: plain values, against the floor's GET + orjson.loads.
    core = ResponseCache(fresh("core"), config=ctx.config)
    value = {"text": "Redis keeps data in memory and answers fast."}
    core.update("What is Redis?", LLM, value)
    ctx.client.set("floorcore", orjson.dumps(value), ex=86400)
    cases.append(
        Case(
            "cache-core",
            "exact hit (plain value)",
            [
                Impl("ours", lambda: core.lookup("What is Redis?", LLM)),
                Impl("floor", lambda: orjson.loads(ctx.client.get("floorcore"))),
            ],
            iters=60,
        )
    )
    return cases


# -- state ------------------------------------------------------------------------------------
def state_cases(ctx: Ctx) -> list[Case]:
    store = StateStore(config=ctx.config)
    user = fresh("user")
    value = {"name": "Ana", "plan": "pro", "preferences": {"lang": "en", "tz": "UTC"}, "n": 3}
    store.set(user, "profile", value)
    fkey = "floorstate:{u}:profile"
    ctx.client.set(fkey, orjson.dumps(value))
    many = [f"k{i}" for i in range(100)]
    store.set_many(user, {k: value for k in many})
    fmany = [f"floorstate:{{u}}:{k}" for k in many]
    ctx.client.mset({k: orjson.dumps(value) for k in fmany})

    def floor_get_many() -> dict[str, Any]:
        raws = ctx.client.mget(fmany)
        return {k: orjson.loads(r) for k, r in zip(many, raws, strict=True) if r is not None}

    return [
        Case(
            "state",
            "get",
            [
                Impl("ours", lambda: store.get(user, "profile")),
                Impl("floor", lambda: orjson.loads(ctx.client.get(fkey))),
            ],
            iters=80,
        ),
        Case(
            "state",
            "set",
            [
                Impl("ours", lambda: store.set(user, "profile", value)),
                Impl("floor", lambda: ctx.client.set(fkey, orjson.dumps(value))),
            ],
            iters=80,
        ),
        Case(
            "state",
            "get many (100)",
            [
                Impl("ours", lambda: store.get_many(user, many)),
                Impl("floor", floor_get_many),
            ],
            iters=40,
        ),
    ]


# -- concurrency ------------------------------------------------------------------------------
async def concurrent_appends(
    kind: str, url: str, config: RedisMemoryConfig, tasks: int, per_task: int, one_session: bool
) -> tuple[float, list[float]]:
    """(wall seconds, per-append latencies) for ``tasks`` tasks appending ``per_task`` each."""
    message = dict_messages(1)
    encoded = [orjson.dumps(m) for m in message]
    run = fresh("conc")
    # redis-py 8's asyncio pool refuses more than 100 connections by default, and each
    # in-flight command holds one: both get room for 256 tasks.
    pool_size = 512
    if kind == "ours":
        log = AsyncMessageLog(config=config.replace(max_connections=pool_size))

        async def append(session: str) -> None:
            await log.append(session, message)

    else:
        client = redis.asyncio.Redis.from_url(url, max_connections=pool_size)

        async def append(session: str) -> None:
            key = f"floor:{{{session}}}:messages"
            pipe = client.pipeline(transaction=False)
            pipe.rpush(key, *encoded)
            pipe.pexpire(key, TTL_MS)
            await pipe.execute()

    latencies: list[float] = []
    clock = time.perf_counter

    async def worker(i: int) -> None:
        session = run if one_session else f"{run}-{i}"
        for _ in range(per_task):
            start = clock()
            await append(session)
            latencies.append(clock() - start)

    import asyncio

    # Warm the pool: one connection per task, for both, before the clock starts.
    await asyncio.gather(*(append(f"{run}-warm-{i}") for i in range(tasks)))
    latencies.clear()
    start = clock()
    await asyncio.gather(*(worker(i) for i in range(tasks)))
    wall = clock() - start
    if kind != "ours":
        await client.aclose()
    return wall, latencies
