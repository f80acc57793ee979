"""The stock signal routes over HTTP, on SQLite and on PostgreSQL: par levels
set by hand (admin, an event each time, a 400 naming the field), set by a
StockLevelRecommendation webhook, low stock and its crossings in the feed,
the pick list as JSON and CSV, count variance, transfers paired from halves
in either order and across redeliveries, and readiness."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.store import NewEvent, Store
from domain.events import RequiredInventoriesRecorded, RequiredLine, event_type
from domain.fold import stream_of
from tests.harness.deliveries import Line, UsageRow, document_envelope, post_json, usage_envelope
from tests.harness.live import live_app, settings_for
from tests.harness.tokens import admin, reader

Client = httpx.AsyncClient
STORES: dict[int, Store] = {}


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        STORES[id(app.client)] = app.store
        yield app.client
        del STORES[id(app.client)]


def store_of(client: Client) -> Store:
    return STORES[id(client)]


async def load(client: Client, envelope_id: str, *rows: UsageRow) -> None:
    answer = await post_json(
        client,
        "/servicemobility/InventoryUsage/",
        usage_envelope(envelope_id, rows),
    )
    assert answer.status_code == 200, answer.text


async def put_levels(client: Client, resource: str, body: Any) -> Any:
    return await client.put(f"/resources/{resource}/par-levels", json=body, headers=admin())


async def test_par_levels_by_hand_need_admin_and_each_change_is_an_event(client: Client) -> None:
    body = {"items": [{"product": "CBL-CAT6", "min": 120, "target": "150"}]}
    refused = await client.put("/resources/VAN-12/par-levels", json=body, headers=reader())
    assert refused.status_code == 403

    first = await put_levels(client, "VAN-12", body)
    second = await put_levels(client, "VAN-12", {"items": [{"product": "ONT", "target": 2}]})

    assert first.status_code == 200, first.text
    assert second.status_code == 200
    answer = (await client.get("/resources/VAN-12/par-levels", headers=reader())).json()
    assert [(x["product"], x["min"], x["target"], x["origin"]) for x in answer["items"]] == [
        ("CBL-CAT6", "120", "150", "manual"),
        ("ONT", "2", "2", "manual"),
    ]
    events = await store_of(client).read_events(0, 100)
    changes = [event for event in events if event.type == "invtrack.ParLevelsSet"]
    assert [event.position for event in changes] == [
        first.json()["position"],
        second.json()["position"],
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": [{"product": "A", "min": 5, "target": 3}]}, "items[0].min"),
        ({"items": [{"product": "A", "target": -1}]}, "items[0].target"),
        ({"items": [{"product": "A", "target": 1, "max": 3}]}, "items[0].max"),
        ({"items": [{"product": "A", "target": "lots"}]}, "items[0].target"),
        (
            {"items": [{"product": "A", "target": 1}, {"product": "A", "target": 2}]},
            "items[1].product",
        ),
        ({"items": [{"target": 1}]}, "items[0].product"),
        ({"items": []}, "items"),
        ({"levels": []}, "levels"),
    ],
)
async def test_par_levels_that_cannot_be_taken_are_a_400_naming_the_field(
    client: Client, body: Any, field: str
) -> None:
    answer = await put_levels(client, "VAN-12", body)

    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    events = await store_of(client).read_events(0, 100)
    assert [event.type for event in events] == []


async def test_low_stock_restock_and_the_crossings_in_the_feed(client: Client) -> None:
    await load(client, "load-1", UsageRow("r1", (Line("VAN-12", "CBL-CAT6", "100"),)))
    await put_levels(
        client, "VAN-12", {"items": [{"product": "CBL-CAT6", "min": 120, "target": 150}]}
    )

    low = (await client.get("/low-stock", headers=reader())).json()
    assert low["items"] == [
        {
            "resourceId": "VAN-12",
            "product": "CBL-CAT6",
            "onHand": "100",
            "min": "120",
            "target": "150",
            "shortfall": "20",
            "since": low["items"][0]["since"],
        }
    ]
    assert low["nextCursor"] is None
    restock = await client.get("/resources/VAN-12/restock", headers=reader())
    assert restock.json() == {
        "resourceId": "VAN-12",
        "items": [{"product": "CBL-CAT6", "onHand": "100", "target": "150", "load": "50"}],
    }
    as_csv = await client.get(
        "/resources/VAN-12/restock", headers={**reader(), "Accept": "text/csv"}
    )
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert list(csv.reader(io.StringIO(as_csv.text))) == [
        ["product", "onHand", "target", "load"],
        ["CBL-CAT6", "100", "150", "50"],
    ]

    await load(client, "load-2", UsageRow("r2", (Line("VAN-12", "CBL-CAT6", "10"),)))
    await load(client, "load-3", UsageRow("r3", (Line("VAN-12", "CBL-CAT6", "15"),)))

    assert (await client.get("/low-stock", headers=reader())).json()["items"] == []
    feed = await client.get(
        "/feed",
        params={"type": ["invtrack.stock.belowMin", "invtrack.stock.restored"]},
        headers=reader(),
    )
    entries = feed.json()
    assert [(e["type"], e["subject"], e["data"]["onHand"]) for e in entries] == [
        ("invtrack.stock.belowMin", "VAN-12/CBL-CAT6", "100"),
        ("invtrack.stock.restored", "VAN-12/CBL-CAT6", "125"),
    ]
    only_van = await client.get(
        "/feed",
        params={"resourceId": "VAN-12", "type": "invtrack.stock.restored"},
        headers=reader(),
    )
    assert [e["id"] for e in only_van.json()] == [entries[1]["id"]]


async def test_a_recommendation_sets_targets_and_pages_follow_the_shortfall(client: Client) -> None:
    for n, location in enumerate(("VAN-1", "VAN-2", "VAN-3")):
        answer = await post_json(
            client,
            "/servicemobility/StockLevelRecommendation/",
            document_envelope("StockLevelRecommendation", f"rec-{n}", location=location),
        )
        assert answer.status_code == 200, answer.text

    first = (await client.get("/low-stock", params={"limit": 2}, headers=reader())).json()
    second = (
        await client.get(
            "/low-stock", params={"limit": 2, "cursor": first["nextCursor"]}, headers=reader()
        )
    ).json()

    found = [(x["resourceId"], x["product"], x["target"]) for x in first["items"] + second["items"]]
    assert found == [("VAN-1", "P-1", "2"), ("VAN-2", "P-1", "2"), ("VAN-3", "P-1", "2")]
    levels = (await client.get("/resources/VAN-2/par-levels", headers=reader())).json()
    assert [x["origin"] for x in levels["items"]] == ["recommendation"]
    bad = await client.get("/low-stock", params={"cursor": "bm90LWEtY3Vyc29y"}, headers=reader())
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "cursor"


async def test_count_variance_and_shrinkage(client: Client) -> None:
    await load(client, "v-1", UsageRow("c1", (Line("VAN-7", "A", "10"), Line("VAN-7", "B", "4"))))
    counts = UsageRow(
        "c2",
        (Line("VAN-7", "A", counted="7"), Line("VAN-7", "B", counted="5")),
        ref_module="1004",
        ref_object="PI-1",
        modified="2026-11-20T10:00:00Z",
    )
    await load(client, "v-2", counts)

    answer = await client.get(
        "/counts/variance",
        params={"from": "2026-11-20T00:00:00Z", "to": "2026-11-21T00:00:00Z"},
        headers=reader(),
    )

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert [
        (p["product"], p["expected"], p["counted"], p["variance"]) for p in body["products"]
    ] == [
        ("A", "10", "7", "-3"),
        ("B", "4", "5", "1"),
    ]
    assert body["resources"] == [{"resourceId": "VAN-7", "shrinkage": "3"}]
    backwards = await client.get(
        "/counts/variance",
        params={"from": "2026-11-21T00:00:00Z", "to": "2026-11-20T00:00:00Z"},
        headers=reader(),
    )
    assert backwards.status_code == 400
    assert backwards.json()["errors"][0]["field"] == "to"
    unreadable = await client.get("/counts/variance", params={"from": "monday"}, headers=reader())
    assert unreadable.status_code == 400
    assert unreadable.json()["errors"][0]["field"] == "from"


def half(code: str, location: str, *, sent: str = "0", got: str = "0", at: str) -> UsageRow:
    line = Line(location, "CBL-CAT6", quantity_in=got, quantity_out=sent)
    return UsageRow(f"{code}-{location}-{at}", (line,), "1003", code, at)


async def test_transfers_pair_in_either_order_and_across_redeliveries(client: Client) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    # Receiver first, sender later; sent twice.
    await load(client, "t-1", half("T-1", "VAN-2", got="5", at=now))
    await load(client, "t-2", half("T-1", "VAN-1", sent="5", at=now))
    await load(client, "t-3", half("T-1", "VAN-1", sent="5", at=now))
    await load(client, "t-4", half("T-2", "VAN-1", sent="5", at=now))
    await load(client, "t-5", half("T-2", "VAN-3", got="4", at=now))
    await load(client, "t-6", half("T-3", "VAN-1", sent="1", at=long_ago))
    await load(client, "t-7", half("T-4", "VAN-1", sent="1", at=now))

    answer = (await client.get("/transfers", headers=reader())).json()

    assert [(t["code"], t["status"]) for t in answer["items"]] == [
        ("T-3", "open"),
        ("T-2", "mismatched"),
        ("T-4", "pending"),
        ("T-1", "paired"),
    ]
    paired = answer["items"][-1]
    assert (paired["from"], paired["to"]) == (["VAN-1"], ["VAN-2"])
    assert [(i["sent"], i["received"]) for i in paired["items"]] == [("5", "5")]
    only = (await client.get("/transfers", params={"status": "open"}, headers=reader())).json()
    assert [t["code"] for t in only["items"]] == ["T-3"]
    bad = await client.get("/transfers", params={"status": "lost"}, headers=reader())
    assert bad.status_code == 400


async def test_readiness_of_an_activity_and_of_a_day(client: Client) -> None:
    await load(client, "r-1", UsageRow("k1", (Line("TECH-1", "MODEM", "1"),)))
    lines = (
        RequiredLine(inventory_type="MODEM", quantity=Decimal(2)),
        RequiredLine(inventory_type="CABLE", model="CAT6", quantity=Decimal(1)),
    )
    events = [
        RequiredInventoriesRecorded(
            occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
            activity_id="4225599",
            resource_id="TECH-1",
            date="2026-11-21",
            lines=lines,
        ),
        RequiredInventoriesRecorded(
            occurred_at=datetime(2026, 11, 20, tzinfo=UTC),
            activity_id="4225600",
            resource_id="TECH-1",
            date="2026-11-21",
            unknown="the answer was empty",
        ),
    ]
    await store_of(client).append(
        [
            NewEvent(
                stream_id=stream_of(e),
                type=event_type(e),
                data=e,
                occurred_at=e.occurred_at,
                dedupe_key=f"required-{e.activity_id}",
            )
            for e in events
        ]
    )

    one = (await client.get("/activities/4225599/readiness", headers=reader())).json()
    assert (one["resourceId"], one["date"], one["ready"], one["status"]) == (
        "TECH-1",
        "2026-11-21",
        False,
        "missing",
    )
    assert [
        (x["inventoryType"], x["model"], x["required"], x["available"], x["missing"])
        for x in one["lines"]
    ] == [
        ("MODEM", None, "2", "1", "1"),
        ("CABLE", "CAT6", "1", "0", "1"),
    ]
    day = (await client.get("/readiness", params={"date": "2026-11-21"}, headers=reader())).json()
    assert [(x["activityId"], x["status"]) for x in day["items"]] == [
        ("4225599", "missing"),
        ("4225600", "unknown"),
    ]
    unknown = await client.get("/activities/999/readiness", headers=reader())
    assert unknown.status_code == 404
    bad = await client.get("/readiness", params={"date": "tomorrow"}, headers=reader())
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["field"] == "date"
    missing = await client.get("/readiness", headers=reader())
    assert missing.status_code == 400
