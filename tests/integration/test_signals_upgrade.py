"""A store from before the stock signals, on SQLite and PostgreSQL: its
history (StockLevelRecommendation rows stored as documents, stock lines)
has no signals projection; once this build starts on it, the projection is
built from the whole history, and the par levels those stored
recommendations set are there, low stock and pick lists with them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from adapters.store import NewEvent, connect
from domain.events import DomainEvent, StockUsageRecorded, event_type
from domain.fold import stream_of
from projections.catalog import PROJECTIONS, SIGNALS
from projections.live import LiveProjector
from projections.setup import prepare
from projections.signal_reads import SignalReads
from tests.signal_strategies import stored_document

BEFORE = tuple(p for p in PROJECTIONS if p.name != SIGNALS.name)
AT = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)


def recommendation(location: str, *items: tuple[str, int]) -> dict[str, object]:
    return {
        "rowver": f"rec-{location}",
        "StockLevelRecommendation": {
            "ID": f"REC-{location}",
            "StorageLocationID": location,
            "Status": "Open",
            "Items": [{"ProdNum": p, "Qty": 0, "RecQty": q, "ProdAttrs": []} for p, q in items],
        },
    }


async def test_stored_recommendations_set_par_levels_when_the_signals_are_first_built(
    database_url: str,
) -> None:
    old = connect(database_url, projection=LiveProjector(BEFORE))
    try:
        await old.migrate()
        await prepare(old, BEFORE)
        events: list[DomainEvent] = [
            stored_document(recommendation("VAN-3", ("CBL-CAT6", 50), ("ONT-G240", 2)), AT),
            StockUsageRecorded(
                occurred_at=AT,
                location="VAN-3",
                product="CBL-CAT6",
                quantity_in=Decimal(20),
                quantity_out=Decimal(0),
                reported_quantity=Decimal(0),
                ref_module="1001",
                ref_object="LOAD-3",
            ),
        ]
        await old.append(
            [
                NewEvent(
                    stream_id=stream_of(e),
                    type=event_type(e),
                    data=e,
                    occurred_at=e.occurred_at,
                    dedupe_key=f"old-{n}",
                )
                for n, e in enumerate(events)
            ]
        )
        assert SIGNALS.name not in await old.active_slots()
    finally:
        await old.close()

    new = connect(database_url, projection=LiveProjector())
    try:
        assert await prepare(new) == []
        assert SIGNALS.name in await new.active_slots()
        reads = SignalReads(new)
        low = await reads.low_stock()
        assert [(e.resource_id, e.product, e.on_hand, e.min, e.shortfall) for e in low.entries] == [
            ("VAN-3", "CBL-CAT6", Decimal(20), Decimal(50), Decimal(30)),
            ("VAN-3", "ONT-G240", Decimal(0), Decimal(2), Decimal(2)),
        ]
        picks = await reads.restock("VAN-3")
        assert [(line.product, line.load) for line in picks] == [
            ("CBL-CAT6", Decimal(30)),
            ("ONT-G240", Decimal(2)),
        ]
        levels = await reads.stock("VAN-3")
        assert {row.level.origin for row in levels if row.level is not None} == {"recommendation"}
    finally:
        await new.close()
