"""Who is signed in to the dashboard, and the checks every page and form gets.

Sessions live in the store (`adapters.store.DashboardSessions`), so every worker
process and host sees the same ones, and ending one (sign-out, or an admin)
ends it for every copy of its cookie. The cookie, HttpOnly, SameSite=Strict
and scoped to /ui, carries only a random session id and its HMAC signature;
the store keeps a hash of the id, never the id, and never a token. A cookie
that is not exactly a well-signed id is ignored: its bearer is a signed-out
visitor. A visitor gets an id too (with no row behind it) so the sign-in
form has a form token.

The form token (CSRF) every state-changing form sends back is an HMAC of the
session id, so it changes when a new session starts. A session lasts
INVTRACK_SESSION_HOURS from sign-in, whatever the lifetime of the token or
ID token it was opened with.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Final, cast

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.enums import ScopeType
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from adapters.auth import load_or_create_secret
from adapters.store import DashboardSessions, SessionRecord
from api.services.access import NotAllowed
from api.settings import Settings

COOKIE: Final = "invtrack_session"
NOTICE_COOKIE: Final = "invtrack_notice"
"""A message for the next page (after a redirect), signed for its session:
kept in the browser so that showing one never writes to the store."""
SECRET_FILE: Final = "session-secret"  # noqa: S105  # a file name
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TOKEN: Final = "csrf"  # noqa: S105  # a form field name
"""Name of the hidden field that carries the session's form token."""
VISIT: Final = "invtrack.visit"
"""Where a request's session state is kept in its ASGI scope."""
_SIGNED: Final = re.compile(r"([A-Za-z0-9_-]{43})\.([A-Za-z0-9_-]{43})")


class User(msgspec.Struct, frozen=True, kw_only=True):
    """The person behind an open session."""

    subject: str
    name: str
    scopes: tuple[str, ...]
    expires_at: datetime
    method: str = "token"

    @property
    def is_admin(self) -> bool:
        """Admin actions (replay, rebuild, ending sessions) need the admin scope itself."""
        return "admin" in self.scopes


