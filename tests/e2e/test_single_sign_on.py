"""Single sign-on over HTTP against a standards-following OpenID provider on
loopback (tests.fakes.oidc_provider), on SQLite and PostgreSQL: the code
flow with PKCE, roles mapped to scopes, sessions that outlive the ID token,
state, nonce, issuer and audience checked, sign-out here and at the
provider, revocation by an admin, and bad settings refused at start."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
import time_machine

from adapters.oidc import OidcConfig, granted_scopes, parse_role_map
from api.settings import SettingsError, from_env
from tests.e2e.test_cli import Cli, cli  # noqa: F401  # the fixture
from tests.e2e.test_dashboard_pages import form_token
from tests.e2e.test_dashboard_pages import sign_in as token_sign_in
from tests.fakes.oidc_provider import Client, OpenIdProvider, User
from tests.harness.live import Live, live_app, settings_for

APP = "http://testserver"
CALLBACK = f"{APP}/ui/oidc/callback"
ROLE_MAP = "stock-controller=read,integrator=write,ops=admin"
USERS = {
    "sam": User("sam-pw", ["stock-controller"], "sam@example.com"),
    "ivan": User("ivan-pw", ["integrator", "unrelated"], "ivan@example.com"),
    "olga": User("olga-pw", ["ops"], "olga@example.com"),
    "nora": User("nora-pw", ["visitor"], "nora@example.com"),
}


@pytest.fixture
def provider() -> Iterator[OpenIdProvider]:
    clients = {
        "invtrack": Client(
            secret="client-secret-1",
            redirect_uris=[CALLBACK],
            post_logout_redirect_uris=[f"{APP}/ui/login?out=1"],
        )
    }
    with OpenIdProvider(clients, USERS) as running:
        yield running


def oidc_config(issuer: str) -> OidcConfig:
    return OidcConfig(
        issuer=issuer,
        client_id="invtrack",
        client_secret="client-secret-1",
        role_map=parse_role_map(ROLE_MAP),
    )


@pytest.fixture
async def live(database_url: str, tmp_path: Path, provider: OpenIdProvider) -> AsyncIterator[Live]:
    settings = settings_for(database_url, tmp_path, oidc=oidc_config(provider.issuer))
    async with live_app(settings) as running:
        yield running


@pytest.fixture
async def browser_of_provider() -> AsyncIterator[httpx.AsyncClient]:
    """The browser's side at the provider: its own cookies, real HTTP."""
    async with httpx.AsyncClient(timeout=30) as client:
        yield client


@dataclass
class Flow:
    start: httpx.Response
    callback: str
    answer: httpx.Response


async def through_provider(
    app: httpx.AsyncClient,
    at_provider: httpx.AsyncClient,
    user: str = "sam",
    *,
    next_page: str = "/ui/counts",
    tamper: Any = None,
) -> Flow:
    """The browser's way through a sign-in: to the provider, its form, back."""
    start = await app.get("/ui/oidc/login", params={"next": next_page})
    assert start.status_code == 303, start.text
    back = await at_provider.get(start.headers["location"])
    if back.status_code == 200:  # not signed in at the provider yet: its form
        fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', back.text))
        fields.update(username=user, password=USERS[user].password)
        issuer = "{0.scheme}://{0.netloc}".format(urlsplit(start.headers["location"]))
        back = await at_provider.post(f"{issuer}/authorize", data=fields)
    assert back.status_code == 302, back.text
    callback = back.headers["location"]
    assert callback.startswith(CALLBACK)
    if tamper is not None:
        callback = tamper(callback)
    answer = await app.get(callback.removeprefix(APP))
    return Flow(start=start, callback=callback, answer=answer)


def signed_in_as(answer: httpx.Response) -> bool:
    return answer.status_code == 200 and "Taking you to the dashboard" in answer.text


async def test_sign_in_with_pkce_and_a_session_that_outlives_the_id_token(
    live: Live, provider: OpenIdProvider, browser_of_provider: httpx.AsyncClient
) -> None:
    provider.knobs.lifetime_seconds = 60
    flow = await through_provider(live.client, browser_of_provider)
    assert signed_in_as(flow.answer), flow.answer.text
    assert 'content="0; url=/ui/counts"' in flow.answer.text

    asked = parse_qs(urlsplit(flow.start.headers["location"]).query)
    assert asked["code_challenge_method"] == ["S256"]
    assert asked["response_type"] == ["code"]
    assert "openid" in asked["scope"][0].split(" ")
    sent = provider.token_requests[-1]
    assert len(sent["code_verifier"]) >= 43
    assert "client_secret" not in sent  # client_secret_basic: the secret went in a header
    assert sent["redirect_uri"] == CALLBACK
    assert provider.issued[-1]["nonce"] == asked["nonce"][0]
    assert "invtrack_sso" not in live.client.cookies  # the sign-in in progress is dropped

    page = await live.client.get("/ui/counts")
    assert page.status_code == 200
    assert "sam" in page.text
    expiry = datetime.fromtimestamp(provider.issued[-1]["exp"], UTC)
    with time_machine.travel(expiry + timedelta(hours=2), tick=False):
        later = await live.client.get("/ui/counts", follow_redirects=False)
    assert later.status_code == 200  # two hours past the ID token's exp


