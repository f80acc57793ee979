"""ServiceMobility rows for the puller tests: the recorded webhook rows, the
same rows as a webhook or an export page carries them, and the balances the
webhook alone gives."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from adapters import servicemobility
from adapters.store import Store
from domain.fold import fold
from domain.items import Item
from projections.items import item_of
from projections.queries import Queries
from tests.harness.fixtures import FIXTURES
from tests.strategies import encode, sm_envelope

RECORDED = ("01_load_then_work_order.json", "02_redelivery.json", "03_transfer_then_count.json")


def recorded_usages() -> list[dict[str, Any]]:
    """Every distinct InventoryUsage object of the recorded webhooks, in order."""
    usages: list[dict[str, Any]] = []
    for name in RECORDED:
        for envelope in json.loads((FIXTURES / "servicemobility" / name).read_text()):
            for row in envelope["data"]["rows"]:
                if row["InventoryUsage"] not in usages:
                    usages.append(row["InventoryUsage"])
    return usages


def webhook_rows(exported: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows as a webhook's `data.rows` carries them (no keys beside the object)."""
    return [{"rowver": row["rowver"], "InventoryUsage": row["InventoryUsage"]} for row in exported]


def webhook_items(rows: list[dict[str, Any]]) -> dict[str, Item]:
    """The items the rows make when they arrive once, by webhook, in this order."""
    envelope = servicemobility.read_envelope(
        encode(sm_envelope("reference", rows)), "InventoryUsage"
    )
    return fold(enumerate((fact.event for fact in servicemobility.translate(envelope)), start=1))


def ledger_lines(rows: list[dict[str, Any]]) -> int:
    return sum(
        len(location["Items"])
        for row in rows
        for location in row["InventoryUsage"]["StorageLocations"]
    )


async def balances(store: Store, keys: list[str]) -> dict[str, Decimal | None]:
    """Each item's quantity as the projection answers it (None when unknown)."""
    queries = Queries(store)
    found: dict[str, Decimal | None] = {}
    for key in keys:
        record = await queries.item(key)
        found[key] = None if record is None else item_of(record).quantity
    return found


def quantities(items: dict[str, Item]) -> dict[str, Decimal | None]:
    return {key: item.quantity for key, item in items.items()}
