"""What this package keeps in Redis: keys and bytes by kind of data, one SCAN walk."""

from __future__ import annotations

import random
from collections.abc import Callable, Generator
from dataclasses import asdict, dataclass, field
from typing import Any

import redis

from ._checks import whole
from ._cluster import slot as _slot
from ._execute import execute, execute_async
from ._flow import drive, drive_async
from ._paging import every_page, scan_page
from ._plan import Plan
from .config import mask_url
from .keys import KINDS, KeySchema

_SCAN_COUNT = 1000
# Keys measured per round trip by memory_by_kind: one pipeline of this many
# MEMORY USAGE commands, so that no single request is long.
MEASURE_BATCH = 100
# Keys measured per kind of data by default; a kind with more is sampled.
DEFAULT_SAMPLE = 1000


@dataclass(frozen=True, slots=True)
class KindUsage:
    """What one kind of data takes under a prefix.

    Attributes:
        keys: How many keys the ``SCAN`` walk found (exact; a key that Redis moves
            while it resizes its tables may be counted twice, as ``SCAN`` allows).
        bytes: Their memory in bytes, per ``MEMORY USAGE``: the sum over every key
            when ``exact``, else the mean of the sampled keys times ``keys``.
        sampled: How many keys ``MEMORY USAGE`` measured. A key deleted (or expired)
            between the walk and its measurement is not: it adds 0 bytes to an exact
            kind, and is left out of a sampled kind's mean.
        exact: Every key the walk found was measured (or found gone): ``bytes`` is
            not extrapolated from a sample.
    """

    keys: int
    bytes: int
    sampled: int
    exact: bool

    def as_dict(self) -> dict[str, Any]:
        """The four numbers as a JSON-ready dict."""
        return asdict(self)


@dataclass(slots=True)
class _Kind:
    """One kind's count and its uniform sample of keys (reservoir sampling, Algorithm R)."""

    count: int = 0
    held: list[Any] = field(default_factory=list)
    measured: int = 0
    total: int = 0


def _usage_flow(
    prefix: str, sample: int, scan_count: int, rng: random.Random
) -> Generator[Plan[Any], Any, dict[str, KindUsage]]:
    """The sans-I/O core of :func:`memory_by_kind` and :func:`count_keys`: one ``SCAN``
    walk that counts every key and keeps at most ``sample`` keys per kind (each key of
    a kind equally likely to be kept), then ``MEMORY USAGE`` of the kept keys in
    pipelines of :data:`MEASURE_BATCH`. Memory held: at most ``sample`` keys per kind.
    """
    schema = KeySchema(prefix)
    pattern = schema.pattern()
    kinds: dict[str, _Kind] = {}

    def count(keys: list[Any]) -> None:
        for key in keys:
            name = schema.kind_of(key) or "other"
            kind = kinds.get(name)
            if kind is None:
                kind = kinds[name] = _Kind()
            kind.count += 1
            if len(kind.held) < sample:
                kind.held.append(key)
            else:
                # Algorithm R: the count-th key replaces a kept one with probability
                # sample/count, so every key seen so far is kept with that probability.
                slot = rng.randrange(kind.count)
                if slot < sample:
                    kind.held[slot] = key

    yield from every_page(
        lambda cursor: scan_page("counting keys by kind of data", pattern, cursor, scan_count),
        count,
    )
    # By hash slot: on a cluster, a batch then reaches one primary (two at a boundary).
    queue = sorted(
        ((key, name) for name, kind in kinds.items() for key in kind.held),
        key=lambda pair: _slot(pair[0]),
    )
    for start in range(0, len(queue), MEASURE_BATCH):
        batch = queue[start : start + MEASURE_BATCH]
        sizes = yield _measure_plan([key for key, _ in batch])
        for (_, name), size in zip(batch, sizes, strict=True):
            if size is None:  # deleted (or expired) since the walk found it
                continue
            kinds[name].measured += 1
            kinds[name].total += int(size)
    return {
        name: _usage(kinds[name], sample)
        for name in (*KINDS, "other")
        if name in kinds and kinds[name].count
    }


