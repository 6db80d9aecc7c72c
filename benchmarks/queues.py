"""The priority queue's take+ack, ours and the floor.

The floor is raw redis-py with the same guarantees, hand-written: a Lua script
that pops the highest task (``ZPOPMAX``) and records its lease (token, expiry
on the server's clock) in one round trip, and an ack script that deletes the
task only while that lease holds; orjson for the payload. Ours also sweeps due
delayed tasks and lost leases, counts attempts, keeps the holds index and (at
its defaults) publishes an event per change; "ours, no events" leaves the
events out.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
from harness import Case, Impl

from redis_memory._plan import Script
from redis_memory.priorityqueue import PriorityQueue

# Enough tasks for every call of a full run (warm-up, counting, 5 x 200 timed).
FILL = 3000
PAYLOAD = {"doc": "q3-report.pdf", "pages": 12, "lang": "en"}

# KEYS ready, leased, tokens, payloads; ARGV token, lease ms.
FLOOR_TAKE = Script("""
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local popped = redis.call('ZPOPMAX', KEYS[1])
if #popped == 0 then return nil end
local id = popped[1]
local expiry = string.format('%.0f', now + tonumber(ARGV[2]))
redis.call('ZADD', KEYS[2], expiry, id)
redis.call('HSET', KEYS[3], id, ARGV[1])
return {id, redis.call('HGET', KEYS[4], id), expiry}
""")

# KEYS as above; ARGV id, token.
FLOOR_ACK = Script("""
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then return 0 end
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not expiry or tonumber(expiry) <= now then return 0 end
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HDEL', KEYS[4], ARGV[1])
return 1
""")


def queue_cases(ctx: Any) -> list[Case]:
    client = ctx.client
    ours = PriorityQueue("bench-pq", config=ctx.config, lease=30)
    quiet = PriorityQueue("bench-pq-quiet", config=ctx.config, lease=30, publish_events=False)
    for queue in (ours, quiet):
        queue.clear()
        for i in range(FILL):
            queue.put(PAYLOAD, priority=i % 4)

    keys = [f"floorpq:{{q}}:{part}" for part in ("ready", "leased", "tokens", "payloads")]
    client.delete(*keys)
    encoded = orjson.dumps(PAYLOAD)
    pipe = client.pipeline(transaction=False)
    for i in range(FILL):
        task_id = uuid.uuid4().hex
        pipe.hset(keys[3], task_id, encoded)
        pipe.zadd(keys[0], {task_id: (i % 4) * 2**32 - i})
    pipe.execute()
    client.script_load(FLOOR_TAKE.source)
    client.script_load(FLOOR_ACK.source)

    def floor() -> None:
        token = uuid.uuid4().hex
        reply = client.evalsha(FLOOR_TAKE.sha, 4, *keys, token, 30_000)
        if reply is None:
            raise RuntimeError(f"the floor's queue ran out: raise FILL ({FILL})")
        orjson.loads(reply[1])
        if not client.evalsha(FLOOR_ACK.sha, 4, *keys, reply[0], token):
            raise RuntimeError("the floor's ack lost its lease")

    def take_ack(queue: PriorityQueue) -> None:
        task = queue.take("bench-worker")
        if task is None:
            raise RuntimeError(f"the queue ran out: raise FILL ({FILL})")
        if not queue.ack(task):
            raise RuntimeError("the ack lost its lease")

    return [
        Case(
            "queue",
            "priority queue take+ack",
            [
                Impl("ours", lambda: take_ack(ours)),
                Impl("floor", floor),
                Impl("ours, no events", lambda: take_ack(quiet)),
            ],
            iters=200,
        )
    ]
