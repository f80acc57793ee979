"""What `reconcile ofs` checks of OFS's answers: a `quantity` of `null` is
missing (not 1), a record read by id must be the one asked for, and a listing
that never ends stops at the page bound. On SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import msgspec
import pytest

from adapters.ofs.client import OfsClient, OfsUnavailable
from adapters.ofs.inventory import InventoryReader, TooManyPages
from adapters.ofs.oauth import OfsCredentials
from api.cli.reconcile import report
from api.services.reconciling import Targets, reconcile_ofs
from domain.reconciliation import Drift
from projections.queries import Queries
from tests.fakes.ofs_server import FakeOfs
from tests.integration.test_reconcile_ofs import PATIENCE, TARGETS, TECH, reader, synced

__all__ = ["synced"]  # the fixture, shared


async def test_a_null_quantity_is_reported_missing(synced: tuple[FakeOfs, Queries]) -> None:
    fake, queries = synced
    fake.inventory.null_quantities.add(21259001)
    run = await reconcile_ofs(queries, reader(fake), TARGETS)
    assert list(run.drifts) == [Drift(key="ofs-21259001", field="quantity", ours="15", theirs=None)]
    assert "ours 15            theirs missing" in report(run)


async def test_a_quantity_never_stated_holds_one(synced: tuple[FakeOfs, Queries]) -> None:
    fake, queries = synced
    # ofs-21250001 is a serialized modem: OFS writes no quantity, and none is missing.
    assert "quantity" not in fake.inventory.records[21250001]
    run = await reconcile_ofs(queries, reader(fake), TARGETS)
    assert run.drifts == ()


async def test_a_record_read_by_id_must_be_the_one_asked_for(
    synced: tuple[FakeOfs, Queries],
) -> None:
    fake, queries = synced
    # ofs-21250001 leaves the activity's lists; looked up by id, OFS answers another record.
    fake.inventory.change(21250001, activityId=999)
    fake.inventory.misdirected[21250001] = 21258547
    with pytest.raises(OfsUnavailable, match=r"/inventories/21250001 with the record ofs-21258547"):
        await reconcile_ofs(queries, reader(fake), TARGETS)


def endless_listing(fake: FakeOfs) -> Any:
    """OFS, but a resource's listing never ends: every page is full of new records."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"].endswith(f"/resources/{TECH}/inventories"):
            offset = int(httpx.URL("?" + scope["query_string"].decode()).params["offset"])
            items = [
                {"inventoryId": 90_000_000 + offset + n, "status": "resource", "resourceId": TECH}
                for n in range(100)
            ]
            body = msgspec.json.encode({"items": items})
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await fake(scope, receive, send)

    return app


async def test_an_endless_listing_stops_at_the_page_bound(
    synced: tuple[FakeOfs, Queries],
) -> None:
    fake, queries = synced
    credentials = OfsCredentials(token=fake.token)
    client = OfsClient(
        "http://ofs.test",
        credentials.auth("http://ofs.test"),
        transport=httpx.ASGITransport(app=endless_listing(fake)),
    )
    inventory = InventoryReader(client, replace(PATIENCE, max_pages=25))
    with pytest.raises(TooManyPages, match="read 25 pages"):
        await reconcile_ofs(queries, inventory, Targets(resources=(TECH,)))
    assert inventory.pages == 25
    await client.aclose()
