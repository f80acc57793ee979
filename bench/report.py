"""The results as JSON and as a README-ready markdown page, with each target
marked met or missed."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import msgspec

from bench.dataset import Loaded
from bench.ingest import WORKLOADS, Run
from bench.machine import Machine
from bench.peer import Appended
from bench.queries import CLIENTS, Measured
from bench.rebuild import Pass

INGEST_SHARE: Final = 0.60
REBUILD_RATE: Final = 100_000
REBUILD_SHARE: Final = 0.50
REBUILD_RSS_MB: Final = 500
QUERY_P99_MS: Final = 20.0
PEER_FACTOR: Final = 5.0


class Target(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    figure: str
    wanted: str
    met: bool


class PeerRun(msgspec.Struct, frozen=True, kw_only=True):
    workload: str
    per_save: int
    threads: int
    appended: Appended


class Results(msgspec.Struct, kw_only=True):
    started: datetime
    quick: bool
    machine: Machine
    connections: int
    seconds: float
    dataset: Loaded | None = None
    ingest: list[Run] = msgspec.field(default_factory=list)
    peer: list[PeerRun] = msgspec.field(default_factory=list)
    rebuild: list[Pass] = msgspec.field(default_factory=list)
    queries: list[Measured] = msgspec.field(default_factory=list)
    dead_rows_after_rebuild: dict[str, int] = msgspec.field(default_factory=dict)
    load_average: dict[str, list[float]] = msgspec.field(default_factory=dict)
    """The machine's load averages at the start and the end of the run."""
    errors: dict[str, str] = msgspec.field(default_factory=dict)
    targets: list[Target] = msgspec.field(default_factory=list)


def mark(met: bool) -> str:
    return "met" if met else "**missed**"


def _ingest_pairs(results: Results) -> list[tuple[Run, Run | None]]:
    ceilings = {(r.workload, r.workers): r for r in results.ingest if r.server == "ceiling"}
    return [
        (run, ceilings.get((run.workload, run.workers)))
        for run in results.ingest
        if run.server == "invtrack"
    ]


def targets(results: Results) -> list[Target]:
    found: list[Target] = []
    for run, ceiling in _ingest_pairs(results):
        if ceiling is not None and ceiling.load.rate:
            share = run.load.rate / ceiling.load.rate
            found.append(
                Target(
                    name=f"ingest {run.workload}, {run.workers} worker(s): share of ceiling",
                    figure=f"{share:.0%}",
                    wanted=f">= {INGEST_SHARE:.0%}",
                    met=share >= INGEST_SHARE,
                )
            )
    passes = {p.mode: p for p in results.rebuild}
    if "rebuild" in passes:
        rebuild = passes["rebuild"]
        found.append(
            Target(
                name="rebuild rate",
                figure=f"{rebuild.rate:,.0f} events/s",
                wanted=f">= {REBUILD_RATE:,} events/s",
                met=rebuild.rate >= REBUILD_RATE,
            )
        )
        if "read" in passes and passes["read"].rate:
            share = rebuild.rate / passes["read"].rate
            found.append(
                Target(
                    name="rebuild: share of ceiling",
                    figure=f"{share:.0%}",
                    wanted=f">= {REBUILD_SHARE:.0%}",
                    met=share >= REBUILD_SHARE,
                )
            )
        found.append(
            Target(
                name="rebuild peak RSS",
                figure=f"{rebuild.peak_rss_mb:.0f} MB",
                wanted=f"< {REBUILD_RSS_MB} MB",
                met=rebuild.peak_rss_mb < REBUILD_RSS_MB,
            )
        )
    for measured in results.queries:
        if measured.mode == "saturated":
            found.append(
                Target(
                    name=f"query {measured.query} p99, {measured.workers} worker(s), "
                    f"{CLIENTS} clients",
                    figure=f"{measured.load.p99_ms:.1f} ms",
                    wanted=f"< {QUERY_P99_MS:.0f} ms",
                    met=measured.load.p99_ms < QUERY_P99_MS,
                )
            )
    for peer in results.peer:
        for run, _ in _ingest_pairs(results):
            if run.workload == peer.workload and peer.appended.rate:
                factor = run.load.rate * run.events_per_request / peer.appended.rate
                found.append(
                    Target(
                        name=f"ingest {run.workload}, {run.workers} worker(s): times the peer",
                        figure=f"{factor:.1f}x",
                        wanted=f">= {PEER_FACTOR:.0f}x",
                        met=factor >= PEER_FACTOR,
                    )
                )
    return found


