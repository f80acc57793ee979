"""`invtrack ofs-required` against the fake OFS with OAuth 2.0, on SQLite and
on PostgreSQL: the activities invtrack knows scheduled today and tomorrow
are read (the ones named with --activity instead, when given); an empty,
huge or off-schema answer marks that activity unknown and not ready while
the others are read; a read that changes nothing is not stored again; the
readiness routes' reads follow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.poller import OfsPollerConfig
from adapters.store import NewEvent, Store
from api.cli.required import run_ofs_required
from api.services.required import read_required
from api.settings import from_env
from domain.events import (
    OfsActivity,
    OfsChanges,
    OfsDetails,
    ResourceInventoryCreated,
    StockUsageRecorded,
    event_type,
)
from domain.fold import stream_of
from projections.signal_reads import SignalReads
from tests.fakes.http import serving
from tests.fakes.ofs_server import FakeOfs
from tests.harness.databases import migrated_store

BASE_URL = "http://ofs.test"
NOW = datetime.now(UTC).replace(microsecond=0)
TODAY = NOW.date().isoformat()
TOMORROW = (NOW.date() + timedelta(days=1)).isoformat()
LATER = (NOW.date() + timedelta(days=5)).isoformat()


def required_path(activity: str) -> str:
    return f"/rest/ofscCore/v1/activities/{activity}/requiredInventories"


def line(kind: str, model: str, quantity: int) -> dict[str, Any]:
    return {"inventoryType": kind, "model": model, "quantity": quantity}


def config(fake: FakeOfs) -> OfsPollerConfig:
    creds = OfsCredentials(
        grant="client_credentials",
        client_id=fake.client_id,
        instance=fake.instance,
        client_secret=fake.secret,
    )
    return OfsPollerConfig(
        base_url=BASE_URL,
        credentials=creds,
        min_backoff=0.001,
        max_backoff=0.005,
        max_retry_after=0.01,
    )


def off_schema(fake: FakeOfs, activity: str) -> Any:
    """OFS, but one activity's required inventories answer lacks `model`."""
    body = b'{"items": [{"inventoryType": "MODEM", "quantity": 1}]}'

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == required_path(activity):
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await fake(scope, receive, send)

    return app


async def schedule(store: Store, activity: int, resource: str, day: str) -> None:
    """An OFS item of the resource, the event naming the activity and its date."""
    event = ResourceInventoryCreated(
        occurred_at=NOW - timedelta(hours=1),
        inventory_id=activity * 10,
        details=OfsDetails(status="resource", inventory_type="MODEM"),
        changes=OfsChanges(resource_id=resource),
        activity=OfsActivity(activity_id=activity, resource_id=resource, date=day),
    )
    await append(store, event, f"scheduled-{activity}")


async def append(store: Store, event: Any, key: str) -> None:
    await store.append(
        [
            NewEvent(
                stream_id=stream_of(event),
                type=event_type(event),
                data=event,
                occurred_at=event.occurred_at,
                dedupe_key=key,
            )
        ]
    )


