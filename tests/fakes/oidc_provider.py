"""A small OpenID Connect provider on loopback, built to the specifications
(OpenID Connect Core 1.0 and Discovery 1.0, RFC 6749, RFC 7636 PKCE,
RP-Initiated Logout 1.0), for the dashboard's single sign-on tests.

It serves the discovery document, a JWKS with one RSA key, `/authorize`
with a login form (a session cookie of its own skips the form on the next
sign-in, as real providers do), `/token` with client authentication
(client_secret_basic, client_secret_post), a single-use code bound to its
client, redirect URI and S256 PKCE challenge, RS256 ID tokens carrying the
sign-in's nonce and the user's roles, and `/logout` (end_session_endpoint).

Knobs let a test make it misbehave: a wrong `iss`, `aud` or `nonce` in the
ID token, an ID token that is already near its end, no end-session endpoint.
It runs in a thread, so it answers a browser and an in-process app alike.
"""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlencode, urlsplit

import msgspec
from joserfc import jwt
from joserfc.jwk import RSAKey

SESSION_COOKIE = "op_session"


@dataclass
class Client:
    secret: str | None
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str] = field(default_factory=list)


@dataclass
class User:
    password: str
    roles: list[str]
    email: str


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    username: str
    expires: float


@dataclass
class Knobs:
    """What the next ID tokens get wrong, if anything."""

    issuer: str | None = None
    audience: str | list[str] | None = None
    nonce: str | None = None
    lifetime_seconds: int = 300
    advertise_logout: bool = True


class OpenIdProvider:
    def __init__(self, clients: dict[str, Client], users: dict[str, User]) -> None:
        self.clients = clients
        self.users = users
        self.knobs = Knobs()
        self.key = RSAKey.generate_key(2048, parameters={"kid": "fake-op-1", "use": "sig"})
        self.grants: dict[str, Grant] = {}
        self.sessions: dict[str, str] = {}
        self.issued: list[dict[str, Any]] = []
        """Claims of every ID token given out, oldest first."""
        self.logouts: list[dict[str, str]] = []
        self.token_requests: list[dict[str, str]] = []
        self.lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> OpenIdProvider:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # ---- documents --------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        document = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": ["authorization_code"],
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nonce", "email", "roles"],
        }
        if self.knobs.advertise_logout:
            document["end_session_endpoint"] = f"{self.issuer}/logout"
        return document

    def jwks(self) -> dict[str, Any]:
        return {"keys": [self.key.as_dict(private=False)]}

    # ---- the flow -----------------------------------------------------------------

    def authorize_problem(self, query: dict[str, str]) -> str | None:
        """Why an authorization request cannot be served, None when it can."""
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            return "unknown client_id"
        if query.get("redirect_uri") not in client.redirect_uris:
            return "redirect_uri is not registered for the client"
        if query.get("response_type") != "code":
            return "response_type must be code"
        if "openid" not in query.get("scope", "").split(" "):
            return "scope must hold openid"
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return "PKCE with S256 is required"
        if not query.get("state") or not query.get("nonce"):
            return "state and nonce are required"
        return None

    def grant(self, query: dict[str, str], username: str) -> str:
        code = secrets.token_urlsafe(24)
        with self.lock:
            self.grants[code] = Grant(
                client_id=query["client_id"],
                redirect_uri=query["redirect_uri"],
                challenge=query["code_challenge"],
                nonce=query["nonce"],
                username=username,
                expires=time.time() + 60,
            )
        return query["redirect_uri"] + "?" + urlencode({"code": code, "state": query["state"]})

    def token(self, form: dict[str, str], basic: tuple[str, str] | None) -> tuple[int, Any]:
        self.token_requests.append(dict(form))
        client_id, secret = basic or (form.get("client_id", ""), form.get("client_secret"))
        client = self.clients.get(client_id)
        if client is None or (client.secret is not None and client.secret != secret):
            return 401, {"error": "invalid_client"}
        with self.lock:
            grant = self.grants.pop(form.get("code", ""), None)
        if form.get("grant_type") != "authorization_code":
            return 400, {"error": "unsupported_grant_type"}
        if grant is None or grant.expires < time.time() or grant.client_id != client_id:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant.redirect_uri:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", errors="replace")).digest()
        if not 43 <= len(verifier) <= 128 or _b64(digest) != grant.challenge:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verification failed"}
        return 200, {
            "access_token": secrets.token_urlsafe(24),
            "token_type": "Bearer",
            "expires_in": self.knobs.lifetime_seconds,
            "id_token": self.id_token(client_id, grant),
        }

    def id_token(self, client_id: str, grant: Grant) -> str:
        user = self.users[grant.username]
        now = int(time.time())
        claims = {
            "iss": self.knobs.issuer or self.issuer,
            "sub": f"user-{grant.username}",
            "aud": self.knobs.audience or client_id,
            "exp": now + self.knobs.lifetime_seconds,
            "iat": now,
            "nonce": self.knobs.nonce or grant.nonce,
            "preferred_username": grant.username,
            "email": user.email,
            "roles": user.roles,
        }
        self.issued.append(claims)
        return jwt.encode({"alg": "RS256", "kid": "fake-op-1"}, claims, self.key)

    def end_session(self, query: dict[str, str], session: str | None) -> tuple[int, str]:
        """Where to send the browser after signing it out here."""
        client = self.clients.get(query.get("client_id", ""))
        target = query.get("post_logout_redirect_uri", "")
        if client is None or target not in client.post_logout_redirect_uris:
            return 400, "post_logout_redirect_uri is not registered for the client"
        with self.lock:
            self.sessions.pop(session or "", None)
        self.logouts.append(query)
        return 302, target


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _single(values: dict[str, list[str]]) -> dict[str, str]:
    return {name: found[0] for name, found in values.items() if found}