def _load_note(results: Results) -> str:
    start, end = results.load_average.get("start"), results.load_average.get("end")
    if not start or not end:
        return ""
    return (
        f"; its 1-minute load average was {start[0]:.1f} at the start and {end[0]:.1f} at "
        f"the end (15-minute: {end[2]:.1f}), {results.machine.cores} cores"
    )


def _ms(value: float) -> str:
    return f"{value:,.1f}"


def markdown(results: Results) -> str:
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
        + ". The load generator, the servers and PostgreSQL share the machine"
        + _load_note(results)
        + ".",
        "",
    ]
    if results.dataset is not None:
        d = results.dataset
        lines += [
            f"Stored history: {d.events:,} generated events (ServiceMobility stock lines and "
            f"documents, OFS inventory events over {len(d.resources)} technicians and a few "
            f"thousand items), loaded with COPY in {d.seconds:.0f} s. Ingest and queries run "
            "against this store. It is vacuumed and analyzed after the load and after the "
            "rebuild, as autovacuum would do in time"
            + (
                " (autovacuum is off on this server)"
                if m.postgres_settings.get("autovacuum") == "off"
                else ""
            )
            + ".",
            "",
        ]
    if results.ingest:
        lines += [
            f"### Ingest ({results.connections} connections, {results.seconds:.0f} s per run, "
            "every request new)",
            "",
            "The ceiling is the same server stack (app, receiver, token check, translation) "
            "answering without the database. Every 200 of the real server is after the commit.",
            "",
            "| workload | workers | accepted req/s | events/s | p50 ms | p99 ms | ceiling req/s "
            "| ceiling p50 / p99 ms | % of ceiling | >= 60% | durable |",
            "|---|---|---|---|---|---|---|---|---|---|---|",
        ]
        labels = {w.name: w.label for w in WORKLOADS}
        for run, ceiling in _ingest_pairs(results):
            share = run.load.rate / ceiling.load.rate if ceiling and ceiling.load.rate else None
            durable = {None: "n/a", True: "yes", False: "**no**"}[run.durable]
            lines.append(
                f"| {labels.get(run.workload, run.workload)} | {run.workers} "
                f"| {run.load.rate:,.0f} | {run.load.rate * run.events_per_request:,.0f} "
                f"| {_ms(run.load.p50_ms)} | {_ms(run.load.p99_ms)} "
                + (
                    f"| {ceiling.load.rate:,.0f} | {_ms(ceiling.load.p50_ms)} / "
                    f"{_ms(ceiling.load.p99_ms)} "
                    if ceiling
                    else "| | "
                )
                + (f"| {share:.0%} | {mark(share >= INGEST_SHARE)} " if share else "| | ")
                + f"| {durable} |"
            )
        lines.append("")
    if results.peer:
        lines += [
            f"### The peer: `eventsourcing` (PostgreSQL recorder), {results.peer[0].threads} "
            "threads",
            "",
            "Each save stores as many new aggregates as an ingest request appends events, "
            "with invtrack's event payloads. invtrack's figure is over HTTP, end to end.",
            "",
            "| workload | events per save | peer events/s | peer save p50 / p99 ms "
            "| invtrack events/s (workers) | invtrack / peer | >= 5x |",
            "|---|---|---|---|---|---|---|",
        ]
        for peer in results.peer:
            for run, _ in _ingest_pairs(results):
                if run.workload != peer.workload:
                    continue
                ours = run.load.rate * run.events_per_request
                factor = ours / peer.appended.rate if peer.appended.rate else 0.0
                lines.append(
                    f"| {peer.workload} | {peer.per_save} | {peer.appended.rate:,.0f} "
                    f"| {_ms(peer.appended.p50_ms)} / {_ms(peer.appended.p99_ms)} "
                    f"| {ours:,.0f} ({run.workers}) | {factor:.1f}x | "
                    f"{mark(factor >= PEER_FACTOR)} |"
                )
        lines.append("")
    if results.rebuild:
        passes = {p.mode: p for p in results.rebuild}
        lines += [
            "### Rebuild (every projection, from position 0)",
            "",
            "| pass | events | seconds | events/s | peak RSS | target |",
            "|---|---|---|---|---|---|",
        ]
        for mode, label in (("rebuild", "rebuild"), ("read", "ceiling: read and decode only")):
            p = passes.get(mode)
            if p is None:
                continue
            target = ""
            if mode == "rebuild":
                target = (
                    f"{p.rate:,.0f} >= 100,000/s: {mark(p.rate >= REBUILD_RATE)}; "
                    f"RSS < 500 MB: {mark(p.peak_rss_mb < REBUILD_RSS_MB)}"
                )
                if "read" in passes and passes["read"].rate:
                    share = p.rate / passes["read"].rate
                    target += f"; {share:.0%} of ceiling >= 50%: {mark(share >= REBUILD_SHARE)}"
            lines.append(
                f"| {label} | {p.events:,} | {p.seconds:,.1f} | {p.rate:,.0f} "
                f"| {p.peak_rss_mb:,.0f} MB | {target} |"
            )
        lines.append("")
        if results.dead_rows_after_rebuild:
            lines += [
                "Dead rows left by the rebuild (removed by the VACUUM before the queries): "
                + ", ".join(
                    f"{table} {count:,}" for table, count in results.dead_rows_after_rebuild.items()
                )
                + ".",
                "",
            ]
    if results.queries:
        lines += [
            f"### Queries ({CLIENTS} concurrent clients, ids rotating)",
            "",
            "Saturated: each client sends its next request on the answer (`wrk -c100`). "
            "Paced: each client first waits a random think time, so that together they ask "
            "for half the saturated throughput.",
            "",
            "| query | workers | clients | req/s | p50 ms | p99 ms | p99 < 20 ms |",
            "|---|---|---|---|---|---|---|",
        ]
        for q in results.queries:
            clients = "saturated" if q.mode == "saturated" else f"paced ({q.think_ms:.0f} ms)"
            lines.append(
                f"| {q.query} | {q.workers} | {clients} | {q.load.rate:,.0f} "
                f"| {_ms(q.load.p50_ms)} | {_ms(q.load.p99_ms)} "
                f"| {mark(q.load.p99_ms < QUERY_P99_MS)} |"
            )
        lines.append("")
    if results.targets:
        met = sum(t.met for t in results.targets)
        lines += [
            f"### Targets: {met} of {len(results.targets)} met",
            "",
            "| target | measured | wanted | |",
            "|---|---|---|---|",
        ]
        lines += [
            f"| {t.name} | {t.figure} | {t.wanted} | {mark(t.met)} |" for t in results.targets
        ]
        lines.append("")
    if results.errors:
        lines += ["### Parts that failed", ""]
        lines += [f"- {part}: {error}" for part, error in results.errors.items()]
        lines.append("")
    return "\n".join(lines)


