"""Single sign-on in Chromium against a real `invtrack serve` on each
backend and the OpenID provider of tests.fakes.oidc_provider on loopback:
sign in through the provider's form, stay signed in past the ID token's
expiry, sign out here and at the provider."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser.test_dashboard import shoot
from tests.fakes.oidc_provider import Client, OpenIdProvider, User
from tests.harness.server import Server

ID_TOKEN_SECONDS = 5


@pytest.fixture(scope="module")
def provider() -> Iterator[OpenIdProvider]:
    clients = {"invtrack": Client(secret="browser-secret", redirect_uris=[])}
    users = {"sam": User("sam-pw", ["stock-controller"], "sam@example.com")}
    with OpenIdProvider(clients, users) as running:
        yield running


@pytest.fixture(scope="module")
def sso_server(
    backend: str, provider: OpenIdProvider, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Server]:
    running = Server(
        backend,
        tmp_path_factory.mktemp("sso-server"),
        extra_env={
            "INVTRACK_OIDC_ISSUER": provider.issuer,
            "INVTRACK_OIDC_CLIENT_ID": "invtrack",
            "INVTRACK_OIDC_CLIENT_SECRET": "browser-secret",
            "INVTRACK_OIDC_ROLE_MAP": "stock-controller=read,ops=admin",
            # No leeway: the ID token is really over when the test says so.
            "INVTRACK_JWT_LEEWAY": "0",
        },
    )
    running.start()
    client = provider.clients["invtrack"]
    client.redirect_uris.append(f"{running.url}/ui/oidc/callback")
    client.post_logout_redirect_uris.append(f"{running.url}/ui/login?out=1")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def sso_page(page: Page, sso_server: Server) -> Page:
    """The default page, pointed at the single sign-on server."""
    page.goto(f"{sso_server.url}/ui/")
    return page


def test_sign_in_through_the_provider_and_stay_past_the_id_tokens_expiry(
    sso_page: Page, sso_server: Server, provider: OpenIdProvider
) -> None:
    page = sso_page
    provider.knobs.lifetime_seconds = ID_TOKEN_SECONDS
    expect(page).to_have_url(re.compile(r"/ui/login\?next="))
    shoot(page, sso_server, "login-sso")
    page.get_by_role("link", name="Sign in with single sign-on").click()

    expect(page.get_by_role("heading", name="Sign in to the organisation")).to_be_visible()
    page.get_by_label("Username").fill("sam")
    page.get_by_label("Password").fill("sam-pw")
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    expect(page.locator(".who")).to_contain_text("sam")
    expiry = provider.issued[-1]["exp"]

    # Wait on the clock itself until the ID token is over, then keep working.
    deadline = time.monotonic() + ID_TOKEN_SECONDS + 30
    while time.time() <= expiry + 1:
        assert time.monotonic() < deadline
        page.wait_for_timeout(200)
    page.goto(f"{sso_server.url}/ui/counts")
    expect(page.get_by_role("heading", name="Counts")).to_be_visible()
    page.get_by_role("link", name="Technicians").click()
    expect(page.locator(".who")).to_contain_text("sam")

    logouts = len(provider.logouts)
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/ui/login\?out=1$"))
    expect(page.get_by_role("status")).to_contain_text("signed out")
    assert len(provider.logouts) == logouts + 1
    page.goto(f"{sso_server.url}/ui/counts")
    expect(page).to_have_url(re.compile(r"/ui/login\?next=%2Fui%2Fcounts"))

    # Signed out at the provider too: it asks for the password again.
    page.get_by_role("link", name="Sign in with single sign-on").click()
    expect(page.get_by_role("heading", name="Sign in to the organisation")).to_be_visible()
