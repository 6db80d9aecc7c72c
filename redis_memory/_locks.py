"""Distributed locks (:class:`DistributedLock`, :class:`AsyncDistributedLock`).

See :mod:`redis_memory.coordination`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import threading
import time
import uuid
from collections.abc import Generator, Hashable
from typing import Any, Literal, Self, TypeVar, Unpack

from . import _coordination_core as core
from . import metrics
from ._checks import checked_name, seconds_or_none, text
from ._deprecation import MISSING, meaning_changes, renamed
from ._engine import AsyncRunner, SyncRunner
from ._flow import Sleep
from ._plan import Plan
from .errors import RedisMemoryError, RedisUnavailableError
from .ttl import NONE_MEANING_CHANGES, POLICY, TTL, TTLOption

T = TypeVar("T")
LockFlow = Generator[Plan[Any] | Sleep, Any, bool]
# What a left-out ``extend(ttl=)`` stands for: the lock's own ``ttl``.
Same = Literal["same"]
SAME: Same = "same"

_FIRST_RETRY = 0.002


class LockError(RedisMemoryError, RuntimeError):
    """A lock was used in a way that cannot work (re-entered, or lost while held)."""


class LockLostError(LockError):
    """The lock expired while its block ran: another owner may have run at the same time.

    Raised when a ``with lock:`` block ends after the lock's ``ttl``. The other
    owner's lock (if any) is left alone. Give the lock a longer ``ttl``, or call
    :meth:`DistributedLock.extend` during long work.
    """


class LockTimeoutError(RedisMemoryError, TimeoutError):
    """The lock could not be acquired within ``blocking_timeout``."""


class _LockCore(core.Core):
    def __init__(
        self,
        name: str,
        *,
        ttl: TTLOption = POLICY,
        blocking_timeout: float | None = None,
        sleep: float = 0.05,
        timeout: Any = MISSING,
        **where: Unpack[core.Where],
    ) -> None:
        where_called = f"{type(self).__name__}()"
        if timeout is None:  # the old name's None was the default, as ttl=None is today
            timeout = POLICY
        ttl = renamed(where_called, "timeout", timeout, "ttl", MISSING if ttl == POLICY else ttl)
        if ttl is None:
            meaning_changes(where_called, NONE_MEANING_CHANGES)
        super().__init__(publish_events=False, **where)  # a lock announces nothing
        self.name = checked_name(name, "lock name")
        self.key = self.keys.lock(name)
        self._ms = core.milliseconds(POLICY if ttl is MISSING else ttl, self.config.ttl.claims)
        self.blocking_timeout = seconds_or_none(
            "blocking_timeout", blocking_timeout, allow_zero=True
        )
        self.sleep = seconds_or_none("sleep", sleep, allow_zero=False)
        # The token of each holder (a thread, or an asyncio task) of this object.
        self._tokens: dict[Hashable, str] = {}

    @property
    def ttl(self) -> TTL:
        """How long a held lock lives unless extended (``TTL(None)``: until released)."""
        return TTL(None if self._ms is None else self._ms / 1000)

    @property
    def timeout(self) -> float | None:
        """Deprecated: ``ttl.seconds``. Seconds after which a held lock expires (None: never)."""
        meaning_changes(f"{type(self).__name__}.timeout", "is deprecated; read .ttl.seconds")
        return self.ttl.seconds

    def _plan_try(self, token: str) -> Plan[bool]:
        expiry = () if self._ms is None else ("PX", self._ms)
        command = ("SET", self.key, token, "NX", *expiry)
        return Plan("acquiring a lock", self.key, lambda r: bool(r[0]), [command])

    def _acquire_flow(self, token: str, blocking: bool, blocking_timeout: float | None) -> LockFlow:
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        wait = seconds_or_none("blocking_timeout", wait, allow_zero=True)
        started = time.monotonic()
        deadline = None if wait is None else started + wait
        delay = min(_FIRST_RETRY, self.sleep)
        while True:
            if (yield self._plan_try(token)):
                metrics.lock_wait(time.monotonic() - started, True)
                return True
            now = time.monotonic()
            if not blocking or (deadline is not None and now >= deadline):
                metrics.lock_wait(now - started, False)
                return False
            # Exponential backoff with jitter, so that waiters do not try in lockstep.
            pause = delay * (0.5 + random.random())  # noqa: S311
            yield Sleep(pause if deadline is None else min(pause, deadline - now))
            delay = min(delay * 2, self.sleep)

    def _plan_release(self, token: str) -> Plan[bool]:
        return Plan(
            "releasing a lock",
            self.key,
            lambda r: bool(r[0]),
            script=(core.RELEASE, [self.key], [token, "", ""]),
        )

    def _plan_extend(self, token: str, ttl: TTL | core.Seconds | Same | None) -> Plan[bool]:
        expiry_ms = self._ms if ttl is None or ttl == SAME else TTL.of(ttl).milliseconds
        return Plan(
            "extending a lock",
            self.key,
            lambda r: bool(r[0]),
            script=(core.EXTEND, [self.key], [token, core.ms_arg(expiry_ms)]),
        )

    def _plan_locked(self) -> Plan[bool]:
        return Plan("reading a lock", self.key, lambda r: bool(r[0]), [("EXISTS", self.key)])

    def _plan_owned(self, token: str | None) -> Plan[bool]:
        return Plan(
            "reading a lock",
            self.key,
            lambda r: token is not None and r[0] is not None and text(r[0]) == token,
            [("GET", self.key)],
        )

    def _new_token(self, holder: Hashable) -> str:
        if holder in self._tokens:
            raise LockError(
                f"lock {self.name!r} is already held by this "
                f"{'task' if isinstance(holder, asyncio.Task) else 'thread'}: a "
                "DistributedLock is not reentrant; release it first"
            )
        return uuid.uuid4().hex

    def _not_acquired(self, blocking_timeout: float | None) -> LockTimeoutError:
        wait = self.blocking_timeout if blocking_timeout is None else blocking_timeout
        return LockTimeoutError(
            f"could not acquire lock {self.name!r} ({self.key}) within {wait} s: another "
            "owner holds it. Wait longer (blocking_timeout=) or retry later."
        )

    def _lost(self) -> LockLostError:
        return LockLostError(
            f"lock {self.name!r} ({self.key}) expired before its block ended (ttl "
            f"{self.ttl.seconds} s), so another owner may have held it meanwhile; its lock, if "
            "any, was left alone. Use a longer ttl= or call extend() during long work."
        )


class DistributedLock(_LockCore, SyncRunner):
    """A lock shared by every process using the same Redis: one holder at a time.

    Each acquisition stores a random token at ``{prefix}:lock:<name>`` with
    ``SET NX PX``; releasing deletes the key only if it still holds that token
    (a Lua script), so a holder whose lock expired never releases the lock of
    whoever took it next. One object can be shared by threads: each thread's
    acquisition has its own token. The lock is not reentrant.

    Args:
        name: The lock's name; every object with that name (and prefix) is the same lock.
        url, client, config: Where the data lives.
        ttl: How long a held lock lives, freeing it if its holder died: seconds,
            a ``timedelta`` or a :class:`~redis_memory.TTL`; left out,
            ``config.ttl.claims`` (60 s by default). Extend it with :meth:`extend`.
            ``ttl=None`` is deprecated (today the default; it will mean "never
            expires"); ``TTL(None)`` is a lock that never expires.
        timeout: Deprecated name of ``ttl`` (``timeout`` is how long a call waits).
        blocking_timeout: How long ``with lock:`` and :meth:`acquire` wait for a held
            lock, in seconds; ``None`` (default) waits as long as it takes. ``with
            lock:`` raises :class:`LockTimeoutError` when the wait runs out.
        sleep: The longest pause between two attempts while waiting (seconds).

    ``with lock:`` raises :class:`LockLostError` at the end of a block that
    outlived the lock's ttl (unless the block raised an error of its own).

    Example:
        >>> from redis_memory.coordination import DistributedLock
        >>> lock = DistributedLock("reindex", ttl=30, blocking_timeout=5)
        >>> with lock:
        ...     lock.owned()
        True
        >>> lock.locked()
        False
    """

    @staticmethod
    def _holder() -> Hashable:
        return threading.get_ident()

    def acquire(self, *, blocking: bool = True, blocking_timeout: float | None = None) -> bool:
        """Take the lock for the calling thread; False if it was not free in time.

        ``blocking=False`` tries once; ``blocking_timeout`` overrides the object's.
        """
        holder = self._holder()
        token = self._new_token(holder)
        flow = self._acquire_flow(token, blocking, blocking_timeout)
        try:
            acquired = bool(self._drive(flow))
        except RedisUnavailableError:
            # The SET may have been applied with its reply lost: give up our token,
            # if Redis lets us, so the lock is not held by nobody until it expires.
            with contextlib.suppress(RedisMemoryError):
                self._run(self._plan_release(token))
            raise
        if acquired:
            self._tokens[holder] = token
        return acquired

    def release(self) -> bool:
        """Release the calling thread's hold; False if it had expired (or was never taken).

        Another owner's lock is never released.
        """
        token = self._tokens.pop(self._holder(), None)
        if token is None:
            return False
        return self._run(self._plan_release(token))

    def extend(self, ttl: TTL | core.Seconds | Same | None = SAME) -> bool:
        """Restart the held lock's lifetime (to ``ttl``, left out the lock's own); False if lost."""
        if ttl is None:
            meaning_changes("DistributedLock.extend()", NONE_MEANING_CHANGES)
        token = self._tokens.get(self._holder())
        return token is not None and self._run(self._plan_extend(token, ttl))

    def locked(self) -> bool:
        """Whether anyone holds the lock now."""
        return self._run(self._plan_locked())

    def owned(self) -> bool:
        """Whether the calling thread holds the lock now (it has not expired)."""
        return self._run(self._plan_owned(self._tokens.get(self._holder())))

    def __enter__(self) -> Self:
        if not self.acquire():
            raise self._not_acquired(None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: object, tb: object) -> None:
        if not self.release() and exc_type is None:
            raise self._lost()


class AsyncDistributedLock(_LockCore, AsyncRunner):
    """The distributed lock on ``redis.asyncio``: :class:`DistributedLock`'s twin.

    Each asyncio task's acquisition has its own token, so one object can be
    shared by many tasks. Used as ``async with lock:``.

    Example:
        >>> import asyncio
        >>> from redis_memory.coordination import AsyncDistributedLock
        >>> async def main():
        ...     lock = AsyncDistributedLock("reindex", ttl=30)
        ...     async with lock:
        ...         return await lock.owned()
        >>> asyncio.run(main())
        True
    """

    @staticmethod
    def _holder() -> Hashable:
        task = asyncio.current_task()
        if task is None:
            raise LockError("an AsyncDistributedLock must be used from inside an asyncio task")
        return task

    async def acquire(
        self, *, blocking: bool = True, blocking_timeout: float | None = None
    ) -> bool:
        """Take the lock for the calling task; False if it was not free in time."""
        holder = self._holder()
        token = self._new_token(holder)
        flow = self._acquire_flow(token, blocking, blocking_timeout)
        try:
            acquired = bool(await self._drive(flow))
        except RedisUnavailableError:
            with contextlib.suppress(RedisMemoryError):
                await self._run(self._plan_release(token))
            raise
        if acquired:
            self._tokens[holder] = token
        return acquired

    async def release(self) -> bool:
        """Release the calling task's hold; False if it had expired (or was never taken)."""
        token = self._tokens.pop(self._holder(), None)
        if token is None:
            return False
        return await self._run(self._plan_release(token))

    async def extend(self, ttl: TTL | core.Seconds | Same | None = SAME) -> bool:
        """Restart the held lock's lifetime (to ``ttl``, left out the lock's own); False if lost."""
        if ttl is None:
            meaning_changes("AsyncDistributedLock.extend()", NONE_MEANING_CHANGES)
        token = self._tokens.get(self._holder())
        return token is not None and await self._run(self._plan_extend(token, ttl))

    async def locked(self) -> bool:
        """Whether anyone holds the lock now."""
        return await self._run(self._plan_locked())

    async def owned(self) -> bool:
        """Whether the calling task holds the lock now (it has not expired)."""
        return await self._run(self._plan_owned(self._tokens.get(self._holder())))

    async def __aenter__(self) -> Self:
        if not await self.acquire():
            raise self._not_acquired(None)
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: object, tb: object
    ) -> None:
        if not await self.release() and exc_type is None:
            raise self._lost()


__all__ = [
    "AsyncDistributedLock",
    "DistributedLock",
    "LockError",
    "LockLostError",
    "LockTimeoutError",
]
