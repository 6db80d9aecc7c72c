"""Presence, capabilities, who is doing what, and permissions, against a real Redis.

Nothing sweeps in these tests: an agent whose heartbeat ran out must read as
gone from every call, with no write in between.
"""

from __future__ import annotations

import inspect
import json

import pytest
from _waiting import wait_until, wait_until_async

from redis_memory import RedisMemoryConfig, RedisUnavailableError, SerializationError
from redis_memory.coordination import AsyncClaims, Claims
from redis_memory.presence import (
    Agent,
    AsyncPermissions,
    AsyncPresence,
    Permissions,
    Presence,
)

HOSTILE = [
    "a:b",
    "a}:can:{b",
    "*",
    "?[x]\\%41",
    "two words",
    "tab\there",
    "new\nline",
    "ünïcødé 智能体",
    "q" * 512,
    '"quoted"',
]


def _events(pubsub):
    """The events published so far (each within 0.2 s of the previous)."""
    events = []
    while (message := pubsub.get_message(ignore_subscribe_messages=True, timeout=0.2)) is not None:
        events.append(json.loads(message["data"]))
    return events


@pytest.fixture
def team(config):
    return Presence("team-a", config=config)


@pytest.fixture
def subscribed(redis_client, team):
    pubsub = redis_client.pubsub()
    pubsub.subscribe(team.channel)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    yield pubsub
    pubsub.close()


# -- presence ------------------------------------------------------------------------
def test_join_get_alive_leave(team):
    assert team.join("a", capabilities=["search", "write"], metadata={"model": "small"})
    assert not team.join("a", capabilities=["search"], metadata={"model": "large"})
    assert team.join("b")
    agent = team.get("a")
    assert agent.id == "a"
    assert agent.capabilities == {"search"}  # a join replaces the capabilities
    assert agent.metadata == {"model": "large"}
    assert 0 < agent.expires_in <= team.ttl
    assert agent.joined <= agent.last_seen
    assert sorted(a.id for a in team.alive()) == ["a", "b"]
    assert team.can("write") == []
    assert team.leave("a")
    assert not team.leave("a")
    assert team.get("a") is None
    assert [a.id for a in team.alive()] == ["b"]


def test_teams_do_not_see_each_other(config):
    red, blue = Presence("red", config=config), Presence("blue", config=config)
    red.join("agent", capabilities=["x"])
    assert blue.get("agent") is None
    assert blue.can("x") == []
    assert blue.alive() == []


def test_an_agent_expires_without_a_sweeper(config):
    team = Presence("t", config=config, ttl=0.3)
    team.join("quick", capabilities=["x"])
    team.join("other", capabilities=["x"], metadata={})
    assert team.can("x") == ["other", "quick"]
    wait_until(lambda: team.get("quick") is None and team.get("other") is None)
    # Nobody wrote since the joins: every read compares with the server's clock.
    assert team.alive() == []
    assert team.can("x") == []
    assert team.doing().agents == []
    assert not team.heartbeat("quick")  # expired: it must join again
    assert team.join("quick")


def _outlived_its_join(team: Presence, agent_id: str, first: Agent) -> bool:
    """Whether the agent is alive later than its join's deadline, never having expired.

    By the server's clock: an agent read ``expires_in`` before its deadline,
    ``last_seen + ttl``, so now less the ttl is ``last_seen - expires_in``.
    """
    agent = team.get(agent_id)
    assert agent is not None, f"{agent_id} expired between two heartbeats"
    assert agent.joined == first.joined, f"{agent_id} expired and joined again"
    return agent.last_seen - agent.expires_in > first.joined


