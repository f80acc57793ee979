"""The OFS Events API poller against a fake OFS, on SQLite and on PostgreSQL.

Every event OFS serves is stored exactly once, whatever happens to the poller
(killed, failing commits, expired subscriptions, storms of errors), and the
pools come out as the shared OFS fixtures say.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.ofs.client import OfsRejected
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.poller import (
    DETAIL_FIELDS,
    INVENTORY_EVENTS,
    OfsCursor,
    OfsPoller,
    OfsPollerConfig,
)
from adapters.pulling import Submit, backoff_delay, retry_after_seconds
from adapters.store import Delivery, Receipt, Store
from adapters.store.queries import ItemFilter
from api.services.group_commit import Ingestor
from projections.items import item_of
from projections.queries import Queries
from tests.fakes.http import FlakyTransport, serving
from tests.fakes.ofs_server import EVENTS_PATH, SUBSCRIPTIONS_PATH, FakeOfs

OFS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ofs"
PAGE_01 = json.loads(
    (OFS_FIXTURES / "01_exchange_and_non_serialized_install.page.json").read_text()
)
PAGE_02 = json.loads((OFS_FIXTURES / "02_undo_update_delete.page.json").read_text())
EXPECTED = json.loads((OFS_FIXTURES / "expected.json").read_text())
BASE_URL = "http://ofs.test"
GUARD = 60.0
"""Seconds before a test that waits for the poller gives up (a hang, not a timing check)."""


async def saved_cursor(store: Store, name: str) -> OfsCursor:
    found = await store.cursor(name)
    assert found is not None, "no cursor"
    return OfsCursor.of(found)


BASIC = OfsCredentials(
    client_id="invtrack-app", instance="acme-test", client_secret="basic-secret-value"
)


def config(base_url: str = BASE_URL, **overrides: Any) -> OfsPollerConfig:
    settings: dict[str, Any] = {
        "base_url": base_url,
        "credentials": BASIC,
        "idle_seconds": 0.001,
        "min_backoff": 0.001,
        "max_backoff": 0.005,
        "max_retry_after": 0.01,
        "timeout": 5.0,
        "name": "ofs-test",
    }
    return OfsPollerConfig(**(settings | overrides))


def poller(
    fake: FakeOfs,
    store: Store,
    submit: Submit,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    **overrides: Any,
) -> OfsPoller:
    return OfsPoller(
        config(**overrides),
        store,
        submit,
        transport=transport or httpx.ASGITransport(app=fake),
    )


async def catch_up(fake: FakeOfs, store: Store, submit: Submit) -> None:
    """A fresh poller reads until OFS has nothing newer, subscribing on its first run.

    Tests publish after it: OFS collects a subscription's events from its creation.
    """
    async with poller(fake, store, submit) as ofs:
        await drain(ofs, fake)


async def drain(poller: OfsPoller, fake: FakeOfs) -> None:
    """Poll until OFS has nothing newer."""
    fake.caught_up.clear()
    for _ in range(1000):
        await poller.poll_once()
        if fake.caught_up.is_set():
            return
    pytest.fail("the poller never caught up")


async def state(store: Store, expected: dict[str, Any]) -> dict[str, Any]:
    """The projection, shaped like the entries of expected.json."""
    queries = Queries(store)

    async def quantities(where: ItemFilter) -> dict[str, dict[str, str]]:
        page = await queries.list_items(where, after=None, limit=100)
        pools: dict[str, dict[str, str]] = {}
        for item in page.items:
            pools.setdefault(str(item.pool), {})[item.key] = str(item.quantity)
        return pools

    actual: dict[str, Any] = {}
    for name, want in expected.items():
        kind, _, rest = name.partition("/")
        owner = rest.split(" ")[0]
        if kind == "resources":
            pools = await quantities(
                ItemFilter(owner_kind="resource", owner=owner, pools=("resource",))
            )
            actual[name] = pools.get("resource", {})
        elif kind == "customers":
            pools = await quantities(
                ItemFilter(owner_kind="customer", owner=owner, pools=("customer",))
            )
            actual[name] = pools.get("customer", {})
        elif kind == "activities":
            pools = await quantities(ItemFilter(owner_kind="activity", owner=owner))
            actual[name] = {pool: pools.get(pool, {}) for pool in want}
        else:
            row = await queries.item(owner)
            assert row is not None, owner
            item = item_of(row)
            fields = {
                "pool": item.pool,
                "exchangedInventoryId": item.exchanged_inventory_id,
                "properties": item.properties,
                "deleted": item.deleted,
            }
            actual[name] = {field: fields[field] for field in want}
    return actual


@pytest.fixture
def fake() -> FakeOfs:
    return FakeOfs()


@pytest.fixture
def ingestor(store: Store) -> Ingestor:
    return Ingestor(store)


# --------------------------------------------------------------------------
# The fixtures, polled


async def test_fixture_pages_polled_give_the_expected_pools(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    async with poller(fake, store, ingestor.submit) as ofs:
        await drain(ofs, fake)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)
        assert await state(store, EXPECTED["after 01"]) == EXPECTED["after 01"]

        fake.publish_page(PAGE_02)
        await drain(ofs, fake)
        assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]

    assert await store.count() == len(PAGE_01["items"]) + len(PAGE_02["items"])
    pages = await store.inbox_entries("accepted")
    assert [(entry.source, entry.kind, entry.sender) for entry in pages] == [
        ("ofs", "events-api", "ofs-poll")
    ] * 2
    assert [json.loads(entry.body)["items"] for entry in pages] == [
        PAGE_01["items"],
        PAGE_02["items"],
    ]
    (subscription,) = fake.subscriptions.values()
    assert subscription.config == [
        {"events": list(INVENTORY_EVENTS), "fields": list(DETAIL_FIELDS)}
    ]
    assert subscription.title == "invtrack"
    cursor = await saved_cursor(store, ofs.name)
    assert cursor.subscription_id == subscription.subscription_id
    assert cursor.next_page == f"1700000000000-{fake.head}"
    assert cursor.last_event_time == "2026-11-20 17:00:00"


async def test_small_pages_each_commit_with_their_cursor(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    deliveries: list[Delivery] = []

    async def submit(delivery: Delivery) -> Receipt:
        deliveries.append(delivery)
        return await ingestor.submit(delivery)

    async with poller(fake, store, submit, limit=4) as ofs:
        await drain(ofs, fake)

    pages = [d for d in deliveries if d.inbox is not None]
    assert [len(d.facts) for d in pages] == [4, 4, 4, 1]
    assert all(d.cursor is not None and d.cursor.state["next_page"] for d in pages)
    assert await store.count() == 13
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]


async def test_an_empty_page_only_moves_the_cursor(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    async with poller(fake, store, ingestor.submit) as ofs:
        assert await ofs.poll_once() == 0
        assert await ofs.poll_once() == 0
    assert await store.count() == 0
    assert await store.inbox_counts() == {}
    cursor = await saved_cursor(store, ofs.name)
    assert cursor.subscription_id is not None
    assert cursor.last_event_time is None


async def test_bearer_token_works_like_basic(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    async with OfsPoller(
        OfsPollerConfig(
            base_url=BASE_URL, credentials=OfsCredentials(token=fake.token), idle_seconds=0.001
        ),
        store,
        ingestor.submit,
        transport=httpx.ASGITransport(app=fake),
    ) as ofs:
        await drain(ofs, fake)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)
    assert await store.count() == 9


# --------------------------------------------------------------------------
# Crashes and restarts


class Crashes:
    """A submit that fails at random, before its commit or after it."""

    def __init__(self, submit: Submit, rng: random.Random, rate: float) -> None:
        self.submit = submit
        self.rng = rng
        self.rate = rate

    async def __call__(self, delivery: Delivery) -> Receipt:
        if self.rng.random() < self.rate:
            raise ConnectionError("the database went away before the commit")
        receipt = await self.submit(delivery)
        if self.rng.random() < self.rate:
            raise ConnectionError("the process died after the commit")
        return receipt


def extra_events(count: int) -> list[dict[str, Any]]:
    """Quantity updates of a few cable records, one second apart."""
    start = datetime(2026, 11, 21, 8, 0, tzinfo=UTC)
    return [
        {
            "eventType": "resourceInventoryUpdated",
            "time": (start + timedelta(seconds=n)).strftime("%Y-%m-%d %H:%M:%S"),
            "inventoryDetails": {"inventoryId": 31000 + n % 4, "status": "resource"},
            "inventoryChanges": {
                "inventoryId": 31000 + n % 4,
                "resourceId": "TECH_099",
                "quantity": float(Decimal(n) / 4),
            },
        }
        for n in range(count)
    ]


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_killed_at_random_points_every_event_is_stored_once(
    store: Store, fake: FakeOfs, seed: int
) -> None:
    rng = random.Random(seed)
    ingestor = Ingestor(store)
    await ingestor.start()
    extra = extra_events(30)
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    fake.publish(*extra)
    try:
        for _ in range(200):
            if fake.caught_up.is_set():
                break
            submit = Crashes(ingestor.submit, rng, rate=0.25)
            ofs = poller(fake, store, submit, limit=3)
            task = asyncio.create_task(ofs.run(asyncio.Event()))
            await asyncio.sleep(rng.uniform(0, 0.02))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with poller(fake, store, ingestor.submit, limit=3) as ofs:
            await drain(ofs, fake)
    finally:
        await ingestor.stop()

    assert await store.count() == 13 + len(extra)
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
    page = await Queries(store).list_items(
        ItemFilter(owner_kind="resource", owner="TECH_099"), after=None, limit=100
    )
    assert {item.key: item.quantity for item in page.items} == {
        f"ofs-{31000 + n % 4}": Decimal(n) / 4 for n in range(26, 30)
    }
    accepted = await store.inbox_entries("accepted", limit=1000)
    assert len({entry.message_id for entry in accepted}) == len(accepted)


async def test_stop_finishes_the_commit_in_flight(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    stop = asyncio.Event()

    async def submit(delivery: Delivery) -> Receipt:
        if delivery.inbox is not None:
            stop.set()
            await asyncio.sleep(0)
        return await ingestor.submit(delivery)

    ofs = poller(fake, store, submit)
    await asyncio.wait_for(ofs.run(stop), GUARD)
    assert await store.count() == 9
    cursor = await saved_cursor(store, ofs.name)
    assert cursor.last_event_time == "2026-11-20 09:55:00"


async def test_stop_abandons_a_slow_answer(store: Store, ingestor: Ingestor, fake: FakeOfs) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    await catch_up(fake, store, ingestor.submit)
    fake.stall(GUARD * 2, path=EVENTS_PATH)
    fake.publish_page(PAGE_02)
    stop = asyncio.Event()
    task = asyncio.create_task(poller(fake, store, ingestor.submit).run(stop))
    # Stopped while it waits on the stalled answer.
    await asyncio.wait_for(fake.holding.wait(), GUARD)
    assert fake.held == [EVENTS_PATH]
    stop.set()
    await asyncio.wait_for(task, GUARD)
    assert await store.count() == 9


# --------------------------------------------------------------------------
# Failures


async def test_a_storm_of_errors_is_survived(
    store: Store, ingestor: Ingestor, fake: FakeOfs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="invtrack.ofs")
    fake.fail(503, times=3, path=SUBSCRIPTIONS_PATH)
    fake.fail(429, times=2, retry_after="1")
    fake.fail(500, times=4)
    fake.fail(502)
    fake.fail(504)
    fake.fail(429, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    flaky = FlakyTransport(httpx.ASGITransport(app=fake))
    flaky.fail_next(httpx.ConnectError, times=2)
    flaky.fail_next(httpx.ReadTimeout)
    flaky.fail_next(httpx.RemoteProtocolError)
    stop = asyncio.Event()
    task = asyncio.create_task(
        poller(fake, store, ingestor.submit, transport=flaky, limit=5).run(stop)
    )
    await asyncio.wait_for(fake.subscribed.wait(), GUARD)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    await asyncio.wait_for(fake.caught_up.wait(), GUARD)
    stop.set()
    await asyncio.wait_for(task, GUARD)

    assert await store.count() == 13
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
    assert not fake.faults
    assert not flaky.failures
    assert len(fake.subscriptions) == 1
    assert "answered 503" in caplog.text
    assert "ConnectError" in caplog.text
    assert "retry 1 in" in caplog.text
    assert "basic-secret-value" not in caplog.text


async def test_retry_after_is_honoured(
    store: Store, ingestor: Ingestor, fake: FakeOfs, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="invtrack.ofs")
    fake.fail(429, retry_after="1")
    stop = asyncio.Event()
    ofs = OfsPoller(
        config(min_backoff=0.0, max_backoff=0.0, max_retry_after=0.02),
        store,
        ingestor.submit,
        transport=httpx.ASGITransport(app=fake),
        draw=lambda: 0.0,
    )
    task = asyncio.create_task(ofs.run(stop))
    await asyncio.wait_for(fake.caught_up.wait(), GUARD)
    stop.set()
    await asyncio.wait_for(task, GUARD)
    # Jitter alone would wait 0 s; Retry-After (capped by max_retry_after) wins.
    assert "retry 1 in 0.02 s" in caplog.text


async def test_failed_commits_read_the_same_page_again(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    failures = iter([True, False, True, True, False])
    requested: list[str | None] = []

    async def submit(delivery: Delivery) -> Receipt:
        if delivery.inbox is not None:
            requested.append(delivery.cursor.state["next_page"] if delivery.cursor else None)
            if next(failures, False):
                raise ConnectionError("database unavailable")
        return await ingestor.submit(delivery)

    stop = asyncio.Event()
    task = asyncio.create_task(poller(fake, store, submit, limit=7).run(stop))
    await asyncio.wait_for(fake.caught_up.wait(), GUARD)
    stop.set()
    await asyncio.wait_for(task, GUARD)
    assert requested == ["1700000000000-7"] * 2 + ["1700000000000-13"] * 3
    assert await store.count() == 13


async def test_refused_credentials_stop_the_poller(
    store: Store, ingestor: Ingestor, fake: FakeOfs, caplog: pytest.LogCaptureFixture
) -> None:
    wrong = OfsCredentials(
        client_id="invtrack-app", instance="acme-test", client_secret="wrong-secret-value"
    )
    ofs = poller(fake, store, ingestor.submit, credentials=wrong)
    with pytest.raises(OfsRejected) as refused:
        await asyncio.wait_for(ofs.run(asyncio.Event()), GUARD)
    assert refused.value.status == 401
    assert "wrong-secret-value" not in caplog.text
    assert "wrong-secret-value" not in repr(ofs.config)


async def test_an_untranslatable_event_is_quarantined_alone_and_passed(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish(
        {
            "eventType": "inventoryInstalled",
            "time": "2026-11-19 10:00:00",
            "inventoryChanges": {"status": "installed"},
        }
    )
    async with poller(fake, store, ingestor.submit) as ofs:
        await drain(ofs, fake)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)

    (kept,) = await store.inbox_entries("quarantined")
    assert kept.reason is not None
    assert kept.reason.startswith(
        "items[0].inventoryChanges.inventoryId: an inventory event needs an integer inventoryId"
    )
    assert json.loads(kept.body)["time"] == "2026-11-19 10:00:00"
    assert await store.count() == 9
    assert await state(store, EXPECTED["after 01"]) == EXPECTED["after 01"]


async def test_an_answer_that_is_not_a_page_is_kept_and_read_again(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    answers = 0

    async def garbled(scope: Any, receive: Any, send: Any) -> None:
        nonlocal answers
        if scope["path"] == EVENTS_PATH and answers == 0:
            answers += 1
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"<html>proxy</html>"})
            return
        await fake(scope, receive, send)

    stop = asyncio.Event()
    ofs = poller(fake, store, ingestor.submit, transport=httpx.ASGITransport(app=garbled))
    task = asyncio.create_task(ofs.run(stop))
    await asyncio.wait_for(fake.caught_up.wait(), GUARD)
    stop.set()
    await asyncio.wait_for(task, GUARD)
    assert await store.inbox_counts() == {"accepted": 1, "quarantined": 1}
    (kept,) = await store.inbox_entries("quarantined")
    assert kept.body == b"<html>proxy</html>"
    assert await store.count() == 9


# --------------------------------------------------------------------------
# A real socket


async def test_over_a_real_socket_with_slow_answers(
    store: Store, ingestor: Ingestor, fake: FakeOfs
) -> None:
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    fake.stall(GUARD, times=2, path=EVENTS_PATH)
    async with serving(fake) as base_url:
        ofs = OfsPoller(config(base_url, timeout=0.2, limit=6), store, ingestor.submit)
        stop = asyncio.Event()
        task = asyncio.create_task(ofs.run(stop))
        await asyncio.wait_for(fake.caught_up.wait(), GUARD)
        stop.set()
        await asyncio.wait_for(task, GUARD)
    assert await store.count() == 13
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
    assert not fake.faults


# --------------------------------------------------------------------------
# Pure parts


def test_backoff_is_full_jitter_capped_and_never_before_retry_after() -> None:
    assert backoff_delay(1, base=1.0, cap=60.0, draw=lambda: 1.0) == 1.0
    assert backoff_delay(4, base=1.0, cap=60.0, draw=lambda: 1.0) == 8.0
    assert backoff_delay(40, base=1.0, cap=60.0, draw=lambda: 1.0) == 60.0
    assert backoff_delay(4, base=1.0, cap=60.0, draw=lambda: 0.5) == 4.0
    assert backoff_delay(4, base=1.0, cap=60.0, draw=lambda: 0.0) == 0.0
    assert backoff_delay(4, base=1.0, cap=60.0, retry_after=30.0, draw=lambda: 0.5) == 30.0


def test_retry_after_reads_seconds_and_dates() -> None:
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert retry_after_seconds("120") == 120.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert retry_after_seconds("Wed, 21 Oct 2015 07:26:00 GMT", now) == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("nan") is None


def test_config_needs_credentials_and_a_sane_limit() -> None:
    with pytest.raises(ValueError, match="token"):
        OfsCredentials(client_id="a", instance="b")
    with pytest.raises(ValueError, match="limit"):
        OfsPollerConfig(base_url=BASE_URL, credentials=OfsCredentials(token="t"), limit=1001)
    named = OfsPollerConfig(
        base_url=BASE_URL + "/",
        credentials=OfsCredentials(client_id="app", instance="acme", client_secret="x"),
    )
    assert named.cursor_name == "http://ofs.test#app@acme"


# --------------------------------------------------------------------------
# The fake keeps the vendor's rules


@pytest.fixture
async def ofs_http(fake: FakeOfs) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=fake),
        base_url=BASE_URL,
        auth=httpx.BasicAuth(f"{fake.client_id}@{fake.instance}", fake.secret),
    ) as client:
        yield client


async def test_fake_follows_the_vendor_rules(fake: FakeOfs, ofs_http: httpx.AsyncClient) -> None:
    get = ofs_http.get
    config = {"subscriptionConfig": [{"events": ["inventoryInstalled"]}], "subscriptionTitle": "t"}
    created = (await ofs_http.post(SUBSCRIPTIONS_PATH, json=config)).json()
    again = (await ofs_http.post(SUBSCRIPTIONS_PATH, json=config)).json()
    assert again["subscriptionId"] == created["subscriptionId"]
    sub = created["subscriptionId"]
    both = {"events": ["inventoryInstalled"], **config}
    assert (await ofs_http.post(SUBSCRIPTIONS_PATH, json=both)).status_code == 400
    unknown = {"events": ["activityNompleted"]}
    assert (await ofs_http.post(SUBSCRIPTIONS_PATH, json=unknown)).status_code == 400

    fake.publish_page(PAGE_01)
    oldest = (await get(EVENTS_PATH, params={"subscriptionId": sub, "limit": 1})).json()
    assert [item["time"] for item in oldest["items"]] == ["2026-11-20 09:31:07"]
    repeat = {"subscriptionId": sub, "page": "lastRequested"}
    assert (await get(EVENTS_PATH, params=repeat)).json()["items"] == oldest["items"] + [
        PAGE_01["items"][5]
    ]
    since = (
        await get(EVENTS_PATH, params={"subscriptionId": sub, "since": "2026-11-20 09:35:00"})
    ).json()
    assert since == {"nextPage": "1700000000000-5"}
    mixed = {"subscriptionId": sub, "page": since["nextPage"], "since": "2026-11-20 09:35:00"}
    assert (await get(EVENTS_PATH, params=mixed)).status_code == 400
    assert (
        await get(EVENTS_PATH, params={"subscriptionId": sub, "limit": 1001})
    ).status_code == 400
    assert (await get(EVENTS_PATH, params={"subscriptionId": "nope"})).status_code == 404

    listed = (await get(SUBSCRIPTIONS_PATH)).json()
    assert [s["subscriptionId"] for s in listed] == [sub]
    assert (await get(f"{SUBSCRIPTIONS_PATH}/{sub}")).json()["subscriptionTitle"] == "t"
    assert (await ofs_http.delete(f"{SUBSCRIPTIONS_PATH}/{sub}")).status_code == 204
    assert (await get(EVENTS_PATH, params={"subscriptionId": sub})).status_code == 404

    anonymous = httpx.AsyncClient(transport=httpx.ASGITransport(app=fake), base_url=BASE_URL)
    async with anonymous:
        assert (await anonymous.get(SUBSCRIPTIONS_PATH)).status_code == 401
        bearer = {"Authorization": f"Bearer {fake.token}"}
        assert (await anonymous.get(SUBSCRIPTIONS_PATH, headers=bearer)).status_code == 200
