"""A store written by the builds of revisions 0004 and 0005, upgraded by 0006:
its quarantined copies are collapsed with their count, every ledger line is
keyed by its row version and content, the row versions are claimed by what the
store counted, and a version it had counted with two contents is recorded as
a conflict. New arrivals of stored rows, however written and by either
channel, still count nothing; a stored version with other content is refused.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import servicemobility
from adapters.servicemobility_export.translate import EXPORT_KIND
from adapters.store import Delivery, InboxEntry, Store, connect
from adapters.store.row_keys import RowKeys, rows_by_old_key
from api.services.group_commit import Ingestor
from api.services.payloads import read_servicemobility, read_servicemobility_export
from domain.items import stock_line_key
from projections.live import LiveProjector
from projections.setup import prepare
from tests.harness.fixtures import FIXTURES
from tests.harness.old_store import AT, OldStore, key_before_0004, key_before_0006, old_facts
from tests.harness.reading import all_events
from tests.harness.servicemobility import balances
from tests.strategies import REF_MODULES, encode, sm_histories

RECORDED: list[dict[str, Any]] = json.loads(
    (FIXTURES / "servicemobility" / "01_load_then_work_order.json").read_text()
)
LOAD, WORK_ORDER = RECORDED


def old_demo() -> dict[str, Any]:
    """The webhook an earlier README showed: the load's row version, with the
    load's header and only one of its items."""
    demo: dict[str, Any] = copy.deepcopy(LOAD)
    demo["id"] = "demo-1"
    location = demo["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]
    location["Items"] = location["Items"][:1]
    return demo


def page(rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {"rowver": rows[-1]["rowver"], "rows": rows}


EXPORTED = [
    {
        "rowver": "AAAAAAAC0001=",
        "UserID": "tech9",
        "InventoryUsage": {
            "UserID": "tech9",
            "ModifiedUTC": "2026-11-21T08:00:00Z",
            "RefModule": "1008",
            "RefObjID": "ADJ-1",
            "StorageLocations": [
                {"StorageLocationID": "VAN-09", "Items": [{"ProdNum": "FUSE-10A", "InQty": 4.0}]}
            ],
        },
    }
]


@pytest.fixture
async def upgraded(database_url: str) -> AsyncIterator[tuple[Store, dict[str, int]]]:
    """A store written at revision 0005, then upgraded; the inbox ids it kept."""
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate("0005")
        old = OldStore(store)
        ids = {
            "load": await old.accept(LOAD, old_facts(LOAD, "0005")),
            "work order": await old.accept(WORK_ORDER, old_facts(WORK_ORDER, "0005")),
            "demo": await old.accept(old_demo(), old_facts(old_demo(), "0005")),
            "page": await old.accept(
                page(EXPORTED), old_facts(page(EXPORTED), "0005"), kind=EXPORT_KIND
            ),
        }
        for _ in range(3):
            ids.setdefault("broken", await old.quarantine(b'{"id": "x", "type": ', "not JSON"))
        ids["other"] = await old.quarantine(b"[1, 2]", "not an object")
        await store.migrate()
        await prepare(store)
        yield store, ids
    finally:
        await store.close()


async def test_quarantined_copies_collapse_into_the_first_with_their_count(
    upgraded: tuple[Store, dict[str, int]],
) -> None:
    store, ids = upgraded
    kept = await store.inbox_entries("quarantined")
    assert [(entry.id, entry.received_count) for entry in kept] == [
        (ids["broken"], 3),
        (ids["other"], 1),
    ]
    assert kept[0].last_received_at == AT.replace(minute=(ids["broken"] + 2) % 60)
    assert kept[1].last_received_at is None
    assert (await store.quarantine_totals())[1] == 4


async def test_lines_are_rekeyed_and_a_version_counted_twice_is_a_conflict(
    upgraded: tuple[Store, dict[str, int]],
) -> None:
    store, ids = upgraded
    keys = [event.dedupe_key for event in await all_events(store)]
    assert len(keys) == 6
    assert all(key.startswith("smrow2:") for key in keys)
    (conflict,) = await store.conflicts()
    assert conflict.rowver == "AAAAAAAB9x0="
    assert (conflict.counted_inbox_id, conflict.inbox_id) == (ids["load"], ids["demo"])
    assert conflict.both_counted
    # Both had been counted; stored events keep their effect.
    assert (await balances(store, [cable("VAN-07")]))[cable("VAN-07")] == Decimal("196.5")


async def test_stored_rows_arriving_again_count_nothing(
    upgraded: tuple[Store, dict[str, int]],
) -> None:
    store, _ = upgraded
    ingestor = Ingestor(store)
    before = await balances(store, [cable("VAN-07"), fuse("VAN-09")])
    stored = len(await all_events(store))

    respelled = respelled_load()
    answers = [
        await ingestor.submit(webhook(respelled)),
        await ingestor.submit(webhook({**WORK_ORDER, "id": "work-order-again"})),
        await ingestor.submit(webhook({**old_demo(), "id": "demo-again"})),
        await ingestor.submit(webhook(envelope_of("rows-again", EXPORTED))),
        await ingestor.submit(export({"rowver": "AAAAAAAC0009=", "rows": EXPORTED})),
    ]

    assert [(a.appended, a.conflicts) for a in answers] == [(0, 0), (0, 0), (0, 1), (0, 0), (0, 0)]
    assert await balances(store, [cable("VAN-07"), fuse("VAN-09")]) == before
    assert len(await all_events(store)) == stored
    assert await store.conflict_count() == 1


def cable(location: str) -> str:
    return servicemobility_key(location, "CBL-CAT6")


def fuse(location: str) -> str:
    return servicemobility_key(location, "FUSE-10A")


def servicemobility_key(location: str, product: str) -> str:
    return stock_line_key("resource", location, product, None, None)


def respelled_load() -> dict[str, Any]:
    """The load again, in a new envelope, its numbers written otherwise and
    its default fields left out."""
    load: dict[str, Any] = copy.deepcopy(LOAD)
    load["id"] = "load-again"
    for item in load["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["Items"]:
        item["InQty"] = int(item["InQty"])
        for field in (
            "InventoryDamagedQty",
            "ReportedDamagedQty",
            "DispositionReasons",
            "BatchNum",
        ):
            item.pop(field)
    return load


def envelope_of(envelope_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        **{key: value for key, value in LOAD.items() if key != "data"},
        "id": envelope_id,
        "data": {"rowver": rows[-1]["rowver"], "rows": rows},
    }


def webhook(envelope: dict[str, Any]) -> Delivery:
    body = encode(envelope)
    translated = read_servicemobility("InventoryUsage", body, "sender")
    return delivery(body, "InventoryUsage", translated.message_id, translated.facts)


def export(document: dict[str, Any]) -> Delivery:
    """A page of a re-extraction: other bytes than the stored page, the same rows."""
    body = encode(document)
    translated = read_servicemobility_export(body, "sm-poll")
    return delivery(body, EXPORT_KIND, translated.message_id, translated.facts)


def delivery(body: bytes, kind: str, message_id: str, facts: Any) -> Delivery:
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind=kind,
            body=body,
            received_at=datetime.now(UTC),
            message_id=message_id,
        ),
        facts=tuple(facts),
    )


# ---- the identity 0006 gives, against the translator's --------------------------------


@settings(max_examples=100, deadline=None)
@given(rows=sm_histories(REF_MODULES), source=st.sampled_from(["", "webhook-a"]))
def test_0006_finds_each_row_under_both_old_keys_with_the_translators_identity(
    rows: list[dict[str, Any]], source: str
) -> None:
    envelope = {"id": "e", "type": "InventoryUsage", "source": source, "data": {"rows": rows}}
    decoded = servicemobility.decode_json(encode(envelope))["data"]["rows"]
    expected: dict[str, RowKeys] = {}
    for row in decoded:
        (fact, *_) = servicemobility.usage_facts([row], "$.rows")
        assert fact.row is not None
        keys = RowKeys(identity=fact.row.identity, version=fact.row.version, rowver=fact.row.rowver)
        assert fact.dedupe_key.startswith(keys.identity + ":")
        expected[key_before_0004(source, row)] = expected[key_before_0006(row)] = keys
    assert rows_by_old_key(encode(envelope), "{}") == expected
