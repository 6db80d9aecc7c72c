"""Agents that see each other: a heartbeat and a capability query, ours and the floor.

The team has 50 live agents; the query asks for the agents with two capabilities
(10 and 25 of them hold each).

The floor is raw redis-py sending the same command as ours (``EVALSHA`` of the
same script, with the same keys and arguments built by hand): what is measured
is what the package adds around one round trip.
"""

from __future__ import annotations

from harness import Case, Impl

from redis_memory.presence import CAN, HEARTBEAT, Presence

TEAM_SIZE = 50


def agent_cases(ctx: object) -> list[Case]:
    config = ctx.config  # type: ignore[attr-defined]
    client = ctx.client  # type: ignore[attr-defined]
    team = Presence("bench", config=config, ttl=600)
    for i in range(TEAM_SIZE):
        caps = ["summarise", "en" if i % 2 else "fr", *(["code"] if i % 5 == 0 else [])]
        team.join(f"agent-{i}", capabilities=caps)
    keys = config.keys
    alive = keys.team_alive("bench")
    stems = [keys.team_agent_stem("bench"), keys.team_capability_stem("bench"), team.channel]
    beat_keys = [alive, keys.team_members("bench")]
    beat_args = [*stems, "bench", 86_400_000, "agent-7", 600_000]
    can_keys = [alive, keys.team_capability("bench", "code"), keys.team_capability("bench", "en")]
    client.script_load(HEARTBEAT.source)
    client.script_load(CAN.source)

    def floor_can() -> list[str]:
        return sorted(m.decode() for m in client.evalsha(CAN.sha, len(can_keys), *can_keys))

    assert floor_can() == team.can("code", "en")
    return [
        Case(
            "agents",
            "heartbeat",
            [
                Impl("ours", lambda: team.heartbeat("agent-7")),
                Impl("floor", lambda: client.evalsha(HEARTBEAT.sha, 2, *beat_keys, *beat_args)),
            ],
            iters=80,
        ),
        Case(
            "agents",
            "capability query",
            [
                Impl("ours", lambda: team.can("code", "en")),
                Impl("floor", floor_can),
            ],
            iters=80,
        ),
    ]
