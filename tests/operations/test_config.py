"""Tests of ``redis_memory.config``: :class:`RedisMemoryConfig`, ``mask_url``, ``validate_url``.

Covers the defaults, ``from_env`` (read from a dict, never the real
environment), keyword overrides, the order ``resolved_url`` looks in, URL
validation and password masking in messages, validation of every setting,
read-only ``connection_kwargs``, the ``keys`` schema and ``replace()``.
"""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from types import MappingProxyType

import pytest
import redis

from redis_memory.config import (
    DEFAULT_URL,
    EMBEDDED,
    RedisMemoryConfig,
    mask_url,
    validate_url,
)
from redis_memory.errors import ConfigurationError, RedisMemoryError
from redis_memory.keys import KeySchema
from redis_memory.serialization import JSONSerializer
from redis_memory.ttl import TTL, TTLPolicy

DAY = 24 * 60 * 60


def test_defaults():
    config = RedisMemoryConfig()
    assert config.url is None
    assert config.prefix == "rmem"
    assert config.ttl == TTLPolicy()
    assert config.serializer == JSONSerializer()
    assert config.socket_timeout == 5.0
    assert config.socket_connect_timeout == 5.0
    assert config.retries == 3
    assert config.max_connections is None
    assert dict(config.connection_kwargs) == {}
    assert DEFAULT_URL == "redis://localhost:6379/0"
    assert EMBEDDED == "embedded"


def test_docstring_example():
    config = RedisMemoryConfig(
        url="redis://localhost:6379/0", prefix="myapp", ttl=TTLPolicy(messages=3600)
    )
    assert config.keys.session_messages("s1") == "myapp:session:{s1}:messages"
    assert config.ttl.messages == TTL(3600, sliding=True)
    assert RedisMemoryConfig.from_env({"REDIS_MEMORY_URL": "embedded"}).url == "embedded"


# -- from_env ------------------------------------------------------------------------


def test_from_env_of_an_empty_environment_is_the_default():
    assert RedisMemoryConfig.from_env({}) == RedisMemoryConfig()


def test_redis_memory_url_wins_over_redis_url():
    config = RedisMemoryConfig.from_env(
        {"REDIS_MEMORY_URL": "redis://mine:1/0", "REDIS_URL": "redis://shared:2/0"}
    )
    assert config.url == "redis://mine:1/0"


def test_redis_url_is_used_alone():
    assert RedisMemoryConfig.from_env({"REDIS_URL": "redis://shared:2/0"}).url == (
        "redis://shared:2/0"
    )
    assert RedisMemoryConfig.from_env(
        {"REDIS_MEMORY_URL": "", "REDIS_URL": "redis://shared:2/0"}
    ).url == ("redis://shared:2/0")


def test_from_env_reads_every_setting():
    config = RedisMemoryConfig.from_env(
        {
            "REDIS_MEMORY_URL": "rediss://u:p@h:6380/1",
            "REDIS_MEMORY_PREFIX": "myapp:prod",
            "REDIS_MEMORY_SOCKET_TIMEOUT": "2.5",
            "REDIS_MEMORY_CONNECT_TIMEOUT": "1",
            "REDIS_MEMORY_RETRIES": "0",
            "REDIS_MEMORY_TTL_MESSAGES": "3600",
            "REDIS_MEMORY_TTL_CACHE": "60:sliding",
            "REDIS_MEMORY_TTL_STATE": "86400",
            "REDIS_MEMORY_TTL_CLAIMS": "none",
            "REDIS_MEMORY_TTL_THREADS": "7200",
            "UNRELATED": "x",
        }
    )
    assert config.url == "rediss://u:p@h:6380/1"
    assert config.prefix == "myapp:prod"
    assert config.socket_timeout == 2.5
    assert config.socket_connect_timeout == 1.0
    assert config.retries == 0
    assert config.ttl == TTLPolicy(
        messages=TTL(3600, sliding=True),
        cache=TTL(60, sliding=True),
        state=TTL(DAY),
        claims=TTL(None),
        threads=TTL(7200, sliding=True),
    )


