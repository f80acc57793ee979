"""One bad OFS event costs only itself, and a subscription OFS drops leaves a
recorded gap that is reconciled: on SQLite and on PostgreSQL.

- A page whose events include one with `inventoryChanges.inventoryId` other
  than `inventoryDetails.inventoryId` and one whose `time` is not
  `YYYY-MM-DD HH:MM:SS`: those two are quarantined, each with its own bytes
  and reason; the others are applied and the cursor moves on.
- OFS drops the subscription: the poller subscribes again at the new
  subscription's own marker (never `since` a time before it), stores the gap
  (from the newest event stored to the new subscription), and reconciles the
  resources and activities touched in the days before, so the events lost in
  the gap show as drift; `status`, `/ready`, `/metrics` show the gap.
"""

from __future__ import annotations

import copy
import json
from typing import Any

import httpx
import pytest

from adapters.ofs.poller import OfsPoller
from adapters.store import Store
from api.services.group_commit import Ingestor
from api.services.polling import reconciling_gaps
from api.services.vendor_health import vendor_health
from domain.fold import GAPS_STREAM
from tests.fakes.ofs_server import EVENTS_PATH, FakeOfs
from tests.integration.test_ofs_poller import (
    EXPECTED,
    PAGE_01,
    PAGE_02,
    catch_up,
    config,
    drain,
    saved_cursor,
    state,
)
from tests.integration.test_reconcile_ofs import holds_what_the_fixtures_say


def poller(fake: FakeOfs, store: Store, ingestor: Ingestor, **kw: Any) -> OfsPoller:
    return OfsPoller(
        config(),
        store,
        ingestor.submit,
        transport=httpx.ASGITransport(app=fake),
        **kw,
    )


async def test_bad_events_are_quarantined_alone_and_the_rest_applied(store: Store) -> None:
    fake = FakeOfs()
    ingestor = Ingestor(store)
    await catch_up(fake, store, ingestor.submit)
    events = copy.deepcopy(PAGE_01["items"])
    mismatched = copy.deepcopy(events[3])
    mismatched["inventoryChanges"]["inventoryId"] = 1
    badly_timed = {**copy.deepcopy(events[6]), "time": "2026-11-20T09:40:00Z"}
    fake.publish(*events[:3], mismatched, *events[3:6], badly_timed, *events[6:])
    async with poller(fake, store, ingestor) as ofs:
        await drain(ofs, fake)

    quarantined = await store.inbox_entries("quarantined")
    assert [json.loads(entry.body) for entry in quarantined] == [mismatched, badly_timed]
    reasons = [entry.reason or "" for entry in quarantined]
    assert reasons[0].startswith("items[3].inventoryChanges.inventoryId: 1 differs from ")
    assert reasons[1].startswith('items[7].time: must be a "YYYY-MM-DD HH:MM:SS" time')
    # Every good event is applied: the fixture's pools, exactly.
    assert await store.count() == len(events)
    assert await state(store, EXPECTED["after 01"]) == EXPECTED["after 01"]
    (page,) = await store.inbox_entries("accepted")
    assert len(json.loads(page.body)["items"]) == len(events) + 2
    cursor = await saved_cursor(store, ofs.name)
    assert cursor.next_page == f"1700000000000-{fake.head}"


async def test_a_dropped_subscription_leaves_a_recorded_gap_that_is_reconciled(
    store: Store,
) -> None:
    fake = FakeOfs()
    ingestor = Ingestor(store)
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    await catch_up(fake, store, ingestor.submit)
    holds_what_the_fixtures_say(fake)
    # OFS drops the subscription; what happens meanwhile is never served to a new one.
    (first,) = fake.subscriptions
    fake.expire()
    fake.publish_page(PAGE_02)
    fake.inventory.change(21259001, quantity=12)
    fake.seen.clear()

    gaps = reconciling_gaps(store, config(), 3, httpx.ASGITransport(app=fake))
    async with poller(fake, store, ingestor, on_gap=gaps) as ofs:
        await drain(ofs, fake)

    reads = [seen.query for seen in fake.seen if seen.path == EVENTS_PATH]
    assert not [query for query in reads if "since" in query]
    second = (await saved_cursor(store, ofs.name)).subscription_id
    assert second not in (None, first)
    assert await state(store, EXPECTED["after 01"]) == EXPECTED["after 01"]

    (recorded,) = await store.read_stream(GAPS_STREAM)
    assert recorded.data["since"].startswith("2026-11-20T09:55:00")
    assert (recorded.data["expired_subscription"], recorded.data["subscription"]) == (
        first,
        second,
    )
    health = await vendor_health(store)
    assert health.subscription_gaps == 1
    assert health.recent_gaps[0].expired_subscription == first

    # The reconciliation after the gap found what the lost events changed.
    runs = await store.reconciliations(limit=10)
    (run,) = runs
    assert set(run.resources) >= {"TECH_017"}
    assert {(drift.key, drift.field, drift.ours, drift.theirs) for drift in run.drifts} >= {
        ("ofs-21259001", "quantity", "15", "12")
    }


async def test_a_failing_reconciliation_after_a_gap_does_not_stop_polling(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    fake = FakeOfs()
    ingestor = Ingestor(store)
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    await catch_up(fake, store, ingestor.submit)
    fake.expire()
    fake.fail(403, times=1, path="/rest/ofscCore/v1/resources")
    gaps = reconciling_gaps(store, config(), 3, httpx.ASGITransport(app=fake))
    async with poller(fake, store, ingestor, on_gap=gaps) as ofs:
        await drain(ofs, fake)
        fake.publish_page(PAGE_02)
        await drain(ofs, fake)
    assert "could not reconcile after the OFS subscription gap" in caplog.text
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
