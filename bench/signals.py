"""The stock signals' benchmarks (`make bench`, part `signals`), on two new
PostgreSQL stores holding par levels for 5,000 resources x 200 products
(1,000,000 par levels, every second product low: 500,000 belowMin entries):

- queries, against one `invtrack serve` worker on the store keeping the
  signals: `GET /low-stock` (first page) and `GET /resources/{id}/restock`
  (ids rotating), saturated and paced at half the saturated throughput, as
  the other queries are measured (target: paced p99 under 20 ms);
- ingest with the signals kept next to without: 1-row InventoryUsage
  deliveries on those resources and products through the store's group
  commit, in this process, on the store keeping the signals and on one that
  keeps every projection but the signals; the runs alternate (on, off, off,
  on, on, off) so a machine getting busier weighs on both alike, each from a
  checkpoint, on stores vacuumed after loading, with the garbage collector
  set as `invtrack serve` sets it once started (target: within 10%).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Final

import msgspec

from adapters import servicemobility
from adapters.store import Delivery, InboxEntry, NewEvent, Store, connect
from api.app import settle_garbage_collector
from api.services.group_commit import Ingestor, Limits
from bench.queries import Measured, Query, run_queries
from bench.queries import Settings as QuerySettings
from domain.events import ManualLevel, ParLevelsSet, event_type
from domain.fold import stream_of
from projections.catalog import PROJECTIONS, SIGNALS
from projections.live import LiveProjector
from projections.setup import prepare
from tests.harness import postgres

PRODUCTS: Final = 200
QUERY_P99_MS: Final = 20.0
INGEST_WITHIN: Final = 0.10
SENDERS: Final = 32
BATCH: Final = 10
"""Par-level events appended together while loading (2,000 par levels)."""
WITHOUT_SIGNALS: Final = tuple(p for p in PROJECTIONS if p.name != SIGNALS.name)
T0: Final = "2026-11-20T09:15:00Z"
_T0: Final = datetime(2026, 11, 20, 9, 15, tzinfo=UTC)


class SignalFigures(msgspec.Struct, kw_only=True):
    resources: int = 0
    par_levels: int = 0
    load_seconds: float = 0.0
    queries: list[Measured] = msgspec.field(default_factory=list)
    ingest_on: list[float] = msgspec.field(default_factory=list)
    ingest_off: list[float] = msgspec.field(default_factory=list)

    @property
    def ingest_ratio(self) -> float:
        off = sum(self.ingest_off)
        return sum(self.ingest_on) / off if off else 0.0

    def paced_p99(self, query: str) -> float | None:
        found = [m for m in self.queries if m.query == query and m.mode == "paced"]
        return found[0].load.p99_ms if found else None


def resource(number: int) -> str:
    return f"VAN-{number:05d}"


def product(number: int) -> str:
    return f"P-{number:03d}"


def measure(
    on: str,
    off: str,
    resources: int,
    seconds: float,
    settings: QuerySettings,
    directory: Path,
    log: Callable[[str], None],
) -> SignalFigures:
    figures = SignalFigures(resources=resources, par_levels=resources * PRODUCTS)
    began = time.monotonic()
    asyncio.run(_load(on, resources, with_signals=True))
    figures.load_seconds = round(time.monotonic() - began, 1)
    log(f"  {figures.par_levels:,} par levels kept in {figures.load_seconds:.0f} s")
    asyncio.run(_load(off, resources, with_signals=False))
    # As the loaded history is: a store that has been running has had its
    # hint bits written and its statistics taken by autovacuum.
    for url in (on, off):
        asyncio.run(postgres.vacuum(url))
    paths = [f"/resources/{resource(n)}/restock" for n in range(resources)]
    found = [
        Query(name="low-stock", label="GET /low-stock", paths=["/low-stock"]),
        Query(name="restock", label="GET /resources/{id}/restock", paths=paths),
    ]
    figures.queries = run_queries(on, (1,), found, settings, directory, log)
    order = [(on, True), (off, False), (off, False), (on, True), (on, True), (off, False)]
    for run, (url, kept) in enumerate(order):
        # Every run starts from a checkpoint: each pays the full-page writes of
        # the pages it touches first, whichever checkpoint the run before began.
        asyncio.run(postgres.checkpoint(url))
        rate = asyncio.run(_ingest(url, kept, resources, seconds, run))
        (figures.ingest_on if kept else figures.ingest_off).append(rate)
        log(f"  ingest {'with' if kept else 'without'} signals: {rate:,.0f} deliveries/s")
    log(f"  ingest with signals / without: {figures.ingest_ratio:.3f}")
    return figures


def _store(url: str, with_signals: bool) -> Store:
    projections = PROJECTIONS if with_signals else WITHOUT_SIGNALS
    return connect(url, projection=LiveProjector(projections), pool_size=4)


async def _load(url: str, resources: int, *, with_signals: bool) -> None:
    """Par levels by hand for every resource: every even product's min is its
    target (low while nothing is on hand), every odd one's is 0."""
    store = _store(url, with_signals)
    try:
        await store.migrate()
        await prepare(store, PROJECTIONS if with_signals else WITHOUT_SIGNALS)
        for start in range(0, resources, BATCH):
            events = [_levels(n) for n in range(start, min(start + BATCH, resources))]
            await store.append(events)
    finally:
        await store.close()