def test_empty_environment_values_are_ignored():
    config = RedisMemoryConfig.from_env(
        {
            "REDIS_MEMORY_URL": "",
            "REDIS_MEMORY_PREFIX": "",
            "REDIS_MEMORY_SOCKET_TIMEOUT": "",
            "REDIS_MEMORY_RETRIES": "",
            "REDIS_MEMORY_TTL_MESSAGES": "",
        }
    )
    assert config == RedisMemoryConfig()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("3600", TTL(3600, sliding=True)),
        ("1.5", TTL(1.5, sliding=True)),
        ("3600:fixed", TTL(3600)),
        ("3600:sliding", TTL(3600, sliding=True)),
        (" 3600:Fixed ", TTL(3600)),
        ("none", TTL(None)),
        ("NONE", TTL(None)),
        ("never", TTL(None)),
    ],
)
def test_messages_ttl_from_env(text, expected):
    config = RedisMemoryConfig.from_env({"REDIS_MEMORY_TTL_MESSAGES": text})
    assert config.ttl.messages == expected
    # The other kinds keep their defaults.
    assert config.ttl.cache == TTLPolicy().cache
    assert config.ttl.state == TTLPolicy().state
    assert config.ttl.claims == TTLPolicy().claims


def test_cache_ttl_from_env_keeps_fixed_default():
    config = RedisMemoryConfig.from_env({"REDIS_MEMORY_TTL_CACHE": "3600"})
    assert config.ttl.cache == TTL(3600)
    assert config.ttl.cache.sliding is False


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "3600:bogus",
            "REDIS_MEMORY_TTL_MESSAGES='3600:bogus': the mode after ':' is 'sliding' or 'fixed'",
        ),
        ("abc", "REDIS_MEMORY_TTL_MESSAGES='abc': expected seconds, 'none', or seconds:sliding"),
        ("-5", "REDIS_MEMORY_TTL_MESSAGES='-5': expected seconds, 'none', or seconds:sliding"),
        ("inf", "REDIS_MEMORY_TTL_MESSAGES='inf': expected seconds, 'none', or seconds:sliding"),
        ("nan", "REDIS_MEMORY_TTL_MESSAGES='nan': expected seconds, 'none', or seconds:sliding"),
        ("none:sliding", "REDIS_MEMORY_TTL_MESSAGES='none:sliding': a TTL of none has no mode"),
    ],
)
def test_invalid_ttl_in_env_is_a_configuration_error(text, message):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig.from_env({"REDIS_MEMORY_TTL_MESSAGES": text})
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        (
            {"REDIS_MEMORY_SOCKET_TIMEOUT": "abc"},
            "REDIS_MEMORY_SOCKET_TIMEOUT='abc' is not a number of seconds",
        ),
        (
            {"REDIS_MEMORY_CONNECT_TIMEOUT": "5s"},
            "REDIS_MEMORY_CONNECT_TIMEOUT='5s' is not a number of seconds",
        ),
        (
            {"REDIS_MEMORY_SOCKET_TIMEOUT": "0"},
            "socket_timeout must be a positive number of seconds or None, got 0.0",
        ),
        (
            {"REDIS_MEMORY_CONNECT_TIMEOUT": "nan"},
            "socket_connect_timeout must be a positive number of seconds or None, got nan",
        ),
        ({"REDIS_MEMORY_RETRIES": "1.5"}, "REDIS_MEMORY_RETRIES='1.5' is not a whole number"),
        ({"REDIS_MEMORY_RETRIES": "-1"}, "retries must be a whole number >= 0, got -1"),
        ({"REDIS_MEMORY_PREFIX": "my app"}, "invalid key prefix 'my app'"),
        ({"REDIS_MEMORY_URL": "http://x"}, "unsupported Redis URL 'http://x'"),
    ],
)
def test_invalid_environment_is_a_configuration_error(environ, message):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig.from_env(environ)
    assert str(info.value).startswith(message)