def write(results: Results, directory: Path) -> tuple[Path, Path]:
    results.targets = targets(results)
    directory.mkdir(parents=True, exist_ok=True)
    as_json = directory / "latest.json"
    as_markdown = directory / "latest.md"
    data: Any = msgspec.to_builtins(results)
    data["summary"] = summary(results)
    as_json.write_bytes(msgspec.json.format(msgspec.json.encode(data), indent=2) + b"\n")
    as_markdown.write_text(markdown(results))
    return as_markdown, as_json


def summary(results: Results) -> dict[str, Any]:
    """The headline figures, derived from the raw ones above them."""
    passes = {p.mode: p for p in results.rebuild}
    rebuild = passes.get("rebuild")
    read = passes.get("read")
    return {
        "ingest": [
            {
                "workload": run.workload,
                "workers": run.workers,
                "requests_per_s": round(run.load.rate, 1),
                "events_per_s": round(run.load.rate * run.events_per_request, 1),
                "p50_ms": round(run.load.p50_ms, 2),
                "p99_ms": round(run.load.p99_ms, 2),
                "ceiling_requests_per_s": round(ceiling.load.rate, 1) if ceiling else None,
                "share_of_ceiling": (
                    round(run.load.rate / ceiling.load.rate, 3)
                    if ceiling and ceiling.load.rate
                    else None
                ),
                "durable": run.durable,
            }
            for run, ceiling in _ingest_pairs(results)
        ],
        "peer": [
            {
                "workload": peer.workload,
                "events_per_save": peer.per_save,
                "events_per_s": round(peer.appended.rate, 1),
            }
            for peer in results.peer
        ],
        "rebuild": {
            "events_per_s": round(rebuild.rate, 1) if rebuild else None,
            "ceiling_events_per_s": round(read.rate, 1) if read else None,
            "share_of_ceiling": (
                round(rebuild.rate / read.rate, 3) if rebuild and read and read.rate else None
            ),
            "peak_rss_mb": round(rebuild.peak_rss_mb, 1) if rebuild else None,
        },
        "queries": [
            {
                "query": q.query,
                "workers": q.workers,
                "mode": q.mode,
                "requests_per_s": round(q.load.rate, 1),
                "p50_ms": round(q.load.p50_ms, 2),
                "p99_ms": round(q.load.p99_ms, 2),
            }
            for q in results.queries
        ],
        "targets_met": sum(t.met for t in results.targets),
        "targets": len(results.targets),
    }


def now() -> datetime:
    return datetime.now(UTC)