@pytest.mark.parametrize(
    ("user", "admin_page", "scopes"),
    [("sam", 403, ("read",)), ("ivan", 403, ("write",)), ("olga", 200, ("admin",))],
)
async def test_roles_map_to_scopes(
    live: Live,
    browser_of_provider: httpx.AsyncClient,
    user: str,
    admin_page: int,
    scopes: tuple[str, ...],
) -> None:
    assert granted_scopes(USERS[user].roles, parse_role_map(ROLE_MAP)) == scopes
    flow = await through_provider(live.client, browser_of_provider, user)
    assert signed_in_as(flow.answer)
    assert (await live.client.get("/ui/sessions")).status_code == admin_page


async def test_a_person_without_a_mapped_role_is_refused(
    live: Live, browser_of_provider: httpx.AsyncClient
) -> None:
    flow = await through_provider(live.client, browser_of_provider, "nora")
    assert flow.answer.status_code == 403
    assert "none of your roles (visitor) opens the dashboard" in flow.answer.text
    assert (await live.client.get("/ui/", follow_redirects=False)).status_code == 303


def other_state(callback: str) -> str:
    return re.sub(r"state=[^&]+", "state=forged", callback)


async def test_a_state_that_is_not_this_browsers_is_refused(
    live: Live, provider: OpenIdProvider, browser_of_provider: httpx.AsyncClient
) -> None:
    flow = await through_provider(live.client, browser_of_provider, tamper=other_state)
    assert flow.answer.status_code == 400
    assert "does not belong to the sign-in this browser started" in flow.answer.text
    assert provider.token_requests == []  # the code was never redeemed
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=live.app),  # type: ignore[arg-type]
        base_url=APP,
    ) as stranger:
        # Someone else's callback, in a browser that started no sign-in.
        answer = await stranger.get(flow.callback.removeprefix(APP))
    assert answer.status_code == 400
    assert "not started in this browser" in answer.text


@pytest.mark.parametrize(
    ("knob", "value", "says"),
    [
        ("nonce", "not-the-sign-ins-nonce", "nonce"),
        ("issuer", "https://elsewhere.example.com", "iss"),
        ("audience", "another-client", "aud"),
        ("audience", ["invtrack", "another-client"], "several audiences"),
    ],
)
async def test_an_id_token_for_another_sign_in_issuer_or_client_is_refused(
    live: Live,
    provider: OpenIdProvider,
    browser_of_provider: httpx.AsyncClient,
    knob: str,
    value: Any,
    says: str,
) -> None:
    setattr(provider.knobs, knob, value)
    flow = await through_provider(live.client, browser_of_provider)
    assert flow.answer.status_code == 400, flow.answer.text
    assert "Single sign-on did not work" in flow.answer.text
    assert says in flow.answer.text
    assert (await live.client.get("/ui/", follow_redirects=False)).status_code == 303


async def test_a_code_is_redeemed_once(live: Live, browser_of_provider: httpx.AsyncClient) -> None:
    flow = await through_provider(live.client, browser_of_provider)
    assert signed_in_as(flow.answer)
    again = await live.client.get(flow.callback.removeprefix(APP))
    assert again.status_code == 400  # the browser's sign-in was used up
    assert "not started in this browser" in again.text
    used = parse_qs(urlsplit(flow.callback).query)["code"][0]

    def old_code(callback: str) -> str:
        return re.sub(r"code=[^&]+", f"code={used}", callback)

    # A new sign-in in the same browser, answered with the used code.
    replayed = await through_provider(live.client, browser_of_provider, tamper=old_code)
    assert replayed.answer.status_code == 400
    assert "invalid_grant" in replayed.answer.text


async def test_sign_out_ends_the_session_here_and_at_the_provider(
    live: Live, provider: OpenIdProvider, browser_of_provider: httpx.AsyncClient
) -> None:
    await through_provider(live.client, browser_of_provider)
    copied = live.client.cookies["invtrack_session"]
    csrf = await form_token(live.client, "/ui/")
    out = await live.client.post("/ui/logout", data={"csrf": csrf})
    assert out.status_code == 200
    target = re.search(r'content="0; url=([^"]+)"', out.text)
    assert target is not None
    logout = target.group(1).replace("&amp;", "&")
    assert logout.startswith(f"{provider.issuer}/logout?")
    assert parse_qs(urlsplit(logout).query)["client_id"] == ["invtrack"]
    back = await browser_of_provider.get(logout)
    assert (back.status_code, back.headers["location"]) == (302, f"{APP}/ui/login?out=1")
    assert len(provider.logouts) == 1
    answer = await live.client.get(
        "/ui/", headers={"cookie": f"invtrack_session={copied}"}, follow_redirects=False
    )
    assert answer.status_code == 303
    # Signed out at the provider too: the next sign-in asks for the password again.
    start = await live.client.get("/ui/oidc/login")
    form = await browser_of_provider.get(start.headers["location"])
    assert "Sign in to the organisation" in form.text


