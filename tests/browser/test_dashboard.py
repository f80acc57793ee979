"""The dashboard as a person uses it, in Chromium against a real server on
each backend: sign in through the form, look at a van's stock now and as of a
time, an activity's pools, an item's timeline, counts, download a CSV, replay
a quarantined payload, run a rebuild and watch it finish, look at a row
conflict. Every page is
saved as a screenshot at 1280 and 390 pixels wide."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import httpx
from playwright.sync_api import Dialog, Page, expect

from projections.catalog import ITEMS
from tests.browser.conftest import SCREENSHOTS
from tests.harness.dashboard import (
    SCRIPT,
    SLASHED_CUSTOMER,
    SLASHED_LOCATION,
    SLASHED_WORK_ORDER,
)
from tests.harness.fixtures import fixture
from tests.harness.locks import appends_held
from tests.harness.server import Server
from tests.harness.tokens import reader, sender, token

QUANTITY = 1
"""Column of the quantity in a table of one pool's items."""


def sign_in(page: Page, scope: str = "read", then: str = "/ui/") -> None:
    """Sign in through the form, as a person pastes a token."""
    page.goto(then)
    expect(page).to_have_url(re.compile(r"/ui/login\?"))
    page.get_by_label("Token").fill(token(scope))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()


def shoot(page: Page, server: Server, name: str) -> None:
    """Screenshots of the page as it is, at desktop and at phone width."""
    backend = "postgresql" if server.database_url.startswith("postgresql") else "sqlite"
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for width, height in ((1280, 900), (390, 844)):
        page.set_viewport_size({"width": width, "height": height})
        page.screenshot(path=SCREENSHOTS / f"{name}-{width}-{backend}.png", full_page=True)
    page.set_viewport_size({"width": 1280, "height": 900})


def cells(page: Page, table: str) -> list[list[str]]:
    """The body rows of a table (by its caption's start), cell texts trimmed."""
    caption = page.locator("caption", has_text=re.compile("^" + re.escape(table)))
    found = page.locator("table", has=caption)
    return [
        [text.strip() for text in row.locator("th, td").all_inner_texts()]
        for row in found.locator("tbody tr").all()
    ]


def test_sign_in_and_the_overview(page: Page, server: Server) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shoot(page, server, "login")

    page.get_by_label("Token").fill("not-a-token")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("not accepted")

    page.get_by_label("Token").fill(token("read"))
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator("#events-h + .big")).not_to_have_text("0")
    expect(page.locator("#quarantine-h + .big")).to_have_text("2")
    expect(page.locator("svg.bars rect").first).to_be_attached()
    shoot(page, server, "overview")

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("status")).to_contain_text("signed out")
    page.goto("/ui/counts")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fcounts"))


def test_van_stock_now_and_as_of_a_time(page: Page, server: Server) -> None:
    sign_in(page)
    page.goto("/ui/resources")
    page.get_by_label("Filter by id").fill("van")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("link", name="VAN-07", exact=True)).to_be_visible()
    shoot(page, server, "technicians")
    page.get_by_role("link", name="VAN-07", exact=True).click()

    expect(page.get_by_role("heading", name="VAN-07")).to_be_visible()
    rows = {row[0]: row for row in cells(page, "resource pool of VAN-07")}
    assert rows["CBL-CAT6"][QUANTITY] == "96.5"
    assert rows["ONT-99812"][QUANTITY] == "0"  # a serial number names the item
    assert rows["FUSE-10A"][QUANTITY] == "-5 negative"
    expect(page.get_by_text("negative balance")).to_be_visible()
    shoot(page, server, "technician")

    page.get_by_label("As of (UTC)").fill("2026-11-20T08:00:00")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("caption .asof")).to_contain_text("2026-11-20 08:00:00")
    before = {row[0]: row for row in cells(page, "resource pool of VAN-07")}
    assert before["CBL-CAT6"][QUANTITY] == "100"
    assert "FUSE-10A" not in before
    shoot(page, server, "technician-as-of")


