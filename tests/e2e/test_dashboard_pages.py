"""The dashboard over HTTP, without a browser, on SQLite and PostgreSQL: who
may see and do what, the session cookie, the form token on every form,
escaping, CSV cells, and a page (never a 500) for every bad input."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import time_machine

from adapters.auth import mint
from api.pages import csvs
from api.services.dashboard import Dashboard
from domain.reconciliation import Drift, Reconciliation
from tests.harness.dashboard import BROKEN_BODY, SCRIPT, deliveries
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import SECRET, relay, sender, token

Client = httpx.AsyncClient


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    """The app in the test's own event loop, so a test can also call its services."""
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


@pytest.fixture
def client(live: Live) -> Client:
    return live.client


async def form_token(client: Client, path: str = "/ui/login") -> str:
    page = await client.get(path)
    found = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert found, page.text
    return found.group(1)


async def sign_in(client: Client, scope: str | None = "read", raw: str | None = None) -> Any:
    return await client.post(
        "/ui/login",
        data={"token": raw or token(scope), "csrf": await form_token(client), "next": "/ui/"},
        follow_redirects=False,
    )


async def send(client: Client) -> None:
    for path, body in deliveries():
        headers = relay() if path == "/ofs/events" else sender()
        response = await client.post(path, content=json.dumps(body).encode(), headers=headers)
        assert response.status_code == 200, response.text
    broken = await client.post(
        "/servicemobility/InventoryUsage/", content=BROKEN_BODY, headers=sender()
    )
    assert broken.status_code == 400


async def test_pages_need_a_signed_in_user(client: Client) -> None:
    root = await client.get("/", follow_redirects=False)
    assert (root.status_code, root.headers["location"]) == (302, "/ui/")
    for path in (
        "/ui/",
        "/ui/resources/VAN-07?at=2026-11-20",
        "/ui/quarantine",
        "/ui/resources",
        "/ui/products/CBL-CAT6",
        "/ui/live",
    ):
        answer = await client.get(path, follow_redirects=False)
        assert answer.status_code == 303, path
        assert answer.headers["location"].startswith("/ui/login?next=%2Fui")
    refused = await client.post("/ui/projections/rebuild", data={"projection": "all"})
    assert refused.status_code == 403


async def test_sign_in_keeps_a_strict_http_only_session_and_never_the_token(
    client: Client,
) -> None:
    raw = token("read")
    answer = await sign_in(client, raw=raw)
    assert (answer.status_code, answer.headers["location"]) == (303, "/ui/")
    cookie = next(h for h in answer.headers.get_list("set-cookie") if "invtrack_session=" in h)
    assert "HttpOnly" in cookie
    assert "samesite=strict" in cookie.lower()
    assert "Path=/ui" in cookie
    assert raw not in cookie
    assert raw.split(".")[1] not in cookie
    overview = await client.get("/ui/")
    assert overview.status_code == 200
    assert raw not in overview.text
    assert "Overview" in overview.text


async def test_a_token_that_is_bad_or_lacks_read_is_refused(client: Client) -> None:
    bad = await sign_in(client, raw="not.a.token")
    assert bad.status_code == 401
    assert "not accepted" in bad.text
    unscoped = await sign_in(client, scope=None)
    assert unscoped.status_code == 403
    assert "read" in unscoped.text
    forged = await client.post(
        "/ui/login", data={"token": token("read"), "csrf": "guessed"}, follow_redirects=False
    )
    assert forged.status_code == 403
    assert (await client.get("/ui/", follow_redirects=False)).status_code == 303


async def test_a_session_lasts_its_hours_whatever_the_tokens_lifetime(client: Client) -> None:
    # Expired 10 s ago: still inside the verifier's leeway, so sign-in works;
    # the session goes on past the token's exp, for INVTRACK_SESSION_HOURS (12).
    signed_in_at = datetime.now(UTC)
    lapsed = mint(SECRET, scope="read", ttl_seconds=60, now=signed_in_at - timedelta(seconds=70))
    assert (await sign_in(client, raw=lapsed)).status_code == 303
    assert (await client.get("/ui/counts", follow_redirects=False)).status_code == 200
    with time_machine.travel(signed_in_at + timedelta(hours=11, minutes=59), tick=False):
        assert (await client.get("/ui/counts", follow_redirects=False)).status_code == 200
    cookie = client.cookies["invtrack_session"]
    with time_machine.travel(signed_in_at + timedelta(hours=12, minutes=1), tick=False):
        # The browser would drop the cookie by now (Max-Age); the server ends
        # the session all the same, for a copy that is sent anyway.
        client.cookies.clear()
        answer = await client.get(
            "/ui/counts", headers={"cookie": f"invtrack_session={cookie}"}, follow_redirects=False
        )
    assert answer.status_code == 303
    assert "ended=1" in answer.headers["location"]


