"""A stock controller's morning, in Chromium against a real server on each
backend: open the overview, follow the negative lines tile to a van, sort its
lines, search a product and see who holds it, watch the van's page change
when a webhook lands, meet a van id invtrack has never seen, and, once par
levels are set, follow the vans below min tile to the low stock and print a
van's pick list; at 1280 and at 390 pixels wide. axe-core checks every page
at both widths."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.accessibility import grave_violations
from tests.browser.conftest import SCREENSHOTS
from tests.browser.test_dashboard import QUANTITY, cells, sign_in
from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.harness.server import Server
from tests.harness.tokens import admin, sender

DOCS_IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
WIDTHS = ((1280, 900), (390, 844))


def backend_of(server: Server) -> str:
    return "postgresql" if server.database_url.startswith("postgresql") else "sqlite"


def look(page: Page, server: Server, name: str) -> None:
    """At each width: no serious or critical accessibility violation, and a
    screenshot (also into docs/images when INVTRACK_DOCS_SCREENSHOTS is set,
    for the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in WIDTHS:
        page.set_viewport_size({"width": width, "height": height})
        assert grave_violations(page) == [], (name, width)
        shot = SCREENSHOTS / f"{name}-{width}-{backend_of(server)}.png"
        page.screenshot(path=shot, full_page=True)
        if os.environ.get("INVTRACK_DOCS_SCREENSHOTS") and backend_of(server) == "sqlite":
            DOCS_IMAGES.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, DOCS_IMAGES / f"dashboard-{name}-{width}.png")
    page.set_viewport_size({"width": 1280, "height": 900})


def column(page: Page, table: str, index: int) -> list[str]:
    return [row[index] for row in cells(page, table)]


def test_overview_to_a_van_sorted(page: Page, server: Server) -> None:
    sign_in(page)
    tiles = page.locator("#action-h + .tiles")
    expect(tiles.locator("#tile-negative .tile-count")).to_have_text("1")
    expect(tiles.locator("#tile-quarantined .tile-count")).to_have_text("2")
    # No push subscription, par level, activity or recent count exists:
    # their tiles are left out, not shown as zero.
    for absent in ("subscriptions", "below-min", "readiness", "shrinkage"):
        expect(tiles.locator(f"#tile-{absent}")).to_have_count(0)
    # The one transfer sent arrived whole: a count of zero, known.
    expect(tiles.locator("#tile-transfers .tile-count")).to_have_text("0")
    expect(tiles.locator("#tile-transfers")).to_contain_text("0 open, 0 mismatched")
    expect(page.locator("[data-live-updated]")).to_be_visible()
    look(page, server, "overview")

    page.get_by_role("link", name=re.compile("Vans with negative lines")).click()
    expect(page.get_by_role("heading", name=re.compile("Fleet"))).to_be_visible()
    fleet = cells(page, "Technicians and storage locations")
    assert [row[0] for row in fleet] == ["VAN-07"]
    assert fleet[0][2] == "1 negative"
    look(page, server, "fleet-negative")

    page.get_by_role("link", name="VAN-07", exact=True).click()
    expect(page.get_by_role("heading", name="VAN-07")).to_be_visible()
    products = column(page, "resource pool of VAN-07", 3)
    assert products == sorted(products, key=str.casefold)  # by product unless told
    page.get_by_role("link", name="Quantity").click()
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile("Quantity"))
    quantities = [float(q.split()[0]) for q in column(page, "resource pool of VAN-07", QUANTITY)]
    assert quantities == sorted(quantities)
    assert quantities[0] == -5
    page.get_by_role("link", name="Quantity").click()
    expect(page.locator("th[aria-sort=descending]")).to_have_text(re.compile("Quantity"))
    quantities = [float(q.split()[0]) for q in column(page, "resource pool of VAN-07", QUANTITY)]
    assert quantities == sorted(quantities, reverse=True)
    look(page, server, "van")


