"""Push subscriptions over HTTP, delivered by the app's own deliverer to a
subscriber on loopback (allowed here by INVTRACK_SUBSCRIPTION_ALLOW_PRIVATE
and _ALLOW_HTTP): Standard Webhooks signatures checked by the subscriber,
lag and last error shown, Retry-After honoured within its bound, redirects
not followed, parking and resuming, rewinding, deleting; and, without those
settings, loopback and plain http targets refused, naming `url`."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.subscription_settings import SubscriptionSettings
from tests.harness.deliveries import ofs_event
from tests.harness.live import Live, live_app, settings_for
from tests.harness.server import free_port
from tests.harness.tokens import admin, reader, relay, token

ALLOWED = SubscriptionSettings(allow_private=True, allow_http=True, park_after=3.0)


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path, subscriptions=ALLOWED)) as app:
        yield app


class Subscriber:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.out = workdir / f"received-{self.port}.jsonl"
        self.out.touch()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, secret: str, status: int = 204) -> None:
        command = [sys.executable, "-m", "tests.fakes.webhook_receiver", str(self.port), secret]
        self.process = subprocess.Popen([*command, str(self.out), "--status", str(status)])

    def stop(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()

    def received(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.out.read_text().splitlines() if line]


async def until(check: Callable[[], Any], seconds: float = 60.0) -> Any:
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        found = await check()
        if found:
            return found
        assert asyncio.get_running_loop().time() < deadline, "the condition never held"
        await asyncio.sleep(0.1)


async def change_items(client: httpx.AsyncClient, count: int) -> None:
    events = [
        ofs_event(n, "resourceInventoryCreated", f"2026-11-20 10:00:{n:02d}", resourceId="T1")
        for n in range(1, count + 1)
    ]
    answer = await client.post("/ofs/events", content=json.dumps(events), headers=relay())
    assert answer.status_code == 200, answer.text


async def create(client: httpx.AsyncClient, url: str, **more: Any) -> httpx.Response:
    return await client.post("/subscriptions", json={"url": url, **more}, headers=admin())


async def test_a_subscriber_gets_every_entry_signed_in_order(live: Live, tmp_path: Path) -> None:
    client = live.client
    await change_items(client, 3)
    subscriber = Subscriber(tmp_path)
    made = await create(client, f"http://127.0.0.1:{subscriber.port}/hook", **{"from": "start"})
    assert made.status_code == 201, made.text
    created = made.json()
    assert created["secret"].startswith("whsec_")
    subscriber.start(created["secret"])
    try:
        await change_items(client, 5)

        async def caught_up() -> bool:
            answer = await client.get(f"/subscriptions/{created['id']}", headers=admin())
            return bool(answer.json()["lag"] == 0 and answer.json()["position"] == 5)

        await until(caught_up)
    finally:
        subscriber.stop()
    positions = [e["position"] for line in subscriber.received() for e in line["entries"]]
    assert positions == [1, 2, 3, 4, 5]
    listed = (await client.get("/subscriptions", headers=admin())).json()["items"]
    assert [item["id"] for item in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert listed[0]["state"] == "active"
    assert listed[0]["lastDeliveredAt"]
    metrics = (await client.get("/metrics")).text
    assert f'invtrack_subscription_lag{{subscription="{created["id"]}"}} 0.0' in metrics
    assert 'invtrack_subscription_deliveries_total{outcome="delivered"}' in metrics
    assert (await client.get("/subscriptions", headers=reader())).status_code == 403


async def failing(live: Live, tmp_path: Path, status: int) -> dict[str, Any]:
    client = live.client
    await change_items(client, 1)
    subscriber = Subscriber(tmp_path)
    made = (
        await create(client, f"http://127.0.0.1:{subscriber.port}/", **{"from": "start"})
    ).json()
    subscriber.start(made["secret"], status=status)
    try:

        async def failed() -> dict[str, Any] | None:
            found = (await client.get(f"/subscriptions/{made['id']}", headers=admin())).json()
            return found if found["lastError"] else None

        return dict(await until(failed))
    finally:
        subscriber.stop()


async def test_retry_after_is_honoured_within_ten_minutes(live: Live, tmp_path: Path) -> None:
    found = await failing(live, tmp_path, 429)
    assert found["state"] == "retrying"
    assert found["lastError"].startswith("429")
    wait = datetime.fromisoformat(found["nextAttemptAt"]) - datetime.now(UTC)
    assert timedelta(minutes=9) < wait <= timedelta(minutes=10)
    assert found["position"] == 0


async def test_redirects_are_not_followed(live: Live, tmp_path: Path) -> None:
    found = await failing(live, tmp_path, 302)
    assert "redirects are not followed" in found["lastError"]
    assert found["position"] == 0


async def test_failing_for_long_parks_and_resume_and_rewind_and_delete(
    live: Live, tmp_path: Path
) -> None:
    client = live.client
    found = await failing(live, tmp_path, 500)
    subscription = found["id"]

    async def parked() -> bool:
        answer = await client.get(f"/subscriptions/{subscription}", headers=admin())
        return bool(answer.json()["state"] == "parked")

    await until(parked, seconds=90)
    resumed = await client.post(f"/subscriptions/{subscription}/resume", headers=admin())
    assert resumed.status_code == 200
    assert resumed.json()["state"] == "active"
    rewound = await client.post(
        f"/subscriptions/{subscription}/rewind", json={"position": 0}, headers=admin()
    )
    assert rewound.json()["position"] == 0
    assert rewound.json()["lastError"] is None
    by_time = await client.post(
        f"/subscriptions/{subscription}/rewind",
        json={"time": "2000-01-01T00:00:00Z"},
        headers=admin(),
    )
    assert by_time.json()["position"] == 0
    neither = await client.post(f"/subscriptions/{subscription}/rewind", json={}, headers=admin())
    assert neither.status_code == 400
    assert (
        await client.delete(f"/subscriptions/{subscription}", headers=admin())
    ).status_code == 204
    gone = await client.get(f"/subscriptions/{subscription}", headers=admin())
    assert gone.status_code == 404


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("http://127.0.0.1:9/hook", "url"),
        ("https://127.0.0.1:9/hook", "url"),
        ("https://[::1]:9/hook", "url"),
        ("https://localhost:9/hook", "url"),
        ("https://169.254.169.254/", "url"),
    ],
)
async def test_loopback_and_plain_http_targets_are_refused(
    database_url: str, tmp_path: Path, url: str, field: str
) -> None:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        answer = await create(app.client, url)
        assert answer.status_code == 400, answer.text
        assert answer.json()["errors"][0]["field"] == field
        unknown = await create(app.client, "https://93.184.216.34/", filters={"color": "red"})
        assert unknown.json()["errors"][0]["field"] == "filters.color"
        assert await app.store.subscriptions() == []


async def test_the_dashboard_lists_subscriptions_and_admins_act_on_them(
    database_url: str, tmp_path: Path
) -> None:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        client = app.client
        made = await create(client, "https://93.184.216.34/hook")
        subscription = made.json()["id"]
        assert (await sign_in(client, "read")).status_code == 303
        page = await client.get("/ui/subscriptions")
        assert subscription in page.text
        assert "Rewind" not in page.text
        assert "change feed at position 0" in (await client.get("/ui/")).text
        assert (await sign_in(client, "admin")).status_code == 303
        page = await client.get("/ui/subscriptions")
        assert "Rewind" in page.text
        csrf = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
        refused = await client.post(f"/ui/subscriptions/{subscription}/delete")
        assert refused.status_code == 403
        deleted = await client.post(f"/ui/subscriptions/{subscription}/delete", data={"csrf": csrf})
        assert deleted.status_code == 303
        assert await app.store.subscriptions() == []


async def sign_in(client: httpx.AsyncClient, scope: str) -> httpx.Response:
    login = await client.get("/ui/login")
    csrf = login.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
    return await client.post(
        "/ui/login",
        data={"token": token(scope), "csrf": csrf, "next": "/ui/"},
        follow_redirects=False,
    )