def test_heartbeats_keep_an_agent_alive_and_expiries_are_announced_once(config, redis_client):
    # Two handles on one team: "steady" beats against a 2 s ttl (only a stall of the
    # test that long could lose it), "dies" joins for 0.3 s and never beats.
    team = Presence("t", config=config, ttl=2)
    short = Presence("t", config=config, ttl=0.3)
    pubsub = redis_client.pubsub()
    pubsub.subscribe(team.channel)
    assert pubsub.get_message(timeout=1)["type"] == "subscribe"
    try:
        team.join("steady", capabilities=["x"])
        short.join("dies", capabilities=["x", "y"])
        first = team.get("steady")

        def beating() -> bool:
            assert team.heartbeat("steady")
            return _outlived_its_join(team, "steady", first) and team.get("dies") is None

        # Steady heartbeats until "steady" is alive past its first ttl, "dies" not.
        wait_until(beating, attempts=600, pause=0.05, what="steady to outlive its first ttl")
        assert [a.id for a in team.alive()] == ["steady"]
        assert team.can("x") == ["steady"]
        assert team.heartbeat("steady")  # a write clears the dead one
        assert team.heartbeat("steady")
        events = _events(pubsub)
        assert events == [
            {"event": "joined", "team": "t", "agent": "steady"},
            {"event": "joined", "team": "t", "agent": "dies"},
            {"event": "expired", "team": "t", "agent": "dies"},
        ]
        team.leave("steady")
        assert _events(pubsub) == [{"event": "left", "team": "t", "agent": "steady"}]
    finally:
        pubsub.close()
    # The dead agent's record and capability sets are gone, not only hidden.
    assert not redis_client.exists(config.keys.team_agent("t", "dies"))
    assert not redis_client.exists(config.keys.team_capability("t", "y"))


def test_capabilities_are_intersected_over_live_agents(team):
    team.join("a", capabilities=["summarise", "en"])
    team.join("b", capabilities=["summarise", "fr"])
    team.join("c", capabilities=["en", "fr", "summarise"])
    assert team.can("summarise") == ["a", "b", "c"]
    assert team.can("summarise", "fr") == ["b", "c"]
    assert team.can("en", "fr") == ["c"]
    assert team.can("de") == []
    team.leave("c")
    assert team.can("en", "fr") == []
    with pytest.raises(ValueError, match="at least one capability"):
        team.can()


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_agent_ids_and_capabilities(team, name, config, redis_client):
    assert team.join(name, capabilities=[name, "plain"], metadata={name: name})
    assert team.join("plain", capabilities=["plain"])
    agent = team.get(name)
    assert (agent.id, agent.capabilities, agent.metadata) == (name, {name, "plain"}, {name: name})
    assert team.can(name) == [name]
    assert team.can(name, "plain") == [name]
    assert team.can("plain") == sorted([name, "plain"])
    keys = {k.decode() for k in redis_client.scan_iter(match=f"{config.prefix}:*")}
    assert all(key.startswith(config.keys.team("team-a")) for key in keys)
    assert team.leave(name)
    assert team.can(name) == []


def test_space_separated_names_stay_apart(team):
    team.join("x", capabilities=["a b"])
    team.join("y", capabilities=["a", "b"])
    assert team.can("a b") == ["x"]
    assert team.can("a", "b") == ["y"]


def test_bad_arguments_are_named(team, config):
    with pytest.raises(ValueError, match="agent id"):
        team.join("")
    with pytest.raises(TypeError, match="agent id"):
        team.heartbeat(7)
    with pytest.raises(ValueError, match="agent id"):
        team.get("q" * 513)
    with pytest.raises(TypeError, match="single str"):
        team.join("a", capabilities="summarise")
    with pytest.raises(TypeError, match="capability must be a str"):
        team.can(["summarise"])
    with pytest.raises(ValueError, match="capability"):
        team.join("a", capabilities=[""])
    with pytest.raises(TypeError, match="metadata must be a dict"):
        team.join("a", metadata=["x"])
    with pytest.raises(SerializationError, match="metadata"):
        team.join("a", metadata={"when": object()})
    with pytest.raises(ValueError, match="at most 256"):
        team.join("a", capabilities=[f"c{i}" for i in range(257)])
    with pytest.raises(ValueError, match="team name"):
        Presence("", config=config)
    with pytest.raises(ValueError, match="ttl"):
        Presence("t", config=config, ttl=0)
    with (
        pytest.raises(ValueError, match="shorter than the presence ttl"),
        team.running("a", interval=team.ttl),
    ):
        pass
    assert team.alive() == []  # nothing was half registered


def test_running_keeps_the_heartbeat_and_leaves_on_exit(config):
    # Heartbeats every 0.1 s against a 2 s ttl: only a stall that long could lose it.
    team = Presence("t", config=config, ttl=2)
    running = team.running("worker", capabilities=["x"], metadata={"pid": 1}, interval=0.1)
    with running as same:
        assert same is team
        first = team.get("worker")
        wait_until(lambda: team.get("worker").last_seen > first.last_seen)
        # Alive past the join's deadline: only thanks to the heartbeats.
        wait_until(
            lambda: _outlived_its_join(team, "worker", first),
            attempts=600,
            pause=0.05,
            what="the worker to outlive its first ttl",
        )
        assert team.can("x") == ["worker"]
    assert team.get("worker") is None


