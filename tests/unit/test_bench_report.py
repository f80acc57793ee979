"""The benchmark's report: each target marked from the figures it comes from,
and the store check that accounts for every answer of an ingest run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec

from bench.history import Loaded
from bench.ingest import Run
from bench.load import Load
from bench.machine import Machine
from bench.plan import PARTS, QUICK
from bench.queries import Measured
from bench.rebuild import Pass
from bench.report import markdown, write
from bench.results import Results
from bench.run import results_name
from bench.signal_targets import signal_targets
from bench.signals import SignalFigures
from bench.stores import Grown
from bench.targets import targets


def load(rate: float, *, events: int = 0, sent: int | None = None, p99: float = 10.0) -> Load:
    ok = round(rate * 10)
    return Load(
        ok=ok,
        failed=0,
        seconds=10.0,
        p50_ms=1.0,
        p90_ms=2.0,
        p99_ms=p99,
        mean_ms=1.0,
        max_ms=p99,
        errors={},
        sent=ok + 32 if sent is None else sent,
        events=ok * events,
    )


def run(
    part: str,
    store: str,
    workload: str,
    connections: int,
    server: str,
    rate: float,
    per_request: int = 1,
) -> Run:
    measured = load(rate, events=per_request)
    grown = None
    if server == "invtrack":
        grown = Grown(events=(measured.ok + 5) * per_request, deliveries=measured.ok + 5)
    return Run(
        part=part,
        backend="sqlite" if part == "sqlite" else "postgresql",
        store=store,
        store_events=100_000 if store == "small" else 1_000_000,
        workers=1,
        workload=workload,
        connections=connections,
        server=server,
        load=measured,
        events_per_request=per_request,
        grown=grown,
    )


def results() -> Results:
    machine = Machine(
        cpu="cpu",
        cores=2,
        memory_gib=4.0,
        postgres="15",
        postgres_settings={"autovacuum": "off"},
        python="3.11",
        kernel="6",
        load_generator="wrk",
        commit=None,
    )
    done = Results(
        started=datetime(2026, 12, 1, tzinfo=UTC), quick=False, machine=machine, plan=QUICK
    )
    done.dataset = Loaded(
        events=1_000_000, seconds=30, resources=["TECH_000"], item_keys=[], mix={}
    )
    done.ingest = [
        run("growth", "small", "sm-1", 32, "invtrack", 2_000),
        run("growth", "history", "sm-1", 32, "invtrack", 1_700),
        run("ingest", "history", "sm-1", 32, "bare", 3_750),
        run("ingest", "history", "sm-1", 32, "ceiling", 3_000),
        run("ingest", "history", "sm-1", 32, "invtrack", 1_800),
        run("ingest", "history", "sm-20", 64, "ceiling", 1_000, 20),
        run("ingest", "history", "sm-20", 64, "invtrack", 500, 20),
        run("ingest", "history", "ofs-50", 64, "ceiling", 600, 50),
        run("ingest", "history", "ofs-50", 64, "invtrack", 200, 50),
        run("sqlite", "fresh", "sm-1", 32, "ceiling", 3_000),
        run("sqlite", "fresh", "sm-1", 32, "invtrack", 1_200),
    ]
    done.rebuild = [
        Pass(mode="read", events=1_000_000, seconds=8, peak_rss_mb=120, start_rss_mb=100),
        Pass(mode="rebuild", events=1_000_000, seconds=12.5, peak_rss_mb=300, start_rss_mb=100),
    ]
    done.queries = [
        Measured(
            query="stock",
            store_events=1_000_000,
            workers=1,
            mode="saturated",
            think_ms=0,
            load=load(2_000),
        ),
        Measured(
            query="stock",
            store_events=1_000_000,
            workers=1,
            mode="paced",
            think_ms=100,
            load=load(1_000, p99=25.0),
        ),
    ]
    return done


def test_every_target_is_marked_from_its_figures() -> None:
    marked = {target.name.split(":")[0]: target for target in targets(results())}
    share = marked["ingest on PostgreSQL, 1-row envelopes, 1 worker, 32 connections"]
    assert (share.figure, share.met, share.wanted) == ("60% (1,800 req/s)", False, ">= 80%")
    sqlite = marked["ingest on SQLite, 1-row envelopes, 1 worker, 32 connections"]
    assert (sqlite.figure, sqlite.met, sqlite.wanted) == ("40% (1,200 req/s)", False, ">= 70%")
    stack = next(t for name, t in marked.items() if name.startswith("invtrack's own stack"))
    assert (stack.figure, stack.met, stack.wanted) == ("80% (3,000 req/s)", False, ">= 85%")
    rows20 = marked["ingest on PostgreSQL, ServiceMobility, 20 rows, 1 worker, 64 connections"]
    assert (rows20.figure, rows20.met) == ("50% (10,000 events/s)", False)
    pages = marked["ingest on PostgreSQL, OFS page, 50 events, 1 worker, 64 connections"]
    assert (pages.figure, pages.met) == ("33% (10,000 events/s)", False)
    assert marked["stock query, 1 worker, 100 clients saturating"].met
    assert not marked["stock query, 1 worker, paced at half the saturated rate"].met
    rebuild = marked["rebuild of 1,000,000 events"]
    assert (rebuild.figure, rebuild.met, rebuild.wanted) == ("80,000", False, ">= 100,000")
    assert marked["rebuild"].met  # peak RSS
    growth = next(t for name, t in marked.items() if name.startswith("ingest, 1-row"))
    assert (growth.figure, growth.met) == ("1,700 req/s (-15%)", True)
    stored = marked["every acknowledged event stored, each payload once (real ingest runs)"]
    assert (stored.figure, stored.met) == ("6 of 6 runs", True)


def test_a_run_whose_store_lacks_acknowledged_events_is_not_durable() -> None:
    good = run("ingest", "history", "sm-20", 64, "invtrack", 500, 20)
    assert good.durable
    assert good.exact
    assert good.grown is not None
    short = msgspec.structs.replace(good, grown=Grown(events=good.load.events - 20, deliveries=0))
    assert short.durable is False
    # A payload stored without all its events: something was taken for a repeat.
    partial = msgspec.structs.replace(
        good, grown=Grown(events=good.grown.events - 1, deliveries=good.grown.deliveries)
    )
    assert partial.durable is True
    assert partial.exact is False
    repeated = msgspec.structs.replace(good, load=msgspec.structs.replace(good.load, repeats=1))
    assert repeated.exact is False
    assert run("ingest", "history", "sm-1", 32, "ceiling", 10).durable is None


def test_the_report_is_written_as_markdown_and_json(tmp_path: Path) -> None:
    done = results()
    as_markdown, as_json = write(done, tmp_path)
    text = as_markdown.read_text()
    assert text == markdown(done)
    assert "### Targets: 4 of 11 met" in text
    assert "### Growth" in text
    assert "| ServiceMobility, 1 row | 1 | 32 | 3,750 | 1.0 / 10.0 | 3,000 | 80% |" in text
    data = msgspec.json.decode(as_json.read_bytes())
    assert data["summary"]["targets"] == 11
    assert len(data["summary"]["ingest"]) == 6


def test_a_quick_or_partial_run_never_writes_over_the_committed_results(tmp_path: Path) -> None:
    (tmp_path / "latest.md").write_text("committed")
    for quick, parts, name in ((True, set(PARTS), "quick"), (False, {"ingest"}, "partial")):
        as_markdown, as_json = write(results(), tmp_path, results_name(quick, parts))
        assert (as_markdown.name, as_json.name) == (f"{name}.md", f"{name}.json")
    assert (tmp_path / "latest.md").read_text() == "committed"
    assert not (tmp_path / "latest.json").exists()
    assert results_name(False, set(PARTS)) == "latest"
    ignored = (Path(__file__).resolve().parents[2] / ".gitignore").read_text().splitlines()
    assert {"bench/results/quick.*", "bench/results/partial.*"} <= set(ignored)


def signal_query(query: str, mode: str, p99: float) -> Measured:
    return Measured(
        query=query,
        store_events=5000,
        workers=1,
        mode=mode,
        think_ms=50.0 if mode == "paced" else 0.0,
        load=load(400, p99=p99),
    )


def test_the_signal_targets_come_from_the_paced_p99s_and_the_ingest_ratio() -> None:
    figures = SignalFigures(
        resources=5000,
        par_levels=1_000_000,
        queries=[
            signal_query("low-stock", "saturated", 80.0),
            signal_query("low-stock", "paced", 12.0),
            signal_query("restock", "saturated", 90.0),
            signal_query("restock", "paced", 25.0),
        ],
        ingest_on=[950.0, 850.0],
        ingest_off=[1000.0, 1000.0],
    )

    found = signal_targets(figures)

    assert [(t.figure, t.met) for t in found] == [
        ("12.0 ms", True),
        ("25.0 ms", False),
        ("900 (0.90x)", True),
    ]
    assert signal_targets(None) == []
