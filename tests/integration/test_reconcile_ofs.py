"""Reconciling invtrack's OFS pools with the fake OFS's current inventory, on
SQLite and on PostgreSQL: no difference after a clean sync, and every seeded
difference reported exactly, field by field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import pytest

from adapters.ofs.client import OfsClient, OfsUnavailable
from adapters.ofs.inventory import InventoryReader
from adapters.ofs.oauth import OfsCredentials
from adapters.pulling import Patience
from adapters.store import Store
from api.services.group_commit import Ingestor
from api.services.reconciling import Targets, all_known, reconcile_ofs
from domain.reconciliation import Drift
from projections.queries import Queries
from tests.fakes.ofs_server import FakeOfs
from tests.integration.test_ofs_poller import PAGE_01, PAGE_02, catch_up

TECH = "TECH_017"
ACTIVITY = 4225599
TARGETS = Targets(resources=(TECH,), activities=(str(ACTIVITY),))
PATIENCE = Patience(min_backoff=0.001, max_backoff=0.005, max_retry_after=0.01)


def holds_what_the_fixtures_say(fake: FakeOfs) -> None:
    """OFS's records after the two fixture pages (ofs-21259000 was deleted)."""
    fake.inventory.put(
        inventoryId=21258547,
        status="resource",
        resourceId=TECH,
        inventoryType="MODEM",
        serialNumber="SN-0001",
        quantity=1,
    )
    fake.inventory.put(
        inventoryId=21259001,
        status="installed",
        resourceId=TECH,
        activityId=ACTIVITY,
        inventoryType="CABLE",
        quantity=15.0,
    )
    fake.inventory.put(
        inventoryId=21250001,
        status="customer",
        resourceId=TECH,
        activityId=ACTIVITY,
        inventoryType="MODEM",
        serialNumber="SN-OLD-77",
        exchangedInventoryId=21258547,
    )


@pytest.fixture
async def synced(store: Store) -> tuple[FakeOfs, Queries]:
    """The fixture pages polled into the store, and OFS holding what they say."""
    fake = FakeOfs()
    ingestor = Ingestor(store)
    await catch_up(fake, store, ingestor.submit)
    fake.publish_page(PAGE_01)
    fake.publish_page(PAGE_02)
    await catch_up(fake, store, ingestor.submit)
    holds_what_the_fixtures_say(fake)
    return fake, Queries(store)


def reader(fake: Any, *, page: int = 100) -> InventoryReader:
    credentials = OfsCredentials(
        client_id="invtrack-app", instance="acme-test", client_secret="basic-secret-value"
    )
    client = OfsClient(
        "http://ofs.test",
        credentials.auth("http://ofs.test"),
        transport=httpx.ASGITransport(app=fake),
    )
    return InventoryReader(client, PATIENCE, page=page)


async def test_a_clean_sync_has_no_difference(synced: tuple[FakeOfs, Queries]) -> None:
    fake, queries = synced
    run = await reconcile_ofs(queries, reader(fake, page=1), TARGETS)
    assert run.drifts == ()
    assert run.compared == 3
    assert (run.resources, run.activities) == ((TECH,), (str(ACTIVITY),))
    # One page at a time: the lists were paged with offset and limit.
    assert fake.inventory.pages >= 6


