"""`sm-poll` runs that end on their own and pages it cannot read: a row
nested 5,000 levels deep, a `rowver` that cycles or is ignored, endless
fresh cursors, an unreachable site. On SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from adapters.pulling import Unreachable
from adapters.servicemobility_export.poller import SmPoller
from adapters.store import Store
from api.services.group_commit import Ingestor
from tests.fakes.http import FlakyTransport
from tests.fakes.servicemobility_server import EXPORT_PATH, FakeServiceMobility, rowver_of
from tests.harness.servicemobility import recorded_usages
from tests.integration.test_sm_poller import assert_webhook_balances, config

GUARD = 60.0


def site() -> FakeServiceMobility:
    fake = FakeServiceMobility()
    fake.publish(*recorded_usages())
    return fake


class Answering:
    """The site, but with the raw answers `pages` for the rowvers they name;
    `reads` are the rowvers of every export request, in order."""

    def __init__(self, fake: FakeServiceMobility, pages: dict[str, bytes]) -> None:
        self.fake = fake
        self.pages = pages
        self.reads: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == EXPORT_PATH:
            rowver = httpx.URL("?" + scope["query_string"].decode()).params.get("rowver", "")
            self.reads.append(rowver)
            if rowver in self.pages:
                headers = [(b"content-type", b"application/json")]
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                await send({"type": "http.response.body", "body": self.pages[rowver]})
                return
        await self.fake(scope, receive, send)


async def run_once(store: Store, app: Any, fake: FakeServiceMobility, **kw: Any) -> SmPoller:
    sm = SmPoller(
        config(fake, **kw), store, Ingestor(store).submit, transport=httpx.ASGITransport(app=app)
    )
    async with sm:
        await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)
    return sm


async def test_a_row_nested_5000_levels_is_quarantined_and_passed(store: Store) -> None:
    fake = site()
    deep = b"[" * 5000 + b"]" * 5000
    page = (
        b'{"rowver": "' + rowver_of(2).encode() + b'", "rows": [{"rowver": "x", '
        b'"UserID": "tech7", "InventoryUsage": {"RefModule": ' + deep + b"}}]}"
    )
    await run_once(store, Answering(fake, {"0": page}), fake, limit=2)

    (kept,) = await store.inbox_entries("quarantined")
    assert kept.body == page
    assert kept.reason is not None
    assert "$.rows[0]" in kept.reason
    assert "nested too deeply" in kept.reason
    # The poller moved past it to the page's rowver: every later row arrived.
    rows = fake.exported()[2:]
    assert rows
    stored = await store.inbox_entries("accepted", limit=1000)
    taken = [row["rowver"] for entry in stored for row in json.loads(entry.body)["rows"]]
    assert taken == [row["rowver"] for row in rows]


@pytest.mark.parametrize("cycle", ["ignored", "cycles"])
async def test_a_rowver_that_is_ignored_or_cycles_ends_the_run(store: Store, cycle: str) -> None:
    fake = site()
    first, second = fake.exported()[:2], fake.exported()[2:4]
    a, b = rowver_of(2), rowver_of(4)
    pages = {
        "0": json.dumps({"rowver": a, "rows": first}).encode(),
        a: json.dumps({"rowver": a if cycle == "ignored" else b, "rows": second}).encode(),
        b: json.dumps({"rowver": a, "rows": first}).encode(),
    }
    app = Answering(fake, pages)
    await run_once(store, app, fake)
    # Each page read once in the run, then caught up.
    assert app.reads == (["0", a] if cycle == "ignored" else ["0", a, b])
    # The page at b is the page at 0 again: kept once.
    assert await store.inbox_counts() == {"accepted": 2}


async def test_endless_fresh_rowvers_stop_at_the_page_bound(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake = site()
    row = fake.exported()[0]

    class Endless(dict[str, bytes]):
        def __contains__(self, key: object) -> bool:
            return True

        def __getitem__(self, key: str) -> bytes:
            n = int(key.removeprefix("n")) if key.startswith("n") else 0
            return json.dumps({"rowver": f"n{n + 1}", "rows": [row]}).encode()

    app = Answering(fake, Endless())
    await run_once(store, app, fake, max_pages=5)
    assert len(app.reads) == 5
    assert "the most one run reads (INVTRACK_VENDOR_MAX_PAGES)" in caplog.text


async def test_once_gives_up_on_an_unreachable_site(store: Store) -> None:
    fake = site()
    flaky = FlakyTransport(httpx.ASGITransport(app=fake))
    flaky.fail_next(httpx.ConnectTimeout, times=1_000_000)
    sm = SmPoller(config(fake, max_wait=0.3), store, Ingestor(store).submit, transport=flaky)
    with pytest.raises(Unreachable, match="ConnectTimeout"):
        async with sm:
            await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)
    # Once the site is back, the next run reads everything.
    flaky.failures.clear()
    sm = SmPoller(config(fake), store, Ingestor(store).submit, transport=flaky)
    async with sm:
        await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)
    await assert_webhook_balances(store, fake)
