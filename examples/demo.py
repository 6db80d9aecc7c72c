"""The redis-memory-backend demo: `make demo`.

Starts a private Redis Stack (no Redis needed on this machine), stores a short
conversation through the core (config, key schema, TTL policy, serializer),
reads it back, and shows what is in Redis.
"""

from __future__ import annotations

import time

from redis_memory import RedisClients, RedisMemoryConfig, TTLPolicy
from redis_memory.embedded import EmbeddedRedis
from redis_memory.server import status

CONVERSATION = [
    {"role": "system", "content": "You are a concise travel assistant."},
    {"role": "user", "content": "Two days in Lisbon: what should I not miss?"},
    {"role": "assistant", "content": "Alfama at dusk, Belém, and a day trip to Sintra."},
    {"role": "user", "content": "And to eat?"},
    {"role": "assistant", "content": "Pastéis de nata in Belém, grilled sardines in summer."},
]


def main() -> None:
    started = time.perf_counter()
    with EmbeddedRedis() as server:
        ready_ms = (time.perf_counter() - started) * 1000
        print(f"1. Embedded Redis {server.version} at {server.url} in {ready_ms:.0f} ms")
        print(
            f"   modules: {', '.join(sorted(server.modules)) or 'none'}"
            f" (Search available: {server.has_search})"
        )

        config = RedisMemoryConfig(url=server.url, prefix="demo", ttl=TTLPolicy(messages=3600))
        clients = RedisClients(config=config)
        key = config.keys.session_messages("traveller:ana")
        ttl = config.ttl.messages
        print(f"2. Session 'traveller:ana' lives at key {key!r}")
        print(f"   messages expire {ttl.seconds:g} s after the last use (sliding: {ttl.sliding})")

        encoded = [config.serializer.dumps(message) for message in CONVERSATION]
        with clients.sync.pipeline(transaction=True) as pipe:
            pipe.rpush(key, *encoded)
            pipe.pexpire(key, ttl.milliseconds)
            pipe.execute()
        print(f"3. Stored {len(encoded)} messages and their expiry in one round trip")

        read = [config.serializer.loads(raw) for raw in clients.sync.lrange(key, 0, -1)]
        assert read == CONVERSATION, "what was stored must come back unchanged"
        print("4. Read them back, unchanged:")
        for message in read:
            print(f"   {message['role']:>9}: {message['content']}")

        report = status(clients.sync, prefix=config.prefix)
        print(
            f"5. Redis now holds {report['keys_by_kind']} under prefix 'demo', "
            f"using {report['used_memory_human']}; TTL left: "
            f"{clients.sync.ttl(key)} s"
        )
        clients.close()
    print("6. Stopped the embedded Redis; nothing is left running.")


if __name__ == "__main__":
    main()
