"""A short history whose projection rows are written out by hand, on SQLite
and on PostgreSQL: the live projection and a rebuild from zero hold exactly
these rows, and so does the reference the other rebuild tests compare with
(tests.harness.reference)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.store import Delivery, InboxEntry, Store
from api.services.group_commit import Ingestor
from domain.events import (
    DocumentRecorded,
    DomainEvent,
    Fact,
    InventoryInstalled,
    InventoryUndoInstall,
    OfsActivity,
    OfsChanges,
    OfsEventRecorded,
    ResourceInventoryUpdated,
    StockRef,
    StockUsageRecorded,
)
from projections.rebuild import rebuild
from tests.harness import reference
from tests.harness.tables import Tables, active_tables, applied, stored_events

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
VAN_CABLE = "sm-resource-843f6ac63445e64325b55da6"
"""The stock line VAN-01 / CBL-CAT6, no serial, no batch."""
WO_CABLE = "sm-install-d07a280dbdbf77df6ed12d96"
"""The install line of work order WO-1 / CBL-CAT6."""
VAN2_FUSE = "sm-resource-6b056095d0c97799d3528332"
"""The stock line VAN-02 / FUSE-10A / serial SN-9."""


def at(minutes: int) -> datetime:
    return T + timedelta(minutes=minutes)


def line(
    minutes: int, module: str, ref: str, *, taken_in: str = "0", out: str = "0", counted: str = "0"
) -> StockUsageRecorded:
    return StockUsageRecorded(
        occurred_at=at(minutes),
        location="VAN-01",
        product="CBL-CAT6",
        ref_module=module,
        ref_object=ref,
        user="tech7",
        quantity_in=Decimal(taken_in),
        quantity_out=Decimal(out),
        reported_quantity=Decimal(counted),
    )


HISTORY: list[DomainEvent] = [
    line(1, "1001", "LOAD-1", taken_in="10"),
    line(2, "1002", "WO-1", out="3"),
    line(3, "1004", "PI-1", counted="5.50"),
    DocumentRecorded(
        occurred_at=at(4),
        document_type="LoadInventory",
        document_id="LOAD-1",
        mentions=(
            StockRef(location="VAN-01", product="CBL-CAT6"),
            StockRef(location="VAN-01", product="CBL-CAT6", serial=""),
            StockRef(location="VAN-02", product="FUSE-10A", serial="SN-9"),
        ),
    ),
    InventoryInstalled(
        occurred_at=at(5),
        inventory_id=7,
        changes=OfsChanges(resource_id="TECH_1"),
        activity=OfsActivity(activity_id=41, customer_number="C-1"),
    ),
    InventoryUndoInstall(occurred_at=at(6), inventory_id=7),
    # In a resource's pool a record keeps no activity, but the event named one.
    ResourceInventoryUpdated(
        occurred_at=at(7),
        inventory_id=7,
        activity=OfsActivity(activity_id=42, resource_id="TECH_2", customer_number="C-2"),
    ),
    OfsEventRecorded(occurred_at=at(8), event_type="activityCompleted"),
]

LINKS = [
    ("ofs-7", 5),
    ("ofs-7", 6),
    ("ofs-7", 7),
    (WO_CABLE, 2),
    (VAN2_FUSE, 4),
    (VAN_CABLE, 1),
    (VAN_CABLE, 2),
    (VAN_CABLE, 3),
    (VAN_CABLE, 4),
]
OWNERS = {
    ("resource", "VAN-01", VAN_CABLE),
    ("resource", "VAN-01", WO_CABLE),
    ("activity", "WO-1", WO_CABLE),
    # The undo puts the record back in TECH_1's pool, but as of 06:05 it was
    # installed at activity 41 for customer C-1: all three stay.
    ("resource", "TECH_1", "ofs-7"),
    ("activity", "41", "ofs-7"),
    ("customer", "C-1", "ofs-7"),
    ("resource", "TECH_2", "ofs-7"),
    ("activity", "42", "ofs-7"),
    ("customer", "C-2", "ofs-7"),
}
COUNTS = [
    # 10 loaded, 3 out to the work order: 7 expected, 5.50 counted.
    (
        *(3, at(3), "VAN-01", "CBL-CAT6", None, None, "1004", "PI-1", "tech7"),
        *("7", "5.5", "-1.5", VAN_CABLE),
    )
]


async def tables(store: Store) -> Tables:
    found = await active_tables(store)
    assert found.counts is not None
    return found


@pytest.fixture
async def written(store: Store) -> Store:
    entry = InboxEntry(
        source="servicemobility",
        kind="InventoryUsage",
        body=b"{}",
        received_at=T,
        message_id="by-hand",
        content_type="application/json",
    )
    facts = tuple(Fact(event=event, dedupe_key=f"by-hand-{n}") for n, event in enumerate(HISTORY))
    receipt = await Ingestor(store).submit(Delivery(inbox=entry, facts=facts))
    assert receipt.appended == len(HISTORY)
    return store


async def test_the_live_projection_holds_the_rows_written_by_hand(written: Store) -> None:
    found = await tables(written)
    assert (found.links, found.owners, found.counts) == (LINKS, OWNERS, COUNTS)
    assert {key: item.quantity for key, item in found.items.items()} == {
        VAN_CABLE: Decimal("5.50"),
        WO_CABLE: Decimal(3),
        "ofs-7": Decimal(1),
    }
    record = found.items["ofs-7"]
    assert (record.pool, record.resource_id, record.activity_id) == ("resource", "TECH_2", None)


async def test_a_rebuild_holds_the_rows_written_by_hand(written: Store) -> None:
    before = await tables(written)
    await rebuild(written, reader_grace=0)
    assert await tables(written) == before
    assert (before.links, before.owners, before.counts) == (LINKS, OWNERS, COUNTS)


async def test_the_reference_gives_the_rows_written_by_hand(written: Store) -> None:
    events = applied(await stored_events(written))
    assert reference.links(events) == LINKS
    assert reference.owners(events) == OWNERS
    assert reference.counts(events) == COUNTS