class SignInRequired(Exception):
    """No open session: the person is sent to the sign-in form."""

    def __init__(self, back_to: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in first")
        self.back_to = back_to
        self.reason = reason


class FormExpired(Exception):
    """A form came back without the session's form token (CSRF)."""


class SessionKeys:
    """Signs session ids, and derives their stored key and form token."""

    def __init__(self, secret: bytes) -> None:
        self._key = hashlib.sha256(b"invtrack dashboard session\x00" + secret).digest()

    def _mac(self, purpose: bytes, sid: str) -> str:
        digest = hmac.new(self._key, purpose + b"\x00" + sid.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()

    def cookie(self, sid: str) -> str:
        return f"{sid}.{self._mac(b'cookie', sid)}"

    def read(self, value: str | None) -> str | None:
        """The session id a cookie value carries; None unless well signed."""
        found = _SIGNED.fullmatch(value or "")
        if found is None:
            return None
        sid, mac = found.groups()
        return sid if hmac.compare_digest(mac, self._mac(b"cookie", sid)) else None

    def notice(self, sid: str, text: str) -> str:
        data = base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()
        return f"{data}.{self._mac(b'notice', sid + chr(0) + text)}"

    def read_notice(self, sid: str | None, value: str | None) -> str | None:
        """The message a notice cookie carries for this session, None unless well signed."""
        data, _, mac = (value or "").partition(".")
        if sid is None or not mac or len(data) > 2048:
            return None
        try:
            text = base64.urlsafe_b64decode(data + "=" * (-len(data) % 4)).decode()
        except ValueError:
            return None
        expected = self._mac(b"notice", sid + chr(0) + text)
        return text if hmac.compare_digest(mac, expected) else None

    def form_token(self, sid: str) -> str:
        return self._mac(b"form", sid)

    def aead_key(self) -> bytes:
        """A key for what the browser keeps encrypted (a sign-in in progress)."""
        return hashlib.sha256(self._key + b"\x00pending sign-in").digest()

    @staticmethod
    def stored(sid: str) -> str:
        """The key a session is stored under: a hash of its id."""
        return hashlib.sha256(sid.encode()).hexdigest()


@dataclass
class Visit:
    """One request's session: what its cookie said, and what the answer changes."""

    keys: SessionKeys
    store: DashboardSessions
    settings: Settings
    cookie_sid: str | None
    record: SessionRecord | None
    sid: str | None = None
    set_cookie: str | None = None
    notice_in: str | None = None
    notice_out: str | None = None
    notice_shown: str | None = None

    def open_record(self) -> SessionRecord | None:
        record = self.record
        return record if record is not None and record.open_at(datetime.now(UTC)) else None

    def issue(self, sid: str, max_age: int | None) -> None:
        self.sid = sid
        self.set_cookie = _cookie(self.settings, self.keys.cookie(sid), max_age)


def session_keys(settings: Settings) -> SessionKeys:
    """From INVTRACK_SESSION_SECRET, or from a random secret kept in the data
    directory and created on first start."""
    secret = settings.dashboard.session_secret
    if secret is None:
        secret, _ = load_or_create_secret(settings.data_dir, SECRET_FILE)
    return SessionKeys(secret.encode())


def session_middleware(settings: Settings, store: DashboardSessions) -> DefineMiddleware:
    """The middleware that finds each request's session and settles what the
    answer changed (the cookie, the notice). Given as a closure: routers are
    deep-copied when registered, and a store cannot be."""
    keys = session_keys(settings)

    def build(app: ASGIApp) -> ASGIApp:
        return Sessions(app, keys, store, settings)

    return DefineMiddleware(build)


class Sessions:
    def __init__(
        self, app: ASGIApp, keys: SessionKeys, store: DashboardSessions, settings: Settings
    ) -> None:
        self.app = app
        self.keys = keys
        self.store = store
        self.settings = settings

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        sid = self.keys.read(_cookie_value(scope, COOKIE))
        record = await self.store.session(SessionKeys.stored(sid)) if sid else None
        visit = Visit(self.keys, self.store, self.settings, sid, record, sid=sid)
        visit.notice_in = self.keys.read_notice(sid, _cookie_value(scope, NOTICE_COOKIE))
        cast(dict[str, Any], scope)[VISIT] = visit

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                _settle(visit, message)
            await send(message)

        await self.app(scope, receive, answer)


def _settle(visit: Visit, start: Message) -> None:
    cookies = [] if visit.set_cookie is None else [visit.set_cookie]
    if visit.notice_out is not None and visit.sid is not None:
        notice = visit.keys.notice(visit.sid, visit.notice_out)
        cookies.append(_cookie(visit.settings, notice, None, NOTICE_COOKIE))
    elif visit.notice_shown is not None:
        cookies.append(_cookie(visit.settings, "", 0, NOTICE_COOKIE))
    if cookies:
        headers: list[tuple[bytes, bytes]] = [*start.get("headers", ())]  # type: ignore[misc]
        headers.extend((b"set-cookie", cookie.encode("latin-1")) for cookie in cookies)
        start["headers"] = headers  # type: ignore[typeddict-unknown-key]


def _cookie_value(scope: Scope, cookie: str) -> str | None:
    """Our cookie's value from the request's Cookie headers, read leniently
    (anything malformed is simply not our cookie)."""
    for name, value in scope.get("headers", []):
        if name != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            key, _, found = part.strip().partition("=")
            if key == cookie:
                return found.strip().strip('"')
    return None


def _cookie(settings: Settings, value: str, max_age: int | None, name: str = COOKIE) -> str:
    parts = [f"{name}={value}", "Path=/ui", "HttpOnly", "SameSite=Strict"]
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    if settings.dashboard.secure_cookies:
        parts.append("Secure")
    return "; ".join(parts)


def visit_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Visit | None:
    visit = cast(dict[str, Any], connection.scope).get(VISIT)
    return visit if isinstance(visit, Visit) else None


def form_token(request: Request[Any, Any, Any]) -> str:
    """The session's form token; a visitor without an id is given one."""
    visit = visit_of(request)
    if visit is None:
        return ""
    if visit.sid is None:
        visit.issue(secrets.token_urlsafe(32), None)
    assert visit.sid is not None
    return visit.keys.form_token(visit.sid)


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The signed-in user, None when there is none or the session has ended."""
    visit = visit_of(connection)
    record = visit.open_record() if visit is not None else None
    if record is None:
        return None
    return User(
        subject=record.subject,
        name=record.name or "signed in",
        scopes=record.scopes,
        expires_at=record.expires_at,
        method=record.method,
    )


def take_notice(connection: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    """The message waiting for this session's next page, now shown."""
    visit = visit_of(connection)
    if visit is None or visit.notice_in is None or visit.open_record() is None:
        return None
    visit.notice_shown = visit.notice_in
    return visit.notice_in


def leave_notice(connection: ASGIConnection[Any, Any, Any, Any], text: str) -> None:
    """A message for the next page this session sees (after a redirect)."""
    visit = visit_of(connection)
    if visit is not None:
        visit.notice_out = text


async def sign_in(
    request: Request[Any, Any, Any],
    *,
    subject: str | None,
    name: str | None,
    scopes: tuple[str, ...],
    method: str,
) -> User:
    """Open a new session (a new id, so a new form token) for someone whose
    credentials were just checked; it lasts INVTRACK_SESSION_HOURS."""
    visit = visit_of(request)
    assert visit is not None, "the dashboard's routes run inside the session middleware"
    hours = visit.settings.dashboard.session_hours
    now = datetime.now(UTC)
    sid = secrets.token_urlsafe(32)
    record = SessionRecord(
        key=SessionKeys.stored(sid),
        subject=subject or "",
        name=name or subject or "",
        scopes=tuple(sorted(scopes)),
        method=method,
        started_at=now,
        expires_at=now + timedelta(hours=hours),
    )
    await visit.store.open_session(record)
    visit.record = record
    visit.issue(sid, hours * 3600)
    user = current_user(request)
    assert user is not None
    return user


async def sign_out(request: Request[Any, Any, Any]) -> SessionRecord | None:
    """End the session everywhere and forget the cookie; the session ended."""
    visit = visit_of(request)
    if visit is None:
        return None
    record = visit.open_record()
    if record is not None:
        await visit.store.end_session(record.key, datetime.now(UTC))
    visit.record = None
    visit.sid = None
    visit.set_cookie = _cookie(visit.settings, "", 0)
    return record


def back_to(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The page a person asked for, to return to after signing in."""
    query = connection.scope.get("query_string", b"").decode("latin-1")
    return connection.url.path + (f"?{query}" if query else "")


def local_page(target: str | None) -> str:
    """`target` when it is a dashboard page of this site, else the overview."""
    if (
        target
        and target.startswith("/ui")
        and not target.startswith("//")
        and "\\" not in target
        and all(ord(char) > 31 for char in target)
    ):
        return target
    return "/ui/"


# Guards ------------------------------------------------------------------


async def signed_in(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Pages need a signed-in user."""
    if current_user(connection) is None:
        visit = visit_of(connection)
        ended = visit is not None and visit.record is not None
        reason = "Your session has ended; sign in again." if ended else None
        raise SignInRequired(back_to(connection), reason)


async def admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Admin actions need the admin scope."""
    user = current_user(connection)
    if user is None:
        raise SignInRequired(back_to(connection))
    if not user.is_admin:
        raise NotAllowed("this action needs the admin scope")


async def same_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A state-changing form must carry the form token of the session its
    cookie names (CSRF)."""
    assert isinstance(connection, Request)
    if connection.method in SAFE_METHODS:
        return
    form = await connection.form()
    sent = form.get(FORM_TOKEN)
    visit = visit_of(connection)
    expected = (
        visit.keys.form_token(visit.cookie_sid)
        if visit is not None and visit.cookie_sid is not None
        else None
    )
    if not (
        isinstance(sent, str)
        and expected is not None
        and secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise FormExpired("the form is out of date or did not come from this site")
