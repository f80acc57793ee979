"""`python -m bench`: every benchmark in one run (see bench/__init__.py)."""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Final

import msgspec

from bench import report
from bench.load import wrk_path
from bench.machine import describe, load_average
from bench.parts import Bench, log
from bench.plan import FULL, PARTS, QUICK, Plan
from bench.results import Results, now
from tests.harness import postgres

RESULTS: Final = Path(__file__).resolve().parent / "results"


def parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description="Benchmark invtrack against its ceilings: rebuild, queries, growth, "
        "ingest on PostgreSQL and on SQLite.",
    )
    parser.add_argument("--quick", action="store_true", help="smaller stores, shorter runs")
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
        default=postgres.admin_url("INVTRACK_BENCH_PG"),
        help="PostgreSQL admin URL (INVTRACK_BENCH_PG); throwaway databases are made there",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=RESULTS,
        help="where the results go: latest.md/json for a full run of every part, "
        "quick.md/json for --quick, partial.md/json for some parts (default bench/results)",
    )
    return parser.parse_args(argv)


def plan_of(args: argparse.Namespace) -> Plan:
    plan = QUICK if args.quick else FULL
    events = args.events or plan.events
    return msgspec.structs.replace(
        plan,
        events=events,
        small_events=max(1, events // 10),
        seconds=args.seconds or plan.seconds,
    )


def parts_of(only: str) -> set[str]:
    parts = {part.strip() for part in only.split(",") if part.strip()}
    unknown = parts - set(PARTS)
    if unknown:
        raise SystemExit(
            f"unknown part(s): {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}"
        )
    return parts


def results_name(quick: bool, parts: set[str]) -> str:
    """What a run's results are called: only a full run of every part is the
    `latest` (the figures the README shows, kept in git); a quick run and a
    run of some parts are written beside it, never over it."""
    if quick:
        return "quick"
    return "latest" if parts == set(PARTS) else "partial"


def generator_of(choice: str) -> str:
    if choice == "auto":
        return "wrk" if wrk_path() else "python"
    if choice == "wrk" and not wrk_path():
        raise SystemExit("wrk is not installed")
    return choice


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(argv)
    plan, selected, generator = plan_of(args), parts_of(args.only), generator_of(args.generator)
    label = _generator_label(generator)
    log(f"load generator: {label}; parts: {', '.join(p for p in PARTS if p in selected)}")
    results = Results(
        started=now(),
        quick=args.quick,
        machine=describe(asyncio.run(postgres.server_settings(args.pg)), label),
        plan=plan,
    )
    results.load_average["start"] = load_average()
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="invtrack-bench-") as directory:
        Bench(results, generator, Path(directory), args.pg, selected).run()
    results.load_average["end"] = load_average()
    markdown, as_json = report.write(results, args.out, results_name(args.quick, selected))
    log(f"done in {time.monotonic() - began:.0f} s: {markdown} and {as_json}")
    sys.stdout.write(markdown.read_text())
    return 1 if results.errors else 0


def _generator_label(generator: str) -> str:
    if generator != "wrk":
        return "Python (asyncio, bench/load.py)"
    done = subprocess.run(  # noqa: S603
        [wrk_path() or "wrk", "--version"], capture_output=True, text=True, check=False
    )
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0].strip() if first else "wrk"