async def test_a_run_reads_the_scheduled_activities_and_goes_on_past_bad_answers(
    store: Store,
) -> None:
    fake = FakeOfs()
    await schedule(store, 1, "TECH-1", TODAY)
    await schedule(store, 2, "TECH-1", TOMORROW)
    await schedule(store, 3, "TECH-2", TOMORROW)
    await schedule(store, 4, "TECH-2", TOMORROW)
    await schedule(store, 5, "TECH-2", LATER)
    fake.required.put("1", line("MODEM", "", 1))
    fake.required.put("2", line("MODEM", "", 5))
    fake.required.put("3")  # empty
    fake.required.put("4", *(line("CABLE", f"M{n}", 1) for n in range(1001)))  # huge
    fake.required.put("5", line("MODEM", "", 1))
    transport = httpx.ASGITransport(app=fake)

    run = await read_required(store, config(fake), days=2, now=NOW, transport=transport)

    assert (run.activities, run.stored, run.unknown) == (4, 4, 2)
    assert len(fake.oauth.grants) == 1
    asked = {seen.path for seen in fake.seen if "requiredInventories" in seen.path}
    assert asked == {required_path(str(n)) for n in (1, 2, 3, 4)}
    reads = SignalReads(store)
    found = {n: await reads.readiness(str(n)) for n in (1, 2, 3, 4)}
    assert {n: (r.status, r.ready) for n, r in found.items() if r is not None} == {
        1: ("ready", True),
        2: ("missing", False),
        3: ("unknown", False),
        4: ("unknown", False),
    }
    assert found[3] is not None
    assert found[3].reason == "OFS answered no required inventories"
    tomorrow = await reads.not_ready_on(TOMORROW)
    assert [(r.activity_id, r.status) for r in tomorrow] == [
        ("2", "missing"),
        ("3", "unknown"),
        ("4", "unknown"),
    ]

    again = await read_required(
        store, config(fake), days=2, now=NOW + timedelta(minutes=5), transport=transport
    )
    assert (again.activities, again.stored) == (4, 0)


async def test_an_off_schema_answer_is_unknown_and_the_named_activities_are_read(
    store: Store,
) -> None:
    fake = FakeOfs()
    await schedule(store, 7, "TECH-7", TODAY)
    await schedule(store, 8, "TECH-7", TODAY)
    fake.required.put("8", line("MODEM", "", 1))
    await append(
        store,
        StockUsageRecorded(
            occurred_at=NOW,
            location="TECH-7",
            product="MODEM",
            quantity_in=Decimal(1),
            quantity_out=Decimal(0),
            reported_quantity=Decimal(0),
            ref_module="1001",
            ref_object="LOAD-7",
        ),
        "load-7",
    )
    transport = httpx.ASGITransport(app=off_schema(fake, "7"))

    run = await read_required(
        store, config(fake), activities=["7", "8"], now=NOW, transport=transport
    )

    assert (run.activities, run.unknown) == (2, 1)
    reads = SignalReads(store)
    seven = await reads.readiness("7")
    assert seven is not None
    assert (seven.status, seven.ready) == ("unknown", False)
    assert seven.reason is not None
    assert seven.reason.startswith("not to the schema")
    eight = await reads.readiness("8")
    assert eight is not None
    assert eight.status == "ready"


@pytest.mark.parametrize("grant", ["client_credentials"])
async def test_the_command_reads_with_oauth_from_the_environment(
    tmp_path: Path, grant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOfs()
    url = f"sqlite+aiosqlite:///{tmp_path / 'required.db'}"
    async with migrated_store(url) as store:
        await schedule(store, 11, "TECH-1", TOMORROW)
    fake.required.put("11", line("MODEM", "", 3))
    async with serving(fake) as base_url:
        env = {
            "INVTRACK_DATABASE_URL": url,
            "INVTRACK_OFS_URL": base_url,
            "INVTRACK_OFS_AUTH": grant,
            "INVTRACK_OFS_CLIENT_ID": fake.client_id,
            "INVTRACK_OFS_INSTANCE": fake.instance,
            "INVTRACK_OFS_CLIENT_SECRET": fake.secret,
        }
        settings = from_env(env)
        code = await asyncio.wait_for(
            run_ofs_required(settings, days=2, activities=[], once=True), 60
        )
    assert code == 0
    assert "read 1 activities: 1 stored, 0 unknown" in capsys.readouterr().out
    async with migrated_store(url) as store:
        found = await SignalReads(store).readiness("11")
    assert found is not None
    assert [(x.required, x.available, x.missing) for x in found.lines] == [
        (Decimal(3), Decimal(1), Decimal(2))
    ]


async def test_the_command_without_an_ofs_url_says_so(tmp_path: Path) -> None:
    settings = from_env({"INVTRACK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'x.db'}"})
    assert await run_ofs_required(settings, days=2, activities=[], once=True) == 2
