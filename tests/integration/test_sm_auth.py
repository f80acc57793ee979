"""How the Export API poller authenticates, and how it keeps the rate limits.

A JWT from the login endpoint is renewed before its `exp` and once after a
401; an administrator's JWT and the legacy customer id and code work as they
are; no secret is ever logged; at most 15 requests go out in any second and
none while the site says its window is used up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.servicemobility_export.auth import SmCredentials
from adapters.servicemobility_export.client import EXPORT_PATH, Pace, SmClient, SmRejected
from adapters.servicemobility_export.poller import SmPoller, SmPollerConfig
from adapters.store import Store
from api.services.group_commit import Ingestor
from tests.fakes.servicemobility_server import LOGIN_PATH, FakeServiceMobility
from tests.harness.databases import migrated_store
from tests.harness.servicemobility import recorded_usages
from tests.integration.test_sm_poller import BASE_URL, GUARD, assert_webhook_balances

LOGIN = "login"


class Clock:
    """Seconds since the epoch, for the site's tokens and the poller alike."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    async with migrated_store(f"sqlite+aiosqlite:///{tmp_path / 'sm.db'}") as event_store:
        yield event_store


def site(clock: Clock | None = None) -> FakeServiceMobility:
    fake = FakeServiceMobility(clock=clock or Clock())
    fake.publish(*recorded_usages())
    return fake


def credentials(fake: FakeServiceMobility, way: str) -> SmCredentials:
    if way == LOGIN:
        return SmCredentials(username=fake.username, password=fake.password)
    if way == "token":
        return SmCredentials(token=fake.developer_token())
    return SmCredentials(customer_id=fake.customer_id, customer_code=fake.customer_code)


async def pull(
    fake: FakeServiceMobility,
    store: Store,
    creds: SmCredentials,
    clock: Clock | None = None,
    **overrides: Any,
) -> None:
    config = SmPollerConfig(
        base_url=BASE_URL,
        credentials=creds,
        idle_seconds=0.001,
        min_backoff=0.001,
        max_backoff=0.005,
        max_retry_after=0.01,
        limit=2,
        **overrides,
    )
    sm = SmPoller(
        config,
        store,
        Ingestor(store).submit,
        transport=httpx.ASGITransport(app=fake),
        clock=clock or fake.clock,
    )
    await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)