async def test_every_seeded_difference_is_reported_exactly(
    synced: tuple[FakeOfs, Queries],
) -> None:
    fake, queries = synced
    fake.inventory.change(21259001, quantity=12)  # a lost quantity update
    fake.inventory.change(21258547, serialNumber="SN-0009", inventoryType="ROUTER")
    fake.inventory.remove(21250001)  # gone at OFS
    fake.inventory.put(  # at OFS, never heard of here
        inventoryId=21260000, status="resource", resourceId=TECH, inventoryType="CABLE", quantity=3
    )
    fake.inventory.put(  # deleted here, back at another resource there
        inventoryId=21259000, status="resource", resourceId="TECH_099", quantity=35
    )
    run = await reconcile_ofs(queries, reader(fake, page=2), TARGETS)
    assert list(run.drifts) == [
        Drift(key="ofs-21250001", field="item", ours="present", theirs="absent"),
        Drift(key="ofs-21258547", field="serialNumber", ours="SN-0001", theirs="SN-0009"),
        Drift(key="ofs-21258547", field="inventoryType", ours="MODEM", theirs="ROUTER"),
        Drift(key="ofs-21259001", field="quantity", ours="15", theirs="12"),
        Drift(key="ofs-21260000", field="item", ours="absent", theirs="present"),
    ]
    assert run.drifted == 4
    assert run.compared == 4
    # The item deleted here is not at a target: only --all-known would look at TECH_099.
    wider = await reconcile_ofs(
        queries, reader(fake), Targets(resources=("TECH_099",), activities=())
    )
    assert list(wider.drifts) == [
        Drift(key="ofs-21259000", field="item", ours="absent", theirs="present")
    ]


async def test_an_item_held_elsewhere_differs_in_pool_and_owner(
    synced: tuple[FakeOfs, Queries],
) -> None:
    fake, queries = synced
    # OFS says the modem went back to the customer's site; we hold it at TECH_017.
    fake.inventory.change(21258547, status="customer", activityId=ACTIVITY)
    run = await reconcile_ofs(queries, reader(fake), Targets(resources=(TECH,)))
    assert list(run.drifts) == [
        Drift(key="ofs-21258547", field="pool", ours="resource", theirs="customer"),
        Drift(key="ofs-21258547", field="activityId", ours=None, theirs=str(ACTIVITY)),
    ]
    # Seen from the activity, the same item and the same difference.
    other = await reconcile_ofs(queries, reader(fake), Targets(activities=(str(ACTIVITY),)))
    assert [d for d in other.drifts if d.key == "ofs-21258547"] == list(run.drifts)


async def test_all_known_names_every_owner_of_an_ofs_item(
    synced: tuple[FakeOfs, Queries],
) -> None:
    _, queries = synced
    assert await all_known(queries) == TARGETS
    assert await queries.known_owners("customer") == ["C-1009"]


async def test_an_outage_is_waited_out_and_a_lasting_one_reported(
    synced: tuple[FakeOfs, Queries],
) -> None:
    fake, queries = synced
    fake.fail(503, times=2, retry_after="1", path="/rest/ofscCore/v1/resources")
    fake.fail(429, path="/rest/ofscCore/v1/activities")
    run = await reconcile_ofs(queries, reader(fake), TARGETS)
    assert run.drifts == ()
    # Every injected answer was served, each to the path it was meant for.
    assert not fake.faults
    errors = [(seen.path.split("/")[4], seen.status) for seen in fake.seen if seen.status >= 400]
    assert sorted(errors) == [("activities", 429), ("resources", 503), ("resources", 503)]
    fake.seen.clear()
    fake.fail(503, times=50)
    with pytest.raises(OfsUnavailable):
        await reconcile_ofs(queries, reader(fake), TARGETS)
    # It gave up after several 503s, every request answered with one.
    assert [seen.status for seen in fake.seen] == [503] * (50 - len(fake.faults))
    assert len(fake.seen) > 1


async def test_runs_are_kept_and_listed_newest_first(
    store: Store, synced: tuple[FakeOfs, Queries]
) -> None:
    fake, queries = synced
    clean = await store.record(await reconcile_ofs(queries, reader(fake), TARGETS))
    fake.inventory.change(21259001, quantity=Decimal("14.5"))
    drifted = await store.record(await reconcile_ofs(queries, reader(fake), TARGETS))
    assert clean.id is not None
    assert drifted.id is not None
    assert drifted.id > clean.id
    assert await store.reconciliations() == [drifted, clean]
    assert await store.reconciliations(before=drifted.id) == [clean]
    assert await store.reconciliations(limit=1) == [drifted]
    (latest,) = await store.reconciliation_summary()
    assert (latest.source, latest.clean, latest.drifted_runs, latest.drifted) == ("ofs", 1, 1, 1)
    assert drifted.drifts == (
        Drift(key="ofs-21259001", field="quantity", ours="15", theirs="14.5"),
    )
