"""`invtrack sm-poll` end to end, against the fake ServiceMobility site on a
real socket: from an empty store, `--once` gives exactly the items the same
rows give through the webhook; inside `serve` one worker pulls; as its own
process SIGTERM stops it cleanly and nothing secret reaches its log."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import pytest

from adapters.store import connect
from api.cli.poll import run_sm_poll
from api.settings import Settings, SmSettings
from domain.items import Item
from projections.items import item_of
from projections.queries import Queries
from tests.fakes.http import serving
from tests.fakes.servicemobility_server import FakeServiceMobility
from tests.harness.deliveries import post_json
from tests.harness.live import live_app, settings_for
from tests.harness.server import _invtrack
from tests.harness.servicemobility import recorded_usages, webhook_items, webhook_rows
from tests.strategies import sm_envelope

GUARD = 60.0


@pytest.fixture
async def site() -> AsyncIterator[tuple[FakeServiceMobility, str]]:
    fake = FakeServiceMobility()
    fake.publish(*recorded_usages())
    async with serving(fake) as base_url:
        yield fake, base_url


def sm_settings(fake: FakeServiceMobility, base_url: str, **overrides: object) -> SmSettings:
    fields: dict[str, object] = {
        "url": base_url,
        "username": fake.username,
        "password": fake.password,
        "limit": 2,
        "idle_seconds": 0.01,
    }
    return SmSettings(**(fields | overrides))  # type: ignore[arg-type]


async def items_of(database_url: str, keys: list[str]) -> dict[str, Item | None]:
    store = connect(database_url)
    try:
        queries = Queries(store)
        rows = {key: await queries.item(key) for key in keys}
        return {key: _unplaced(None if row is None else item_of(row)) for key, row in rows.items()}
    finally:
        await store.close()


def _unplaced(item: Item | None) -> Item | None:
    """The item without its store position (two stores number events alike only by chance)."""
    return None if item is None else msgspec.structs.replace(item, position=0)


async def test_sm_poll_once_gives_what_the_webhook_gives(
    database_url: str, tmp_path: Path, site: tuple[FakeServiceMobility, str]
) -> None:
    fake, base_url = site
    settings = Settings(
        database_url=database_url, data_dir=tmp_path, sm=sm_settings(fake, base_url)
    )
    assert await asyncio.wait_for(run_sm_poll(settings, once=True), GUARD) == 0

    rows = webhook_rows(fake.exported())
    reference = f"sqlite+aiosqlite:///{tmp_path / 'webhook.db'}"
    async with live_app(settings_for(reference, tmp_path / "webhook")) as live:
        response = await post_json(
            live.client, "/servicemobility/InventoryUsage/", sm_envelope("all-rows", rows)
        )
        assert response.status_code == 200, response.text
    keys = sorted(webhook_items(rows))
    pulled = await items_of(database_url, keys)
    assert pulled == await items_of(reference, keys)
    assert all(item is not None for item in pulled.values())


async def test_sm_poll_without_a_url_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = Settings(database_url=f"sqlite+aiosqlite:///{tmp_path / 'x.db'}")
    assert await run_sm_poll(settings, once=True) == 2
    assert "INVTRACK_SM_URL" in capsys.readouterr().err


async def test_one_worker_of_serve_pulls(
    tmp_path: Path, site: tuple[FakeServiceMobility, str]
) -> None:
    fake, base_url = site
    settings = settings_for(
        f"sqlite+aiosqlite:///{tmp_path / 'serve.db'}",
        tmp_path,
        sm=sm_settings(fake, base_url, poll_in_serve=True),
    )
    async with live_app(settings) as live:
        await asyncio.wait_for(fake.caught_up.wait(), GUARD)
        rows = webhook_rows(fake.exported())
        expected = webhook_items(rows)
        queries = Queries(live.store)
        for key, item in expected.items():
            found = await queries.item(key)
            assert found is not None
            assert item_of(found).quantity == item.quantity
    assert (tmp_path / "sm-poll.lock").exists()


async def test_sigterm_stops_the_process_cleanly(
    tmp_path: Path, site: tuple[FakeServiceMobility, str]
) -> None:
    fake, base_url = site
    database_url = f"sqlite+aiosqlite:///{tmp_path / 'process.db'}"
    env = {key: value for key, value in os.environ.items() if not key.startswith("INVTRACK_")}
    env.update(
        INVTRACK_DATABASE_URL=database_url,
        INVTRACK_DATA_DIR=str(tmp_path / "data"),
        INVTRACK_LOG_FORMAT="json",
        INVTRACK_LOG_LEVEL="DEBUG",
        INVTRACK_SM_URL=base_url,
        INVTRACK_SM_USERNAME=fake.username,
        INVTRACK_SM_PASSWORD=fake.password,
        INVTRACK_SM_LIMIT="2",
        INVTRACK_SM_IDLE_SECONDS="0.05",
        PYTHONUNBUFFERED="1",
    )
    log_path = tmp_path / "sm-poll.log"
    migrated = await asyncio.create_subprocess_exec(
        *_invtrack(), "migrate", env=env, stdout=asyncio.subprocess.DEVNULL
    )
    assert await asyncio.wait_for(migrated.wait(), GUARD) == 0
    with log_path.open("wb") as log_file:
        process = await asyncio.create_subprocess_exec(
            *_invtrack(), "sm-poll", env=env, stdout=asyncio.subprocess.DEVNULL, stderr=log_file
        )
        try:
            await asyncio.wait_for(fake.caught_up.wait(), GUARD)
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), GUARD)
        finally:
            if process.returncode is None:
                process.kill()
                await process.wait()
    log = log_path.read_text()
    assert process.returncode == 0, log
    assert fake.password not in log
    assert all(json.loads(line) for line in log.splitlines()), "one JSON object a line"
    rows = webhook_rows(fake.exported())
    found = await items_of(database_url, sorted(webhook_items(rows)))
    assert all(item is not None for item in found.values())
