"""The query routes' edges: owners whose ids hold a `/`, and cursors that are
not one the API gave out."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.harness.deliveries import Line, UsageRow, ofs_event, post_json, usage_envelope
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import reader


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        yield app


def b64(text: str | bytes) -> str:
    data = text.encode() if isinstance(text, str) else text
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


async def test_owners_with_a_slash_can_be_asked_for(live: Live) -> None:
    loaded = UsageRow("r-1", (Line("WH/01", "CBL/6", quantity_in="10"),), ref_module="1001")
    used = UsageRow(
        "r-2", (Line("WH/01", "CBL/6", quantity_out="4"),), ref_module="1002", ref_object="WO/5521"
    )
    assert (
        await post_json(
            live.client,
            "/servicemobility/InventoryUsage/",
            usage_envelope("slashes", [loaded, used]),
        )
    ).status_code == 200
    event = ofs_event(77, "customerInventoryCreated", "2026-11-20 09:00:00", status="customer")
    event["activityDetails"]["customerNumber"] = "C/1009"
    assert (await post_json(live.client, "/ofs/events", [event])).status_code == 200

    async def items(path: str) -> list[dict[str, object]]:
        response = await live.client.get(path, headers=reader())
        assert response.status_code == 200, (path, response.text)
        found: list[dict[str, object]] = response.json()["items"]
        return found

    stock = await items(f"/resources/{quote('WH/01', safe='')}/inventories")
    assert [(i["resourceId"], i["quantity"]) for i in stock] == [("WH/01", "6")]
    installed = await items(f"/activities/{quote('WO/5521', safe='')}/inventories")
    assert [(i["activityId"], i["quantity"]) for i in installed] == [("WO/5521", "4")]
    at_customer = await items(f"/customers/{quote('C/1009', safe='')}/inventories")
    assert [i["customerNumber"] for i in at_customer] == ["C/1009"]

    # Item keys hold no slash, but an encoded one is read back the same way.
    key = str(stock[0]["key"])
    for path in (f"/inventories/{key}", f"/inventories/{quote(key, safe='')}"):
        assert (await live.client.get(path, headers=reader())).status_code == 200
    history = await live.client.get(f"/inventories/{key}/history", headers=reader())
    assert history.status_code == 200
    assert len(history.json()["items"]) == 2
    unknown = await live.client.get(f"/inventories/{quote('a/b', safe='')}", headers=reader())
    assert unknown.status_code == 404
    unknown = await live.client.get(
        f"/inventories/{quote('a/b', safe='')}/history", headers=reader()
    )
    assert unknown.status_code == 404
    # The plain path is still no owner with a slash: it names no route.
    plain = await live.client.get("/resources/WH/01/inventories", headers=reader())
    assert plain.status_code == 404


async def test_an_owner_never_seen_is_a_404_and_one_holding_nothing_an_empty_list(
    live: Live,
) -> None:
    loaded = UsageRow("r-1", (Line("VAN-7", "CBL-CAT6", quantity_in="10"),), ref_module="1001")
    moved = await post_json(
        live.client, "/servicemobility/InventoryUsage/", usage_envelope("seen", [loaded])
    )
    assert moved.status_code == 200

    for path in (
        "/resources/VAN-404/inventories",
        "/customers/C-404/inventories",
        "/activities/A-404/inventories",
    ):
        response = await live.client.get(path, headers=reader())
        assert response.status_code == 404, path
        assert response.headers["content-type"].startswith("application/problem+json")
        assert "was ever seen" in response.json()["detail"]

    known = await live.client.get("/resources/VAN-7/inventories", headers=reader())
    assert [item["quantity"] for item in known.json()["items"]] == ["10"]
    empty_pool = await live.client.get(
        "/resources/VAN-7/inventories", params={"pool": "install"}, headers=reader()
    )
    assert (empty_pool.status_code, empty_pool.json()["items"]) == (200, [])
    before = await live.client.get(
        "/resources/VAN-7/inventories", params={"at": "2000-01-01T00:00:00Z"}, headers=reader()
    )
    assert (before.status_code, before.json()["items"]) == (200, [])


LISTS = (
    "/resources/VAN-1/inventories",
    "/customers/C-1/inventories",
    "/activities/A-1/inventories",
    "/inventories/sm-resource-000/history",
)
BAD_CURSORS = {
    "a decimal": "1.5",
    "blank": "",
    "spaces": "%20%20",
    "5,000 digits": "9" * 5000,
    "5,000 digits encoded": b64("9" * 5000),
    "beyond BIGINT": b64(str(2**63)),
    "negative": b64("-1"),
    "base64 of garbage": b64(b"\x93\x00garbage\xff"),
    "base64 of text": b64("hello"),
    "not base64": "!!!",
}


async def test_every_bad_cursor_on_every_list_is_a_400_naming_the_cursor(live: Live) -> None:
    failures = []
    for route in LISTS:
        for name, cursor in BAD_CURSORS.items():
            response = await live.client.get(f"{route}?cursor={cursor}", headers=reader())
            problem = response.json() if response.status_code < 500 else {}
            fields = [error.get("field") for error in problem.get("errors") or []]
            if response.status_code != 400 or fields != ["cursor"]:
                failures.append(f"{route} {name}: {response.status_code} {response.text[:120]}")
    assert not failures, "\n".join(failures)


async def test_cursors_the_api_gave_out_page_through_everything(live: Live) -> None:
    rows = [UsageRow(f"r-{n}", (Line("VAN-1", f"P-{n}", quantity_in="1"),)) for n in range(5)]
    assert (
        await post_json(
            live.client, "/servicemobility/InventoryUsage/", usage_envelope("paging", rows)
        )
    ).status_code == 200
    seen: list[str] = []
    cursor = ""
    while True:
        suffix = f"&cursor={cursor}" if cursor else ""
        page = (
            await live.client.get(f"/resources/VAN-1/inventories?limit=2{suffix}", headers=reader())
        ).json()
        seen += [item["key"] for item in page["items"]]
        if page["nextCursor"] is None:
            break
        cursor = page["nextCursor"]
    assert len(seen) == len(set(seen)) == 5
    history = await live.client.get(f"/inventories/{seen[0]}/history?limit=1", headers=reader())
    assert history.status_code == 200
    assert history.json()["nextCursor"] is None