async def test_sign_out_ends_the_session(client: Client) -> None:
    await sign_in(client)
    csrf = await form_token(client, "/ui/")
    out = await client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/login?out=1")
    assert (await client.get("/ui/", follow_redirects=False)).status_code == 303


async def test_replay_needs_admin_and_the_sessions_form_token(client: Client, live: Live) -> None:
    await send(client)
    kept = (await live.store.inbox_entries("quarantined"))[0]
    replay = f"/ui/quarantine/{kept.id}/replay"

    await sign_in(client, "read")
    page = await client.get("/ui/quarantine")
    assert "Replay payload" not in page.text
    csrf = await form_token(client, "/ui/quarantine")
    assert (await client.post(replay, data={"csrf": csrf})).status_code == 403

    await sign_in(client, "admin")
    assert (await client.post(replay, data={"csrf": csrf})).status_code == 403  # old session's
    assert (await client.post(replay, data={})).status_code == 403
    csrf = await form_token(client, "/ui/quarantine")
    done = await client.post(replay, data={"csrf": csrf}, follow_redirects=False)
    assert (done.status_code, done.headers["location"]) == (303, "/ui/quarantine")
    assert "still cannot be read" in (await client.get("/ui/quarantine")).text


async def test_every_value_from_a_payload_is_escaped(client: Client) -> None:
    await send(client)
    await sign_in(client)
    script = quote(SCRIPT, safe="")
    for path in (
        "/ui/quarantine",
        "/ui/resources/WH%2F01",
        "/ui/find?q=" + "x" * 3,
        "/ui/find?q=" + quote("<script>", safe=""),
        "/ui/products/" + script,
        "/ui/resources?q=WH",
    ):
        page = await client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text, path
    assert "&lt;script&gt;alert(" in (await client.get("/ui/products/" + script)).text
    assert "&lt;script&gt;alert(" in (await client.get("/ui/quarantine")).text
    assert "&lt;script&gt;alert(" in (await client.get("/ui/resources/WH%2F01")).text
    headers = (await client.get("/ui/")).headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["cache-control"] == "no-store"


async def test_the_csv_holds_what_the_page_shows_with_the_apis_values(client: Client) -> None:
    await send(client)
    await sign_in(client)
    download = await client.get("/ui/resources/WH%2F01", params={"format": "csv", "limit": "1"})
    assert download.headers["content-type"].startswith("text/csv")
    assert download.headers["content-disposition"] == 'attachment; filename="resource-WH_01.csv"'
    lines = download.text.splitlines()
    assert lines[0].split(",") == list(csvs.ITEM_COLUMNS)
    assert len(lines) == 2  # the one row the page shows with limit=1


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=HYPERLINK(1)", "'=HYPERLINK(1)"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("+1+1", "'+1+1"),
        ("-5", "-5"),
        ("-1.5", "-1.5"),
        ("-x", "'-x"),
        (None, ""),
        (True, "true"),
        ({"a": 1}, '{"a":1}'),
        (7, "7"),
    ],
)
def test_csv_cells_are_never_formulas(value: object, written: str) -> None:
    assert csvs.cell(value) == written


