"""Coordination's parameter names: one meaning each, old spellings warned about (issue 19).

``ttl`` is a lifetime (left out: the default; ``TTL(None)``: never expires), and
``timeout`` only ever how long a call waits. The lock's lifetime, once
``timeout=``, is ``ttl=``; claims' and locks' ``ttl=None`` still means the
default, with a warning that it will mean "never expires".
"""

from __future__ import annotations

import re
import warnings

import pytest

from redis_memory import TTL
from redis_memory.coordination import (
    AsyncClaims,
    AsyncDistributedLock,
    AsyncFindings,
    Claims,
    DistributedLock,
    Findings,
)

pytestmark = pytest.mark.acl_user


def _warned(record: pytest.WarningsRecorder, *words: str) -> None:
    """One DeprecationWarning with these words, attributed to the caller's line (this file)."""
    [warning] = [w for w in record if issubclass(w.category, DeprecationWarning)]
    assert all(word in str(warning.message) for word in words), warning.message
    assert warning.filename == __file__


# -- Lock(timeout=) is Lock(ttl=) --------------------------------------------------------
@pytest.mark.parametrize("cls", [DistributedLock, AsyncDistributedLock])
def test_lock_timeout_is_the_deprecated_name_of_ttl(cls, config):
    with pytest.warns(DeprecationWarning, match="timeout= is deprecated") as record:
        lock = cls("old-name", config=config, timeout=30)
    _warned(record, f"{cls.__name__}()", "timeout=", "ttl=")
    assert lock.ttl == TTL(30)


@pytest.mark.parametrize("cls", [DistributedLock, AsyncDistributedLock])
def test_lock_timeout_and_ttl_at_once_is_a_type_error(cls, config):
    with pytest.raises(TypeError, match="ttl= only"):
        cls("both", config=config, timeout=30, ttl=30)
    with pytest.raises(TypeError, match="ttl= only"):
        cls("both", config=config, timeout=None, ttl=30)


def test_lock_timeout_none_keeps_meaning_the_default(config):
    with pytest.warns(DeprecationWarning, match="timeout= is deprecated"):
        lock = DistributedLock("old-none", config=config, timeout=None)
    assert lock.ttl == config.ttl.claims


def test_lock_timeout_attribute_is_deprecated_for_ttl(config):
    lock = DistributedLock("attr", config=config, ttl=30)
    with pytest.warns(DeprecationWarning, match=r"\.timeout") as record:
        assert lock.timeout == 30
    _warned(record, "DistributedLock.timeout", ".ttl")


def test_lock_ttl_with_the_new_name_warns_nothing(config, redis_client):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        lock = DistributedLock("quiet", config=config, ttl=20)
        with lock:
            assert 0 < redis_client.pttl(lock.key) <= 20_000
            assert lock.extend()  # left out: the lock's own ttl
            assert 0 < redis_client.pttl(lock.key) <= 20_000


# -- ttl=None: the default still, warned; TTL(None): never -------------------------------
def test_lock_ttl_none_is_the_default_and_warns(config, redis_client):
    with pytest.warns(DeprecationWarning, match="leave ttl out") as record:
        lock = DistributedLock("none", config=config, ttl=None)
    _warned(record, "DistributedLock()", "leave ttl out", "TTL(None)")
    assert lock.ttl == config.ttl.claims
    with lock:
        assert 0 < redis_client.pttl(lock.key) <= 60_000
        with pytest.warns(DeprecationWarning, match=r"extend\(\)") as record:
            assert lock.extend(None)
        _warned(record, "DistributedLock.extend()")
        assert 0 < redis_client.pttl(lock.key) <= 60_000


def test_lock_ttl_never_is_ttl_of_none(config, redis_client):
    lock = DistributedLock("forever", config=config, ttl=TTL(None))
    assert lock.ttl == TTL(None)
    with lock:
        assert redis_client.pttl(lock.key) == -1


async def test_async_lock_ttl_none_warns(config, redis_client):
    with pytest.warns(DeprecationWarning, match="AsyncDistributedLock()"):
        lock = AsyncDistributedLock("anone", config=config, ttl=None)
    async with lock:
        assert 0 < redis_client.pttl(lock.key) <= 60_000
        with pytest.warns(DeprecationWarning, match=r"extend\(\)") as record:
            assert await lock.extend(None)
        _warned(record, "AsyncDistributedLock.extend()")


def test_claims_ttl_none_is_the_default_and_warns(config, redis_client):
    claims = Claims(config=config)
    key = config.keys.task_owner
    with pytest.warns(DeprecationWarning, match=r"claim\(\)") as record:
        assert claims.claim("a", "me", ttl=None)
    _warned(record, "Claims.claim()", "leave ttl out")
    assert 0 < redis_client.pttl(key("a")) <= 60_000
    with pytest.warns(DeprecationWarning, match=r"claim_any\(\)") as record:
        assert claims.claim_any(["a", "b"], "me", ttl=None) == "b"
    _warned(record, "Claims.claim_any()")
    with pytest.warns(DeprecationWarning, match=r"extend\(\)") as record:
        assert claims.extend("a", "me", ttl=None)
    _warned(record, "Claims.extend()")
    assert 0 < redis_client.pttl(key("a")) <= 60_000


async def test_async_claims_ttl_none_is_the_default_and_warns(config, redis_client):
    claims = AsyncClaims(config=config)
    for call, name in [
        (lambda: claims.claim("a", "me", ttl=None), "AsyncClaims.claim()"),
        (lambda: claims.claim_any(["b"], "me", ttl=None), "AsyncClaims.claim_any()"),
        (lambda: claims.extend("a", "me", ttl=None), "AsyncClaims.extend()"),
    ]:
        with pytest.warns(DeprecationWarning, match=re.escape(name)) as record:
            assert await call()
        _warned(record, name)
    assert 0 < redis_client.pttl(config.keys.task_owner("a")) <= 60_000


def test_claims_ttl_left_out_or_given_warns_nothing(config, redis_client):
    claims = Claims(config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert claims.claim("a", "me")
        assert claims.claim("b", "me", ttl=TTL(None))
        assert claims.extend("a", "me", ttl=5)
    assert redis_client.pttl(config.keys.task_owner("b")) == -1
    assert 0 < redis_client.pttl(config.keys.task_owner("a")) <= 5_000


@pytest.mark.parametrize("cls", [Findings, AsyncFindings])
def test_findings_ttl_none_never_expires_and_left_out_is_the_policy(cls, config):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cls(config=config, ttl=None).ttl == TTL(None)
        assert cls(config=config).ttl == config.ttl.claims
        assert cls(config=config, ttl="policy").ttl == config.ttl.claims


@pytest.mark.parametrize("cls", [Claims, AsyncClaims, Findings, AsyncFindings])
def test_a_misspelt_keyword_names_the_class(cls, config):
    with pytest.raises(TypeError, match=rf"{cls.__name__}\(\) got an unexpected keyword .*'confg'"):
        cls(confg=config)
    with pytest.raises(TypeError, match=r"DistributedLock\(\) got an unexpected keyword"):
        DistributedLock("x", confg=config)