def test_keyword_overrides_beat_the_environment():
    environ = {
        "REDIS_MEMORY_URL": "redis://env:1/0",
        "REDIS_MEMORY_PREFIX": "envprefix",
        "REDIS_MEMORY_RETRIES": "7",
        "REDIS_MEMORY_TTL_MESSAGES": "60",
    }
    ttl = TTLPolicy.never_expire()
    config = RedisMemoryConfig.from_env(
        environ, url="redis://kw:2/0", prefix="kwprefix", retries=1, ttl=ttl
    )
    assert config.url == "redis://kw:2/0"
    assert config.prefix == "kwprefix"
    assert config.retries == 1
    assert config.ttl is ttl
    # What is not overridden still comes from the environment.
    assert RedisMemoryConfig.from_env(environ, prefix="kwprefix").retries == 7


def test_overrides_are_validated():
    with pytest.raises(ConfigurationError, match=r"^retries must be a whole number >= 0"):
        RedisMemoryConfig.from_env({}, retries=-1)


def test_from_env_without_argument_reads_os_environ(monkeypatch):
    monkeypatch.setenv("REDIS_MEMORY_URL", "redis://from-os:1/0")
    monkeypatch.setenv("REDIS_MEMORY_PREFIX", "osprefix")
    config = RedisMemoryConfig.from_env()
    assert config.url == "redis://from-os:1/0"
    assert config.prefix == "osprefix"


# -- resolved_url ---------------------------------------------------------------------


def test_resolved_url_prefers_the_configured_url():
    config = RedisMemoryConfig(url="redis://configured:1/0")
    environ = {"REDIS_MEMORY_URL": "redis://mine:2/0", "REDIS_URL": "redis://shared:3/0"}
    assert config.resolved_url(environ) == "redis://configured:1/0"


@pytest.mark.parametrize(
    ("environ", "url"),
    [
        (
            {"REDIS_MEMORY_URL": "redis://mine:2/0", "REDIS_URL": "redis://shared:3/0"},
            "redis://mine:2/0",
        ),
        ({"REDIS_URL": "redis://shared:3/0"}, "redis://shared:3/0"),
        ({"REDIS_MEMORY_URL": "", "REDIS_URL": "redis://shared:3/0"}, "redis://shared:3/0"),
        ({"REDIS_MEMORY_URL": "embedded"}, "embedded"),
        ({}, "redis://localhost:6379/0"),
        ({"REDIS_MEMORY_URL": "", "REDIS_URL": ""}, "redis://localhost:6379/0"),
    ],
)
def test_resolved_url_order(environ, url):
    assert RedisMemoryConfig().resolved_url(environ) == url


def test_resolved_url_reads_the_environment_when_called():
    config = RedisMemoryConfig()
    assert config.resolved_url({"REDIS_URL": "redis://a:1/0"}) == "redis://a:1/0"
    assert config.resolved_url({"REDIS_URL": "redis://b:1/0"}) == "redis://b:1/0"


def test_resolved_url_reads_os_environ_by_default(monkeypatch):
    monkeypatch.delenv("REDIS_MEMORY_URL", raising=False)
    monkeypatch.setenv("REDIS_URL", "redis://from-os:1/0")
    assert RedisMemoryConfig().resolved_url() == "redis://from-os:1/0"


def test_resolved_url_validates_the_environment_without_showing_the_password():
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig().resolved_url({"REDIS_URL": "http://u:secret@h:1/0"})
    assert "secret" not in str(info.value)
    assert "'http://u:***@h:1/0'" in str(info.value)


# -- URLs ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "redis://localhost:6379/0",
        "rediss://user:pass@host.example.com:6380/1",
        "unix:///tmp/redis.sock",
        "redis://",
    ],
)
def test_every_accepted_url_is_one_redis_py_accepts(url):
    config = RedisMemoryConfig(url=url)
    assert validate_url(url) == url
    assert config.resolved_url({}) == url
    client = redis.Redis.from_url(config.resolved_url({}))  # parses; does not connect
    client.close()


def test_an_upper_case_scheme_is_normalised_for_redis_py():
    config = RedisMemoryConfig(url="REDIS://localhost:6379/0")
    assert config.url == "redis://localhost:6379/0"
    redis.Redis.from_url(config.url).close()


