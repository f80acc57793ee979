"""Ingest: accepted requests per second and latency against the ceiling.

The real server is `invtrack serve` on the store that holds the generated
history; the ceiling is the same stack answering without the database
(bench/ceiling.py). Both get the same requests from the same load generator.
After each real run the store is counted: every acknowledged event must be
there (answers are sent after the commit, so the store may hold a few more:
requests in flight when the load generator stopped).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from adapters.auth import mint
from bench import bodies
from bench.load import Load, run_python, run_wrk
from bench.pg import plain
from bench.servers import SECRET, Server, ceiling_serve, invtrack_serve, running


class Workload(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    events: int
    """Events each request appends."""
    script: str


WORKLOADS: Final = (
    Workload(
        name="sm-1",
        label="ServiceMobility, 1 row",
        events=1,
        script="servicemobility.lua",
    ),
    Workload(
        name="sm-20",
        label="ServiceMobility, 20 rows",
        events=20,
        script="servicemobility.lua",
    ),
    Workload(name="ofs-50", label="OFS page, 50 events", events=50, script="ofs.lua"),
)


class Run(msgspec.Struct, frozen=True, kw_only=True):
    workload: str
    workers: int
    server: str
    """`invtrack` or `ceiling`."""
    load: Load
    events_per_request: int
    stored: int | None = None
    """Events the store gained during the measured run (real server only)."""

    @property
    def acknowledged(self) -> int:
        return self.load.ok * self.events_per_request

    @property
    def durable(self) -> bool | None:
        return None if self.stored is None else self.stored >= self.acknowledged


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    connections: int
    seconds: float
    warmup: float
    generator: str
    """`wrk` or `python`."""


_runs = itertools.count(1)


def drive(url: str, workload: Workload, settings: Settings, seconds: float) -> Load:
    """One run of the workload against the server at `url`."""
    run = next(_runs)
    token = mint(SECRET, scope="write", ttl_seconds=4 * 3600)
    per_request = str(workload.events)
    if settings.generator == "wrk":
        run_id = str(run) if workload.script == "ofs.lua" else f"r{run}-{time.time_ns()}"
        return run_wrk(
            url,
            workload.script,
            [token, per_request, run_id],
            connections=settings.connections,
            seconds=seconds,
        )
    make = (
        bodies.ofs(token, workload.events, run)
        if workload.script == "ofs.lua"
        else bodies.servicemobility(token, workload.events, f"r{run}-{time.time_ns()}")
    )
    return run_python(url, make, connections=settings.connections, seconds=seconds)


async def stored_events(database_url: str) -> int:
    conn = await asyncpg.connect(plain(database_url))
    try:
        count: int = await conn.fetchval("SELECT count(*) FROM events")
    finally:
        await conn.close()
    return count


def measure(
    server: Server,
    name: str,
    workers: int,
    settings: Settings,
    count: Callable[[], int] | None,
    log: Callable[[str], None],
) -> list[Run]:
    runs = []
    with running(server):
        for workload in WORKLOADS:
            drive(server.url, workload, settings, settings.warmup)
            time.sleep(0.5)  # requests still in flight after the warm-up
            before = count() if count else None
            load = drive(server.url, workload, settings, settings.seconds)
            time.sleep(0.5)
            stored = count() - before if count and before is not None else None
            run = Run(
                workload=workload.name,
                workers=workers,
                server=name,
                load=load,
                events_per_request=workload.events,
                stored=stored,
            )
            log(
                f"  {name:8} {workers}w {workload.name:7} {load.rate:8.1f} req/s "
                f"{load.rate * workload.events:9.0f} events/s  p50 {load.p50_ms:7.1f} ms  "
                f"p99 {load.p99_ms:7.1f} ms  failed {load.failed}"
                + ("" if stored is None else f"  stored {stored} >= acked {run.acknowledged}")
            )
            runs.append(run)
    return runs


def run_ingest(
    database_url: str,
    workers: tuple[int, ...],
    settings: Settings,
    scratch: Path,
    count: Callable[[], int],
    log: Callable[[str], None],
) -> list[Run]:
    runs: list[Run] = []
    for n in workers:
        ceiling = ceiling_serve(database_url, n, scratch, scratch / f"ceiling-{n}w.log")
        runs += measure(ceiling, "ceiling", n, settings, None, log)
        real = invtrack_serve(database_url, n, scratch, scratch / f"invtrack-{n}w.log")
        runs += measure(real, "invtrack", n, settings, count, log)
    return runs
