"""What operators see of the pullers, on SQLite and PostgreSQL: a puller that
cannot reach its vendor (failing since when, the last error) and the OFS
subscription gaps, in `/ready`'s details, `/metrics`, `invtrack status` and
the dashboard's overview."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.ofs.poller import OfsPoller
from adapters.puller import HEALTH_PREFIX
from api.cli.status import run_status
from tests.e2e.test_dashboard_pages import sign_in
from tests.fakes.http import FlakyTransport
from tests.fakes.ofs_server import FakeOfs
from tests.harness.live import Live, live_app, settings_for
from tests.integration.test_ofs_poller import PAGE_01, config, drain

GUARD = 60.0


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


async def a_gap_and_a_failing_puller(live: Live) -> None:
    fake = FakeOfs()
    submit = live.services.ingestor.submit
    async with OfsPoller(
        config(), live.store, submit, transport=httpx.ASGITransport(app=fake)
    ) as ofs:
        await drain(ofs, fake)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)
        fake.expire()
        await drain(ofs, fake)
    # Another instance, unreachable: the long-running poller keeps trying.
    flaky = FlakyTransport(httpx.ASGITransport(app=fake))
    flaky.fail_next(httpx.ConnectError, times=1_000_000)
    failing = OfsPoller(config(name="ofs-down"), live.store, submit, transport=flaky)
    stop = asyncio.Event()
    task = asyncio.create_task(failing.run(stop))
    async with asyncio.timeout(GUARD):  # a condition polled with a deadline
        while True:
            saved = await live.store.cursors(HEALTH_PREFIX + "ofs-down")
            if saved:
                break
            await asyncio.sleep(0.01)
    stop.set()
    await asyncio.wait_for(task, GUARD)


async def test_ready_metrics_status_and_overview_show_pullers_and_gaps(
    live: Live, database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    await a_gap_and_a_failing_puller(live)

    ready = await live.client.get("/ready")
    assert ready.status_code == 200  # details only: a failing puller does not make it unready
    vendors = ready.json()["vendors"]
    assert vendors["subscriptionGaps"] == 1
    assert vendors["recentGaps"][0]["since"].startswith("2026-11-20T09:55:00")
    (down,) = [p for p in vendors["pullers"] if p["name"] == "ofs-down"]
    assert down["failingSince"] is not None
    assert "ConnectError" in down["lastError"]

    metrics = (await live.client.get("/metrics")).text
    samples = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
    }
    assert samples[("invtrack_ofs_subscription_gaps_total", ())] == 1
    assert samples[("invtrack_puller_failing", (("poller", "ofs-down"), ("source", "OFS")))] == 1
    assert ("invtrack_ofs_subscription_last_gap_timestamp_seconds", ()) in samples

    assert await run_status(settings_for(database_url, tmp_path), as_json=True) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["vendors"]["subscriptionGaps"] == 1
    assert await run_status(settings_for(database_url, tmp_path)) == 0
    text = capsys.readouterr().out
    assert "OFS subscription gaps: 1" in text
    assert "OFS puller ofs-down: failing since" in text

    await sign_in(live.client)
    overview = (await live.client.get("/ui/")).text
    assert '1 <span class="unit">OFS subscription gap</span>' in overview
    assert "ofs-down" in overview
    assert "ConnectError" in overview
