"""OFS polling with OAuth 2.0 access tokens from the instance's token service,
with both grants: tokens are fetched once, renewed before `expires_in` runs
out, fetched again once after a 401, and never logged."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from adapters.ofs.client import OfsRejected
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.poller import OfsPoller, OfsPollerConfig
from adapters.store import Store
from api.cli.poll import run_ofs_poll
from api.services.group_commit import Ingestor
from api.settings import from_env
from tests.fakes.http import serving
from tests.fakes.ofs_oauth import TOKEN_PATH, key_pair
from tests.fakes.ofs_server import EVENTS_PATH, FakeOfs
from tests.harness.databases import migrated_store
from tests.integration.test_ofs_poller import (
    EXPECTED,
    PAGE_01,
    PAGE_02,
    Crashes,
    drain,
    extra_events,
    state,
)

BASE_URL = "http://ofs.test"
T0 = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)


class Clock:
    """One time for the fake OFS and the poller, moved by the test."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now

    def seconds(self) -> float:
        return self.now.timestamp()


def credentials(fake: FakeOfs, grant: str, **overrides: Any) -> OfsCredentials:
    fields: dict[str, Any] = {"client_id": fake.client_id, "instance": fake.instance}
    if grant == "client_credentials":
        fields["client_secret"] = fake.secret
    else:
        fields["private_key"] = key_pair()[0]
    return OfsCredentials(grant=grant, **(fields | overrides))  # type: ignore[arg-type]


def poller(
    fake: FakeOfs,
    store: Store,
    ingestor: Ingestor,
    creds: OfsCredentials,
    clock: Callable[[], float],
) -> OfsPoller:
    config = OfsPollerConfig(
        base_url=BASE_URL,
        credentials=creds,
        name="ofs-oauth-test",
        idle_seconds=0.001,
        min_backoff=0.001,
        max_backoff=0.005,
        max_retry_after=0.01,
    )
    return OfsPoller(
        config, store, ingestor.submit, transport=httpx.ASGITransport(app=fake), clock=clock
    )


GRANTS = pytest.mark.parametrize("grant", ["client_credentials", "jwt"])
GRANT_TYPES = {
    "client_credentials": "client_credentials",
    "jwt": "urn:ietf:params:oauth:grant-type:jwt-bearer",
}


@GRANTS
async def test_polling_survives_token_expiry_and_revocation(
    store: Store, grant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    clock = Clock()
    fake = FakeOfs(clock=clock)
    fake.oauth.lifetime = 600
    ingestor = Ingestor(store)
    async with poller(fake, store, ingestor, credentials(fake, grant), clock.seconds) as ofs:
        await drain(ofs, fake)
        assert len(fake.oauth.grants) == 1

        # Renewed before it runs out: no request is refused for an expired token.
        clock.now += timedelta(seconds=590)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)
        assert len(fake.oauth.grants) == 2
        assert not [seen for seen in fake.seen if seen.status == 401]

        # Revoked early: one 401, one new token, the same request again.
        fake.oauth.revoke()
        fake.publish_page(PAGE_02)
        await drain(ofs, fake)
        assert len(fake.oauth.grants) == 3
        assert [seen.path for seen in fake.seen if seen.status == 401] == [EVENTS_PATH]
    assert fake.oauth.grants == [GRANT_TYPES[grant]] * 3
    assert await store.count() == 13
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
    assert len(fake.oauth.issued) == 3
    for secret in [fake.secret, key_pair()[0].splitlines()[1], *fake.oauth.issued]:
        assert secret not in caplog.text


