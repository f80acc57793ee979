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

from collections.abc import Callable
from pathlib import Path
from typing import Final

import msgspec

from adapters.auth import mint
from bench import bodies
from bench.load import Load, run_python, run_wrk
from bench.servers import SECRET, invtrack_serve, running

CLIENTS: Final = 100


class Query(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    label: str
    paths: list[str]


class Measured(msgspec.Struct, frozen=True, kw_only=True):
    query: str
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
    token = mint(SECRET, scope="read", ttl_seconds=4 * 3600)
    if generator == "wrk":
        script = "get_paced.lua" if think_ms else "get.lua"
        args = [token, str(paths_file), f"{think_ms:.0f}"]
        return run_wrk(url, script, args, connections=CLIENTS, seconds=seconds)
    make = bodies.rotating(token, query.paths)
    return run_python(url, make, connections=CLIENTS, seconds=seconds, think_ms=think_ms)


def run_queries(
    database_url: str,
    workers: tuple[int, ...],
    found: list[Query],
    *,
    seconds: float,
    warmup: float,
    generator: str,
    scratch: Path,
    log: Callable[[str], None],
) -> list[Measured]:
    measured: list[Measured] = []
    files = {}
    for query in found:
        files[query.name] = scratch / f"{query.name}.paths"
        files[query.name].write_text("\n".join(query.paths) + "\n")
    for n in workers:
        server = invtrack_serve(database_url, n, scratch, scratch / f"queries-{n}w.log")
        with running(server):
            for query in found:
                _drive(server.url, query, files[query.name], 0, warmup, generator)
                saturated = _drive(server.url, query, files[query.name], 0, seconds, generator)
                # Half the saturated throughput, offered by the same 100 clients.
                think = max(1.0, 1000 * CLIENTS / max(saturated.rate / 2, 1.0))
                paced = _drive(server.url, query, files[query.name], think, seconds, generator)
                runs = (("saturated", saturated, 0.0), ("paced", paced, think))
                for mode, load, think_ms in runs:
                    measured.append(
                        Measured(
                            query=query.name, workers=n, mode=mode, think_ms=think_ms, load=load
                        )
                    )
                    log(
                        f"  {query.name:8} {n}w {mode:9} {load.rate:8.1f} req/s  "
                        f"p50 {load.p50_ms:7.1f} ms  p99 {load.p99_ms:7.1f} ms  "
                        f"failed {load.failed}"
                        + (f"  (think {think_ms:.0f} ms)" if think_ms else "")
                    )
    return measured