def test_the_fleet_filtered_and_sorted(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/resources")
    owners = column(page, "Technicians and storage locations", 0)
    assert {"VAN-07", "VAN-09", "WH/01"} <= set(owners)
    page.get_by_role("link", name="Units").click()
    units = [float(u) for u in column(page, "Technicians and storage locations", 3)]
    assert units == sorted(units)
    page.get_by_label("Filter by id").fill("van-0")
    page.get_by_role("button", name="Filter").click()
    assert set(column(page, "Technicians and storage locations", 0)) == {"VAN-07", "VAN-09"}
    expect(page.locator("th[aria-sort=ascending]")).to_have_text(re.compile("Units"))
    look(page, server, "fleet")


def test_a_product_searched_and_its_holders(page: Page, server: Server) -> None:
    sign_in(page)
    page.get_by_label(re.compile("Find a product code")).fill("CBL-CAT6")
    page.get_by_role("button", name="Find").click()
    expect(page).to_have_url(re.compile(r"/ui/products/CBL-CAT6$"))
    expect(page.get_by_role("heading", name="CBL-CAT6")).to_be_visible()
    holders = {(row[0], row[1]): row for row in cells(page, "Holders of CBL-CAT6")}
    assert holders[("VAN-07", "resource")][5] == "96.5"
    assert holders[("WH/01", "resource")][5] == "18"
    assert holders[("WO/5521", "install")][5] == "2"
    assert holders[("WO/5521", "install")][3] == "WH/01"
    totals = {row[0]: row for row in cells(page, "Totals by pool")}
    units = sum(float(row[5]) for key, row in holders.items() if key[1] == "resource")
    assert float(totals["On a van or in storage"][3]) == units
    expect(page.get_by_text(re.compile(r"Who holds it as of \d{4}-\d\d-\d\d"))).to_be_visible()
    look(page, server, "product")

    page.goto("/ui/find?q=cat")
    expect(page.get_by_role("link", name="CBL-CAT6")).to_be_visible()
    page.goto("/ui/find?q=SN-0001")
    expect(page).to_have_url(re.compile(r"/ui/inventories/ofs-21258547$"))
    page.goto("/ui/find?q=nothing-like-it")
    expect(page.get_by_text("No product number or inventory type holds")).to_be_visible()
    look(page, server, "find")


def test_a_van_page_changes_when_a_webhook_lands(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/resources/VAN-07")
    expect(page.locator("body[data-live=open]")).to_be_attached()
    before = page.locator("[data-live-updated]").get_attribute("datetime")
    page.evaluate("window.notReloaded = true")
    assert "LIVE-1" not in column(page, "resource pool of VAN-07", 3)

    row = UsageRow("live-row", (Line("VAN-07", "LIVE-1", "7"),), ref_module="1001")
    landed = httpx.post(
        f"{server.url}/servicemobility/InventoryUsage/",
        content=json.dumps(usage_envelope("live-1", [row])).encode(),
        headers=sender(),
        timeout=30,
    )
    assert landed.status_code == 200, landed.text

    lines = page.locator("table", has=page.locator("caption", has_text="resource pool of VAN-07"))
    expect(lines).to_contain_text("LIVE-1")
    assert page.evaluate("window.notReloaded") is True
    expect(page.locator("[data-live-state]")).to_have_text("Updated live")
    assert page.locator("[data-live-updated]").get_attribute("datetime") != before
    look(page, server, "van-live")


def test_pages_people_read(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/customers/C%2F1009")
    assert column(page, "customer pool of C/1009", 0) == ["SN-C-1"]
    expect(page.get_by_role("heading", name="Installed here")).to_be_visible()
    expect(page.get_by_role("heading", name="Removed here (deinstall)")).to_be_visible()
    look(page, server, "customer")

    page.goto("/ui/activities/4225599")
    headings = page.locator(".pool-column h2").all_inner_texts()
    assert headings == ["Installed", "Removed (deinstall)", "At the customer"]
    tops = [
        box["y"] for box in (s.bounding_box() for s in page.locator(".pool-column").all()) if box
    ]
    assert tops == sorted(tops)  # one above another
    assert len(set(tops)) == 3
    for table in page.locator(".pool-column table").all():
        box, wrapper = table.bounding_box(), table.locator("xpath=..").bounding_box()
        assert box is not None
        assert wrapper is not None
        assert box["width"] <= wrapper["width"] + 1  # no column cut
    look(page, server, "activity")

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/ui/resources/VAN-07")
    first = page.locator("table.stack tbody tr").first
    expect(first.locator("td[data-label=Quantity]")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    page.set_viewport_size({"width": 1280, "height": 900})


def test_a_van_never_seen(page: Page, server: Server) -> None:
    sign_in(page)
    response = page.goto("/ui/resources/VAN-NEVER")
    assert response is not None
    assert response.status == 404
    expect(page.get_by_role("heading", name=re.compile("Unknown technician"))).to_be_visible()
    expect(page.get_by_text("invtrack has never seen")).to_be_visible()
    look(page, server, "unknown")
    empty = page.goto("/ui/resources/VAN-07?pool=deinstall")
    assert empty is not None
    assert empty.status == 200
    expect(page.get_by_text("Nothing here")).to_be_visible()


def test_every_other_page_passes_axe(page: Page, server: Server) -> None:
    page.goto("/ui/login")
    assert grave_violations(page) == []
    sign_in(page, scope="admin")
    for path in (
        "/ui/customers",
        "/ui/activities",
        "/ui/inventories/ofs-21259000",
        "/ui/counts",
        "/ui/quarantine",
        "/ui/conflicts",
        "/ui/projections",
        "/ui/subscriptions",
        "/ui/sessions",
        "/ui/no/such/page",
    ):
        page.goto(path)
        for width, height in WIDTHS:
            page.set_viewport_size({"width": width, "height": height})
            assert grave_violations(page) == [], (path, width)
        page.set_viewport_size({"width": 1280, "height": 900})


def test_a_timeline_in_the_time_the_stock_moved(page: Page, server: Server) -> None:
    late = UsageRow(
        "late-row",
        (Line("VAN-08", "ORDER-1", "5"),),
        ref_module="1001",
        ref_object="LOAD-LATE",
        modified="2026-11-21T09:15:00Z",
    )
    early = UsageRow(
        "early-row",
        (Line("VAN-08", "ORDER-1", quantity_out="2"),),
        ref_module="1002",
        ref_object="WO-EARLY",
        modified="2026-11-21T07:00:00Z",
    )
    for number, row in enumerate((late, early)):  # the 07:00 move is stored last
        sent = httpx.post(
            f"{server.url}/servicemobility/InventoryUsage/",
            content=json.dumps(usage_envelope(f"order-{number}", [row])).encode(),
            headers=sender(),
            timeout=30,
        )
        assert sent.status_code == 200, sent.text

    sign_in(page, then="/ui/resources/VAN-08")
    page.get_by_role("link", name="ORDER-1").first.click()
    timeline = cells(page, "Every event that touched this item")
    assert [row[0] for row in timeline] == ["2026-11-21 07:00:00", "2026-11-21 09:15:00"]
    orders = [int(row[-1]) for row in timeline]
    assert orders == sorted(orders, reverse=True)  # storage order, the secondary column
    chart = page.locator("svg.steps")
    expect(chart.locator("text.tick", has_text="07:00")).to_have_count(1)
    ticks = chart.locator("text.tick").all_text_contents()
    quantities = [float(tick) for tick in ticks if ":" not in tick]
    assert min(quantities) <= -2  # at 07:00 the van was two below zero
    assert max(quantities) >= 3
    look(page, server, "item-timeline")


def test_vans_below_min_to_a_printed_pick_list(page: Page, server: Server) -> None:
    """Last in the walk: the par levels it sets stay for the server's life."""
    levels = {
        "items": [
            {"product": "CBL-CAT6", "min": 100, "target": 120},
            {"product": "FUSE-10A", "min": 2, "target": 4},
        ]
    }
    answer = httpx.put(
        f"{server.url}/resources/VAN-07/par-levels", json=levels, headers=admin(), timeout=30
    )
    assert answer.status_code == 200, answer.text

    sign_in(page)
    tile = page.locator("#action-h + .tiles #tile-below-min")
    expect(tile.locator(".tile-count")).to_have_text("1")
    expect(tile).to_contain_text("10.5 units short in all")
    tile.get_by_role("link", name=re.compile("Vans below min")).click()
    expect(page).to_have_url(re.compile(r"/ui/low-stock$"))
    low = cells(page, "Below min")
    assert [row[:6] for row in low] == [
        ["VAN-07", "FUSE-10A", "-5", "2", "4", "7"],  # its negative line
        ["VAN-07", "CBL-CAT6", "96.5", "100", "120", "3.5"],
    ]
    look(page, server, "low-stock")

    page.get_by_role("link", name="VAN-07").first.click()
    page.get_by_role("link", name="Restock list of VAN-07").click()
    assert cells(page, "Pick list of VAN-07") == [
        ["", "CBL-CAT6", "96.5", "120", "23.5"],
        ["", "FUSE-10A", "-5", "4", "9"],
    ]
    look(page, server, "pick-list")
    page.emulate_media(media="print")
    expect(page.locator("header.top")).to_be_hidden()
    expect(page.get_by_text("Pick list for VAN-07")).to_be_visible()
    shot = SCREENSHOTS / f"pick-list-print-{backend_of(server)}.png"
    page.screenshot(path=shot, full_page=True)
    if os.environ.get("INVTRACK_DOCS_SCREENSHOTS") and backend_of(server) == "sqlite":
        shutil.copyfile(shot, DOCS_IMAGES / "dashboard-pick-list-print.png")
    page.emulate_media(media="screen")

    page.goto("/ui/resources?sort=below&order=desc")
    fleet = cells(page, "Technicians and storage locations")
    assert fleet[0][0] == "VAN-07"
    assert fleet[0][3] == "2"
    expect(page.locator("th[aria-sort=descending]")).to_have_text(re.compile("Below min"))