LOGIN_FORM = """<!doctype html><html lang="en"><head><title>Fake provider sign-in</title></head>
<body><h1>Sign in to the organisation</h1>
<form method="post" action="/authorize">{hidden}
<label for="username">Username</label><input id="username" name="username">
<label for="password">Password</label><input id="password" name="password" type="password">
<button type="submit">Continue</button></form></body></html>"""


def _handler(provider: OpenIdProvider) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            return

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = _single(parse_qs(parts.query))
            if parts.path == "/.well-known/openid-configuration":
                self._json(200, provider.discovery())
            elif parts.path == "/jwks":
                self._json(200, provider.jwks())
            elif parts.path == "/authorize":
                self._authorize(query, None)
            elif parts.path == "/logout":
                status, target = provider.end_session(query, self._session())
                self._answer(status, target, clear=status == 302)
            else:
                self._answer(404, "no such page")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            form = _single(parse_qs(self.rfile.read(length).decode()))
            path = urlsplit(self.path).path
            if path == "/token":
                status, body = provider.token(form, self._basic())
                self._json(status, body)
            elif path == "/authorize":
                self._authorize(form, (form.get("username", ""), form.get("password", "")))
            else:
                self._answer(404, "no such page")

        def _authorize(self, query: dict[str, str], login: tuple[str, str] | None) -> None:
            problem = provider.authorize_problem(query)
            if problem is not None:
                self._answer(400, problem)
                return
            username = provider.sessions.get(self._session() or "")
            if login is not None:
                user = provider.users.get(login[0])
                username = login[0] if user is not None and user.password == login[1] else None
            if username is None:
                fields = {k: v for k, v in query.items() if k not in ("username", "password")}
                hidden = "".join(
                    f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                    for k, v in fields.items()
                )
                self._answer(200, LOGIN_FORM.format(hidden=hidden), html_page=True)
                return
            session = secrets.token_urlsafe(16)
            provider.sessions[session] = username
            self._answer(302, provider.grant(query, username), session=session)

        def _session(self) -> str | None:
            for part in (self.headers.get("Cookie") or "").split(";"):
                name, _, value = part.strip().partition("=")
                if name == SESSION_COOKIE:
                    return value
            return None

        def _basic(self) -> tuple[str, str] | None:
            header = self.headers.get("Authorization") or ""
            if not header.startswith("Basic "):
                return None
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
            return unquote(client_id), unquote(secret)

        def _json(self, status: int, body: Any) -> None:
            data = msgspec.json.encode(body)
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Cache-Control", "no-store")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _answer(
            self,
            status: int,
            text: str,
            *,
            html_page: bool = False,
            session: str | None = None,
            clear: bool = False,
        ) -> None:
            data = b"" if status == 302 else text.encode()
            self.send_response(status)
            if status == 302:
                self.send_header("Location", text)
            self.send_header("Content-Type", "text/html" if html_page else "text/plain")
            if session is not None:
                self.send_header("Set-Cookie", f"{SESSION_COOKIE}={session}; Path=/; HttpOnly")
            if clear:
                self.send_header("Set-Cookie", f"{SESSION_COOKIE}=; Path=/; Max-Age=0")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
