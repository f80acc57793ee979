"""A store written before ServiceMobility rows were keyed by the row alone,
upgraded, keeps every stored row deduplicated against new arrivals, whichever
channel they take: a webhook of another source, or the Export API.

What the previous release wrote comes from tests/fixtures/upgrade, made with
that release's own code (see make_fixture.py there): a SQLite store its
service wrote, the keys it gave the ledger lines of two webhooks, and the keys
its translator gives the lines of generated envelopes. Nothing here rebuilds
the old keys.
"""

from __future__ import annotations

import functools
import importlib.util
import json
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from types import ModuleType
from typing import Any, Final

import msgspec
import pytest

from adapters import servicemobility
from adapters.store import Delivery, InboxEntry, Store, connect, row_keys
from adapters.store.queries import ItemFilter
from api.services.group_commit import Ingestor
from domain.events import Fact
from projections.live import LiveProjector
from projections.queries import Queries
from projections.rebuild import rebuild
from projections.setup import prepare
from tests.harness.deliveries import Line, UsageRow
from tests.harness.old_store import OldStore, routing_of_this_build
from tests.harness.reading import all_events
from tests.strategies import encode

ROOT = Path(__file__).resolve().parents[2]
MIGRATIONS = ROOT / "adapters" / "store" / "migrations"
FIXTURES = ROOT / "tests" / "fixtures" / "upgrade"
PREVIOUS: Final[dict[str, Any]] = json.loads((FIXTURES / "previous_release.json").read_text())
FIRST, SECOND = (body.encode() for body in PREVIOUS["webhooks"])
"""Webhook `webhook-a` sent rows R1 and R2, webhook `webhook-b` R2 and R3."""
STORED_KEYS: Final[list[str]] = PREVIOUS["stored_keys"]
"""The keys the previous release gave their five ledger lines, in order."""
R4 = UsageRow("AAAAAAAB9x3=", (Line("VAN-09", "FUSE-10A", quantity_in="5"),), "1008")
BEFORE: Final = {
    "VAN-07/CBL-CAT6": Decimal("93.0"),
    "VAN-07/ONT-G240": Decimal(2),
    "VAN-09/ONT-G240": Decimal(1),
}
"""The balances the previous release showed: R2 counted twice."""


def rows_of(body: bytes) -> list[dict[str, Any]]:
    """The rows as the translator reads them (numbers as Decimals)."""
    rows: list[dict[str, Any]] = servicemobility.decode_json(body)["data"]["rows"]
    return rows


def translated(body: bytes) -> list[Fact]:
    return servicemobility.translate(servicemobility.read_envelope(body, "InventoryUsage"))


def webhook(envelope_id: str, source: str, rows: list[dict[str, Any]]) -> bytes:
    envelope = json.loads(FIRST)
    envelope.update(id=envelope_id, source=source)
    envelope["data"]["rows"] = rows
    return encode(envelope)


def delivery(body: bytes, facts: list[Fact]) -> Delivery:
    message_id = json.loads(body)["id"]
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=body,
            received_at=datetime(2026, 11, 20, 9, 20, tzinfo=UTC),
            message_id=message_id,
            content_type="application/json",
        ),
        facts=tuple(facts),
        metadata={"source": "servicemobility", "messageId": message_id},
    )


def export_delivery(page_id: str, rows: list[dict[str, Any]]) -> Delivery:
    """Rows as the Export API hands them out: a row-level `UserID` beside the object."""
    page = {"rowver": rows[-1]["rowver"], "rows": [{**row, "UserID": "tech"} for row in rows]}
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


