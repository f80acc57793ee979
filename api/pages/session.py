"""Who is signed in to the dashboard, and the checks every page and form gets.

A session lives in an encrypted, HttpOnly, SameSite=Strict cookie (Litestar's
client-side sessions), so any worker process can read it. It holds the
verified token's subject, scopes and expiry, never the token itself, and a
random form token that every state-changing form must send back (CSRF). A
session ends at sign-out, at the token's `exp`, or after the configured
hours, whichever comes first.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import DefineMiddleware
from litestar.middleware.session import SessionMiddleware
from litestar.middleware.session.client_side import ClientSideSessionBackend, CookieBackendConfig
from litestar.types import ASGIApp

from adapters.auth import Claims, load_or_create_secret
from api.services.access import NotAllowed
from api.settings import Settings

COOKIE: Final = "invtrack_session"
SECRET_FILE: Final = "session-secret"  # noqa: S105  # a file name
SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})
FORM_TOKEN: Final = "csrf"  # noqa: S105  # a form field name
"""Name of the hidden field that carries the session's form token."""


class User(msgspec.Struct, frozen=True, kw_only=True):
    """The person behind a session, as their token said at sign-in."""

    subject: str | None
    scopes: tuple[str, ...]
    expires_at: datetime

    @property
    def is_admin(self) -> bool:
        """Admin actions (replay, rebuild) need the admin scope itself."""
        return "admin" in self.scopes

    @property
    def name(self) -> str:
        return self.subject or "signed in"


class SignInRequired(Exception):
    """No valid session: the person is sent to the sign-in form."""

    def __init__(self, back_to: str, reason: str | None = None) -> None:
        super().__init__(reason or "sign in first")
        self.back_to = back_to
        self.reason = reason


class FormExpired(Exception):
    """A form came back without the session's form token (CSRF)."""


def session_key(settings: Settings) -> bytes:
    """32 bytes for the session cookies' AES-GCM key: from
    INVTRACK_SESSION_SECRET, or from a random secret kept in the data
    directory and created on first start."""
    secret = settings.dashboard.session_secret
    if secret is None:
        secret, _ = load_or_create_secret(settings.data_dir, SECRET_FILE)
    return hashlib.sha256(b"invtrack dashboard session\x00" + secret.encode()).digest()


def session_middleware(settings: Settings) -> DefineMiddleware:
    """Litestar's session middleware over encrypted cookies. Its backend is
    made when the middleware is, not here: routers are deep-copied when they
    are registered, and a cipher object cannot be."""
    return DefineMiddleware(_sessions, config=session_config(settings))


def _sessions(app: ASGIApp, config: CookieBackendConfig) -> ASGIApp:
    return SessionMiddleware(app, backend=ClientSideSessionBackend(config=config))


def session_config(settings: Settings) -> CookieBackendConfig:
    return CookieBackendConfig(
        secret=session_key(settings),
        key=COOKIE,
        path="/ui",
        max_age=settings.dashboard.session_hours * 3600,
        httponly=True,
        samesite="strict",
        secure=settings.dashboard.secure_cookies,
    )


def session_of(connection: ASGIConnection[Any, Any, Any, Any]) -> dict[str, Any]:
    """The connection's session data; empty when it has none (or was cleared)."""
    data = connection.scope.get("session")
    return data if isinstance(data, dict) else {}


def form_token(request: Request[Any, Any, Any]) -> str:
    """The session's form token, made when the session has none yet."""
    token = session_of(request).get(FORM_TOKEN)
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.set_session({**session_of(request), FORM_TOKEN: token})
    return token


def current_user(connection: ASGIConnection[Any, Any, Any, Any]) -> User | None:
    """The signed-in user, None when there is none or the session has ended."""
    stored = session_of(connection).get("user")
    if not isinstance(stored, dict):
        return None
    try:
        user = msgspec.convert(stored, User)
    except msgspec.ValidationError:
        return None
    if user.expires_at <= datetime.now(UTC):
        return None
    return user


def sign_in(request: Request[Any, Any, Any], claims: Claims, hours: int) -> User:
    """Start a new session for a verified token: a new form token, and an end
    no later than the token's expiry."""
    user = User(
        subject=claims.subject,
        scopes=tuple(sorted(claims.scopes)),
        expires_at=min(claims.expires_at, datetime.now(UTC) + timedelta(hours=hours)),
    )
    request.set_session({"user": msgspec.to_builtins(user), FORM_TOKEN: secrets.token_urlsafe(32)})
    return user


def sign_out(request: Request[Any, Any, Any]) -> None:
    request.clear_session()


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
        ended = "user" in session_of(connection)
        reason = "Your session has ended; sign in again." if ended else None
        raise SignInRequired(back_to(connection), reason)


async def admin(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Replay and rebuild need the admin scope."""
    user = current_user(connection)
    if user is None:
        raise SignInRequired(back_to(connection))
    if not user.is_admin:
        raise NotAllowed("this action needs the admin scope")


async def same_session(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """A state-changing form must carry the session's form token (CSRF)."""
    assert isinstance(connection, Request)
    if connection.method in SAFE_METHODS:
        return
    form = await connection.form()
    sent = form.get(FORM_TOKEN)
    expected = session_of(connection).get(FORM_TOKEN)
    if not (
        isinstance(sent, str)
        and isinstance(expected, str)
        and secrets.compare_digest(sent.encode(), expected.encode())
    ):
        raise FormExpired("the form is out of date or did not come from this site")
