"""The stock signal pages in Chromium against a real `invtrack serve`, on
SQLite and PostgreSQL: low stock of the fleet and of one van with shortfall
bars, a van's pick list on screen and as printed, shrinkage per technician
on time and quantity axes, transfers with open and mismatched first, and the
activities of tomorrow that are not ready; CSV downloads, and every page at
phone width (390 px) without sideways scrolling. Screenshots of the
PostgreSQL run go to docs/images."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Page, expect

from adapters.store import NewEvent, connect
from domain.events import RequiredInventoriesRecorded, RequiredLine, event_type
from domain.fold import stream_of
from projections.live import LiveProjector
from tests.harness.dashboard import in_thread
from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.harness.server import Server
from tests.harness.tokens import admin, sender, token

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
NOW = datetime.now(UTC)
TOMORROW = (NOW + timedelta(days=1)).date().isoformat()


def at(days_ago: int, hour: int = 9) -> str:
    moment = (NOW - timedelta(days=days_ago)).replace(hour=hour, minute=0, second=0)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def usage() -> list[UsageRow]:
    load = UsageRow(
        "sig-load",
        (
            Line("VAN-21", "CBL-CAT6", "40"),
            Line("VAN-21", "ONT-G240", "3"),
            Line("VAN-22", "FUSE-10A", "2"),
            Line("VAN-21", "MODEM", "1"),
        ),
        ref_module="1001",
        ref_object="LOAD-21",
        modified=at(6),
    )
    counts = [
        UsageRow(
            f"sig-count-{days}",
            (Line("VAN-21", "CBL-CAT6", counted=str(40 - 3 * n)),),
            ref_module="1004",
            ref_object=f"PI-{days}",
            modified=at(days),
        )
        for n, days in enumerate((5, 3, 1), start=1)
    ]
    counts.append(
        UsageRow(
            "sig-count-22",
            (Line("VAN-22", "FUSE-10A", counted="1"),),
            ref_module="1005",
            ref_object="PC-22",
            modified=at(2),
        )
    )

    def half(row: str, code: str, where: str, days: int, sent: str, got: str) -> UsageRow:
        line = Line(where, "ONT-G240", quantity_in=got, quantity_out=sent)
        return UsageRow(row, (line,), "1003", code, at(days))

    transfers = [
        half("sig-t1-in", "XFER-PAIRED", "VAN-22", 1, "0", "1"),
        half("sig-t1-out", "XFER-PAIRED", "VAN-21", 1, "1", "0"),
        half("sig-t2-out", "XFER-SHORT", "VAN-21", 1, "2", "0"),
        half("sig-t2-in", "XFER-SHORT", "VAN-23", 1, "0", "1"),
        half("sig-t3-out", "XFER-LOST", "VAN-22", 4, "1", "0"),
    ]
    return [load, *counts, *transfers]


async def required(database_url: str) -> None:
    store = connect(database_url, projection=LiveProjector())
    lines = (
        RequiredLine(inventory_type="MODEM", quantity=Decimal(2)),
        RequiredLine(inventory_type="ONT-G240", quantity=Decimal(1)),
    )
    events = [
        RequiredInventoriesRecorded(
            occurred_at=NOW, activity_id="5100001", resource_id="VAN-21", date=TOMORROW, lines=lines
        ),
        RequiredInventoriesRecorded(
            occurred_at=NOW,
            activity_id="5100002",
            resource_id="VAN-22",
            date=TOMORROW,
            unknown="OFS answered no required inventories",
        ),
    ]
    try:
        await store.append(
            [
                NewEvent(
                    stream_id=stream_of(e),
                    type=event_type(e),
                    data=e,
                    occurred_at=e.occurred_at,
                    dedupe_key=f"browser-required-{e.activity_id}",
                )
                for e in events
            ]
        )
    finally:
        await store.close()


@pytest.fixture(scope="module")
def signals(server: Server) -> Server:
    """The server with stock, counts, transfers, par levels and required inventories."""
    with httpx.Client(base_url=server.url, timeout=30) as client:
        body = json.dumps(usage_envelope("sig-1", usage())).encode()
        answer = client.post("/servicemobility/InventoryUsage/", content=body, headers=sender())
        assert answer.status_code == 200, answer.text
        levels = {
            "VAN-21": [
                {"product": "CBL-CAT6", "min": 40, "target": 60},
                {"product": "ONT-G240", "min": 2, "target": 4},
                {"product": "FUSE-10A", "target": 5},
            ],
            "VAN-22": [{"product": "FUSE-10A", "min": 3, "target": 6}],
        }
        for van, items in levels.items():
            answer = client.put(
                f"/resources/{van}/par-levels", json={"items": items}, headers=admin()
            )
            assert answer.status_code == 200, answer.text
    in_thread(required(server.database_url))
    return server


def sign_in(page: Page, then: str) -> None:
    page.goto(then)
    expect(page).to_have_url(re.compile(r"/ui/login\?"))
    page.get_by_label("Token").fill(token("read"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def shoot(page: Page, server: Server, name: str) -> None:
    """Desktop and phone screenshots (docs/images from the PostgreSQL run);
    at phone width nothing scrolls sideways but the tables' own regions."""
    for width, height, suffix in ((1280, 900, ""), (390, 844, "-phone")):
        page.set_viewport_size({"width": width, "height": height})
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        if server.database_url.startswith("postgresql"):
            IMAGES.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=IMAGES / f"signals-{name}{suffix}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def rows(page: Page, caption: str) -> list[list[str]]:
    found = page.locator("table", has=page.locator("caption", has_text=caption))
    return [
        [text.strip() for text in row.locator("th, td").all_inner_texts()]
        for row in found.locator("tbody tr").all()
    ]