async def test_bad_input_gets_a_page_saying_why(client: Client) -> None:
    await send(client)
    await sign_in(client, "admin")
    csrf = await form_token(client, "/ui/")
    for path, status in (
        ("/ui/resources/VAN-07?cursor=%2A%2A%2A", 400),
        ("/ui/resources/VAN-07?cursor=%00", 400),
        ("/ui/resources/VAN-07?at=2026-13-40", 400),
        ("/ui/resources/VAN-07?limit=0", 400),
        ("/ui/resources/VAN-07?limit=lots", 400),
        ("/ui/resources/VAN-07?pool=van", 400),
        ("/ui/resources/VAN-07?source=sap", 400),
        ("/ui/resources/%FF", 400),
        ("/ui/inventories/ofs-21258547?cursor=MS41", 400),
        ("/ui/inventories/ofs-21258547?cursor=" + "OTk5" * 10, 400),
        ("/ui/counts?since=yesterday", 400),
        ("/ui/quarantine?cursor=-1", 400),
        ("/ui/inventories/no-such-key", 404),
        ("/ui/no/such/page", 404),
        ("/ui/resources/VAN-07?sort=colour", 400),
        ("/ui/resources/VAN-07?order=sideways", 400),
        ("/ui/resources?sort=colour", 400),
        ("/ui/resources?negative=2", 400),
        ("/ui/customers/C-1009?sort=colour", 400),
        ("/ui/live?after=-1", 400),
        ("/ui/live?after=later", 400),
        ("/ui/products/NO-SUCH-PRODUCT", 404),
        ("/ui/resources/VAN-NEVER-SEEN", 404),
        ("/ui/customers/C-NEVER-SEEN", 404),
        ("/ui/activities/A-NEVER-SEEN", 404),
    ):
        answer = await client.get(path)
        assert answer.status_code == status, (path, answer.text[:300])
        assert answer.headers["content-type"].startswith("text/html"), path
    unknown = await client.post(
        "/ui/projections/rebuild", data={"csrf": csrf, "projection": "nope"}
    )
    assert unknown.status_code == 400
    missing = await client.post("/ui/quarantine/999999/replay", data={"csrf": csrf})
    assert missing.status_code == 404


async def test_the_dashboards_reads(client: Client, live: Live) -> None:
    await send(client)
    dashboard: Dashboard = live.services.dashboard
    first = await dashboard.owners("resource", search="van", after=None, limit=1)
    assert (first.owners, first.next_after) == (["VAN-07"], "VAN-07")
    rest = await dashboard.owners("resource", search="van", after=first.next_after, limit=1)
    assert (rest.owners, rest.next_after) == (["VAN-09"], None)
    literal = await dashboard.owners("resource", search="%", after=None, limit=10)
    assert literal.owners == []  # a wildcard typed is taken literally
    slashed = await dashboard.owners("activity", search="wo/", after=None, limit=10)
    assert slashed.owners == ["WO/5521"]

    counts = await dashboard.counts(location="VAN-09", since=None, until=None, before=None, limit=5)
    assert [(c.expected, c.counted, c.variance) for c in counts.lines] == [
        (Decimal(5), Decimal(16), Decimal(11))
    ]
    elsewhere = await dashboard.counts(
        location="VAN-07", since=None, until=None, before=None, limit=5
    )
    assert elsewhere.lines == []

    minutes = await dashboard.deliveries_per_minute(1)
    assert len(minutes) == 60
    assert sum(minute.deliveries for minute in minutes) == len(deliveries()) + 1
    assert await dashboard.last_reconciliation() is None
    finished = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    await live.store.record(
        Reconciliation(
            source="ofs",
            started_at=finished,
            finished_at=finished,
            resources=("TECH_017",),
            compared=4,
            drifts=(Drift(key="ofs-7", field="quantity", ours="2", theirs="3"),),
        )
    )
    last = await dashboard.last_reconciliation()
    assert last is not None
    assert (last.at, last.drifted) == (finished, 1)
    assert "TECH_017" in last.compared
    await sign_in(client)
    overview = await client.get("/ui/")
    assert "Last reconciliation" in overview.text
    assert '1 <span class="unit">item differ' in overview.text

    timeline = await dashboard.timeline("ofs-21259000", after=0, limit=2)
    assert timeline is not None
    assert [q for _, q in timeline.quantities] == [50, 40, 35]
    assert len(timeline.entries) == 2
    assert timeline.next_after == 2  # entries to skip for the next page
    assert await dashboard.timeline("no-such-key", after=0, limit=2) is None
    assert [item.key for item in await dashboard.find_items("SN-0001")] == ["ofs-21258547"]
    assert SCRIPT not in [item.key for item in await dashboard.find_items(SCRIPT)]