@pytest.mark.parametrize("way", [LOGIN, "token", "customer"])
async def test_each_way_of_authenticating_pulls_everything_and_logs_no_secret(
    store: Store, way: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = site()
    creds = credentials(fake, way)
    await pull(fake, store, creds)
    await assert_webhook_balances(store, fake)
    assert fake.logins == (1 if way == LOGIN else 0)
    assert "HTTP Request: GET" in caplog.text  # httpx logs every request...
    for secret in (fake.password, fake.customer_code, creds.token or fake.password):
        assert secret not in caplog.text  # ...but never a secret
    if way == "customer":
        assert "customercode=[hidden]" in caplog.text


async def test_a_login_token_is_renewed_before_it_expires(store: Store) -> None:
    clock = Clock()
    fake = site(clock)
    fake.token_lifetime = 600
    creds = credentials(fake, LOGIN)
    config = SmPollerConfig(
        base_url=BASE_URL, credentials=creds, idle_seconds=0.001, limit=2, min_backoff=0.001
    )
    async with SmPoller(
        config,
        store,
        Ingestor(store).submit,
        transport=httpx.ASGITransport(app=fake),
        clock=clock,
    ) as sm:
        await sm.poll_once()
        clock.now += 590  # inside the token's life, past the point of renewal
        await sm.poll_once()
    assert fake.logins == 2
    assert [seen.status for seen in fake.seen if seen.status == 401] == []


@pytest.mark.parametrize("how", ["expired", "revoked"])
async def test_a_refused_login_token_is_exchanged_again_once(store: Store, how: str) -> None:
    clock = Clock()
    fake = site(clock)
    creds = credentials(fake, LOGIN)
    frozen = Clock()  # the poller's clock stands still: only the site sees time pass
    config = SmPollerConfig(
        base_url=BASE_URL, credentials=creds, idle_seconds=0.001, limit=2, min_backoff=0.001
    )
    async with SmPoller(
        config, store, Ingestor(store).submit, transport=httpx.ASGITransport(app=fake), clock=frozen
    ) as sm:
        await sm.poll_once()
        if how == "expired":
            clock.now += 7200
        else:
            fake.revoke()
        await asyncio.wait_for(sm.run(asyncio.Event(), once=True), GUARD)
    assert fake.logins == 2
    assert [seen.path for seen in fake.seen if seen.status == 401] == [EXPORT_PATH]
    await assert_webhook_balances(store, fake)


async def test_a_wrong_password_stops_the_poller(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = site()
    wrong = SmCredentials(username=fake.username, password="wrong-password-value")
    with pytest.raises(SmRejected) as refused:
        await pull(fake, store, wrong)
    assert refused.value.status == 401
    assert [seen.path for seen in fake.seen] == [LOGIN_PATH]
    assert "wrong-password-value" not in caplog.text


async def test_an_expired_administrators_token_stops_the_poller(store: Store) -> None:
    clock = Clock()
    fake = site(clock)
    creds = SmCredentials(token=fake.developer_token(lifetime=60))
    clock.now += 61
    with pytest.raises(SmRejected) as refused:
        await pull(fake, store, creds)
    assert refused.value.status == 401
    assert "expired" in refused.value.detail


def test_credentials_are_one_way_or_another() -> None:
    with pytest.raises(ValueError, match="exactly one"):
        SmCredentials()
    with pytest.raises(ValueError, match="exactly one"):
        SmCredentials(token="t", username="u", password="p")
    with pytest.raises(ValueError, match="password"):
        SmCredentials(username="u")
    with pytest.raises(ValueError, match="customer code"):
        SmCredentials(customer_id="c")
    shown = repr(SmCredentials(username="u", password="secret-value"))
    assert "secret-value" not in shown


# --------------------------------------------------------------------------
# Rate limits


class FakeTime:
    """A clock that moves only when someone sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


async def test_the_pace_keeps_any_second_to_fifteen_requests() -> None:
    time = FakeTime()
    pace = Pace(clock=time, sleep=time.sleep)
    sent = []
    for _ in range(100):
        await pace.wait(EXPORT_PATH)
        sent.append(time.now)
        time.now += 0.001  # each request takes a millisecond
    for index, moment in enumerate(sent):
        assert sum(1 for other in sent[index:] if other - moment < 1.0 - 1e-6) <= 15
    # ...and no slower than that: the 100th request goes out within seven seconds.
    assert sent[-1] < 7.0


async def test_the_pace_waits_for_the_window_the_site_says_is_used_up() -> None:
    time = FakeTime()
    pace = Pace(clock=time, sleep=time.sleep)
    await pace.wait(EXPORT_PATH)
    pace.observe(EXPORT_PATH, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": "5"})
    await pace.wait(EXPORT_PATH)
    assert time.now >= 5.0
    pace.observe(EXPORT_PATH, {"x-ratelimit-remaining": "3", "x-ratelimit-reset": "5"})
    before = time.now
    await pace.wait(EXPORT_PATH)
    assert time.now == before


async def test_a_real_burst_is_never_refused_for_the_rate() -> None:
    """Forty reads as fast as the client goes, against the site's real clock."""
    fake = site()
    client = SmClient(
        BASE_URL,
        credentials(fake, "customer").auth(BASE_URL),
        transport=httpx.ASGITransport(app=fake),
    )
    try:
        for _ in range(40):
            page = await client.inventory_usage(rowver="0", limit=1, src="mob")
            assert page.body
    finally:
        await client.aclose()
    statuses = [seen.status for seen in fake.seen if seen.path == EXPORT_PATH]
    assert statuses == [200] * 40
