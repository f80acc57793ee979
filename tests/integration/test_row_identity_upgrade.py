"""A store written before ServiceMobility rows were keyed by the row alone,
upgraded, keeps every stored row deduplicated against new arrivals, whichever
channel they take: a webhook of another source, or the Export API.

The old store is written the way the previous release wrote it: ledger lines
keyed by the hash of the webhook source, the rowver and the whole row.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import servicemobility
from adapters.store import Delivery, InboxEntry, Store, connect
from adapters.store.queries import ItemFilter
from api.services.group_commit import Ingestor
from domain.events import Fact
from projections.live import LiveProjector
from projections.queries import Queries
from projections.setup import prepare
from tests.harness.deliveries import Line, UsageRow, usage_envelope
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


def previous_release_key(source: str | None, row: dict[str, Any]) -> str:
    """How revision 0002's build keyed a row: webhook source, rowver, whole row."""

    def canonical(value: Any) -> Any:
        if isinstance(value, dict):
            return {key: canonical(item) for key, item in value.items()}
        if isinstance(value, list):
            return [canonical(item) for item in value]
        if isinstance(value, int | Decimal) and not isinstance(value, bool):
            number = Decimal(value)
            if number.is_finite():
                return {"#": format(number.normalize(), "f")}
        return value

    rowver = row.get("rowver")
    material = b"\x1f".join(
        (
            (source or "").encode(),
            str(rowver if rowver is not None else "").encode(),
            msgspec.json.encode(canonical(row), order="sorted"),
        )
    )
    return "sm:" + hashlib.sha256(material).hexdigest()


def vendor_rows(envelope: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows as the translator reads them (numbers as Decimals)."""
    decoded = servicemobility.decode_json(encode(envelope))
    rows: list[dict[str, Any]] = decoded["data"]["rows"]
    return rows


def previous_release_facts(envelope: dict[str, Any]) -> list[Fact]:
    """The ledger lines of an envelope, keyed as the previous release keyed them."""
    facts = translated(envelope)
    old_keys = [
        previous_release_key(envelope["source"], row)
        for row in vendor_rows(envelope)
        for location in row["InventoryUsage"]["StorageLocations"]
        for _ in location["Items"]
    ]
    return [
        msgspec.structs.replace(fact, dedupe_key=f"{old}:{fact.dedupe_key.split(':', 2)[2]}")
        for fact, old in zip(facts, old_keys, strict=True)
    ]


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


async def balances(store: Store) -> dict[str, Decimal]:
    queries = Queries(store)
    found: dict[str, Decimal] = {}
    for location in ("VAN-07", "VAN-09"):
        where = ItemFilter(owner_kind="resource", owner=location, pools=("resource",))
        page = await queries.list_items(where, after=None, limit=100)
        found.update({f"{location}/{item.product_number}": item.quantity for item in page.items})
    return found


async def test_an_upgraded_store_keeps_old_rows_deduplicated(database_url: str) -> None:
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate("0003")
        await prepare(store)
        ingestor = Ingestor(store)
        first = webhook("env-1", "webhook-a", [R1, R2])
        # The old keys let the same row in twice when two webhooks sent it.
        second = webhook("env-2", "webhook-b", [R2, R3])
        for envelope in (first, second):
            await ingestor.submit(delivery(envelope, previous_release_facts(envelope)))
        before = await balances(store)
        assert before == {
            "VAN-07/CBL-CAT6": Decimal("93.0"),
            "VAN-07/ONT-G240": Decimal(2),
            "VAN-09/ONT-G240": Decimal(1),
        }
        stored = len(await all_events(store))

        await store.migrate()
        assert await store.revision() is not None

        again = webhook("env-3", "webhook-c", [R3, R2, R1])
        receipt = await ingestor.submit(delivery(again, translated(again)))
        assert (receipt.appended, receipt.skipped) == (0, 4)
        exported = await ingestor.submit(export_delivery("page-1", [R1, R2, R3]))
        assert (exported.appended, exported.skipped) == (0, 4)
        assert await balances(store) == before
        assert len(await all_events(store)) == stored

        fresh = await ingestor.submit(export_delivery("page-2", [R3, R4]))
        assert (fresh.appended, fresh.skipped) == (1, 2)
        keys = [event.dedupe_key for event in await all_events(store)]
    finally:
        await store.close()
    # Every line has its row's key but the second copy of R2, kept as it was.
    assert sum(key.startswith("smrow:") for key in keys) == 5
    assert [key for key in keys if not key.startswith("smrow:")] == [
        previous_release_key("webhook-b", vendor_rows(second)[0]) + ":0:0"
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
def test_the_migration_keys_rows_as_the_translator_does(
    rows: list[dict[str, Any]], source: str
) -> None:
    migration = migration_module()
    envelope = {"id": "e", "type": "InventoryUsage", "source": source, "data": {"rows": rows}}
    decoded = servicemobility.decode_json(encode(envelope))["data"]["rows"]
    assert migration._prefixes(encode(envelope)) == {
        previous_release_key(source, row): servicemobility.row_identity(row) for row in decoded
    }
