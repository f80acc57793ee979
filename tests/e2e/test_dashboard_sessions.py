"""Dashboard sessions over HTTP, on SQLite and PostgreSQL: kept in the store
and revocable (a copied cookie dies at sign-out, an admin ends a person's
sessions, every process sees the same sessions), a cookie that carries only
a signed id, any malformed cookie taken for a signed-out visitor, and the
security headers on every answer under /ui."""

from __future__ import annotations

import base64
import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_dashboard_pages import form_token, sign_in
from tests.harness.live import Live, live_app, settings_for

Client = httpx.AsyncClient
COOKIE = "invtrack_session"
SIGNED_ID = re.compile(r"[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}")


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


@pytest.fixture
def client(live: Live) -> Client:
    return live.client


def other_browser(live: Live) -> Client:
    """A second client of the same app, with a cookie jar of its own."""
    transport = httpx.ASGITransport(app=live.app)  # type: ignore[arg-type]
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def opens(client: Client, cookie: str, path: str = "/ui/resources") -> int:
    """The status a request with exactly this session cookie gets."""
    answer = await client.get(
        path, headers={"cookie": f"{COOKIE}={cookie}"}, follow_redirects=False
    )
    return answer.status_code


async def test_the_cookie_carries_only_a_signed_id(client: Client) -> None:
    answer = await sign_in(client, "admin")
    cookie = client.cookies[COOKIE]
    assert SIGNED_ID.fullmatch(cookie), cookie
    raw = answer.headers["set-cookie"]
    assert "HttpOnly" in raw
    assert "Max-Age=43200" in raw  # INVTRACK_SESSION_HOURS, not the token's lifetime
    sid, signature = cookie.split(".")
    forged = f"{sid}.{signature[::-1]}"
    assert await opens(client, forged) == 303


async def test_a_copied_cookie_stops_working_at_sign_out(client: Client, live: Live) -> None:
    await sign_in(client, "read")
    copied = client.cookies[COOKIE]
    async with other_browser(live) as thief:
        assert await opens(thief, copied) == 200
        csrf = await form_token(client, "/ui/")
        out = await client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert await opens(thief, copied) == 303
        ended = await thief.get(
            "/ui/", headers={"cookie": f"{COOKIE}={copied}"}, follow_redirects=False
        )
    assert "ended=1" in ended.headers["location"]


async def test_an_admin_ends_a_persons_sessions(client: Client, live: Live) -> None:
    async with other_browser(live) as reader, other_browser(live) as again:
        await sign_in(reader, "read")
        await sign_in(again, "read")
        await sign_in(client, "admin")
        listed = await client.get("/ui/sessions")
        assert listed.status_code == 200
        assert listed.text.count("<tr><td>") == 3  # two of invtrack-cli's read sessions, and ours
        assert await opens(reader, reader.cookies[COOKIE], "/ui/sessions") == 403

        refused = await reader.post(
            "/ui/sessions/end",
            data={"csrf": await form_token(reader, "/ui/"), "subject": "invtrack-cli"},
        )
        assert refused.status_code == 403
        forged = await client.post(
            "/ui/sessions/end", data={"csrf": "guessed", "subject": "invtrack-cli"}
        )
        assert forged.status_code == 403
        assert await opens(reader, reader.cookies[COOKIE]) == 200

        csrf = await form_token(client, "/ui/sessions")
        done = await client.post(
            "/ui/sessions/end",
            data={"csrf": csrf, "subject": "invtrack-cli"},
            follow_redirects=False,
        )
        assert (done.status_code, done.headers["location"]) == (303, "/ui/sessions")
        assert await opens(reader, reader.cookies[COOKIE]) == 303
        assert await opens(again, again.cookies[COOKIE]) == 303
    # Every token the test mints names invtrack-cli: the admin's session ended too.
    assert await opens(client, client.cookies[COOKIE]) == 303


async def test_every_process_sees_the_same_sessions(
    database_url: str, tmp_path: Path, live: Live
) -> None:
    async with live_app(settings_for(database_url, tmp_path)) as second:
        await sign_in(live.client, "read")
        cookie = live.client.cookies[COOKIE]
        assert await opens(second.client, cookie) == 200
        second.client.cookies.set(COOKIE, cookie)
        csrf = await form_token(second.client, "/ui/")
        out = await second.client.post("/ui/logout", data={"csrf": csrf}, follow_redirects=False)
        assert out.status_code == 303
        assert await opens(live.client, cookie) == 303


MALFORMED = [
    base64.b64encode(bytes(32)).decode() + "garbage",
    base64.b64encode(bytes(32) + b"\xff\x00garbage").decode(),
    "",
    "null",
    "A" * 43 + "." + "B" * 43,
    "." * 87,
    "\u00ff\u0080" * 10,
    "x" * 5000,
    '"' + "A" * 43 + "." + "B" * 43,
    "%00%ff",
]


@pytest.mark.parametrize("value", MALFORMED)
async def test_a_malformed_session_cookie_is_a_signed_out_visitor(
    client: Client, value: str
) -> None:
    header = f"{COOKIE}={value}".encode("latin-1")
    page = await client.get("/ui/", headers={b"cookie": header}, follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/ui/login?next=")
    assert "ended" not in page.headers["location"]
    form = await client.get("/ui/login", headers={b"cookie": header})
    assert form.status_code == 200
    assert 'name="csrf"' in form.text


def assert_secured(answer: httpx.Response, *, page: bool = True) -> None:
    headers = answer.headers
    where = f"{answer.request.method} {answer.request.url.path} -> {answer.status_code}"
    assert "script-src 'self'" in headers.get("content-security-policy", ""), where
    assert "frame-ancestors 'none'" in headers["content-security-policy"], where
    assert headers.get("x-frame-options") == "DENY", where
    assert headers.get("x-content-type-options") == "nosniff", where
    assert len(headers.get_list("content-security-policy")) == 1, where
    if page:
        assert headers.get("cache-control") == "no-store", where


async def test_every_answer_under_ui_carries_the_security_headers(client: Client) -> None:
    visitor = [
        (await client.get("/ui/login"), 200),
        (await client.get("/ui/", follow_redirects=False), 303),
        (await client.get("/ui/no/such/page"), 404),
        (await client.delete("/ui/login"), 405),
        (await client.put("/ui/quarantine"), 405),
        (await client.post("/ui/login", data={"csrf": "forged", "token": "x"}), 403),
        (await client.get("/ui/oidc/login"), 404),
    ]
    await sign_in(client, "read")
    signed_in = [
        (await client.get("/ui/resources/VAN-07?limit=lots"), 400),
        (await client.get("/ui/quarantine?cursor=-1"), 400),
        (await client.get("/ui/sessions"), 403),
        (await client.get("/ui/inventories/no-such-key"), 404),
        (await client.post("/ui/quarantine/1/replay", data={}), 403),
    ]
    for answer, status in visitor + signed_in:
        assert answer.status_code == status, (answer.request.url, answer.text[:200])
        assert_secured(answer)
    for path in ("/ui/static/dashboard.css", "/ui/static/dashboard.js", "/ui/static/nope.css"):
        answer = await client.get(path)
        assert_secured(answer, page=answer.status_code != 200)
    assert (await client.get("/ui/static/dashboard.css")).headers["cache-control"] != "no-store"
    api = await client.get("/health")
    assert "content-security-policy" not in api.headers