def _levels(number: int) -> NewEvent:
    event = ParLevelsSet(
        occurred_at=_T0,
        resource_id=resource(number),
        levels=tuple(
            ManualLevel(
                product=product(p),
                target=Decimal(10 + p % 7),
                min=None if p % 2 == 0 else Decimal(0),
            )
            for p in range(PRODUCTS)
        ),
        user="bench",
    )
    return NewEvent(
        stream_id=stream_of(event),
        type=event_type(event),
        data=event,
        occurred_at=event.occurred_at,
        dedupe_key=f"bench-levels-{number}",
    )


async def _ingest(url: str, kept: bool, resources: int, seconds: float, run: int) -> float:
    """1-row usage deliveries from SENDERS senders for `seconds`; deliveries/s."""
    store = _store(url, kept)
    ingestor = Ingestor(store, limits=Limits(deliveries=128))
    await ingestor.start()
    done = 0
    stop = time.monotonic() + seconds

    async def sender(number: int) -> None:
        nonlocal done
        n = 0
        while time.monotonic() < stop:
            n += 1
            await ingestor.submit(_delivery(run, number, n, resources))
            done += 1

    try:
        with _collected_as_served():
            began = time.monotonic()
            await asyncio.gather(*(sender(number) for number in range(SENDERS)))
            took = time.monotonic() - began
    finally:
        await ingestor.stop()
        await store.close()
    return done / took if took else 0.0


@contextlib.contextmanager
def _collected_as_served() -> Iterator[None]:
    """The garbage collector as `invtrack serve` sets it once started (what
    exists by then lives on, young collections come less often), then as it
    was before."""
    threshold = gc.get_threshold()
    settle_garbage_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def _delivery(run: int, sender: int, n: int, resources: int) -> Delivery:
    k = (run * 7_919 + sender) * 1_000_003 + n
    location, item = resource(k % resources), product(k % PRODUCTS)
    loading = k % 3 == 0
    envelope_id = f"bench-signals-{run}-{sender}-{n}"
    row = {
        "rowver": envelope_id,
        "InventoryUsage": {
            "UserID": "tech",
            "ModifiedUTC": T0,
            "RefModule": "1001" if loading else "1002",
            "RefObjID": f"REF-{envelope_id}",
            "StorageLocations": [
                {
                    "StorageLocationID": location,
                    "Items": [
                        {
                            "ProdNum": item,
                            "SerialNum": "",
                            "BatchNum": "",
                            "InQty": 3.0 if loading else 0.0,
                            "OutQty": 0.0 if loading else 1.0,
                            "InventoryQty": 0.0,
                        }
                    ],
                }
            ],
        },
    }
    envelope = {
        "id": envelope_id,
        "type": "InventoryUsage",
        "specversion": "1.0",
        "source": "bench",
        "time": T0,
        "data": {"rowver": "AAAA", "rows": [row]},
    }
    body = msgspec.json.encode(envelope)
    entry = InboxEntry(
        source="servicemobility",
        kind="InventoryUsage",
        body=body,
        received_at=_T0,
        message_id=envelope_id,
        content_type="application/json",
    )
    facts = servicemobility.translate(servicemobility.read_envelope(body, "InventoryUsage"))
    metadata = {"source": "servicemobility", "messageId": envelope_id}
    return Delivery(inbox=entry, facts=tuple(facts), metadata=metadata)
