"""The results as JSON and as a README-ready markdown page: the machine, the
targets marked met or missed, then every figure they come from."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec

from bench.ingest import WORKLOADS, Run
from bench.queries import CLIENTS
from bench.results import Results
from bench.targets import (
    BASELINE_RUN,
    QUERY_P99_MS,
    baseline_ratio,
    pairs,
    share,
    stacks,
    targets,
)


def mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def _header(results: Results) -> list[str]:
    m = results.machine
    lines = [
        "## Benchmarks",
        "",
        f"Measured {results.started:%Y-%m-%d %H:%M} UTC by `make bench`"
        + (" `--quick`" if results.quick else "")
        + f", load generator: {m.load_generator}"
        + (f", invtrack {m.commit}" if m.commit else "")
        + ".",
        "",
        "| CPU | cores | memory | PostgreSQL | Python | kernel |",
        "|---|---|---|---|---|---|",
        f"| {m.cpu} | {m.cores} | {m.memory_gib} GiB | {m.postgres} | {m.python} | {m.kernel} |",
        "",
        "PostgreSQL settings: "
        + ", ".join(f"{name} {value}" for name, value in m.postgres_settings.items())
        + ". The load generator, the servers and the database share the machine"
        + _load_note(results)
        + ".",
        "",
    ]
    if results.quick:
        lines += [
            "A quick run: smaller stores and short runs. The targets are set for the full run "
            "(a store of 1,000,000 events); these figures only show the way.",
            "",
        ]
    return lines


def _load_note(results: Results) -> str:
    averages = results.load_average
    start, end = averages.get("start"), averages.get("end")
    if not start or not end:
        return ""
    highest = max(values[0] for values in averages.values() if values)
    return (
        f"; its 1-minute load average was {start[0]:.1f} at the start, {end[0]:.1f} at the "
        f"end and at most {highest:.1f} between parts (15-minute at the end: {end[2]:.1f}), "
        f"{results.machine.cores} cores"
    )


def _stores(results: Results) -> list[str]:
    d = results.dataset
    if d is None:
        return []
    line = (
        f"Stored history: {d.events:,} generated events (ServiceMobility stock lines and "
        f"documents, OFS inventory events over {len(d.resources)} technicians and a few "
        f"thousand items), loaded with COPY in {d.seconds:.0f} s, its projections rebuilt, "
        "vacuumed and analyzed. Queries and the PostgreSQL ingest runs use it"
    )
    if results.small_dataset is not None:
        line += (
            f"; the growth check also uses a store of the first {results.small_dataset.events:,} "
            "of these events"
        )
    autovacuum = results.machine.postgres_settings.get("autovacuum") == "off"
    line += ". SQLite runs use a new store file." + (
        " Autovacuum is off on this server." if autovacuum else ""
    )
    return [line, ""]


def _targets(results: Results) -> list[str]:
    if not results.targets:
        return []
    met = sum(t.met for t in results.targets)
    lines = [
        f"### Targets: {met} of {len(results.targets)} met",
        "",
        f"Baseline: the run before the store's rewrite ({BASELINE_RUN}).",
        "",
        "| target | measured | compared with | wanted | | goal |",
        "|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {t.name} | {t.figure} | {t.against} | {t.wanted} | {mark(t.met)} | {t.goal} |"
        for t in results.targets
    ]
    return [*lines, ""]


_STORES = {"history": "history", "small": "smaller history", "fresh": "new file"}


def _ingest_row(run: Run, ceiling: Run | None) -> str:
    part = share(run, ceiling)
    ratio = baseline_ratio(run)
    durable = {None: "n/a", True: "yes", False: "**no**"}[run.durable and run.exact]
    stored = (
        f"{run.grown.events:,} / {run.load.events:,} / {run.grown.deliveries:,} / {run.load.sent:,}"
        if run.grown
        else ""
    )
    ceiling_cells = (
        f"{ceiling.load.rate:,.0f} | {_ms(ceiling.load.p50_ms)} / {_ms(ceiling.load.p99_ms)}"
        if ceiling
        else " | "
    )
    return (
        f"| {run.backend} ({_STORES[run.store]}, {run.store_events:,}) "
        f"| {WORKLOADS[run.workload].label} | {run.workers} | {run.connections} "
        f"| {run.load.rate:,.0f} | {run.event_rate:,.0f} "
        f"| {_ms(run.load.p50_ms)} / {_ms(run.load.p99_ms)} | {ceiling_cells} "
        f"| {f'{part:.0%}' if part is not None else ''} "
        f"| {f'{ratio:.1f}x' if ratio is not None else ''} | {stored} | {durable} |"
    )


_INGEST_HEAD = (
    "| store (events) | workload | workers | connections | req/s | events/s | p50 / p99 ms "
    "| ceiling req/s | ceiling p50 / p99 ms | of ceiling | x baseline | store check "
    "| all stored, once |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|",
)


def _ingest(results: Results) -> list[str]:
    found = [(run, ceiling) for run, ceiling in pairs(results) if run.part != "growth"]
    if not found:
        return []
    plan = results.plan
    return [
        f"### Ingest ({plan.seconds:.0f} s per run after {plan.warmup:.0f} s of warm-up, "
        "every request new)",
        "",
        "The ceiling is the same server stack (app, receiver, token check, translation) "
        "answering without the database, measured just before the real server with the same "
        "requests; every 200 of the real server comes after the commit. x baseline: events/s "
        "over the baseline run's at its setting (64 connections). Store check: events stored / "
        "events the answers acknowledged / payloads stored / requests sent.",
        "",
        *_INGEST_HEAD,
        *(_ingest_row(run, ceiling) for run, ceiling in found),
        "",
        *_stacks(results),
        *_generator_note(results),
    ]


def _stacks(results: Results) -> list[str]:
    """The ceiling against the bare app, measured just before it."""
    found = list(stacks(results))
    if not found:
        return []
    return [
        "The bare app (bench/bare.py) is Litestar with the same two routes, the same token "
        "check (verified once, then remembered) and a msgspec decode of the body, and nothing "
        "else; measured just before the ceiling with the same requests.",
        "",
        "| workload | workers | connections | bare req/s | bare p50 / p99 ms | ceiling req/s "
        "| ceiling of bare |",
        "|---|---|---|---|---|---|---|",
        *(
            f"| {WORKLOADS[bare.workload].label} | {bare.workers} | {bare.connections} "
            f"| {bare.load.rate:,.0f} | {_ms(bare.load.p50_ms)} / {_ms(bare.load.p99_ms)} "
            f"| {ceiling.load.rate:,.0f} | {ceiling.load.rate / bare.load.rate:.0%} |"
            for bare, ceiling in found
            if bare.load.rate
        ),
        "",
    ]


def _generator_note(results: Results) -> list[str]:
    """How busy the load generator was: near one core, it may be the limit."""
    busiest = max(results.ingest, key=lambda run: run.load.generator_cpu)
    return [
        f"The load generator used at most {busiest.load.generator_cpu:.2f} of a core "
        f"({busiest.server}, {busiest.workload}, {busiest.connections} connections).",
        "",
    ]


def _growth(results: Results) -> list[str]:
    found = [(run, ceiling) for run, ceiling in pairs(results) if run.part == "growth"]
    if not found:
        return []
    return [
        "### Growth (1-row envelopes, 1 worker)",
        "",
        "The smaller store, the whole history, the whole history again, the smaller store "
        "again: half-length runs, so a machine getting busier or quieter weighs on both "
        "alike. The target compares their rates over both runs of each.",
        "",
        *_INGEST_HEAD,
        *(_ingest_row(run, ceiling) for run, ceiling in found),
        "",
    ]


def _rebuild(results: Results) -> list[str]:
    if not results.rebuild:
        return []
    labels = {
        "rebuild": "rebuild",
        "read": "ceiling: read and decode only",
    }
    lines = [
        "### Rebuild (every projection, from position 0)",
        "",
        "| pass | events | seconds | events/s | peak RSS, all its processes |",
        "|---|---|---|---|---|",
    ]
    lines += [
        f"| {labels[p.mode]} | {p.events:,} | {p.seconds:,.1f} | {p.rate:,.0f} "
        f"| {p.peak_rss_mb:,.0f} MB |"
        for p in results.rebuild
    ]
    if results.dead_rows_after_rebuild:
        lines += [
            "",
            "Dead rows the rebuild left (removed by the VACUUM before the queries): "
            + ", ".join(
                f"{table} {count:,}" for table, count in results.dead_rows_after_rebuild.items()
            )
            + ".",
        ]
    return [*lines, ""]


def _queries(results: Results) -> list[str]:
    if not results.queries:
        return []
    lines = [
        f"### Queries ({CLIENTS} concurrent clients, ids rotating)",
        "",
        "Saturated: each client sends its next request on the answer (`wrk -c100`). "
        "Paced: each client first waits a random think time, so that together they ask "
        "for half the saturated throughput.",
        "",
        "| query | workers | clients | req/s | p50 ms | p99 ms "
        f"| paced p99 < {QUERY_P99_MS:.0f} ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in results.queries:
        paced = q.mode == "paced"
        lines.append(
            f"| {q.query} | {q.workers} "
            f"| {f'paced ({q.think_ms:.0f} ms)' if paced else 'saturated'} | {q.load.rate:,.0f} "
            f"| {_ms(q.load.p50_ms)} | {_ms(q.load.p99_ms)} "
            f"| {mark(q.load.p99_ms < QUERY_P99_MS) if paced else ''} |"
        )
    return [*lines, ""]


def _signals(results: Results) -> list[str]:
    figures = results.signals
    if figures is None:
        return []
    lines = [
        "### Stock signals (part `signals`)",
        "",
        f"{figures.par_levels:,} par levels ({figures.resources:,} resources x 200 products) "
        f"kept in {figures.load_seconds:,.0f} s. Queries against one worker; ingest of 1-row "
        "deliveries through the group commit in one process, with the signals kept and "
        "without, alternating.",
        "",
        "| query | clients | req/s | p50 ms | p99 ms |",
        "|---|---|---|---|---|",
    ]
    for q in figures.queries:
        mode = f"paced ({q.think_ms:.0f} ms)" if q.mode == "paced" else "saturated"
        lines.append(
            f"| {q.query} | {mode} | {q.load.rate:,.0f} | {_ms(q.load.p50_ms)} "
            f"| {_ms(q.load.p99_ms)} |"
        )
    on = ", ".join(f"{rate:,.0f}" for rate in figures.ingest_on)
    off = ", ".join(f"{rate:,.0f}" for rate in figures.ingest_off)
    lines += [
        "",
        f"Ingest, deliveries/s: with the signals {on}; without {off} "
        f"(ratio {figures.ingest_ratio:.3f}).",
        "",
    ]
    return lines


def _errors(results: Results) -> list[str]:
    if not results.errors:
        return []
    return [
        "### Parts that failed",
        "",
        *(f"- {part}: {error}" for part, error in results.errors.items()),
        "",
    ]


SECTIONS = (
    _header,
    _stores,
    _targets,
    _ingest,
    _growth,
    _rebuild,
    _queries,
    _signals,
    _errors,
)


def markdown(results: Results) -> str:
    return "\n".join(line for section in SECTIONS for line in section(results))


def write(results: Results, directory: Path, name: str = "latest") -> tuple[Path, Path]:
    """`{name}.md` and `{name}.json` in the directory."""
    results.targets = targets(results)
    directory.mkdir(parents=True, exist_ok=True)
    as_json = directory / f"{name}.json"
    as_markdown = directory / f"{name}.md"
    data: Any = msgspec.to_builtins(results)
    data["summary"] = summary(results)
    as_json.write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2) + b"\n")
    as_markdown.write_text(markdown(results))
    return as_markdown, as_json


def summary(results: Results) -> dict[str, Any]:
    """The headline figures, derived from the raw ones above them."""
    return {
        "targets_met": sum(t.met for t in results.targets),
        "targets": len(results.targets),
        "missed": [t.name for t in results.targets if not t.met],
        "ingest": [
            {
                "part": run.part,
                "backend": run.backend,
                "store_events": run.store_events,
                "workload": run.workload,
                "workers": run.workers,
                "connections": run.connections,
                "requests_per_s": round(run.load.rate, 1),
                "events_per_s": round(run.event_rate, 1),
                "p99_ms": round(run.load.p99_ms, 2),
                "ceiling_requests_per_s": round(ceiling.load.rate, 1) if ceiling else None,
                "share_of_ceiling": _round(share(run, ceiling), 3),
                "times_baseline": _round(baseline_ratio(run), 2),
                "durable": run.durable,
                "exact": run.exact,
            }
            for run, ceiling in pairs(results)
        ],
        "rebuild": {p.mode: round(p.rate, 1) for p in results.rebuild},
        "queries": [
            {
                "query": q.query,
                "workers": q.workers,
                "mode": q.mode,
                "requests_per_s": round(q.load.rate, 1),
                "p99_ms": round(q.load.p99_ms, 2),
            }
            for q in results.queries
        ],
    }


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