def test_embedded_is_a_valid_url():
    assert validate_url("embedded") == "embedded"
    assert RedisMemoryConfig(url="embedded").url == "embedded"
    assert RedisMemoryConfig(url="embedded").resolved_url({"REDIS_URL": "redis://x:1/0"}) == (
        "embedded"
    )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://x", "unsupported Redis URL 'http://x': use redis://[user:password@]host:port/db"),
        ("localhost:6379", "unsupported Redis URL 'localhost:6379': use redis://"),
        ("", "unsupported Redis URL '': use redis://"),
        ("Embedded", "unsupported Redis URL 'Embedded': use redis://"),
        (5, "url must be a str, not int"),
        (b"redis://x", "url must be a str, not bytes"),
    ],
)
def test_invalid_urls_are_configuration_errors(url, message):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig(url=url)
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, RedisMemoryError)
    with pytest.raises(ConfigurationError):
        validate_url(url)


@pytest.mark.parametrize(
    "url",
    [
        "http://u:secret@h:1/0",
        "http://:secret@h:1/0",
        "ftp://admin:secret@host.example.com:21/",
        "redis+tls://u:secret@h:1/0",
        "http://u:secret@h:notaport/0",
    ],
)
def test_invalid_url_message_hides_the_password(url):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig(url=url)
    assert "secret" not in str(info.value)
    assert "unsupported Redis URL " in str(info.value)
    assert info.value.__cause__ is None
    assert info.value.__context__ is None