def _usage(kind: _Kind, sample: int) -> KindUsage:
    exact = kind.count <= sample
    if exact or not kind.measured:
        size = kind.total
    else:
        size = round(kind.total * kind.count / kind.measured)
    return KindUsage(keys=kind.count, bytes=size, sampled=kind.measured, exact=exact)


def _measure_plan(keys: list[Any]) -> Plan[list[Any]]:
    # No SAMPLES argument: MEMORY USAGE then samples 5 elements of a list, hash,
    # set, sorted set or stream (exact for strings and small, listpack-encoded
    # values) and costs O(1). SAMPLES 0 walks every element: a big key would
    # hold the server for the length of the walk.
    return Plan(
        "measuring memory by kind of data",
        str(keys[0]),
        lambda replies: replies,
        [("MEMORY", "USAGE", key) for key in keys],
        route=keys[0] if len(keys) == 1 else None,
    )


def _checked(sample: int, scan_count: int) -> None:
    whole("sample", sample, 1)
    whole("scan_count", scan_count, 1)


def _url_of(client: Any, url: str | None) -> Callable[[], str]:
    return lambda: mask_url(url) if url else f"<{type(client).__name__} given by the caller>"


def memory_by_kind(
    client: redis.Redis,
    prefix: str,
    *,
    sample: int = DEFAULT_SAMPLE,
    scan_count: int = _SCAN_COUNT,
    url: str | None = None,
) -> dict[str, KindUsage]:
    """Keys and bytes under ``prefix`` by kind of data (``session``, ``cache``...).

    One ``SCAN`` walk (``COUNT scan_count`` per page, never ``KEYS``) counts every
    key and keeps a uniform random sample of at most ``sample`` keys per kind. The
    count is exact unless Redis resizes its key table during the walk, when
    ``SCAN`` may return a key twice: the walk keeps no set of every name to skip
    such repeats, so that its memory stays bounded. ``MEMORY USAGE`` (with its
    default, bounded element sampling) then measures the kept keys,
    :data:`MEASURE_BATCH` per pipelined round trip. A kind with at
    most ``sample`` keys is measured whole (``exact``); a bigger one's bytes are
    the sample's mean times its key count. Keys of the prefix that are no kind of
    this package's are under ``"other"``. Kinds in :data:`~redis_memory.keys.KINDS`
    order, those with no keys left out. Works on a Redis Cluster (every primary is
    walked; each measurement goes to the key's primary). ``url``: named (masked)
    in errors.

    Cost: the ``SCAN`` pages, plus ``ceil(measured / 100)`` round trips, where at
    most ``sample`` keys are measured per kind.
    """
    _checked(sample, scan_count)
    flow = _usage_flow(prefix, sample, scan_count, random.Random())  # noqa: S311
    where = _url_of(client, url)
    return drive(flow, lambda plan: execute(client, plan, where))


async def amemory_by_kind(
    client: Any,
    prefix: str,
    *,
    sample: int = DEFAULT_SAMPLE,
    scan_count: int = _SCAN_COUNT,
    url: str | None = None,
) -> dict[str, KindUsage]:
    """:func:`memory_by_kind` for a ``redis.asyncio`` client (standalone or cluster)."""
    _checked(sample, scan_count)
    flow = _usage_flow(prefix, sample, scan_count, random.Random())  # noqa: S311
    where = _url_of(client, url)
    return await drive_async(flow, lambda plan: execute_async(client, plan, where))


def count_keys(client: redis.Redis, prefix: str) -> dict[str, int]:
    """Keys under ``prefix`` by kind of data, counted with SCAN (never KEYS)."""
    flow = _usage_flow(prefix, 0, _SCAN_COUNT, random.Random())  # noqa: S311
    where = _url_of(client, None)
    usage = drive(flow, lambda plan: execute(client, plan, where))
    return {kind: used.keys for kind, used in usage.items()}


def human_bytes(size: float) -> str:
    """A byte count for people, in powers of 1024: ``"512 B"``, ``"1.2 KiB"``, ``"3.4 MiB"``."""
    if abs(size) < 1024:
        return f"{size:.0f} B"
    for unit in ("KiB", "MiB", "GiB"):
        size /= 1024
        if abs(round(size, 1)) < 1024:
            return f"{size:.1f} {unit}"
    return f"{size / 1024:.1f} TiB"
