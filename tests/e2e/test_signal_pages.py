"""The stock signal pages over HTTP, without a browser, on SQLite and
PostgreSQL: signed in only, every value escaped, each list as CSV, a 400
page naming the field for bad input."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.harness.live import live_app, settings_for
from tests.harness.tokens import admin, sender, token

Client = httpx.AsyncClient
SCRIPT = '<script>alert("x")</script>'
TODAY = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[Client]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running.client


async def sign_in(client: Client) -> None:
    page = await client.get("/ui/login")
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found
    answer = await client.post(
        "/ui/login",
        data={"token": token("read"), "csrf": found.group(1), "next": "/ui/"},
        follow_redirects=False,
    )
    assert answer.status_code in (302, 303)


async def stock(client: Client) -> None:
    rows = [
        UsageRow("p1", (Line("VAN-1", SCRIPT, "2"), Line("VAN-1", "CBL", "2")), modified=TODAY),
        UsageRow("p3", (Line("VAN-1", "CBL", quantity_out="1"),), "1003", "T-9", TODAY),
        UsageRow(
            "p2",
            (Line("VAN-1", "CBL", counted="0"),),
            ref_module="1004",
            ref_object="PI-1",
            modified=TODAY,
        ),
    ]
    answer = await client.post(
        "/servicemobility/InventoryUsage/",
        content=json.dumps(usage_envelope("pages-1", rows)).encode(),
        headers=sender(),
    )
    assert answer.status_code == 200, answer.text
    levels = {
        "items": [{"product": SCRIPT, "min": 5, "target": 8}, {"product": "CBL", "target": 3}]
    }
    answer = await client.put("/resources/VAN-1/par-levels", json=levels, headers=admin())
    assert answer.status_code == 200, answer.text


PAGES = (
    "/ui/low-stock",
    "/ui/low-stock?resourceId=VAN-1",
    "/ui/restock?resourceId=VAN-1",
    "/ui/shrinkage",
    "/ui/transfers",
    "/ui/readiness",
)


async def test_the_pages_need_a_session(client: Client) -> None:
    for path in PAGES:
        answer = await client.get(path, follow_redirects=False)
        assert answer.status_code in (302, 303), path
        assert answer.headers["location"].startswith("/ui/login")


async def test_the_pages_escape_what_they_show(client: Client) -> None:
    await stock(client)
    await sign_in(client)

    for path in PAGES:
        answer = await client.get(path)
        assert answer.status_code == 200, (path, answer.text[:400])
        assert SCRIPT not in answer.text, path
        assert "script-src" in answer.headers["content-security-policy"]
    low = await client.get("/ui/low-stock")
    assert "&lt;script&gt;" in low.text
    assert '<svg class="shortfall"' in low.text
    restock = await client.get("/ui/restock?resourceId=VAN-1")
    assert "&lt;script&gt;" in restock.text
    shrinkage = await client.get("/ui/shrinkage")
    assert '<svg class="time-chart"' in shrinkage.text
    assert "VAN-1</a>: 1 lost" in shrinkage.text


async def test_every_list_downloads_as_csv(client: Client) -> None:
    await stock(client)
    await sign_in(client)
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()

    found = {}
    for path in (*PAGES, f"/ui/readiness?date={tomorrow}"):
        glue = "&" if "?" in path else "?"
        answer = await client.get(f"{path}{glue}format=csv")
        assert answer.status_code == 200, path
        assert answer.headers["content-type"].startswith("text/csv"), path
        found[path] = list(csv.reader(io.StringIO(answer.text)))

    assert found["/ui/low-stock"][0] == [
        "resourceId",
        "product",
        "onHand",
        "min",
        "target",
        "shortfall",
        "since",
    ]
    assert [row[:6] for row in found["/ui/low-stock"][1:]] == [
        ["VAN-1", SCRIPT, "2", "5", "8", "3"],
        ["VAN-1", "CBL", "0", "3", "3", "3"],
    ]
    assert found["/ui/restock?resourceId=VAN-1"][1:] == [
        [SCRIPT, "2", "8", "6"],
        ["CBL", "0", "3", "3"],
    ]
    assert [row[:2] for row in found["/ui/shrinkage"][1:]] == [
        ["VAN-1", datetime.now(UTC).date().isoformat()]
    ]
    assert [row[:2] for row in found["/ui/transfers"][1:]] == [["T-9", "pending"]]


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/ui/low-stock?cursor=nope", "cursor"),
        ("/ui/transfers?status=lost", "status"),
        ("/ui/readiness?date=tomorrow", "date"),
        ("/ui/shrinkage?since=2026-12-01&until=2026-11-01", "since"),
        ("/ui/restock?resourceId=%01", "resourceId"),
    ],
)
async def test_bad_input_is_a_400_page_naming_the_field(
    client: Client, path: str, field: str
) -> None:
    await sign_in(client)

    answer = await client.get(path)

    assert answer.status_code == 400, answer.text[:300]
    assert field in answer.text


async def test_the_fleet_shows_lines_below_min_once_par_levels_are_set(client: Client) -> None:
    await sign_in(client)
    answer = await client.post(
        "/servicemobility/InventoryUsage/",
        content=json.dumps(
            usage_envelope(
                "fleet-1", [UsageRow("f1", (Line("VAN-2", "CBL", "4"),), modified=TODAY)]
            )
        ).encode(),
        headers=sender(),
    )
    assert answer.status_code == 200, answer.text
    before = await client.get("/ui/resources")
    assert before.status_code == 200
    assert "VAN-2" in before.text
    assert "Below min" not in before.text  # no par level anywhere: no column

    await stock(client)
    after = await client.get("/ui/resources", params={"sort": "below", "order": "desc"})
    assert after.status_code == 200
    rows = re.findall(r'<tr>\s*<th scope="row".*?</tr>', after.text, re.DOTALL)
    below = [re.search(r'data-label="Below min">(.*?)</td>', row, re.DOTALL) for row in rows]
    shown = [
        (re.search(r">(VAN-\d)</a>", row), cell) for row, cell in zip(rows, below, strict=True)
    ]
    assert [(owner.group(1), cell.group(1)) for owner, cell in shown if owner and cell] == [
        ("VAN-1", '<a href="/ui/low-stock?resourceId=VAN-1">2</a>'),
        ("VAN-2", "0"),
    ]
    assert 'aria-sort="descending"' in after.text