@pytest.mark.parametrize(
    "url", ["default:secret@redis-1.example.com:6379", "u:secret@localhost:6379/0"]
)
def test_invalid_url_without_scheme_hides_the_password(url):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig(url=url)
    assert "secret" not in str(info.value)


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("redis://u:secret@h:1/0", "redis://u:***@h:1/0"),
        ("redis://:secret@h:1/0", "redis://:***@h:1/0"),
        ("redis://u:secret@h/0", "redis://u:***@h/0"),
        ("redis://u:p@ss@h:1/0", "redis://u:***@h:1/0"),
        (
            "rediss://default:p%40ss@host.example.com:6380/2",
            "rediss://default:***@host.example.com:6380/2",
        ),
        (
            "redis://u:secret@h:1/0?ssl_cert_reqs=none",
            "redis://u:***@h:1/0?ssl_cert_reqs=none",
        ),
        ("unix://u:secret@/tmp/redis.sock", "unix://u:***@/tmp/redis.sock"),
        ("redis://h:1/0", "redis://h:1/0"),
        ("redis://u@h:1/0", "redis://u@h:1/0"),
        ("embedded", "embedded"),
        ("redis://u:secret@h:notaport/0", "redis://u:***@h:notaport/0"),
        ("u:secret@h:6379", "u:***@h:6379"),
        ("redis://h:1/0?password=secret&db=1", "redis://h:1/0?password=***&db=1"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked
    assert "secret" not in mask_url(url)


def test_mask_url_keeps_ipv6_hosts():
    assert mask_url("redis://u:secret@[::1]:6379/0") == "redis://u:***@[::1]:6379/0"


def test_mask_url_hides_a_password_in_the_query():
    url = "redis://h:6379/0?password=secret"
    assert redis.Redis.from_url(url).connection_pool.connection_kwargs["password"] == "secret"
    assert "secret" not in mask_url(url)


def test_config_repr_hides_the_password():
    config = RedisMemoryConfig(url="redis://u:secret@h:1/0")
    assert "secret" not in repr(config)
    assert "redis://u:***@h:1/0" in repr(config)


# -- validation of settings ------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("prefix", "", "invalid key prefix ''"),
        ("prefix", "a b", "invalid key prefix 'a b'"),
        ("prefix", "a:", "invalid key prefix 'a:'"),
        ("prefix", 5, "the key prefix must be a str, not int"),
        ("socket_timeout", 0, "socket_timeout must be a positive number of seconds or None, got 0"),
        (
            "socket_timeout",
            -1,
            "socket_timeout must be a positive number of seconds or None, got -1",
        ),
        (
            "socket_timeout",
            math.nan,
            "socket_timeout must be a positive number of seconds or None, got nan",
        ),
        (
            "socket_timeout",
            math.inf,
            "socket_timeout must be a positive number of seconds or None, got inf",
        ),
        (
            "socket_timeout",
            True,
            "socket_timeout must be a positive number of seconds or None, got True",
        ),
        (
            "socket_timeout",
            "5",
            "socket_timeout must be a positive number of seconds or None, got '5'",
        ),
        (
            "socket_connect_timeout",
            0,
            "socket_connect_timeout must be a positive number of seconds or None, got 0",
        ),
        (
            "socket_connect_timeout",
            -1,
            "socket_connect_timeout must be a positive number of seconds or None, got -1",
        ),
        (
            "socket_connect_timeout",
            math.nan,
            "socket_connect_timeout must be a positive number of seconds or None, got nan",
        ),
        (
            "socket_connect_timeout",
            True,
            "socket_connect_timeout must be a positive number of seconds or None, got True",
        ),
        ("retries", -1, "retries must be a whole number >= 0, got -1"),
        ("retries", 1.5, "retries must be a whole number >= 0, got 1.5"),
        ("retries", True, "retries must be a whole number >= 0, got True"),
        ("retries", "3", "retries must be a whole number >= 0, got '3'"),
        ("retries", None, "retries must be a whole number >= 0, got None"),
        ("max_connections", 0, "max_connections must be a whole number >= 1 or None, got 0"),
        ("max_connections", -1, "max_connections must be a whole number >= 1 or None, got -1"),
        ("max_connections", True, "max_connections must be a whole number >= 1 or None, got True"),
        ("max_connections", 2.0, "max_connections must be a whole number >= 1 or None, got 2.0"),
        ("ttl", 3600, "ttl must be a TTLPolicy, not int"),
        ("ttl", None, "ttl must be a TTLPolicy, not NoneType"),
        ("ttl", TTL(60), "ttl must be a TTLPolicy, not TTL"),
        ("ttl", {"messages": 60}, "ttl must be a TTLPolicy, not dict"),
        ("connection_kwargs", [("client_name", "w")], "connection_kwargs must be a mapping"),
        ("connection_kwargs", "client_name=w", "connection_kwargs must be a mapping"),
        ("connection_kwargs", None, "connection_kwargs must be a mapping"),
        ("serializer", object(), "serializer must have dumps(value) -> bytes and loads(bytes)"),
        ("serializer", None, "serializer must have dumps(value) -> bytes and loads(bytes)"),
    ],
)
def test_invalid_settings_are_configuration_errors(setting, value, message):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig(**{setting: value})
    assert str(info.value).startswith(message)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("socket_timeout", None),
        ("socket_timeout", 0.5),
        ("socket_connect_timeout", None),
        ("socket_connect_timeout", 30),
        ("retries", 0),
        ("retries", 10),
        ("max_connections", None),
        ("max_connections", 1),
        ("prefix", "my-app.v2"),
        ("prefix", "myapp:prod"),
        ("connection_kwargs", MappingProxyType({"client_name": "w"})),
    ],
)
def test_valid_settings_are_kept(setting, value):
    assert getattr(RedisMemoryConfig(**{setting: value}), setting) == value


def test_connection_kwargs_are_read_only_and_copied():
    kwargs = {"client_name": "worker-1"}
    config = RedisMemoryConfig(connection_kwargs=kwargs)
    assert dict(config.connection_kwargs) == {"client_name": "worker-1"}
    with pytest.raises(TypeError):
        config.connection_kwargs["client_name"] = "other"
    with pytest.raises(TypeError):
        del config.connection_kwargs["client_name"]
    kwargs["client_name"] = "changed"
    kwargs["ssl"] = True
    assert dict(config.connection_kwargs) == {"client_name": "worker-1"}


def test_config_is_frozen():
    config = RedisMemoryConfig(prefix="myapp")
    with pytest.raises(FrozenInstanceError):
        config.prefix = "other"
    with pytest.raises(FrozenInstanceError):
        config.url = "redis://x:1/0"
    assert config.prefix == "myapp"
    assert config.url is None


def test_keys_is_a_key_schema_with_the_prefix():
    config = RedisMemoryConfig(prefix="myapp")
    assert isinstance(config.keys, KeySchema)
    assert config.keys == KeySchema("myapp")
    assert config.keys.prefix == "myapp"
    assert config.keys.session_meta("a:b") == "myapp:session:{a%3Ab}:meta"
    assert RedisMemoryConfig().keys.prefix == "rmem"


