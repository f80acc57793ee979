"""A store written before ServiceMobility rows were keyed by the row alone,
upgraded, keeps every stored row deduplicated against new arrivals, whichever
channel they take: a webhook of another source, or the Export API.

The old store is written the way the release of revision 0002 wrote it:
ledger lines keyed by the hash of the webhook source, the rowver and the
whole row. Upgrading runs 0004 and 0006 over it (tests/integration/
test_row_versions_upgrade.py starts from the keys of the builds in between).
"""

from __future__ import annotations

import functools
import importlib.util
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import servicemobility
from adapters.store import Delivery, EventStore, InboxEntry, RowConflicts, connect
from api.services.group_commit import Ingestor
from domain.events import Fact
from projections.live import LiveProjector
from projections.queries import ItemFilter, Queries
from projections.setup import prepare
from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.harness.old_store import (
    OldStore,
    key_before_0004,
    key_before_0006,
    old_facts,
    vendor_rows,
)
from tests.harness.reading import all_events
from tests.strategies import REF_MODULES, encode, sm_histories

MIGRATIONS = Path(__file__).resolve().parents[2] / "adapters" / "store" / "migrations"

R1 = UsageRow("AAAAAAAB9x0=", (Line("VAN-07", "CBL-CAT6", quantity_in="100"),), "1001", "LOAD-1")
R2 = UsageRow("AAAAAAAB9x1=", (Line("VAN-07", "CBL-CAT6", quantity_out="3.5"),), "1002", "WO-1")
R3 = UsageRow(
    "AAAAAAAB9x2=",
    (Line("VAN-07", "ONT-G240", quantity_in="2"), Line("VAN-09", "ONT-G240", quantity_in="1")),
    "1008",
)
R4 = UsageRow("AAAAAAAB9x3=", (Line("VAN-09", "FUSE-10A", quantity_in="5"),), "1008")


def translated(envelope: dict[str, Any]) -> list[Fact]:
    return servicemobility.translate(
        servicemobility.read_envelope(encode(envelope), "InventoryUsage")
    )


def webhook(envelope_id: str, source: str, rows: list[UsageRow]) -> dict[str, Any]:
    envelope = usage_envelope(envelope_id, rows)
    envelope["source"] = source
    return envelope


def delivery(envelope: dict[str, Any], facts: list[Fact]) -> Delivery:
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=encode(envelope),
            received_at=datetime(2026, 11, 20, 9, 20, tzinfo=UTC),
            message_id=envelope["id"],
            content_type="application/json",
        ),
        facts=tuple(facts),
        metadata={"source": "servicemobility", "messageId": envelope["id"]},
    )


def export_delivery(page_id: str, rows: list[UsageRow]) -> Delivery:
    """Rows as the Export API hands them out: a row-level `UserID` beside the object."""
    page = {
        "rowver": rows[-1].rowver,
        "rows": [{**row.as_json(), "UserID": "tech"} for row in rows],
    }
    facts = servicemobility.usage_facts(servicemobility.decode_json(encode(page))["rows"], "$.rows")
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind="export/InventoryUsage",
            body=encode(page),
            received_at=datetime(2026, 11, 21, tzinfo=UTC),
            message_id=page_id,
        ),
        facts=tuple(facts),
    )


async def balances(store: EventStore) -> dict[str, Decimal]:
    queries = Queries(store)
    found: dict[str, Decimal] = {}
    for location in ("VAN-07", "VAN-09"):
        where = ItemFilter(owner_kind="resource", owner=location, pools=("resource",))
        page = await queries.list_items(where, after=None, limit=100)
        found.update({f"{location}/{item.product_number}": item.quantity for item in page.items})
    return found


async def test_an_upgraded_store_keeps_old_rows_deduplicated(database_url: str) -> None:
    database = connect(database_url)
    store = EventStore(database, LiveProjector())
    try:
        await database.migrate("0003")
        old = OldStore(database)
        first = webhook("env-1", "webhook-a", [R1, R2])
        # The old keys let the same row in twice when two webhooks sent it.
        second = webhook("env-2", "webhook-b", [R2, R3])
        for envelope in (first, second):
            await old.accept(envelope, old_facts(envelope, "0002"))

        await database.migrate()
        await prepare(store)
        assert await database.current_revision() is not None
        before = await balances(store)
        assert before == {
            "VAN-07/CBL-CAT6": Decimal("93.0"),
            "VAN-07/ONT-G240": Decimal(2),
            "VAN-09/ONT-G240": Decimal(1),
        }
        stored = len(await all_events(store))

        ingestor = Ingestor(store)
        again = webhook("env-3", "webhook-c", [R3, R2, R1])
        receipt = await ingestor.submit(delivery(again, translated(again)))
        assert (receipt.appended, receipt.skipped, receipt.conflicts) == (0, 4, 0)
        exported = await ingestor.submit(export_delivery("page-1", [R1, R2, R3]))
        assert (exported.appended, exported.skipped, exported.conflicts) == (0, 4, 0)
        assert await balances(store) == before
        assert len(await all_events(store)) == stored

        fresh = await ingestor.submit(export_delivery("page-2", [R3, R4]))
        assert (fresh.appended, fresh.skipped) == (1, 2)
        keys = [event.dedupe_key for event in await all_events(store)]
        assert await RowConflicts(database).count() == 0
    finally:
        await database.dispose()
    # Every line has its row's key but the second copy of R2, kept as it was.
    assert sum(key.startswith("smrow2:") for key in keys) == 5
    assert [key for key in keys if not key.startswith("smrow2:")] == [
        key_before_0004("webhook-b", vendor_rows(second)[0]) + ":0:0"
    ]


@functools.cache
def migration_module() -> ModuleType:
    path = MIGRATIONS / "versions" / "0004_row_identity.py"
    spec = importlib.util.spec_from_file_location("row_identity_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@settings(max_examples=100, deadline=None)
@given(rows=sm_histories(REF_MODULES), source=st.sampled_from(["", "webhook-a", "5ad0"]))
def test_0004_keys_rows_as_0006_finds_them(rows: list[dict[str, Any]], source: str) -> None:
    """0004 gave each line the key 0006 looks its row up by (the key the builds
    in between gave)."""
    migration = migration_module()
    envelope = {"id": "e", "type": "InventoryUsage", "source": source, "data": {"rows": rows}}
    decoded = servicemobility.decode_json(encode(envelope))["data"]["rows"]
    assert migration._prefixes(encode(envelope)) == {
        key_before_0004(source, row): key_before_0006(row) for row in decoded
    }
