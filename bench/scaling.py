"""The figures behind docs/scaling.md: `python -m bench.scaling`.

On a PostgreSQL primary and a streaming standby of its own (started from the
server binaries in a temporary directory, fsync on, as tests.harness.standby
does), with `--events` generated events loaded and their projections rebuilt:

- bytes on disk per stored event and per current item, table by table;
- the rebuild's time for those events;
- ingest through `invtrack serve` (1 worker, wrk): events per second, and
  the CPU seconds the server, the primary and the standby spent on them
  (each process tree counted on its own: other work on the machine is not);
- the stock query served from the standby (`INVTRACK_READ_DATABASE_URL`):
  requests per second, and the CPU seconds per request of the standby, the
  primary and the server.

It prints the figures and writes them as JSON to bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import msgspec

from adapters.store import connect
from bench import dataset
from bench.history import Loaded
from bench.ingest import WORKLOADS, drive
from bench.ingest import Settings as IngestSettings
from bench.load import Load, run_wrk
from bench.machine import load_average
from bench.rebuild import measure as measure_pass
from bench.servers import invtrack_serve, running
from projections.setup import prepare
from tests.harness import postgres, tokens
from tests.harness.standby import Replication, caught_up

RESULTS = Path(__file__).parent / "results" / "scaling.json"
TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stderr.flush()


def tree_cpu(root: int) -> float:
    """CPU seconds of a process and its descendants, those ended included
    (their time is in their parent's once it has waited for them)."""
    parents: dict[int, int] = {}
    spent: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        spent[pid] = sum(int(value) for value in fields[11:15]) / TICKS
    total, seen, waiting = 0.0, set(), [root]
    while waiting:
        pid = waiting.pop()
        if pid in seen or pid not in spent:
            continue
        seen.add(pid)
        total += spent[pid]
        waiting.extend(child for child, parent in parents.items() if parent == pid)
    return total


def postmaster(data: Path) -> int:
    return int((data / "postmaster.pid").read_text().split()[0])


class Cpu(msgspec.Struct, frozen=True, kw_only=True):
    server: float
    primary: float
    standby: float


class Trees:
    def __init__(self, server: int, primary: int, standby: int) -> None:
        self.pids = (server, primary, standby)

    def now(self) -> Cpu:
        server, primary, standby = (tree_cpu(pid) for pid in self.pids)
        return Cpu(server=server, primary=primary, standby=standby)

    @contextmanager
    def spent(self, into: list[Cpu]) -> Iterator[None]:
        before = self.now()
        yield
        after = self.now()
        into.append(
            Cpu(
                server=after.server - before.server,
                primary=after.primary - before.primary,
                standby=after.standby - before.standby,
            )
        )


class IngestRun(msgspec.Struct, frozen=True, kw_only=True):
    workload: str
    connections: int
    load: Load
    events_per_second: float
    cpu: Cpu


class QueryRun(msgspec.Struct, frozen=True, kw_only=True):
    load: Load
    cpu: Cpu


class Figures(msgspec.Struct, kw_only=True):
    measured_at: str
    load_average: list[float]
    events: int
    load_seconds: float
    rebuild_seconds: float
    feed_seconds: float
    tables: dict[str, tuple[int, int]]
    """Rows and bytes of each table once the history is loaded and rebuilt."""
    database_bytes: int
    tables_after_ingest: dict[str, tuple[int, int]]
    """The same after the ingest runs (which keep every payload in the inbox)."""
    ingest: list[IngestRun]
    queries: list[QueryRun]


async def _migrated(url: str) -> None:
    store = connect(url)
    try:
        await store.migrate()
        await prepare(store)
    finally:
        await store.close()


async def _fill_feed(url: str) -> float:
    """The feed's entries for the loaded history; how long that took."""
    store = connect(url)
    try:
        started = time.perf_counter()
        await store.fill_feed()
        return time.perf_counter() - started
    finally:
        await store.close()


def _ingest(url: str, trees: Trees, seconds: float) -> list[IngestRun]:
    settings = IngestSettings(seconds=seconds, warmup=2.0, generator="wrk")
    runs = []
    for name, connections in (("sm-1", 32), ("ofs-50", 64)):
        workload = WORKLOADS[name]
        drive(url, workload, connections, settings, settings.warmup)
        spent: list[Cpu] = []
        with trees.spent(spent):
            load, _ = drive(url, workload, connections, settings, seconds)
        rate = load.rate * workload.events
        runs.append(
            IngestRun(
                workload=name,
                connections=connections,
                load=load,
                events_per_second=rate,
                cpu=spent[0],
            )
        )
        log(f"ingest {name}: {rate:,.0f} events/s, cpu {spent[0]}")
    return runs


def _queries(url: str, loaded: Loaded, trees: Trees, seconds: float, scratch: Path) -> QueryRun:
    paths = scratch / "stock.paths"
    paths.write_text("".join(f"/resources/{r}/inventories\n" for r in loaded.resources))
    token = tokens.token("read", ttl=4 * 3600)

    def run(length: float) -> Load:
        args = [token, str(paths), "0", "1"]
        return run_wrk(url, "get.lua", args, connections=100, seconds=length, threads=2)

    run(2.0)
    spent: list[Cpu] = []
    with trees.spent(spent):
        load = run(seconds)
    log(f"stock query from the standby: {load.rate:,.0f} req/s, cpu {spent[0]}")
    return QueryRun(load=load, cpu=spent[0])


def measure(events: int, seconds: float) -> Figures:
    pair = Replication.start(durable=True)
    try:
        standby = pair.standby()
        admin = pair.primary.admin()
        url = asyncio.run(postgres.create(admin, "invtrack_scaling"))
        name = url.rsplit("/", 1)[1]
        asyncio.run(_migrated(url))
        log(f"loading {events:,} events")
        loaded = asyncio.run(dataset.load(url, events))
        log("rebuilding")
        rebuilt = measure_pass("rebuild", url)
        log("filling the feed")
        feed_seconds = asyncio.run(_fill_feed(url))
        asyncio.run(postgres.vacuum(url))
        tables = asyncio.run(postgres.table_sizes(url))
        size = asyncio.run(postgres.database_bytes(url))
        asyncio.run(caught_up(admin, standby.admin()))
        with tempfile.TemporaryDirectory() as directory:
            scratch = Path(directory)
            extra = {"INVTRACK_READ_DATABASE_URL": standby.url(name)}
            server = invtrack_serve(url, 1, scratch, extra)
            with running(server):
                assert server.process is not None
                trees = Trees(
                    server.process.pid, postmaster(pair.primary.data), postmaster(standby.data)
                )
                queries = _queries(server.url, loaded, trees, seconds, scratch)
                ingest = _ingest(server.url, trees, seconds)
        asyncio.run(postgres.vacuum(url))
        after = asyncio.run(postgres.table_sizes(url))
        return Figures(
            measured_at=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            load_average=load_average(),
            events=loaded.events,
            load_seconds=loaded.seconds,
            rebuild_seconds=rebuilt.seconds,
            feed_seconds=feed_seconds,
            tables=tables,
            database_bytes=size,
            tables_after_ingest=after,
            ingest=ingest,
            queries=[queries],
        )
    finally:
        pair.close()


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--events", type=int, default=200_000, help="events in the history")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per measured run")
    args = parser.parse_args(argv)
    figures = measure(args.events, args.seconds)
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_bytes(msgspec.json.format(msgspec.json.encode(figures)))
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(figures)).decode() + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
