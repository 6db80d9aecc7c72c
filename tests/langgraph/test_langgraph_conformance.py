"""LangGraph's own conformance suite for checkpointers, run on RedisSaver.

``langgraph-checkpoint-conformance`` drives the async methods. The sync methods
run the same suite through a thin adapter whose async methods call the sync ones
in a worker thread (test code only: the saver itself is native on both sides).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.checkpoint.conformance import checkpointer_test, validate
from langgraph.checkpoint.conformance.capabilities import ALL_CAPABILITIES

from langchain_redis_memory import RedisSaver

pytestmark = pytest.mark.acl_user


class SyncFace(BaseCheckpointSaver):
    """The saver's sync methods behind the async names the suite calls."""

    def __init__(self, saver: RedisSaver) -> None:
        super().__init__(serde=saver.serde)
        self.saver = saver

    async def aget_tuple(self, config):
        return await asyncio.to_thread(self.saver.get_tuple, config)

    async def alist(self, config, *, filter=None, before=None, limit=None):
        found = await asyncio.to_thread(
            lambda: list(self.saver.list(config, filter=filter, before=before, limit=limit))
        )
        for item in found:
            yield item

    async def aput(self, config, checkpoint, metadata, new_versions):
        return await asyncio.to_thread(self.saver.put, config, checkpoint, metadata, new_versions)

    async def aput_writes(self, config, writes, task_id, task_path=""):
        await asyncio.to_thread(self.saver.put_writes, config, writes, task_id, task_path)

    async def adelete_thread(self, thread_id):
        await asyncio.to_thread(self.saver.delete_thread, thread_id)

    async def adelete_for_runs(self, run_ids):
        await asyncio.to_thread(self.saver.delete_for_runs, run_ids)

    async def acopy_thread(self, source_thread_id, target_thread_id):
        await asyncio.to_thread(self.saver.copy_thread, source_thread_id, target_thread_id)

    async def aprune(self, thread_ids, *, strategy="keep_latest"):
        await asyncio.to_thread(self.saver.prune, thread_ids, strategy=strategy)


def _register(name: str, make: Any) -> Any:
    @checkpointer_test(name=name)
    async def factory() -> AsyncIterator[BaseCheckpointSaver]:
        yield make()

    return factory


def _failures(report: Any) -> dict[str, list[str]]:
    return {
        capability: result.failures
        for capability, result in report.results.items()
        if result.passed is not True
    }


@pytest.fixture
def saver(config) -> RedisSaver:
    return RedisSaver(config=config)


async def test_async_methods_pass_every_capability(saver):
    report = await validate(_register("RedisSaver (async)", lambda: saver))
    assert set(report.results) == {c.value for c in ALL_CAPABILITIES}
    assert _failures(report) == {}
    assert all(result.detected for result in report.results.values())


async def test_sync_methods_pass_every_capability(saver):
    report = await validate(_register("RedisSaver (sync)", lambda: SyncFace(saver)))
    assert _failures(report) == {}
    assert all(result.detected for result in report.results.values())


async def test_with_keep_last_and_mirroring_the_suite_still_passes(config):
    # keep_last=1000 prunes nothing the suite looks at; the mirror must not get in the way.
    saver = RedisSaver(config=config, keep_last=1000, mirror_messages=True)
    report = await validate(_register("RedisSaver (options)", lambda: saver))
    assert _failures(report) == {}