def test_low_stock_of_the_fleet_and_of_one_van(page: Page, signals: Server) -> None:
    sign_in(page, "/ui/low-stock")

    found = rows(page, "Below min")
    assert [row[:6] for row in found] == [
        ["VAN-21", "CBL-CAT6", "31", "40", "60", "9"],
        ["VAN-21", "FUSE-10A", "0", "5", "5", "5"],
        ["VAN-21", "ONT-G240", "0", "2", "4", "2"],
        ["VAN-22", "FUSE-10A", "1", "3", "6", "2"],
    ]
    expect(page.locator("svg.shortfall")).to_have_count(4)
    expect(page.locator("svg.shortfall rect.short").first).to_be_visible()
    shoot(page, signals, "low-stock")

    page.get_by_role("link", name="VAN-22").first.click()
    expect(page.get_by_role("heading", name="Low stock of VAN-22")).to_be_visible()
    assert [row[1] for row in rows(page, "Below min")] == ["FUSE-10A"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Download this page as CSV").click()
    text = Path(download.value.path()).read_text()
    assert list(csv.reader(io.StringIO(text)))[1][:6] == ["VAN-22", "FUSE-10A", "1", "3", "6", "2"]


def test_the_pick_list_prints_for_the_morning_load(page: Page, signals: Server) -> None:
    sign_in(page, "/ui/restock")
    page.get_by_label("Technician or van").fill("VAN-21")
    page.get_by_role("button", name="Show the pick list").click()

    assert rows(page, "Pick list of VAN-21") == [
        ["", "CBL-CAT6", "31", "60", "29"],
        ["", "FUSE-10A", "0", "5", "5"],
        ["", "ONT-G240", "0", "4", "4"],
    ]
    shoot(page, signals, "restock")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.locator("form.filters")).to_be_hidden()
    expect(page.get_by_text("Pick list for VAN-21")).to_be_visible()
    if signals.database_url.startswith("postgresql"):
        page.screenshot(path=IMAGES / "signals-restock-print.png", full_page=True)
    page.emulate_media(media="screen")
    expect(page.locator("header.top")).to_be_visible()


def test_shrinkage_per_technician_over_time(page: Page, signals: Server) -> None:
    sign_in(page, "/ui/shrinkage")

    headings = page.locator(".shrinkage-chart h2").all_inner_texts()
    assert headings[:2] == ["VAN-21: 9 lost", "VAN-22: 1 lost"]
    chart = page.locator("svg.time-chart").first
    expect(chart.locator("rect.lost")).to_have_count(3)
    expect(chart.locator("text.y-label").first).to_have_text("0")
    assert len(chart.locator("text.x-label").all()) >= 4
    expect(chart.locator("text.axis-name").first).to_have_text("date (UTC)")
    shoot(page, signals, "shrinkage")


def test_transfers_show_open_and_mismatched_first(page: Page, signals: Server) -> None:
    sign_in(page, "/ui/transfers")

    found = [row[:2] for row in rows(page, "Transfers")]
    mine = [row for row in found if row[0] in ("XFER-LOST", "XFER-SHORT", "XFER-PAIRED")]
    assert mine == [["XFER-LOST", "open"], ["XFER-SHORT", "mismatched"], ["XFER-PAIRED", "paired"]]
    statuses = [status for _, status in found]
    assert statuses == sorted(statuses, key=["open", "mismatched", "pending", "paired"].index)
    shoot(page, signals, "transfers")
    page.get_by_label("Status").select_option("open")
    page.get_by_role("button", name="Show").click()
    assert "XFER-LOST" in [row[0] for row in rows(page, "Transfers")]
    assert {row[1] for row in rows(page, "Transfers")} == {"open"}


def test_readiness_of_tomorrows_activities(page: Page, signals: Server) -> None:
    sign_in(page, "/ui/readiness")

    expect(page.get_by_role("heading", name=f"Parts readiness, {TOMORROW}")).to_be_visible()
    found = rows(page, "Not ready")
    assert [row[:2] for row in found] == [["5100001", "VAN-21"], ["5100002", "VAN-22"]]
    assert "MODEM: 1 of 2 missing" in found[0][3]
    assert "ONT-G240: 1 of 1 missing" in found[0][3]
    assert found[1][2].startswith("unknown")
    shoot(page, signals, "readiness")