@GRANTS
async def test_a_token_expired_by_the_servers_clock_is_fetched_again_once(
    store: Store, grant: str
) -> None:
    clock = Clock()
    fake = FakeOfs(clock=clock)
    fake.oauth.lifetime = 60
    ingestor = Ingestor(store)
    # The poller's clock stands still: only OFS sees the token run out.
    frozen = clock.seconds()
    async with poller(fake, store, ingestor, credentials(fake, grant), lambda: frozen) as ofs:
        await drain(ofs, fake)
        clock.now += timedelta(seconds=61)
        fake.publish_page(PAGE_01)
        await drain(ofs, fake)
    assert len(fake.oauth.grants) == 2
    assert [seen.status for seen in fake.seen if seen.status == 401] == [401]
    assert await store.count() == 9


def test_the_assertion_is_short_lived_and_names_the_application_or_a_user() -> None:
    fake = FakeOfs()
    for user, subject in ((None, "ofsc:acme-test:invtrack-app"), ("jsmith", "jsmith")):
        auth = credentials(fake, "jwt", user=user).auth(BASE_URL, clock=lambda: 1_800_000_000.0)
        request = auth.token_request()  # type: ignore[attr-defined]
        form = dict(pair.split("=", 1) for pair in request.content.decode().split("&"))
        assert form["grant_type"] == "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        token = form["assertion"]
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        claims = jwt.decode(
            token,
            key_pair()[1],
            algorithms=["RS256"],
            audience="ofsc:acme-test:invtrack-app",
            options={"verify_exp": False, "verify_iat": False},
        )
        assert claims["sub"] == subject
        assert claims["iat"] == 1_800_000_000
        assert 0 < claims["exp"] - claims["iat"] <= 300
        assert "Authorization" not in request.headers


