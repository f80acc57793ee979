"""`ofs-poll` runs that end on their own: a `nextPage` that does not move or
comes back, endless fresh markers, an unreachable instance, answers too large
or dripped, tokens with tiny lifetimes, and the pace of requests. On SQLite
and on PostgreSQL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from adapters.ofs.client import OfsClient, OfsUnavailable
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.poller import OfsPoller
from adapters.puller import HEALTH_PREFIX, Health
from adapters.pulling import Unreachable
from adapters.store import Store
from adapters.tokens import FLOOR_SECONDS, renewal_time
from adapters.vendor_http import Pace
from api.services.group_commit import Ingestor
from tests.fakes.http import FlakyTransport, serving
from tests.fakes.ofs_server import EVENTS_PATH, FakeOfs
from tests.integration.test_ofs_poller import PAGE_01, config

GUARD = 60.0


@dataclass
class Scripted(FakeOfs):
    """A fake OFS whose events pages are scripted by marker: `script[marker]`
    is (items, nextPage); a marker not scripted gets an empty page at itself."""

    script: dict[str | None, tuple[list[dict[str, Any]], str | None]] = field(default_factory=dict)
    endless: bool = False
    """Every page has one event and a marker never given before."""

    def _events(self, query: dict[str, str]) -> dict[str, Any]:
        self._subscription(query.get("subscriptionId"))
        marker = query.get("page")
        if self.endless:
            n = int(marker.removeprefix("endless-")) if marker and marker[0] == "e" else 0
            event = {**PAGE_01["items"][6], "time": f"2026-11-20 10:{n % 60:02d}:00"}
            return {"found": True, "nextPage": f"endless-{n + 1}", "items": [event]}
        if marker not in self.script:
            return {"found": False, "nextPage": marker or "start", "items": []}
        items, next_page = self.script[marker]
        page: dict[str, Any] = {"found": bool(items), "items": items}
        if next_page is not None:
            page["nextPage"] = next_page
        return page

    def _created(self, subscription: Any) -> dict[str, Any]:
        return {"subscriptionId": subscription.subscription_id, "nextPage": "start"}

    def reads(self) -> list[str | None]:
        return [seen.query.get("page") for seen in self.seen if seen.path == EVENTS_PATH]


def oauth(fake: FakeOfs) -> OfsCredentials:
    return OfsCredentials(
        client_id=fake.client_id,
        instance=fake.instance,
        client_secret=fake.secret,
        grant="client_credentials",
    )


async def run_once(
    fake: FakeOfs,
    store: Store,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **kw: Any,
) -> OfsPoller:
    ofs = OfsPoller(
        config(**kw),
        store,
        Ingestor(store).submit,
        transport=transport or httpx.ASGITransport(app=fake),
    )
    async with ofs:
        await asyncio.wait_for(ofs.run(asyncio.Event(), once=True), GUARD)
    return ofs


EVENTS = PAGE_01["items"]


# --------------------------------------------------------------------------
# Cursors that do not move


@pytest.mark.parametrize("next_page", ["start", None], ids=["same marker", "no marker"])
async def test_a_marker_that_does_not_move_is_caught_up(
    store: Store, next_page: str | None
) -> None:
    fake = Scripted(script={"start": (EVENTS[:3], next_page)})
    await run_once(fake, store, credentials=oauth(fake))
    # The page is read once, its events stored, and the run ends.
    assert fake.reads() == ["start"]
    assert await store.count() == 3
    # One token for the whole run, not one per request.
    assert len(fake.oauth.grants) == 1


async def test_a_marker_that_comes_back_ends_the_run_each_page_read_once(
    store: Store,
) -> None:
    fake = Scripted(
        script={
            "start": (EVENTS[:2], "b"),
            "b": (EVENTS[2:4], "c"),
            "c": (EVENTS[4:6], "start"),
        }
    )
    ofs = await run_once(fake, store)
    assert fake.reads() == ["start", "b", "c"]
    assert await store.count() == 6
    assert await store.inbox_counts() == {"accepted": 3}
    saved = await store.cursor(ofs.name)
    assert saved is not None
    assert saved.state["next_page"] == "c"

    # The next run reads the same cycle once more and stores nothing new.
    fake.seen.clear()
    await run_once(fake, store)
    assert sorted(str(page) for page in fake.reads()) == ["b", "c", "start"]
    assert await store.count() == 6


async def test_endless_fresh_markers_stop_at_the_page_bound(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake = Scripted(endless=True)
    await run_once(fake, store, max_pages=7)
    assert len(fake.reads()) == 7
    assert "the most one run reads (INVTRACK_VENDOR_MAX_PAGES)" in caplog.text


@pytest.mark.parametrize("stated", [0, 1, None], ids=["0 s", "1 s", "none"])
async def test_tokens_are_reused_whatever_lifetime_the_answer_states(
    store: Store, stated: int | None
) -> None:
    fake = Scripted(
        script={"start": (EVENTS[:1], "b"), "b": (EVENTS[1:2], "c"), "c": (EVENTS[2:3], "c")}
    )
    fake.oauth.stated_lifetime = stated
    fake.oauth.omit_lifetime = stated is None
    await run_once(fake, store, credentials=oauth(fake))
    assert len(fake.reads()) == 3
    assert len(fake.oauth.grants) == 1


def test_renewal_has_a_floor_and_a_default() -> None:
    assert renewal_time(1000.0, 0) == 1000.0 + FLOOR_SECONDS
    assert renewal_time(1000.0, -5) == 1000.0 + FLOOR_SECONDS
    assert renewal_time(1000.0, None) == 1000.0 + 3600 - 60
    assert renewal_time(1000.0, float("nan")) == 1000.0 + 3600 - 60
    assert renewal_time(1000.0, 600) == 1000.0 + 600 - 60


# --------------------------------------------------------------------------
# An instance that cannot be reached


async def test_once_gives_up_on_an_unreachable_instance(store: Store) -> None:
    flaky = FlakyTransport(httpx.ASGITransport(app=FakeOfs()))
    flaky.fail_next(httpx.ConnectError, times=10_000)
    with pytest.raises(Unreachable, match=r"could not be read for 0\.3 s"):
        await run_once(FakeOfs(), store, transport=flaky, max_wait=0.3, max_backoff=0.05)
    (health,) = [Health.of(cursor) for cursor in await store.cursors(HEALTH_PREFIX)]
    assert health.failing_since is not None
    assert health.last_error is not None
    assert "ConnectError" in health.last_error


async def test_the_long_running_poller_keeps_trying_and_says_so(store: Store) -> None:
    fake = FakeOfs()
    flaky = FlakyTransport(httpx.ASGITransport(app=fake))
    flaky.fail_next(httpx.ConnectError, times=1_000_000)
    ofs = OfsPoller(config(max_wait=0.01), store, Ingestor(store).submit, transport=flaky)
    stop = asyncio.Event()
    task = asyncio.create_task(ofs.run(stop))
    failing = await _eventually(lambda: _health(store), lambda h: h.failing_since is not None)
    assert failing.last_error is not None
    assert "ConnectError" in failing.last_error
    # It does not give up (max_wait is only for --once): it reads once the network is back.
    assert not task.done()
    flaky.failures.clear()
    await asyncio.wait_for(fake.subscribed.wait(), GUARD)
    await _eventually(lambda: _health(store), lambda h: h.failing_since is None)
    stop.set()
    await asyncio.wait_for(task, GUARD)


async def _health(store: Store) -> Health | None:
    found = await store.cursors(HEALTH_PREFIX)
    return Health.of(found[0]) if found else None


async def _eventually(
    read: Callable[[], Awaitable[Health | None]], wanted: Callable[[Health], bool]
) -> Health:
    """Poll a condition with a deadline (no timing is asserted)."""
    async with asyncio.timeout(GUARD):
        while True:
            found = await read()
            if found is not None and wanted(found):
                return found
            await asyncio.sleep(0.01)


# --------------------------------------------------------------------------
# Answers too large or too slow


def _endless(chunk: bytes, pause: float, *, only: str | None = EVENTS_PATH) -> Any:
    """An ASGI app answering `only` (every path when None) with a body that
    never ends until the client goes away; other paths go to a fake OFS."""
    fake = FakeOfs()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or (only is not None and scope["path"] != only):
            await fake(scope, receive, send)
            return
        gone = asyncio.Event()

        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            gone.set()

        watcher = asyncio.create_task(watch())
        await send({"type": "http.response.start", "status": 200, "headers": []})
        while not gone.is_set():
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(pause)
        watcher.cancel()

    return app


@pytest.fixture
async def flood() -> AsyncIterator[str]:
    async with serving(_endless(b" " * 65536, 0)) as base_url:
        yield base_url


@pytest.fixture
async def drip() -> AsyncIterator[str]:
    async with serving(_endless(b" ", 0.05)) as base_url:
        yield base_url


async def test_an_endless_answer_is_cut_at_the_cap(store: Store, flood: str) -> None:
    with pytest.raises(Unreachable, match="over the cap of 1,048,576"):
        await run_once(
            FakeOfs(),
            store,
            base_url=flood,
            transport=httpx.AsyncHTTPTransport(),
            max_bytes=1024 * 1024,
            max_wait=1.0,
        )
    assert await store.inbox_counts() == {}


async def test_a_dripped_answer_is_cut_at_the_deadline(store: Store, drip: str) -> None:
    with pytest.raises(Unreachable, match=r"did not arrive whole within 0\.5 s"):
        await run_once(
            FakeOfs(),
            store,
            base_url=drip,
            transport=httpx.AsyncHTTPTransport(),
            deadline=0.5,
            max_wait=2.0,
        )


async def test_a_token_answer_over_its_cap_is_refused_unread() -> None:
    fake = FakeOfs()
    async with serving(_endless(b" " * 4096, 0, only=None)) as base_url:
        client = OfsClient(base_url, oauth(fake).auth(base_url))
        async with asyncio.timeout(GUARD):
            with pytest.raises(OfsUnavailable, match="over the cap of 65,536"):
                await client.get("/rest/ofscCore/v1/inventories/1")
        await client.aclose()


# --------------------------------------------------------------------------
# Pace


async def test_requests_to_an_instance_are_paced() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    fake = FakeOfs()
    fake.inventory.put(inventoryId=1, status="resource", resourceId="T")
    client = OfsClient(
        "http://ofs.test",
        OfsCredentials(token=fake.token).auth("http://ofs.test"),
        pace=Pace(3, window=1.0, clock=lambda: now[0], sleep=sleep),
        transport=httpx.ASGITransport(app=fake),
    )
    for path in ["/rest/ofscCore/v1/inventories/1", "/rest/ofscCore/v1/resources/T/inventories"]:
        for _ in range(4):
            await client.get(path, {"limit": 100} if "resources" in path else None)
    await client.aclose()
    # Eight requests at three a second, whatever path they go to: two waits.
    assert len(waits) == 2
    assert now[0] >= 2.0
