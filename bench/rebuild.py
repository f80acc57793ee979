"""Rebuild: events per second to rebuild every projection from position 0,
and the peak memory doing it takes, against the ceiling of reading and
decoding the same events without projecting them.

Each is measured in a fresh subprocess (`python -m bench.rebuild MODE URL`),
which prints one JSON line: the seconds the work took (imports and connecting
excluded), the events it went through, and its peak RSS (getrusage
ru_maxrss, interpreter and libraries included, plus that of its largest
child). The bench also samples the resident memory of the subprocess and all
its descendants together (bench/memory.py); the peak RSS reported is the
higher of the two.

The ceiling reads as the rebuild reads: `Store.read_raw` in the
rebuild's batch size, `decode_chunk` with the rebuild's decoder (every domain
event decoded, its keys taken from its stored routing), the next batch read
while one is decoded; nothing is folded or written.
"""

from __future__ import annotations

import asyncio
import json
import resource
import subprocess
import sys
import time
from typing import Any

import msgspec

from adapters.store import Store, connect
from bench.memory import Sampler


class Pass(msgspec.Struct, frozen=True, kw_only=True):
    mode: str
    """`rebuild` or `read` (the ceiling)."""
    events: int
    seconds: float
    peak_rss_mb: float
    start_rss_mb: float
    sampled_rss_mb: float = 0.0
    """The highest resident memory of the process and its descendants
    together, sampled every 0.1 s."""

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def measure(mode: str, database_url: str) -> Pass:
    with subprocess.Popen(  # noqa: S603  # our own module
        [sys.executable, "-m", "bench.rebuild", mode, database_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        sampler = Sampler(process.pid)
        out, err = process.communicate()
        sampled = sampler.stop() / 2**20
    for line in out.splitlines():
        if line.startswith("{"):
            done = msgspec.json.decode(line, type=Pass)
            return msgspec.structs.replace(
                done, sampled_rss_mb=sampled, peak_rss_mb=max(done.peak_rss_mb, sampled)
            )
    raise RuntimeError(f"{mode} gave no result (exit {process.returncode}):\n{err[-3000:]}")


def _rss_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return (own + children) / 1024


async def _rebuild(store: Store) -> int:
    from projections.catalog import PROJECTIONS
    from projections.rebuild import rebuild

    names = [projection.name for projection in PROJECTIONS]
    done: Any = await rebuild(store, names)
    return max(int(item.events) for item in done)


async def _read(store: Store) -> int:
    """Every event read and decoded as the rebuild reads them."""
    from projections.reading import decode_chunk, decoder
    from projections.rebuild import BATCH

    decode = decoder(store.upcast)
    events = 0
    reading = asyncio.create_task(store.read_raw(0, BATCH))
    while rows := await reading:
        reading = asyncio.create_task(store.read_raw(rows[-1][0], BATCH))
        events += (await decode_chunk(rows, decode)).read
    return events


async def _main(mode: str, url: str) -> Pass:
    store = connect(url)
    try:
        await store.head()  # connected, and the pool warm
        start_rss = _rss_mb()
        started = time.perf_counter()
        if mode == "read":
            events = await _read(store)
        else:
            events = await _rebuild(store)
        seconds = time.perf_counter() - started
    finally:
        await store.close()
    return Pass(
        mode=mode,
        events=events,
        seconds=seconds,
        peak_rss_mb=_rss_mb(),
        start_rss_mb=start_rss,
    )


if __name__ == "__main__":
    result = asyncio.run(_main(sys.argv[1], sys.argv[2]))
    sys.stdout.write(json.dumps(msgspec.to_builtins(result)) + "\n")