def test_running_leaves_on_an_exception_and_rejoins_after_a_pause(config):
    team = Presence("t", config=config, ttl=0.3)
    with (
        pytest.raises(RuntimeError, match="boom"),
        team.running("worker", capabilities=["x"], interval=0.05),
    ):
        team.leave("worker")  # as if its heartbeat ran out during a pause
        again = wait_until(lambda: team.get("worker"))  # joined again
        assert again.capabilities == {"x"}
        raise RuntimeError("boom")
    assert team.get("worker") is None


async def test_async_presence(config):
    # Heartbeats every 0.1 s against a 2 s ttl: only a stall that long could lose it.
    team = AsyncPresence("t", config=config, ttl=2)
    async with team.running("w", capabilities=["x", "y"], interval=0.1):
        first = await team.get("w")

        async def outlived_its_join() -> bool:
            agent = await team.get("w")
            assert agent is not None, "w expired between two heartbeats"
            assert agent.joined == first.joined, "w expired and joined again"
            return agent.last_seen - agent.expires_in > first.joined  # as _outlived_its_join

        # Alive past the join's deadline: only thanks to the heartbeats.
        await wait_until_async(
            outlived_its_join, attempts=600, pause=0.05, what="w to outlive its first ttl"
        )
        assert await team.can("x", "y") == ["w"]
        assert (await team.get("w")).capabilities == {"x", "y"}
        assert [a.id for a in await team.alive()] == ["w"]
        assert await team.join("v")
        assert await team.heartbeat("v")
        assert await team.leave("v")
    assert await team.get("w") is None
    with pytest.raises(RuntimeError, match="boom"):
        async with team.running("w"):
            raise RuntimeError("boom")
    assert await team.alive() == []


def test_sync_and_async_twins_have_the_same_methods():
    for sync, twin in [(Presence, AsyncPresence), (Permissions, AsyncPermissions)]:
        public = {n for n in dir(sync) if not n.startswith("_")}
        assert public == {n for n in dir(twin) if not n.startswith("_")}
        for name in public:
            method = getattr(sync, name)
            if callable(method):
                params = inspect.signature(getattr(twin, name)).parameters
                assert inspect.signature(method).parameters == params, name
                assert getattr(twin, name).__doc__, name


def test_redis_down_is_named(config):
    down = RedisMemoryConfig(url="redis://127.0.0.1:1/0", prefix=config.prefix, retries=0)
    team = Presence("t", config=down)
    with pytest.raises(
        RedisUnavailableError, match=r"127\.0\.0\.1:1.*sending an agent's heartbeat"
    ):
        team.heartbeat("a")
    with pytest.raises(RedisUnavailableError, match="finding agents by capability"):
        team.can("x")
    with pytest.raises(RedisUnavailableError, match="granting permissions"):
        Permissions(config=down).grant("u", "read")


def test_one_round_trip_each(config, round_trips):
    team = Presence("t", config=config, client=round_trips.client)
    team.join("a", capabilities=["x", "y"])
    team.heartbeat("a")
    team.can("x", "y")
    team.alive()
    team.get("a")  # every script is loaded now
    for call in [
        lambda: team.heartbeat("a"),
        lambda: team.can("x", "y"),
        lambda: team.join("a", capabilities=["x"]),
        lambda: team.alive(),
        lambda: team.get("a"),
        lambda: team.leave("a"),
    ]:
        round_trips.count = 0
        call()
        assert round_trips.count == 1


# -- who is doing what ----------------------------------------------------------------
def test_doing_lists_each_live_agent_s_claims_and_the_orphaned_ones(config):
    # Two handles on one team: "alive" lives 30 s a heartbeat, "dying" 0.3 s.
    team = Presence("t", config=config, ttl=30)
    short = Presence("t", config=config, ttl=0.3)
    claims = Claims(config=config)
    team.join("alive", capabilities=["x"])
    short.join("dying")
    assert claims.claim("t1", "alive", ttl=60)
    assert claims.claim("t2", "dying", ttl=60)
    assert claims.claim("t3", "never-joined", ttl=60)
    assert claims.claim("released", "alive")
    assert claims.release("released", "alive")
    with team.running("alive", capabilities=["x"]):
        wait_until(lambda: team.get("dying") is None)
        activity = team.doing()
    assert [entry.agent.id for entry in activity.agents] == ["alive"]
    [(hold)] = activity.agents[0].holds
    assert (hold.kind, hold.name, hold.holder) == ("claim", "t1", "alive")
    assert 55 < hold.expires_in <= 60
    # Before they expire: the claim of the team's dead agent, and one of a stranger.
    assert [(h.name, h.holder) for h in activity.orphaned] == [("t2", "dying")]
    assert [(h.name, h.holder) for h in activity.others] == [("t3", "never-joined")]
    assert activity.holder_of("claim", "t2") == "dying"
    assert activity.holder_of("claim", "released") is None


