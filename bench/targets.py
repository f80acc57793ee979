"""The targets, each marked met or missed, and the baseline they start from.

The baseline is the run before the store's hot paths were rewritten (the
README's figures then): `make bench` of 2026-11-22 09:23 UTC, invtrack
ad0659b, 1M events, 64 connections (`wrk -t2`), on the 2-core dev machine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Final

from bench.ingest import WORKLOADS, Run
from bench.plan import BASELINE_CONNECTIONS, MAIN_CONNECTIONS
from bench.queries import Measured
from bench.rebuild import Pass
from bench.results import Results, Target
from bench.signal_targets import signal_targets

BASELINE_RUN: Final = "2026-11-22, invtrack ad0659b, 1M events, 64 connections"
BASELINE_INGEST: Final = {
    ("sm-1", 1): 659,
    ("sm-20", 1): 2_974,
    ("ofs-50", 1): 2_970,
    ("sm-1", 2): 576,
    ("sm-20", 2): 2_840,
    ("ofs-50", 2): 3_750,
}
"""Events per second by (workload, workers), PostgreSQL, 64 connections."""
BASELINE_QUERIES: Final = {
    ("stock", 1): 434,
    ("history", 1): 280,
    ("stock", 2): 539,
    ("history", 2): 467,
}
"""Saturated requests per second by (query, workers), 100 clients."""
BASELINE_REBUILD: Final = 20_239

INGEST_SHARE: Final = {"postgresql": 0.80, "sqlite": 0.70}
"""1-row envelopes: accepted requests/s as a share of the ceiling, by backend."""
BATCHED_SHARE: Final = 0.60
"""20-row envelopes and 50-event OFS pages on PostgreSQL: share of the ceiling."""
STACK_SHARE: Final = 0.85
"""The ceiling (invtrack's own stack, no database) as a share of the bare app."""
FACTOR: Final = 4
QUERY_P99_MS: Final = 20.0
REBUILD_RATE: Final = 100_000
REBUILD_RSS_MB: Final = 500
GROWTH: Final = 0.20


def pairs(results: Results) -> Iterator[tuple[Run, Run | None]]:
    """Each real run with the ceiling run measured just before it, if any."""
    ceilings: dict[tuple[str, str, int, str, int], Run] = {}
    for run in results.ingest:
        key = (run.backend, run.store, run.workers, run.workload, run.connections)
        if run.server == "bare":
            continue
        if run.server == "ceiling":
            ceilings[key] = run
        else:
            yield run, ceilings.pop(key, None)


def find(
    results: Results, part: str, store: str, workload: str, connections: int
) -> tuple[Run, Run | None] | None:
    """The first real run of a part, with 1 worker, and its ceiling."""
    wanted = (part, store, workload, connections, 1)
    for run, ceiling in pairs(results):
        if (run.part, run.store, run.workload, run.connections, run.workers) == wanted:
            return run, ceiling
    return None


def stacks(results: Results) -> Iterator[tuple[Run, Run]]:
    """Each bare app's run with the ceiling run measured right after it."""
    bare: Run | None = None
    for run in results.ingest:
        if run.server == "bare":
            bare = run
        elif run.server == "ceiling" and bare is not None:
            if (bare.workload, bare.connections) == (run.workload, run.connections):
                yield bare, run
            bare = None


def baseline_ratio(run: Run) -> float | None:
    """The run's events/s over the baseline's, where the setting is the baseline's."""
    baseline = BASELINE_INGEST.get((run.workload, run.workers))
    comparable = (run.part, run.connections) == ("ingest", BASELINE_CONNECTIONS)
    return run.event_rate / baseline if baseline and comparable else None


def share(run: Run, ceiling: Run | None) -> float | None:
    return run.load.rate / ceiling.load.rate if ceiling and ceiling.load.rate else None


_BACKENDS: Final = {"postgresql": "PostgreSQL", "sqlite": "SQLite"}


def _ingest_share(results: Results, part: str) -> Target | None:
    store = "fresh" if part == "sqlite" else "history"
    found = find(results, part, store, "sm-1", MAIN_CONNECTIONS)
    if found is None or found[1] is None or (fraction := share(*found)) is None:
        return None
    run = found[0]
    wanted = INGEST_SHARE[run.backend]
    return Target(
        name=f"ingest on {_BACKENDS[run.backend]}, 1-row envelopes, 1 worker, "
        f"{MAIN_CONNECTIONS} connections: share of the ceiling",
        figure=f"{fraction:.0%} ({run.load.rate:,.0f} req/s)",
        against=f"ceiling {found[1].load.rate:,.0f} req/s",
        wanted=f">= {wanted:.0%}",
        met=fraction >= wanted,
    )


def _stack(results: Results) -> Target | None:
    """invtrack's own stack without the database against the bare app."""
    found = [
        (bare, ceiling)
        for bare, ceiling in stacks(results)
        if (bare.workload, bare.connections, bare.workers) == ("sm-1", MAIN_CONNECTIONS, 1)
    ]
    if not found or not found[0][0].load.rate:
        return None
    bare, ceiling = found[0]
    fraction = ceiling.load.rate / bare.load.rate
    return Target(
        name=f"invtrack's own stack without the database (the ceiling), 1-row envelopes, "
        f"1 worker, {MAIN_CONNECTIONS} connections: share of a bare Litestar app",
        figure=f"{fraction:.0%} ({ceiling.load.rate:,.0f} req/s)",
        against=f"bare app {bare.load.rate:,.0f} req/s (same token check and msgspec decode)",
        wanted=f">= {STACK_SHARE:.0%}",
        met=fraction >= STACK_SHARE,
    )


def _batched(results: Results, workload: str) -> Target | None:
    found = find(results, "ingest", "history", workload, BASELINE_CONNECTIONS)
    if found is None or found[1] is None or (fraction := share(*found)) is None:
        return None
    run, ceiling = found[0], found[1]
    baseline = BASELINE_INGEST[(workload, 1)]
    return Target(
        name=f"ingest on PostgreSQL, {WORKLOADS[workload].label}, 1 worker, "
        f"{BASELINE_CONNECTIONS} connections: share of the ceiling",
        figure=f"{fraction:.0%} ({run.event_rate:,.0f} events/s)",
        against=f"ceiling {ceiling.event_rate:,.0f} events/s; baseline {baseline:,} events/s, "
        f"{run.event_rate / baseline:.1f}x",
        wanted=f">= {BATCHED_SHARE:.0%}",
        met=fraction >= BATCHED_SHARE,
    )


def _query(results: Results, mode: str) -> Measured | None:
    return next(
        (q for q in results.queries if (q.query, q.workers, q.mode) == ("stock", 1, mode)), None
    )


def _stock_rate(results: Results) -> Target | None:
    saturated = _query(results, "saturated")
    if saturated is None:
        return None
    baseline = BASELINE_QUERIES[("stock", 1)]
    rate = saturated.load.rate
    return Target(
        name="stock query, 1 worker, 100 clients saturating: req/s",
        figure=f"{rate:,.0f} ({rate / baseline:.1f}x)",
        against=f"baseline {baseline:,} req/s",
        wanted=f">= {FACTOR * baseline:,} ({FACTOR}x)",
        met=rate >= FACTOR * baseline,
    )


def _stock_p99(results: Results) -> Target | None:
    paced = _query(results, "paced")
    if paced is None:
        return None
    return Target(
        name="stock query, 1 worker, paced at half the saturated rate: p99",
        figure=f"{paced.load.p99_ms:,.1f} ms",
        against=f"{paced.load.rate:,.0f} req/s offered by 100 clients",
        wanted=f"< {QUERY_P99_MS:.0f} ms",
        met=paced.load.p99_ms < QUERY_P99_MS,
    )


def _passes(results: Results) -> tuple[Pass | None, Pass | None]:
    passes = {p.mode: p for p in results.rebuild}
    return passes.get("rebuild"), passes.get("read")


def _rebuild_rate(results: Results) -> Target | None:
    rebuild, read = _passes(results)
    if rebuild is None:
        return None
    against = f"baseline {BASELINE_REBUILD:,}/s"
    if read is not None and read.rate:
        against += f"; read-and-decode ceiling {read.rate:,.0f}/s, {rebuild.rate / read.rate:.0%}"
    return Target(
        name=f"rebuild of {rebuild.events:,} events: events/s",
        figure=f"{rebuild.rate:,.0f}",
        against=against,
        wanted=f">= {REBUILD_RATE:,}",
        met=rebuild.rate >= REBUILD_RATE,
    )


def _rebuild_rss(results: Results) -> Target | None:
    rebuild, read = _passes(results)
    if rebuild is None:
        return None
    return Target(
        name="rebuild: peak RSS",
        figure=f"{rebuild.peak_rss_mb:,.0f} MB",
        against=f"reading alone {read.peak_rss_mb:,.0f} MB" if read else "",
        wanted=f"< {REBUILD_RSS_MB} MB",
        met=rebuild.peak_rss_mb < REBUILD_RSS_MB,
    )


def _growth_rate(results: Results, store: str) -> tuple[float, int] | None:
    """Accepted requests per second over every growth run on a store, and
    the events the store held at the first."""
    runs = [run for run, _ in pairs(results) if (run.part, run.store) == ("growth", store)]
    seconds = sum(run.load.seconds for run in runs)
    if not seconds:
        return None
    return sum(run.load.ok for run in runs) / seconds, runs[0].store_events


def _growth(results: Results) -> Target | None:
    small, large = _growth_rate(results, "small"), _growth_rate(results, "history")
    if small is None or large is None or not small[0]:
        return None
    change = large[0] / small[0] - 1
    return Target(
        name=f"ingest, 1-row envelopes, 1 worker, {MAIN_CONNECTIONS} connections: a store of "
        f"{large[1]:,} events against one of {small[1]:,}",
        figure=f"{large[0]:,.0f} req/s ({change:+.0%})",
        against=f"{small[0]:,.0f} req/s",
        wanted=f"within {GROWTH:.0%}",
        met=abs(change) < GROWTH,
    )


def _durable(results: Results) -> Target | None:
    checked = [run for run, _ in pairs(results) if run.grown is not None]
    if not checked:
        return None
    good = [run for run in checked if run.durable and run.exact]
    return Target(
        name="every acknowledged event stored, each payload once (real ingest runs)",
        figure=f"{len(good)} of {len(checked)} runs",
        against="stored events and payloads counted around each run",
        wanted="all",
        met=len(good) == len(checked),
    )


CHECKS: Final[tuple[Callable[[Results], Target | None], ...]] = (
    lambda results: _ingest_share(results, "ingest"),
    lambda results: _ingest_share(results, "sqlite"),
    _stack,
    lambda results: _batched(results, "sm-20"),
    lambda results: _batched(results, "ofs-50"),
    _stock_rate,
    _stock_p99,
    _rebuild_rate,
    _rebuild_rss,
    _growth,
    _durable,
)


def targets(results: Results) -> list[Target]:
    found = [target for check in CHECKS if (target := check(results)) is not None]
    return found + signal_targets(results.signals)
