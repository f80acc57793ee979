"""The ServiceMobility Export API poller against a fake site, on SQLite and on
PostgreSQL.

Every row the site exports changes balances exactly once, as the same rows do
through the webhook, whatever happens to the poller (killed, failing commits,
storms of errors, expired tokens) and whichever channel a row took first.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from adapters.pulling import Submit
from adapters.servicemobility_export.auth import SmCredentials
from adapters.servicemobility_export.client import EXPORT_PATH, SmRejected
from adapters.servicemobility_export.poller import SmCursor, SmPoller, SmPollerConfig
from adapters.servicemobility_export.translate import EXPORT_KIND
from adapters.store import Delivery, InboxEntry, Receipt, Store
from api.services.group_commit import Ingestor
from api.services.payloads import read_servicemobility
from api.services.replay import replay_quarantine
from tests.fakes.http import FlakyTransport
from tests.fakes.servicemobility_server import FakeServiceMobility
from tests.harness.servicemobility import (
    balances,
    ledger_lines,
    quantities,
    recorded_usages,
    webhook_items,
    webhook_rows,
)
from tests.integration.test_ofs_poller import Crashes
from tests.strategies import encode, sm_envelope

BASE_URL = "http://sm.test"
GUARD = 60.0
"""Seconds before a test that waits for the poller gives up (a hang, not a timing check)."""


def config(fake: FakeServiceMobility, **overrides: Any) -> SmPollerConfig:
    settings: dict[str, Any] = {
        "base_url": BASE_URL,
        "credentials": SmCredentials(username=fake.username, password=fake.password),
        "idle_seconds": 0.001,
        "min_backoff": 0.001,
        "max_backoff": 0.005,
        "max_retry_after": 0.01,
        "timeout": 5.0,
        "limit": 2,
    }
    return SmPollerConfig(**(settings | overrides))


def poller(
    fake: FakeServiceMobility,
    store: Store,
    submit: Submit,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    start_at: str | None = None,
    **overrides: Any,
) -> SmPoller:
    return SmPoller(
        config(fake, **overrides),
        store,
        submit,
        start_at=start_at,
        transport=transport or httpx.ASGITransport(app=fake),
    )


async def pull(fake: FakeServiceMobility, store: Store, submit: Submit, **overrides: Any) -> None:
    """A fresh poller pulls until the site has nothing newer."""
    async with poller(fake, store, submit, **overrides) as sm:
        await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)


async def assert_webhook_balances(store: Store, fake: FakeServiceMobility) -> None:
    """The store holds every exported row once: the balances the webhook gives."""
    rows = webhook_rows(fake.exported())
    expected = quantities(webhook_items(rows))
    assert await balances(store, sorted(expected)) == expected
    assert await store.count() == ledger_lines(rows)


@pytest.fixture
def fake() -> FakeServiceMobility:
    site = FakeServiceMobility()
    site.publish(*recorded_usages())
    return site


@pytest.fixture
def ingestor(store: Store) -> Ingestor:
    return Ingestor(store)


# --------------------------------------------------------------------------
# Pulling


async def test_pulled_rows_give_the_webhook_balances(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    await pull(fake, store, ingestor.submit)
    await assert_webhook_balances(store, fake)
    pages = await store.inbox_entries("accepted")
    assert {(page.source, page.kind, page.sender) for page in pages} == {
        ("servicemobility", EXPORT_KIND, "sm-poll")
    }
    assert [row for page in pages for row in json.loads(page.body)["rows"]] == fake.exported()
    cursor = await store.cursor(config(fake).cursor_name)
    assert cursor is not None
    assert SmCursor.of(cursor, "0").rowver == fake.rows[-1].rowver
    reads = [seen.query for seen in fake.seen if seen.path == EXPORT_PATH]
    assert reads[0] == {"rowver": "0", "limit": "2", "src": "mob"}
    assert reads[-1]["rowver"] == fake.rows[-1].rowver


async def test_each_page_commits_with_its_cursor_and_new_rows_follow(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    deliveries: list[Delivery] = []

    async def submit(delivery: Delivery) -> Receipt:
        deliveries.append(delivery)
        return await ingestor.submit(delivery)

    await pull(fake, store, submit)
    pages = [d for d in deliveries if d.inbox is not None]
    # Six rows, two a page: each page's cursor is its last row's rowver.
    assert len(fake.rows) == 6
    assert [d.cursor.state["rowver"] if d.cursor else None for d in pages] == [
        fake.rows[1].rowver,
        fake.rows[3].rowver,
        fake.rows[5].rowver,
    ]
    fake.publish(fake.rows[0].usage | {"ModifiedUTC": "2026-11-21T08:00:00Z"})
    await pull(fake, store, ingestor.submit)
    await assert_webhook_balances(store, fake)


async def test_sources_keep_their_own_cursors(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    portal = recorded_usages()[0] | {"RefModule": "1008", "RefObjID": "VAN-07", "UserID": "admin"}
    fake.publish(portal, src="api")
    await pull(fake, store, ingestor.submit, src="mob")
    await pull(fake, store, ingestor.submit, src="api")
    mob = await store.cursor(config(fake, src="mob").cursor_name)
    api = await store.cursor(config(fake, src="api").cursor_name)
    assert mob is not None
    assert api is not None
    assert mob.state == {"rowver": fake.rows[-2].rowver}
    assert api.state == {"rowver": fake.rows[-1].rowver}
    everything = webhook_rows(fake.exported("mob") + fake.exported("api"))
    expected = quantities(webhook_items(everything))
    assert await balances(store, sorted(expected)) == expected


async def test_re_extraction_changes_nothing(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    await pull(fake, store, ingestor.submit)
    stored = await store.count()
    await pull(fake, store, ingestor.submit, start_at="0", limit=3)
    assert await store.count() == stored
    await assert_webhook_balances(store, fake)
    cursor = await store.cursor(config(fake).cursor_name)
    assert cursor is not None
    assert cursor.state == {"rowver": fake.rows[-1].rowver}


@pytest.mark.parametrize("webhook_first", [True, False])
async def test_a_row_counts_once_by_webhook_and_by_export(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility, webhook_first: bool
) -> None:
    rows = webhook_rows(fake.exported())

    async def by_webhook(source: str) -> Receipt:
        body = encode(sm_envelope(f"from-{source}", rows, source=source))
        translated = read_servicemobility("InventoryUsage", body, "sender")
        return await ingestor.submit(
            Delivery(
                inbox=InboxEntry(
                    source="servicemobility",
                    kind="InventoryUsage",
                    body=body,
                    received_at=datetime.now(UTC),
                    message_id=translated.message_id,
                ),
                facts=translated.facts,
                metadata=translated.metadata,
            )
        )

    if webhook_first:
        assert (await by_webhook("webhook-a")).appended == ledger_lines(rows)
        await pull(fake, store, ingestor.submit)
    else:
        await pull(fake, store, ingestor.submit)
        assert (await by_webhook("webhook-a")).appended == 0
    assert (await by_webhook("webhook-b")).appended == 0
    await assert_webhook_balances(store, fake)


# --------------------------------------------------------------------------
# Crashes, restarts, stops


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_killed_at_random_points_every_row_is_stored_once(
    store: Store, fake: FakeServiceMobility, seed: int
) -> None:
    rng = random.Random(seed)
    ingestor = Ingestor(store)
    await ingestor.start()
    for n in range(12):
        fake.publish(recorded_usages()[n % 3] | {"ModifiedUTC": f"2026-11-22T08:{n:02d}:00Z"})
    try:
        for _ in range(200):
            if fake.caught_up.is_set():
                break
            submit = Crashes(ingestor.submit, rng, rate=0.25)
            sm = poller(fake, store, submit, limit=rng.randint(1, 3))
            task = asyncio.create_task(sm.run(asyncio.Event()))
            await asyncio.sleep(rng.uniform(0, 0.02))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await pull(fake, store, ingestor.submit)
    finally:
        await ingestor.stop()
    await assert_webhook_balances(store, fake)
    accepted = await store.inbox_entries("accepted", limit=1000)
    assert len({entry.message_id for entry in accepted}) == len(accepted)


async def test_stop_finishes_the_commit_in_flight(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    stop = asyncio.Event()

    async def submit(delivery: Delivery) -> Receipt:
        if delivery.inbox is not None:
            stop.set()
            await asyncio.sleep(0)
        return await ingestor.submit(delivery)

    sm = poller(fake, store, submit)
    await asyncio.wait_for(sm.run(stop), GUARD)
    cursor = await store.cursor(sm.name)
    assert cursor == SmCursor(name=sm.name, rowver=fake.rows[1].rowver).saved()
    assert await store.inbox_counts() == {"accepted": 1}


# --------------------------------------------------------------------------
# Bad pages, failures, limits


async def test_an_untranslatable_page_is_quarantined_and_passed(
    store: Store, ingestor: Ingestor
) -> None:
    fake = FakeServiceMobility()
    usages = recorded_usages()
    fake.publish(
        usages[0], {key: value for key, value in usages[1].items() if key != "ModifiedUTC"}
    )
    fake.publish(*usages[2:])
    await pull(fake, store, ingestor.submit)
    (kept,) = await store.inbox_entries("quarantined")
    assert kept.reason == "$.rows[1].InventoryUsage: Object missing required field `ModifiedUTC`"
    assert kept.kind == EXPORT_KIND
    assert json.loads(kept.body)["rows"] == fake.exported()[:2]
    good = webhook_rows(fake.exported()[2:])
    assert await store.count() == ledger_lines(good)
    # Replaying reads the kept page as the poller did: still refused, same reason.
    replayed = await replay_quarantine(store)
    assert replayed.reasons == {kept.id: kept.reason}


async def test_an_answer_that_is_not_a_page_is_kept_and_read_again(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    answers = 0

    async def garbled(scope: Any, receive: Any, send: Any) -> None:
        nonlocal answers
        if scope["path"] == EXPORT_PATH and answers == 0:
            answers += 1
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"<html>proxy</html>"})
            return
        await fake(scope, receive, send)

    # The answer is kept, and the run stops as when caught up; the next one reads on.
    await pull(fake, store, ingestor.submit, transport=httpx.ASGITransport(app=garbled))
    assert answers == 1
    (kept,) = await store.inbox_entries("quarantined")
    assert kept.body == b"<html>proxy</html>"
    await pull(fake, store, ingestor.submit, transport=httpx.ASGITransport(app=garbled))
    await assert_webhook_balances(store, fake)


@pytest.mark.parametrize("legacy_errors", [False, True])
async def test_a_storm_of_errors_is_survived(
    store: Store,
    ingestor: Ingestor,
    fake: FakeServiceMobility,
    caplog: pytest.LogCaptureFixture,
    legacy_errors: bool,
) -> None:
    caplog.set_level(logging.DEBUG)
    fake.legacy_errors = legacy_errors
    fake.fail(429, times=2, retry_after="1", path=EXPORT_PATH)
    fake.fail(500, times=3)
    fake.fail(503, retry_after="Wed, 21 Oct 2015 07:28:00 GMT")
    flaky = FlakyTransport(httpx.ASGITransport(app=fake))
    flaky.fail_next(httpx.ConnectError, times=2)
    flaky.fail_next(httpx.ReadTimeout)
    await pull(fake, store, ingestor.submit, transport=flaky)
    await assert_webhook_balances(store, fake)
    assert not fake.faults
    assert not flaky.failures
    assert "answered 429: injected failure" in caplog.text
    assert "ConnectError" in caplog.text
    assert fake.password not in caplog.text


async def test_a_refusal_stops_the_poller(
    store: Store, ingestor: Ingestor, fake: FakeServiceMobility
) -> None:
    fake.fail(403, path=EXPORT_PATH)
    with pytest.raises(SmRejected) as refused:
        await pull(fake, store, ingestor.submit)
    assert refused.value.status == 403
    assert await store.count() == 0
