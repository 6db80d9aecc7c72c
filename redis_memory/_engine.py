"""What every engine twin starts from, and how each twin runs plans and flows.

An engine's shared core subclasses :class:`Engine` (its clients, config, key
schema and serializer); the sync twin mixes in :class:`SyncRunner` and the
async one :class:`AsyncRunner`, so that the one line which differs between
twins, how a plan or a flow is carried out, is written once for all engines.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Generator
from typing import Any, TypeVar

import redis

from ._execute import execute, execute_async
from ._flow import Sleep, drive, drive_async
from ._plan import Plan
from .config import RedisMemoryConfig
from .connection import AsyncClient, RedisClients, SyncClient
from .keys import KeySchema

T = TypeVar("T")

Client = SyncClient | AsyncClient
Config = RedisMemoryConfig

# A flow sees a Redis error reply (NOGROUP, BUSYGROUP...) and may handle it.
_FLOW_ERRORS = (redis.exceptions.ResponseError,)


class Engine:
    """Where an engine's data lives: ``url``, ``client`` or ``config``, as everywhere."""

    def __init__(self, url: str | None, client: Client | None, config: Config | None) -> None:
        clients = RedisClients.shared(url=url, client=client, config=config)
        self._clients = clients
        self.config: RedisMemoryConfig = clients.config
        self._key_schema = clients.config.keys
        self._serializer = clients.config.checked_serializer

    @property
    def keys(self) -> KeySchema:
        """The key schema that names every key this engine reads or writes."""
        return self._key_schema

    def _url(self) -> str:
        return self._clients.masked_url()

    @property
    def _cluster(self) -> bool:
        return self._clients.is_cluster


class SyncRunner(Engine):
    """The sync twin's way to run a plan (one round trip) or a flow (several)."""

    def _run(self, plan: Plan[T]) -> T:
        return execute(self._clients.sync, plan, self._url)

    def _step(self, step: Any) -> Any:
        """One step of a flow: a plan, or a :class:`Sleep`; engines with steps of their
        own (an embedding) handle those, then hand the rest here."""
        if isinstance(step, Sleep):
            time.sleep(step.seconds)
            return None
        return self._run(step)

    def _drive(self, flow: Generator[Any, Any, T]) -> T:
        return drive(flow, self._step, _FLOW_ERRORS)


class AsyncRunner(Engine):
    """The ``redis.asyncio`` twin's way to run a plan or a flow."""

    async def _run(self, plan: Plan[T]) -> T:
        return await execute_async(self._clients.async_, plan, self._url)

    async def _step(self, step: Any) -> Any:
        if isinstance(step, Sleep):
            await asyncio.sleep(step.seconds)
            return None
        return await self._run(step)

    async def _drive(self, flow: Generator[Any, Any, T]) -> T:
        return await drive_async(flow, self._step, _FLOW_ERRORS)
