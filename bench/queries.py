"""Queries: a technician's stock and an item's history, 100 concurrent clients,
on the store holding the generated history.

Each query is driven twice by 100 connections rotating through the ids:
saturated (every client sends its next request as soon as it has the answer,
`wrk -c100`), and paced (every client waits a random think time first, chosen
so that the clients together ask for half of what the server answered
saturated). Saturated latency is mostly time queued behind the other 99
clients (Little's law: latency = clients / throughput); paced latency is what
a client sees from a server that is busy but keeps up.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import msgspec

from bench import bodies
from bench.ingest import RUNS
from bench.load import Load, run_python, run_wrk
from bench.servers import invtrack_serve, running
from tests.harness import tokens

CLIENTS: Final = 100
THREADS: Final = 2
"""wrk threads: one cannot keep 100 connections of short answers busy."""


class Query(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    paths: list[str]


class Measured(msgspec.Struct, frozen=True, kw_only=True):
    query: str
    store_events: int
    workers: int
    mode: str
    """`saturated` or `paced`."""
    think_ms: float
    load: Load


def queries(resources: list[str], item_keys: list[str]) -> list[Query]:
    return [
        Query(
            name="stock",
            label="GET /resources/{id}/inventories",
            paths=[f"/resources/{resource}/inventories" for resource in resources],
        ),
        Query(
            name="history",
            label="GET /inventories/{key}/history",
            paths=[f"/inventories/{key}/history" for key in item_keys],
        ),
    ]


def _drive(
    url: str, query: Query, paths_file: Path, think_ms: float, seconds: float, generator: str
) -> Load:
    token = tokens.token("read", ttl=4 * 3600)
    if generator == "wrk":
        script = "get_paced.lua" if think_ms else "get.lua"
        args = [token, str(paths_file), f"{think_ms:.0f}", str(RUNS.next())]
        return run_wrk(url, script, args, connections=CLIENTS, seconds=seconds, threads=THREADS)
    make = bodies.rotating(token, query.paths)
    return run_python(url, make, connections=CLIENTS, seconds=seconds, think_ms=think_ms)


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    seconds: float
    warmup: float
    generator: str
    store_events: int


def run_queries(
    database_url: str,
    workers: Sequence[int],
    found: list[Query],
    settings: Settings,
    scratch: Path,
    log: Callable[[str], None],
) -> list[Measured]:
    measured: list[Measured] = []
    files = {}
    for query in found:
        files[query.name] = scratch / f"{query.name}.paths"
        files[query.name].write_text("\n".join(query.paths) + "\n")
    for n in workers:
        server = invtrack_serve(database_url, n, scratch / f"queries-{n}w")
        with running(server):
            for query in found:
                for one in _saturated_and_paced(server.url, query, files[query.name], settings):
                    measured.append(msgspec.structs.replace(one, workers=n))
                    log(_line(measured[-1]))
    return measured


def _saturated_and_paced(
    url: str, query: Query, paths: Path, settings: Settings
) -> tuple[Measured, Measured]:
    generator = settings.generator
    _drive(url, query, paths, 0, settings.warmup, generator)
    saturated = _drive(url, query, paths, 0, settings.seconds, generator)
    # Half the saturated throughput, offered by the same 100 clients.
    think = max(1.0, 1000 * CLIENTS / max(saturated.rate / 2, 1.0))
    paced = _drive(url, query, paths, think, settings.seconds, generator)
    return (
        Measured(
            query=query.name,
            store_events=settings.store_events,
            workers=0,
            mode="saturated",
            think_ms=0.0,
            load=saturated,
        ),
        Measured(
            query=query.name,
            store_events=settings.store_events,
            workers=0,
            mode="paced",
            think_ms=think,
            load=paced,
        ),
    )


def _line(measured: Measured) -> str:
    load = measured.load
    return (
        f"  {measured.query:8} {measured.workers}w {measured.mode:9} {load.rate:8.1f} req/s  "
        f"p50 {load.p50_ms:7.1f} ms  p99 {load.p99_ms:7.1f} ms  failed {load.failed}"
        + (f"  (think {measured.think_ms:.0f} ms)" if measured.think_ms else "")
    )
