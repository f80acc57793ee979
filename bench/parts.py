"""The parts of a run, in order, each on the stores it needs.

The PostgreSQL store is loaded with the generated history and its
projections rebuilt before any part that reads or writes it; the growth
check loads the start of the same history into a second database; the SQLite
runs get a new store file. A part that fails is reported and the others
still run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import sys
import time
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path

import msgspec

from adapters.store import connect
from bench import dataset
from bench.feed import as_json as feed_json
from bench.feed import measure as measure_feed
from bench.history import Loaded
from bench.ingest import Group, Lane
from bench.ingest import Settings as IngestSettings
from bench.ingest import measure as measure_ingest
from bench.machine import load_average
from bench.plan import GROWTH_LARGE, GROWTH_SMALL
from bench.queries import Settings as QuerySettings
from bench.queries import queries as query_paths
from bench.queries import run_queries
from bench.rebuild import measure as measure_pass
from bench.results import Results
from bench.servers import bare_serve, ceiling_serve, invtrack_serve
from bench.signals import measure as measure_signals
from bench.stores import StoreCounter
from projections.setup import prepare
from tests.harness import postgres

STORE_PARTS = frozenset({"rebuild", "queries", "growth", "ingest", "feed"})


def log(message: str) -> None:
    sys.stderr.write(f"{time.strftime('%H:%M:%S')} {message}\n")
    sys.stderr.flush()


@contextlib.contextmanager
def database(admin: str, label: str) -> Iterator[str]:
    """A throwaway PostgreSQL database for a `with` block; its URL."""
    url = asyncio.run(postgres.create(admin, postgres.unique_name(f"invtrack_bench_{label}")))
    try:
        yield url
    finally:
        asyncio.run(postgres.drop(admin, url))


class Bench:
    def __init__(
        self, results: Results, generator: str, scratch: Path, admin: str, selected: set[str]
    ) -> None:
        self.results = results
        self.plan = results.plan
        self.generator = generator
        self.scratch = scratch
        self.admin = admin
        self.selected = selected

    def run(self) -> None:
        if self.selected & STORE_PARTS:
            with database(self.admin, "store") as url:
                self.part("load", functools.partial(self.load, url))
                if self.results.dataset is not None:
                    self.part("rebuild", functools.partial(self.rebuild, url))
                    steps = {
                        "queries": self.queries,
                        "growth": self.growth,
                        "ingest": self.ingest,
                        "feed": self.feed,
                    }
                    for name, step in steps.items():
                        if name in self.selected:
                            self.part(name, functools.partial(step, url))
        if "signals" in self.selected:
            self.part("signals", self.signals)
        if "sqlite" in self.selected:
            self.part("sqlite", self.sqlite)

    def part(self, name: str, work: Callable[[], None]) -> None:
        log(f"{name}:")
        self.results.load_average[name] = load_average()
        began = time.monotonic()
        try:
            work()
        except Exception as error:  # one part failing must not lose the others' figures
            self.results.errors[name] = f"{type(error).__name__}: {error}".splitlines()[0][:300]
            log(f"{name} failed:\n{traceback.format_exc()}")
        self.results.part_seconds[name] = round(time.monotonic() - began, 1)
        log(f"{name}: {self.results.part_seconds[name]:.0f} s")

    # ---- the stores ---------------------------------------------------------------

    def load(self, url: str) -> None:
        self.results.dataset = _load(url, self.plan.events)

    def rebuild(self, url: str) -> None:
        """Build the projections over the loaded history (measured, next to
        reading alone, when the rebuild part is selected), then vacuum."""
        measured = "rebuild" in self.selected
        for mode in ("read", "rebuild") if measured else ("rebuild",):
            done = measure_pass(mode, url)
            log(
                f"  {mode:8} {done.events:,} events in {done.seconds:.1f} s: "
                f"{done.rate:,.0f} events/s, peak RSS {done.peak_rss_mb:.0f} MB"
            )
            if measured:
                self.results.rebuild.append(done)
        dead = asyncio.run(postgres.vacuum(url))
        log("  vacuumed; dead rows: " + ", ".join(f"{t} {n:,}" for t, n in dead.items()))
        if measured:
            self.results.dead_rows_after_rebuild = dead

    # ---- the measurements ---------------------------------------------------------

    def queries(self, url: str) -> None:
        assert self.results.dataset is not None
        loaded = self.results.dataset
        settings = QuerySettings(
            seconds=self.plan.query_seconds,
            warmup=self.plan.warmup,
            generator=self.generator,
            store_events=loaded.events,
        )
        found = query_paths(loaded.resources, loaded.item_keys)
        self.results.queries += run_queries(
            url, self.plan.query_workers, found, settings, self._directory("queries"), log
        )

    def growth(self, url: str) -> None:
        """1-row ingest on a store of the first tenth of the history and on the
        whole history, alternately."""
        with database(self.admin, "small") as small:
            self.results.small_dataset = _load(small, self.plan.small_events)
            measure_pass("rebuild", small)
            asyncio.run(postgres.vacuum(small))
            before, after = self._lane(small, GROWTH_SMALL), self._lane(url, GROWTH_LARGE)
            # Each store twice, in half runs, the second pair in reverse order:
            # a machine getting busier or quieter weighs on both alike.
            settings = msgspec.structs.replace(self._settings(), seconds=self.plan.seconds / 2)
            lanes = [before, after, after, before]
            self.results.ingest += measure_ingest(lanes, settings, log)

    def ingest(self, url: str) -> None:
        for group in self.plan.postgres:
            lane = self._lane(url, group)
            self.results.ingest += measure_ingest([lane], self._settings(), log)

    def feed(self, url: str) -> None:
        """The change feed: catch-up, commit-to-SSE and commit-to-push latency at
        half the ingest rate, idle streams (bench.feed)."""
        figures = measure_feed(url, self._directory("feed"), self.plan.seconds, log)
        self.results.feed = feed_json(figures)

    def signals(self) -> None:
        """Par levels for many resources: the low-stock and restock queries,
        and ingest with the signals kept next to without (bench.signals)."""
        settings = QuerySettings(
            seconds=self.plan.query_seconds,
            warmup=self.plan.warmup,
            generator=self.generator,
            store_events=self.plan.signal_resources,
        )
        with database(self.admin, "signals_on") as on, database(self.admin, "signals_off") as off:
            self.results.signals = measure_signals(
                on,
                off,
                self.plan.signal_resources,
                self.plan.seconds,
                settings,
                self._directory("signals"),
                log,
            )

    def sqlite(self) -> None:
        group = self.plan.sqlite
        directory = self._directory("sqlite")
        path = directory / "invtrack.db"
        url = f"sqlite:///{path}"
        lane = Lane(
            group,
            invtrack_serve(url, group.workers, directory),
            ceiling_serve(url, group.workers, directory),
            StoreCounter(url),
        )
        self.results.ingest += measure_ingest([lane], self._settings(), log)

    def _lane(self, url: str, group: Group) -> Lane:
        directory = self._directory(f"{group.part}-{group.store}-{group.workers}w")
        ceiling = ceiling_serve(url, group.workers, directory) if group.with_ceiling else None
        # The bare app beside the 1-worker ceiling: what the stack itself costs.
        alone = (group.part, group.workers) == ("ingest", 1)
        bare = bare_serve(url, 1, directory) if alone else None
        return Lane(
            group,
            invtrack_serve(url, group.workers, directory),
            ceiling,
            StoreCounter(url),
            bare,
        )

    def _settings(self) -> IngestSettings:
        return IngestSettings(
            seconds=self.plan.seconds, warmup=self.plan.warmup, generator=self.generator
        )

    def _directory(self, name: str) -> Path:
        directory = self.scratch / name
        directory.mkdir(parents=True, exist_ok=True)
        return directory


def _load(url: str, events: int) -> Loaded:
    """A migrated store at `url` with `events` generated events."""

    async def setup() -> Loaded:
        store = connect(url)
        try:
            await store.migrate()
            await prepare(store)
        finally:
            await store.close()
        return await dataset.load(url, events)

    loaded = asyncio.run(setup())
    log(f"  {loaded.events:,} events loaded in {loaded.seconds:.0f} s")
    return loaded