async def test_without_an_end_session_endpoint_sign_out_stays_here(
    live: Live, provider: OpenIdProvider, browser_of_provider: httpx.AsyncClient
) -> None:
    provider.knobs.advertise_logout = False
    await through_provider(live.client, browser_of_provider)
    csrf = await form_token(live.client, "/ui/")
    out = await live.client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
    assert (out.status_code, out.headers["location"]) == (303, "/ui/login?out=1")
    assert provider.logouts == []


async def test_an_admin_ends_a_single_sign_on_users_sessions(
    live: Live, browser_of_provider: httpx.AsyncClient
) -> None:
    await through_provider(live.client, browser_of_provider, "sam")
    sams = live.client.cookies["invtrack_session"]
    live.client.cookies.clear()
    async with httpx.AsyncClient(timeout=30) as olgas_provider:
        await through_provider(live.client, olgas_provider, "olga")
    listed = await live.client.get("/ui/sessions")
    assert "single sign-on" in listed.text
    assert "End the sessions of sam" in listed.text
    csrf = await form_token(live.client, "/ui/sessions")
    await live.client.post("/ui/sessions/end", data={"csrf": csrf, "subject": "user-sam"})
    answer = await live.client.get(
        "/ui/", headers={"cookie": f"invtrack_session={sams}"}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert (await live.client.get("/ui/sessions")).status_code == 200  # olga's goes on


async def test_an_unreachable_provider_is_a_page_and_tokens_still_work(
    database_url: str, tmp_path: Path
) -> None:
    settings = settings_for(database_url, tmp_path, oidc=oidc_config("http://127.0.0.1:9"))
    async with live_app(settings) as running:
        answer = await running.client.get("/ui/oidc/login")
        assert answer.status_code == 503
        assert "identity provider cannot be reached" in answer.text
        login = await running.client.get("/ui/login")
        assert "Sign in with single sign-on" in login.text
        assert (await token_sign_in(running.client, "read")).status_code == 303


GOOD = {
    "INVTRACK_OIDC_ISSUER": "https://login.example.com/realms/acme",
    "INVTRACK_OIDC_CLIENT_ID": "invtrack",
    "INVTRACK_OIDC_CLIENT_SECRET": "s3cret",
    "INVTRACK_OIDC_ROLE_MAP": ROLE_MAP,
}


def test_good_settings() -> None:
    config = from_env(GOOD).oidc
    assert config is not None
    assert config.roles_claim == "roles"
    assert config.role_map == (
        ("stock-controller", "read"),
        ("integrator", "write"),
        ("ops", "admin"),
    )
    assert "s3cret" not in repr(config)
    assert from_env({}).oidc is None


@pytest.mark.parametrize(
    ("changes", "named"),
    [
        ({"INVTRACK_OIDC_ISSUER": ""}, "INVTRACK_OIDC_CLIENT_ID is set but INVTRACK_OIDC_ISSUER"),
        ({"INVTRACK_OIDC_ISSUER": "http://login.example.com"}, "INVTRACK_OIDC_ISSUER must be"),
        ({"INVTRACK_OIDC_ISSUER": "https://x.example/?a=1"}, "INVTRACK_OIDC_ISSUER must be"),
        ({"INVTRACK_OIDC_ISSUER": "login.example.com"}, "INVTRACK_OIDC_ISSUER must be"),
        ({"INVTRACK_OIDC_CLIENT_ID": ""}, "INVTRACK_OIDC_CLIENT_ID is required"),
        ({"INVTRACK_OIDC_ROLE_MAP": ""}, "INVTRACK_OIDC_ROLE_MAP"),
        ({"INVTRACK_OIDC_ROLE_MAP": "ops=root"}, "INVTRACK_OIDC_ROLE_MAP"),
        ({"INVTRACK_OIDC_ROLE_MAP": "ops"}, "INVTRACK_OIDC_ROLE_MAP"),
        ({"INVTRACK_OIDC_ROLE_MAP": "ops=read,ops=admin"}, "INVTRACK_OIDC_ROLE_MAP"),
        ({"INVTRACK_OIDC_ROLES_CLAIM": "realm..roles"}, "INVTRACK_OIDC_ROLES_CLAIM"),
        ({"INVTRACK_OIDC_REDIRECT_URI": "https://x.example/cb"}, "INVTRACK_OIDC_REDIRECT_URI"),
    ],
)
def test_bad_settings_name_the_variable(changes: dict[str, str], named: str) -> None:
    with pytest.raises(SettingsError, match=re.escape(named)):
        from_env({**GOOD, **changes})


def test_serve_refuses_bad_settings_in_one_line(cli: Cli) -> None:  # noqa: F811
    ran = cli("serve", OIDC_ISSUER="https://login.example.com", OIDC_CLIENT_ID="invtrack")
    assert ran.code == 2
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert "INVTRACK_OIDC_ROLE_MAP" in lines[0]