def test_an_activity_shows_its_pools_one_above_another(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/activities/4225599")
    installed = cells(page, "install pool of 4225599")
    removed = cells(page, "deinstall pool of 4225599")
    # By product (or OFS type) unless told: the cable, then the modem.
    assert [row[0] for row in installed] == ["21259001", "SN-0001"]
    assert [row[QUANTITY] for row in installed] == ["15", "1"]
    assert [row[0] for row in removed] == ["SN-OLD-77"]
    expect(page.locator("table", has_text="customer pool of 4225599")).to_contain_text("Nothing")
    shoot(page, server, "activity")


def test_an_items_timeline_and_quantity_chart(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/inventories/ofs-21258547")
    expect(page.get_by_role("heading", name="SN-0001")).to_be_visible()
    timeline = cells(page, "Every event that touched this item")
    assert [row[1].split("\n")[0] for row in timeline] == [
        "resourceInventoryCreated",
        "inventoryInstalled",
    ]
    assert timeline[1][0] == "2026-11-20 09:31:07"
    assert "pool resource → install" in timeline[1][3]
    assert timeline[1][2] == "ofs"
    expect(page.locator("svg.steps")).to_have_count(0)  # serialized: no quantity chart
    shoot(page, server, "item")

    page.goto("/ui/inventories/ofs-21259000")
    line = page.locator("svg.steps path.line").get_attribute("d") or ""
    assert line.count("H") == 3  # one step for each of the three quantities
    quantities = [row[3] for row in cells(page, "Every event that touched this item")]
    assert "quantity 50 → 40" in quantities[1]
    assert "quantity 40 → 35" in quantities[2]
    shoot(page, server, "item-chart")


def test_the_csv_is_what_the_page_and_the_api_show(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/resources/VAN-07")
    with page.expect_download() as downloading:
        page.get_by_role("link", name="Download this page as CSV").click()
    rows = list(csv.DictReader(io.StringIO(Path(downloading.value.path()).read_text())))
    answered = httpx.get(
        f"{server.url}/resources/VAN-07/inventories", headers=reader(), timeout=30
    ).json()["items"]
    # The CSV keeps the page's order (by product); the API's is by key.
    rows.sort(key=lambda row: row["key"])
    assert [row["key"] for row in rows] == [item["key"] for item in answered]
    for row, item in zip(rows, answered, strict=True):
        for field in ("source", "pool", "productNumber", "quantity", "resourceId", "updatedAt"):
            assert row[field] == (item[field] or ""), field
        assert row["negative"] == ("true" if item["negative"] else "false")
    shown = [row[0] for row in cells(page, "resource pool of VAN-07")]
    assert len(shown) == len(rows)


def test_counts_with_expected_counted_and_variance(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/counts")
    lines = cells(page, "Count lines")
    assert len(lines) == 1
    assert lines[0][1:6] == ["VAN-09", "FUSE-10A", "5", "16", "+11"]
    page.get_by_label("Technician or storage location").fill("VAN-07")
    page.get_by_role("button", name="Show").click()
    expect(page.locator("table.counts")).to_contain_text("No counts match")
    page.get_by_label("Technician or storage location").fill("VAN-09")
    page.get_by_label("From (UTC)").fill("2026-11-20")
    page.get_by_label("To (UTC, included)").fill("2026-11-20")
    page.get_by_role("button", name="Show").click()
    assert len(cells(page, "Count lines")) == 1
    shoot(page, server, "counts")


def test_a_payload_holding_a_script_shows_as_text(page: Page, server: Server) -> None:
    dialogs: list[str] = []

    def refuse(dialog: Dialog) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", refuse)
    sign_in(page, then="/ui/resources/" + SLASHED_LOCATION.replace("/", "%2F"))
    expect(page.get_by_role("link", name=SCRIPT).first).to_be_visible()
    page.goto("/ui/quarantine")
    page.get_by_text("Body (").first.click()
    expect(page.locator("pre.body").first).to_contain_text("<script>alert(")
    assert page.locator("script", has_text="alert").count() == 0
    assert dialogs == []


def test_a_quarantined_payload_replayed_from_the_page(page: Page, server: Server) -> None:
    sign_in(page, scope="admin", then="/ui/quarantine")
    shoot(page, server, "quarantine")
    kept = page.locator("article.payload", has_text="replayable-1")
    kept.get_by_role("button", name=re.compile("Replay payload")).click()
    expect(page.get_by_role("status")).to_contain_text("event(s) appended")
    expect(page.locator("article.payload", has_text="replayable-1")).to_have_count(0)
    page.goto("/ui/resources/VAN-77")
    assert cells(page, "resource pool of VAN-77")[0][QUANTITY] == "3"

    page.goto("/ui/quarantine")
    page.locator("article.payload").first.get_by_role(
        "button", name=re.compile("Replay payload")
    ).click()
    expect(page.get_by_role("status")).to_contain_text("still cannot be read")


def test_a_read_only_user_sees_no_admin_actions(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/quarantine")
    expect(page.locator("article.payload").first).to_be_visible()
    expect(page.get_by_role("button", name=re.compile("Replay"))).to_have_count(0)
    page.goto("/ui/projections")
    expect(page.get_by_role("button", name="Rebuild")).to_have_count(0)
    expect(page.get_by_text("needs a token with the admin scope")).to_be_visible()
    form_token = page.locator("form.signout input[name=csrf]").get_attribute("value")
    assert form_token
    refused = page.request.post(
        "/ui/projections/rebuild", form={"csrf": form_token, "projection": "all"}
    )
    assert refused.status == 403
    assert "admin scope" in refused.text()


def test_a_rebuild_and_its_progress(page: Page, server: Server) -> None:
    sign_in(page, scope="admin", then="/ui/projections")
    before = cells(page, "Every build of every projection")
    assert any(row[2] == "active" for row in before)
    with appends_held(server.database_url):
        page.get_by_role("button", name="Rebuild").click()
        expect(page.get_by_role("status").first).to_contain_text("Rebuild of every projection")
        expect(page.locator("#rebuild")).to_contain_text("is running")
        expect(page.locator("#rebuild progress")).to_be_visible()
        expect(page.get_by_role("button", name="Rebuild")).to_be_disabled()
        shoot(page, server, "projections-rebuilding")
    # The page polls: no reload between the running and the finished state.
    expect(page.locator("#rebuild")).to_contain_text("Rebuild finished", timeout=60_000)
    expect(page.locator("#rebuild")).to_contain_text(f"items: v{ITEMS.version}")
    after = cells(page, "Every build of every projection")
    assert any("build" in row[1] and row[2] == "active" for row in after)
    shoot(page, server, "projections")


def test_owners_whose_ids_hold_a_slash(page: Page, server: Server) -> None:
    sign_in(page, then="/ui/resources")
    page.get_by_role("link", name=SLASHED_LOCATION, exact=True).click()
    expect(page.get_by_role("heading", name=SLASHED_LOCATION)).to_be_visible()
    rows = {row[0]: row for row in cells(page, f"resource pool of {SLASHED_LOCATION}")}
    assert rows["CBL-CAT6"][QUANTITY] == "18"

    page.goto("/ui/activities")
    page.get_by_role("link", name=SLASHED_WORK_ORDER, exact=True).click()
    expect(page.get_by_role("heading", name=SLASHED_WORK_ORDER)).to_be_visible()
    installed = cells(page, f"install pool of {SLASHED_WORK_ORDER}")
    assert [(row[0], row[QUANTITY]) for row in installed] == [("CBL-CAT6", "2")]
    installed_link = page.get_by_role("link", name=SLASHED_LOCATION, exact=True)
    installed_link.first.click()
    expect(page.get_by_role("heading", name=SLASHED_LOCATION)).to_be_visible()

    page.goto("/ui/customers")
    page.get_by_role("link", name=SLASHED_CUSTOMER, exact=True).click()
    expect(page.get_by_role("heading", name=SLASHED_CUSTOMER)).to_be_visible()
    assert [row[0] for row in cells(page, f"customer pool of {SLASHED_CUSTOMER}")] == ["SN-C-1"]
    shoot(page, server, "customer")

    page.goto("/ui/inventories/ofs-31000001")
    page.get_by_role("link", name=SLASHED_CUSTOMER).click()
    expect(page).to_have_url(re.compile(r"/ui/customers/C%2F1009$"))


def test_bad_input_gets_a_page_saying_why(page: Page, server: Server) -> None:
    sign_in(page)
    for path, status in (
        ("/ui/resources/VAN-07?at=yesterday", 400),
        ("/ui/resources/VAN-07?cursor=%%%", 400),
        ("/ui/inventories/no-such-key", 404),
        ("/ui/no/such/page", 404),
    ):
        response = page.goto(path)
        assert response is not None, path
        assert response.status == status, path
        expect(page.locator("h1")).to_be_visible()
    shoot(page, server, "not-found")


def test_a_row_conflict_shows_both_rows(page: Page, server: Server) -> None:
    load = fixture("servicemobility", "01_load_then_work_order.json")[0]
    again = {**load, "id": "load-with-fewer-lines"}
    row = {**load["data"]["rows"][0]}
    usage = row["InventoryUsage"]
    location = usage["StorageLocations"][0]
    row["InventoryUsage"] = {
        **usage,
        "StorageLocations": [{**location, "Items": location["Items"][:1]}],
    }
    again["data"] = {**load["data"], "rows": [row]}
    sent = httpx.post(f"{server.url}/servicemobility/InventoryUsage/", json=again, headers=sender())
    assert sent.status_code == 200, sent.text
    assert sent.json()["events"] == 0

    sign_in(page, then="/ui/quarantine")
    page.get_by_role("link", name=re.compile("row conflict")).click()
    expect(page.get_by_role("heading", name="Row conflicts")).to_be_visible()
    shoot(page, server, "conflicts")
    page.get_by_role("link", name=re.compile(r"^\d+$")).first.click()
    expect(page.get_by_role("heading", name="The row counted")).to_be_visible()
    counted = page.locator("section", has=page.get_by_role("heading", name="The row counted"))
    refused = page.locator("section", has=page.get_by_role("heading", name="The row refused"))
    expect(counted).to_contain_text("ONT-G240")
    expect(refused).to_contain_text("CBL-CAT6")
    expect(refused).not_to_contain_text("ONT-G240")
    shoot(page, server, "conflict")
