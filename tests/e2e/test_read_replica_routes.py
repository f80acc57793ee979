"""The routes with a read replica (INVTRACK_READ_DATABASE_URL), on a real
PostgreSQL primary and streaming standby: write answers carry
`Invtrack-Position`, a query sent with `Invtrack-Min-Position` reads that
write whether the standby shows it in time or not, a value that is not a
position is a 400, /ready and /metrics report the replica, and a
reconciliation reads ours at least as fresh as the primary's."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from api.cli.poll import run_ofs_poll
from api.settings import from_env
from tests.e2e.test_reconciliations import GUARD, command
from tests.fakes.http import serving
from tests.fakes.ofs_server import FakeOfs
from tests.harness.deliveries import Line, UsageRow, post_json, usage_envelope
from tests.harness.live import Live, live_app, settings_for
from tests.harness.replicas import ReplicaDatabase
from tests.harness.tokens import reader
from tests.integration.test_ofs_poller import PAGE_01, PAGE_02
from tests.integration.test_reconcile_ofs import holds_what_the_fixtures_say


@pytest.fixture
async def live(replica_database: ReplicaDatabase, tmp_path: Path) -> AsyncIterator[Live]:
    settings = settings_for(
        replica_database.url, tmp_path, read_database_url=replica_database.read_url
    )
    async with live_app(settings) as app:
        await replica_database.caught_up()
        yield app


async def deliver(live: Live, envelope: str, line: Line) -> int:
    row = UsageRow(f"{envelope}-row", (line,), ref_module="1001")
    answer = await post_json(
        live.client, "/servicemobility/InventoryUsage/", usage_envelope(envelope, [row])
    )
    assert answer.status_code == 200, answer.text
    return int(answer.headers["invtrack-position"])


async def stock(live: Live, position: int | None = None) -> list[tuple[object, object]]:
    headers = reader()
    if position is not None:
        headers["Invtrack-Min-Position"] = str(position)
    answer = await live.client.get("/resources/WH-07/inventories", headers=headers)
    assert answer.status_code == 200, answer.text
    return [(item["productNumber"], item["quantity"]) for item in answer.json()["items"]]


async def test_a_client_reads_its_write_through_the_replica(
    live: Live, replica_database: ReplicaDatabase
) -> None:
    first = await deliver(live, "rr-1", Line("WH-07", "CBL-1", quantity_in="10"))
    assert first > 0
    assert await stock(live, first) == [("CBL-1", "10")]

    standby = await asyncpg.connect(replica_database.standby.admin(replica_database.name))
    try:
        await standby.execute("SELECT pg_wal_replay_pause()")
        second = await deliver(live, "rr-2", Line("WH-07", "CBL-1", quantity_out="4"))
        assert second > first
        # The standby does not show it: after the wait, the primary answers.
        assert await stock(live, second) == [("CBL-1", "6")]
    finally:
        await standby.execute("SELECT pg_wal_replay_resume()")
        await standby.close()
    metrics = (await live.client.get("/metrics")).text
    assert 'invtrack_replica_fallbacks_total{reason="behind"}' in metrics


async def test_a_min_position_that_is_not_one_is_refused(live: Live) -> None:
    for value in ("-1", "abc", "1.5", "9" * 40):
        answer = await live.client.get(
            "/resources/WH-07/inventories",
            headers={**reader(), "Invtrack-Min-Position": value},
        )
        assert answer.status_code == 400, value
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert "Invtrack-Min-Position" in answer.json()["detail"]


async def test_ready_and_metrics_report_the_replica(live: Live) -> None:
    ready = await live.client.get("/ready")
    assert ready.status_code == 200, ready.text
    assert ready.json()["replica"]["state"] == "following"
    metrics = (await live.client.get("/metrics")).text
    assert "invtrack_replica_lag_seconds " in metrics
    assert 'invtrack_replica_state{state="following"} 1.0' in metrics


async def test_a_stopped_replica_is_reported_and_the_service_stays_ready(
    live: Live, replica_database: ReplicaDatabase
) -> None:
    position = await deliver(live, "rr-3", Line("WH-07", "FUSE-2", quantity_in="3"))
    replica_database.standby.stop()
    try:
        assert await stock(live, position) == [("FUSE-2", "3")]
        ready = await live.client.get("/ready")
        assert ready.status_code == 200, ready.text
        assert ready.json()["replica"]["state"] == "down"
        assert ready.json()["replica"]["lagSeconds"] is None
    finally:
        replica_database.standby.start()


async def test_reconcile_reads_ours_at_least_as_fresh_as_the_primary(
    replica_database: ReplicaDatabase, capsys: pytest.CaptureFixture[str]
) -> None:
    """With the replica's replay held, what was just polled is only on the
    primary: the run reads the primary after the wait and finds no
    difference; once the replica shows it, the run reads the replica."""
    fake = FakeOfs()
    async with serving(fake) as base_url:
        settings = from_env(
            {
                "INVTRACK_DATABASE_URL": replica_database.url,
                "INVTRACK_READ_DATABASE_URL": replica_database.read_url,
                "INVTRACK_OFS_URL": base_url,
                "INVTRACK_OFS_AUTH": "client_credentials",
                "INVTRACK_OFS_CLIENT_ID": fake.client_id,
                "INVTRACK_OFS_INSTANCE": fake.instance,
                "INVTRACK_OFS_CLIENT_SECRET": fake.secret,
            }
        )
        assert await asyncio.wait_for(run_ofs_poll(settings, once=True), GUARD) == 0
        await replica_database.caught_up()
        fake.publish_page(PAGE_01)
        fake.publish_page(PAGE_02)
        holds_what_the_fixtures_say(fake)
        standby = await asyncpg.connect(replica_database.standby.admin(replica_database.name))
        try:
            await standby.execute("SELECT pg_wal_replay_pause()")
            assert await asyncio.wait_for(run_ofs_poll(settings, once=True), GUARD) == 0
            capsys.readouterr()
            reconcile = ("reconcile", "ofs", "--all-known")
            assert await asyncio.to_thread(command, settings, *reconcile) == 0
            assert "3 items compared" in capsys.readouterr().out
        finally:
            await standby.execute("SELECT pg_wal_replay_resume()")
            await standby.close()
        await replica_database.caught_up()
        assert await asyncio.to_thread(command, settings, *reconcile) == 0
        assert "3 items compared" in capsys.readouterr().out