# -- replace ----------------------------------------------------------------------------


def test_replace_returns_a_changed_copy():
    config = RedisMemoryConfig(
        url="redis://h:1/0", prefix="myapp", connection_kwargs={"client_name": "w"}
    )
    changed = config.replace(prefix="other", retries=0)
    assert changed.prefix == "other"
    assert changed.retries == 0
    assert changed.url == "redis://h:1/0"
    assert changed.ttl == config.ttl
    assert dict(changed.connection_kwargs) == {"client_name": "w"}
    assert changed.keys == KeySchema("other")
    assert config.prefix == "myapp"
    assert config.retries == 3
    assert config.replace() == config
    with pytest.raises(TypeError):
        changed.connection_kwargs["client_name"] = "x"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"prefix": "a b"}, "invalid key prefix 'a b'"),
        ({"retries": -1}, "retries must be a whole number >= 0, got -1"),
        ({"url": "http://x"}, "unsupported Redis URL 'http://x'"),
        (
            {"socket_timeout": 0},
            "socket_timeout must be a positive number of seconds or None, got 0",
        ),
        ({"ttl": None}, "ttl must be a TTLPolicy, not NoneType"),
    ],
)
def test_replace_validates(changes, message):
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig().replace(**changes)
    assert str(info.value).startswith(message)


def test_replace_rejects_unknown_settings():
    with pytest.raises(TypeError):
        RedisMemoryConfig().replace(prefx="myapp")


def test_cluster_from_a_cluster_url_follows_a_new_url():
    from_url = RedisMemoryConfig(url="redis+cluster://h:7000")
    assert from_url.cluster is True
    assert from_url.replace(url="redis://h:6379").cluster is False
    assert from_url.replace(url="rediss+cluster://h:7001").cluster is True
    assert from_url.replace(prefix="other").cluster is True
    said = RedisMemoryConfig(url="redis://h:7000", cluster=True)
    assert said.replace(url="redis://h:7001").cluster is True


def test_url_argument_wins_over_a_cluster_url_in_the_environment(monkeypatch, redis_url, prefix):
    """A program run with REDIS_MEMORY_URL naming a cluster, whose class is given the
    url= of one server: it talks to that server, not to a cluster."""
    from redis_memory.state import StateStore

    monkeypatch.setenv("REDIS_MEMORY_URL", "redis+cluster://127.0.0.1:1")
    monkeypatch.setenv("REDIS_MEMORY_PREFIX", prefix)
    store = StateStore(url=redis_url)
    assert store.config.cluster is False
    store.set("ana", "plan", {"tier": "pro"})
    assert store.get("ana", "plan") == {"tier": "pro"}


@pytest.mark.parametrize(
    ("url", "message"),
    [
        (
            "redis://:s3cret@localhost:notaport/0",
            "the port of Redis URL 'redis://:***@localhost:notaport/0' is not a number "
            "from 0 to 65535",
        ),
        ("redis://localhost:99999/0", "the port of Redis URL 'redis://localhost:99999/0'"),
        ("rediss+cluster://h:x", "the port of Redis URL 'rediss+cluster://h:x'"),
        (
            "redis://localhost:6379/abc",
            "the database of Redis URL 'redis://localhost:6379/abc' is 'abc', not a number",
        ),
    ],
)
def test_a_malformed_port_or_database_is_named_when_the_config_is_built(url, message):
    # redis-py would raise a bare ValueError on the first connection for the port,
    # and read a database that is not a number as db 0.
    with pytest.raises(ConfigurationError) as info:
        RedisMemoryConfig(url=url)
    assert str(info.value).startswith(message)
    assert "s3cret" not in str(info.value)


def test_a_store_built_on_a_malformed_url_fails_at_construction():
    from redis_memory import StateStore

    with pytest.raises(ConfigurationError, match=r"^the port of Redis URL 'redis://:\*\*\*@"):
        StateStore(url="redis://:s3cret@localhost:bad/0")