async def arrive_again_after_the_upgrade(store: Store) -> list[str]:
    """The rows the old store holds, sent again by another webhook and by the
    Export API, change nothing; a new row does. The stored keys after."""
    r1, r2 = rows_of(FIRST)
    _, r3 = rows_of(SECOND)
    ingestor = Ingestor(store)
    stored = len(await all_events(store))

    again = webhook("env-3", "webhook-c", [r3, r2, r1])
    receipt = await ingestor.submit(delivery(again, translated(again)))
    assert (receipt.appended, receipt.skipped) == (0, 4)
    exported = await ingestor.submit(export_delivery("page-1", [r1, r2, r3]))
    assert (exported.appended, exported.skipped) == (0, 4)
    assert await balances(store) == BEFORE
    assert len(await all_events(store)) == stored

    fresh = await ingestor.submit(export_delivery("page-2", [r3, R4.as_json()]))
    assert (fresh.appended, fresh.skipped) == (1, 2)
    return [event.dedupe_key for event in await all_events(store)]


def assert_rekeyed(keys: list[str]) -> None:
    """Every line has its row's key but the second copy of R2 (the third line
    stored), kept as the previous release wrote it."""
    assert sum(key.startswith("smrow2:") for key in keys) == 5
    assert [key for key in keys if not key.startswith("smrow2:")] == [STORED_KEYS[2]]


async def test_an_upgraded_store_keeps_old_rows_deduplicated(database_url: str) -> None:
    """On each backend: the two webhooks' lines stored at revision 0003 as the
    previous release stored them (each payload kept, each line under the key
    that release gave it, a line whose key was stored skipped), then the upgrade."""
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate("0003")
        old = OldStore(store)
        saved = translated(FIRST) + translated(SECOND)
        keyed = [
            msgspec.structs.replace(fact, dedupe_key=key)
            for fact, key in zip(saved, STORED_KEYS, strict=True)
        ]
        await old.accept(json.loads(FIRST), keyed[:2])
        await old.accept(json.loads(SECOND), keyed[2:])

        await store.migrate()
        await prepare(store)
        assert await store.revision() is not None
        assert await balances(store) == BEFORE
        keys = await arrive_again_after_the_upgrade(store)
    finally:
        await store.close()
    assert_rekeyed(keys)


async def test_the_store_the_previous_release_wrote_upgrades(tmp_path: Path) -> None:
    """The SQLite store the previous release's service wrote (revision 0002),
    migrated to this build and its projections rebuilt."""
    path = tmp_path / "invtrack.db"
    shutil.copyfile(FIXTURES / "previous_release.db", path)
    store = connect(f"sqlite+aiosqlite:///{path}", projection=LiveProjector())
    try:
        assert await store.revision() == "0002"
        async with routing_of_this_build(store):
            assert [event.dedupe_key for event in await all_events(store)] == STORED_KEYS
        await store.migrate()
        await prepare(store)
        await rebuild(store, reader_grace=0)
        assert await balances(store) == BEFORE
        keys = await arrive_again_after_the_upgrade(store)
    finally:
        await store.close()
    assert_rekeyed(keys)


@functools.cache
def migration_module() -> ModuleType:
    path = MIGRATIONS / "versions" / "0004_row_identity.py"
    spec = importlib.util.spec_from_file_location("row_identity_migration", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("number", range(len(PREVIOUS["corpus"])))
def test_the_migrations_key_rows_as_the_translator_does(number: int) -> None:
    """Generated envelopes and the keys the previous release gave their lines:
    0004 maps each old row key to the key the builds in between gave, 0006 maps
    either to the row's identity now, and the translator of this build keys
    the lines by those identities."""
    saved = PREVIOUS["corpus"][number]
    body = saved["body"].encode()
    old_rows = list(dict.fromkeys(key.rsplit(":", 2)[0] for key in saved["keys"]))
    between = migration_module()._prefixes(body)
    now = row_keys.rows_by_old_key(body, None)
    assert list(between) == old_rows
    assert [now[key].identity for key in old_rows] == [
        now[between[key]].identity for key in old_rows
    ]
    assert [fact.dedupe_key.rsplit(":", 2)[0] for fact in translated(body)] == [
        now[key.rsplit(":", 2)[0]].identity for key in saved["keys"]
    ]