def test_an_agent_that_left_holding_a_claim_is_orphaned_and_other_teams_are_apart(config):
    team, other_team = Presence("t", config=config), Presence("u", config=config)
    claims = Claims(config=config)
    team.join("leaver")
    other_team.join("stranger")
    assert claims.claim("job", "leaver")
    assert claims.claim("theirs", "stranger")
    assert team.leave("leaver")  # left without releasing
    activity = team.doing()
    assert activity.agents == []
    assert [h.name for h in activity.orphaned] == ["job"]
    assert [h.name for h in activity.others] == ["theirs"]
    theirs = other_team.doing()
    assert [h.name for h in theirs.agents[0].holds] == ["theirs"]
    assert theirs.orphaned == []


def test_doing_follows_extensions_expiry_and_release(config):
    team = Presence("t", config=config)
    claims = Claims(config=config)
    team.join("a")
    assert claims.claim("short", "a", ttl=0.2)
    assert claims.claim("long", "a", ttl=0.2)
    assert claims.extend("long", "a", ttl=60)
    wait_until(lambda: claims.owner("short") is None)
    [entry] = team.doing().agents
    assert [(h.name, round(h.expires_in)) for h in entry.holds] == [("long", 60)]
    assert claims.release("long", "a")
    assert team.doing().agents[0].holds == []
    assert claims.claim_any(["long", "other"], "a") == "long"
    assert [h.name for h in team.doing().holds] == ["long"]


@pytest.mark.parametrize("name", HOSTILE)
def test_doing_with_hostile_task_ids_and_owners(config, name):
    team = Presence("t", config=config)
    team.join(name)
    assert Claims(config=config).claim(name, name)
    [entry] = team.doing().agents
    assert [(h.name, h.holder) for h in entry.holds] == [(name, name)]


async def test_async_doing(config):
    team = AsyncPresence("t", config=config)
    claims = AsyncClaims(config=config)
    await team.join("a")
    assert await claims.claim("job", "a")
    activity = await team.doing()
    assert activity.holder_of("claim", "job") == "a"
    assert await claims.release("job", "a")
    assert (await team.doing()).holds == []


# -- permissions -------------------------------------------------------------------------
def test_permissions(config):
    perms = Permissions("acme", config=config)
    assert perms.grant("alice", "read", "deploy") == 2
    assert perms.grant("alice", "read") == 0
    assert perms.grant("bob", "read") == 1
    assert perms.allowed("alice", "read", "deploy")
    assert not perms.allowed("bob", "read", "deploy")
    assert perms.users("read") == {"alice", "bob"}
    assert perms.users("read", "deploy") == {"alice"}
    assert perms.permissions("alice") == {"read", "deploy"}
    assert perms.revoke("alice", "deploy", "never-had") == 1
    assert perms.users("deploy") == set()
    assert perms.revoke("bob") == 1
    assert perms.permissions("bob") == set()
    assert perms.users("read") == {"alice"}
    assert Permissions("other", config=config).users("read") == set()
    with pytest.raises(ValueError, match="at least one permission"):
        perms.grant("alice")
    with pytest.raises(ValueError, match="user id"):
        perms.grant("", "read")


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_users_and_permissions(config, name):
    perms = Permissions(name, config=config)
    assert perms.grant(name, name, "x") == 2
    assert perms.grant("plain", "x") == 1
    assert perms.allowed(name, name)
    assert perms.users(name) == {name}
    assert perms.users("x") == {name, "plain"}
    assert perms.permissions(name) == {name, "x"}
    assert perms.revoke(name) == 2
    assert perms.users("x") == {"plain"}


async def test_async_permissions(config):
    perms = AsyncPermissions("acme", config=config)
    assert await perms.grant("u", "a", "b") == 2
    assert await perms.allowed("u", "a", "b")
    assert await perms.users("a") == {"u"}
    assert await perms.permissions("u") == {"a", "b"}
    assert await perms.revoke("u", "a") == 1
