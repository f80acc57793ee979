"""`python -m bench`: every benchmark in one run, on throwaway PostgreSQL databases.

Order: generate and load the history (COPY), rebuild it (and its ceiling),
query it, ingest into it (real server and ceiling, 1 and 2 workers), then the
peer on a database of its own. A part that fails is reported and the others
still run.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

import msgspec

from adapters.store import EventStore, connect
from bench import dataset, ingest, pg, queries, rebuild, report
from bench.load import wrk_path
from bench.machine import describe, load_average
from bench.peer import Appended
from projections.setup import prepare

RESULTS: Final = Path(__file__).resolve().parent / "results"
PARTS: Final = ("rebuild", "queries", "ingest", "peer")


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    seconds: float
    warmup: float
    query_seconds: float
    connections: int
    workers: tuple[int, ...]


FULL: Final = Plan(
    events=1_000_000,
    seconds=15,
    warmup=3,
    query_seconds=12,
    connections=64,
    workers=(1, 2),
)
QUICK: Final = Plan(
    events=100_000,
    seconds=4,
    warmup=1,
    query_seconds=4,
    connections=64,
    workers=(1, 2),
)


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stderr.flush()


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark invtrack on PostgreSQL: ingest, rebuild, queries, the peer.",
    )
    parser.add_argument("--quick", action="store_true", help="fewer events, shorter runs")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"comma-separated parts to run (default: {','.join(PARTS)})",
    )
    parser.add_argument("--events", type=int, help="events in the stored history")
    parser.add_argument("--seconds", type=float, help="seconds per measured ingest run")
    parser.add_argument(
        "--generator",
        choices=["auto", "wrk", "python"],
        default="auto",
        help="load generator (auto: wrk when installed)",
    )
    parser.add_argument(
        "--pg",
        default=pg.admin_url(),
        help="PostgreSQL admin URL (INVTRACK_BENCH_PG); throwaway databases are made there",
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where latest.md/json go")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    plan = QUICK if args.quick else FULL
    plan = msgspec.structs.replace(
        plan, events=args.events or plan.events, seconds=args.seconds or plan.seconds
    )
    parts = {part.strip() for part in args.only.split(",") if part.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        log(f"unknown part(s): {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
        return 2
    generator = args.generator
    if generator == "auto":
        generator = "wrk" if wrk_path() else "python"
    if generator == "wrk" and not wrk_path():
        log("wrk is not installed")
        return 2
    label = _generator_label(generator)
    log(f"load generator: {label}")
    settings = asyncio.run(pg.server_settings(args.pg))
    results = report.Results(
        started=report.now(),
        quick=args.quick,
        machine=describe(settings, label),
        connections=plan.connections,
        seconds=plan.seconds,
    )
    results.load_average["start"] = load_average()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="invtrack-bench-") as directory:
        scratch = Path(directory)
        with _database(args.pg, "store") as store_url:
            _part(results, "load", lambda: _load(results, store_url, plan))
            if results.dataset is not None:
                _run_parts(results, parts, store_url, plan, generator, scratch)
        if "peer" in parts:
            with _database(args.pg, "peer") as peer_url:
                _part(results, "peer", lambda: _peer(results, peer_url, plan))
    results.load_average["end"] = load_average()
    markdown, as_json = report.write(results, args.out)
    log(f"done in {time.monotonic() - started:.0f} s: {markdown} and {as_json}")
    sys.stdout.write(markdown.read_text())
    return 1 if results.errors else 0


def _run_parts(
    results: report.Results,
    parts: set[str],
    url: str,
    plan: Plan,
    generator: str,
    scratch: Path,
) -> None:
    if "rebuild" in parts:
        _part(results, "rebuild", lambda: _rebuild(results, url))
    if "queries" in parts:
        _part(results, "queries", lambda: _queries(results, url, plan, generator, scratch))
    if "ingest" in parts:
        _part(results, "ingest", lambda: _ingest(results, url, plan, generator, scratch))


def _part(results: report.Results, name: str, work: Callable[[], None]) -> None:
    log(f"{name}:")
    began = time.monotonic()
    try:
        work()
    except Exception as error:  # one part failing must not lose the others' figures
        results.errors[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
        log(f"{name} failed:\n{traceback.format_exc()}")
    else:
        log(f"{name}: {time.monotonic() - began:.0f} s")


class _database:
    """A throwaway database for a `with` block."""

    def __init__(self, admin: str, label: str) -> None:
        self.admin = admin
        self.label = label
        self.url = ""

    def __enter__(self) -> str:
        self.url = asyncio.run(pg.create(self.admin, self.label))
        return self.url

    def __exit__(self, *exc: object) -> None:
        asyncio.run(pg.drop(self.admin, self.url))


def _load(results: report.Results, url: str, plan: Plan) -> None:
    async def setup() -> dataset.Loaded:
        database = connect(url)
        try:
            await database.migrate()
            await prepare(EventStore(database))
        finally:
            await database.dispose()
        return await dataset.load(url, plan.events)

    loaded = asyncio.run(setup())
    results.dataset = loaded
    log(f"  {loaded.events:,} events loaded in {loaded.seconds:.0f} s")


def _rebuild(results: report.Results, url: str) -> None:
    for mode in ("read", "rebuild"):
        measured = rebuild.measure(mode, url)
        results.rebuild.append(measured)
        log(
            f"  {mode:8} {measured.events:,} events in {measured.seconds:.1f} s: "
            f"{measured.rate:,.0f} events/s, peak RSS {measured.peak_rss_mb:.0f} MB"
        )
    began = time.monotonic()
    dead = asyncio.run(pg.vacuum(url))
    log(
        f"  vacuum   {time.monotonic() - began:.0f} s; dead rows the rebuild left: "
        + ", ".join(f"{table} {count:,}" for table, count in dead.items())
    )
    results.dead_rows_after_rebuild = dead


def _queries(results: report.Results, url: str, plan: Plan, generator: str, scratch: Path) -> None:
    assert results.dataset is not None
    found = queries.queries(results.dataset.resources, results.dataset.item_keys)
    results.queries += queries.run_queries(
        url,
        plan.workers,
        found,
        seconds=plan.query_seconds,
        warmup=plan.warmup,
        generator=generator,
        scratch=scratch,
        log=log,
    )


def _ingest(results: report.Results, url: str, plan: Plan, generator: str, scratch: Path) -> None:
    settings = ingest.Settings(
        connections=plan.connections,
        seconds=plan.seconds,
        warmup=plan.warmup,
        generator=generator,
    )
    results.ingest += ingest.run_ingest(
        url,
        plan.workers,
        settings,
        scratch,
        lambda: asyncio.run(ingest.stored_events(url)),
        log,
    )


def _peer(results: report.Results, url: str, plan: Plan) -> None:
    for workload in ingest.WORKLOADS:
        done = subprocess.run(  # noqa: S603  # our own module
            [
                sys.executable,
                "-m",
                "bench.peer",
                pg.plain(url),
                str(workload.events),
                str(plan.connections),
                str(plan.seconds),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"the peer failed:\n{done.stderr[-2000:]}")
        appended = msgspec.json.decode(done.stdout.strip().splitlines()[-1], type=Appended)
        results.peer.append(
            report.PeerRun(
                workload=workload.name,
                per_save=workload.events,
                threads=plan.connections,
                appended=appended,
            )
        )
        log(
            f"  peer     {workload.name:7} {appended.rate:9.0f} events/s  "
            f"save p50 {appended.p50_ms:7.1f} ms  p99 {appended.p99_ms:7.1f} ms"
        )


def _generator_label(generator: str) -> str:
    if generator != "wrk":
        return "Python (asyncio, bench/load.py)"
    done = subprocess.run(  # noqa: S603
        [wrk_path() or "wrk", "--version"], capture_output=True, text=True, check=False
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk"