def test_the_client_credentials_request_authenticates_with_basic() -> None:
    fake = FakeOfs()
    auth = credentials(fake, "client_credentials").auth(BASE_URL)
    request = auth.token_request()  # type: ignore[attr-defined]
    assert request.url == BASE_URL + TOKEN_PATH
    basic = base64.b64encode(f"invtrack-app@acme-test:{fake.secret}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {basic}"
    assert request.content == b"grant_type=client_credentials"


@GRANTS
async def test_refused_credentials_stop_the_poller_without_logging_them(
    store: Store, grant: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    fake = FakeOfs()
    wrong = (
        credentials(fake, grant, client_secret="wrong-secret-value")
        if grant == "client_credentials"
        else credentials(fake, grant, user="nobody")  # not an OFS user
    )
    ofs = poller(fake, store, Ingestor(store), wrong, Clock().seconds)
    with pytest.raises(OfsRejected) as refused:
        await asyncio.wait_for(ofs.run(asyncio.Event()), 60)
    assert refused.value.status == 401
    assert [seen.path for seen in fake.seen] == [TOKEN_PATH]
    assert "wrong-secret-value" not in caplog.text


async def test_a_token_service_outage_is_waited_out(store: Store) -> None:
    fake = FakeOfs()
    fake.fail(503, times=2, retry_after="1", path=TOKEN_PATH)
    ingestor = Ingestor(store)
    fake.publish_page(PAGE_01)
    async with poller(
        fake, store, ingestor, credentials(fake, "client_credentials"), Clock().seconds
    ) as ofs:
        await asyncio.wait_for(ofs.run(asyncio.Event(), once=True), 60)
    assert [seen.status for seen in fake.seen if seen.path == TOKEN_PATH] == [503, 503, 200]
    assert fake.oauth.grants == ["client_credentials"]


async def test_a_second_401_after_a_new_token_is_a_refusal(store: Store) -> None:
    fake = FakeOfs()
    ingestor = Ingestor(store)
    async with poller(
        fake, store, ingestor, credentials(fake, "client_credentials"), Clock().seconds
    ) as ofs:
        await drain(ofs, fake)
        fake.fail(401, times=2, path=EVENTS_PATH)
        with pytest.raises(OfsRejected):
            await ofs.poll_once()
    assert len(fake.oauth.grants) == 2


def test_each_grant_needs_its_secret() -> None:
    with pytest.raises(ValueError, match="private key"):
        OfsCredentials(client_id="a", instance="b", grant="jwt")
    with pytest.raises(ValueError, match="secret"):
        OfsCredentials(client_id="a", instance="b", grant="client_credentials")
    with pytest.raises(ValueError, match="PEM"):
        OfsCredentials(client_id="a", instance="b", grant="jwt", private_key="nope").auth(BASE_URL)
    shown = repr(
        OfsCredentials(client_id="a", instance="b", grant="jwt", private_key=key_pair()[0])
    )
    assert "PRIVATE" not in shown


@GRANTS
async def test_ofs_poll_once_with_oauth_from_the_environment(
    tmp_path: Path, grant: str, capsys: pytest.CaptureFixture[str]
) -> None:
    fake = FakeOfs()
    key_file = tmp_path / "ofs-assertion-key.pem"
    key_file.write_text(key_pair()[0])
    async with serving(fake) as base_url:
        env = {
            "INVTRACK_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'ofs.db'}",
            "INVTRACK_OFS_URL": base_url,
            "INVTRACK_OFS_AUTH": grant,
            "INVTRACK_OFS_CLIENT_ID": fake.client_id,
            "INVTRACK_OFS_INSTANCE": fake.instance,
            "INVTRACK_OFS_CLIENT_SECRET": fake.secret,
            "INVTRACK_OFS_PRIVATE_KEY_FILE": str(key_file),
        }
        settings = from_env(env)
        # The first run subscribes; OFS collects the subscription's events from then on.
        assert await asyncio.wait_for(run_ofs_poll(settings, once=True), 60) == 0
        fake.publish_page(PAGE_01)
        assert await asyncio.wait_for(run_ofs_poll(settings, once=True), 60) == 0
    assert fake.oauth.grants == [GRANT_TYPES[grant]] * 2
    async with migrated_store(settings.database_url) as store:
        assert await store.count() == 9


async def test_ofs_poll_names_a_bad_configuration(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = from_env(
        {
            "INVTRACK_OFS_URL": "http://ofs.test",
            "INVTRACK_OFS_AUTH": "jwt",
            "INVTRACK_OFS_CLIENT_ID": "app",
            "INVTRACK_OFS_INSTANCE": "acme",
            "INVTRACK_OFS_PRIVATE_KEY_FILE": str(tmp_path / "missing.pem"),
        }
    )
    assert await run_ofs_poll(settings, once=True) == 2
    assert "INVTRACK_OFS_PRIVATE_KEY_FILE" in capsys.readouterr().err


@GRANTS
async def test_killed_at_random_points_with_tokens_every_event_is_stored_once(
    store: Store, grant: str
) -> None:
    rng = random.Random(7)
    clock = Clock()
    fake = FakeOfs(clock=clock)
    fake.oauth.lifetime = 120
    ingestor = Ingestor(store)
    await ingestor.start()
    creds = credentials(fake, grant)
    try:
        async with poller(fake, store, ingestor, creds, clock.seconds) as ofs:
            await drain(ofs, fake)
        fake.publish_page(PAGE_01)
        fake.publish_page(PAGE_02)
        fake.publish(*extra_events(20))
        for _ in range(200):
            if fake.caught_up.is_set():
                break
            clock.now += timedelta(seconds=rng.choice([0, 30, 130]))  # tokens run out
            if rng.random() < 0.2:
                fake.oauth.revoke()
            killed = poller(fake, store, ingestor, creds, clock.seconds)
            killed.submit = Crashes(ingestor.submit, rng, rate=0.25)
            task = asyncio.create_task(killed.run(asyncio.Event()))
            await asyncio.sleep(rng.uniform(0, 0.02))
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        async with poller(fake, store, ingestor, creds, clock.seconds) as ofs:
            await drain(ofs, fake)
    finally:
        await ingestor.stop()
    assert await store.count() == 13 + 20
    assert await state(store, EXPECTED["after 01 then 02"]) == EXPECTED["after 01 then 02"]
    assert len(fake.oauth.grants) > 2
