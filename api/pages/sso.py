"""Signing in through the organisation's OpenID Connect provider.

`/ui/oidc/login` starts a sign-in (`adapters.oidc`): its `state`, `nonce`
and PKCE verifier go to the browser sealed (AES-GCM) in a cookie of their
own, HttpOnly and SameSite=Lax so it comes back with the provider's
redirect, scoped to /ui/oidc and good for ten minutes; nothing is stored
for a visitor who never returns. `/ui/oidc/callback` opens the session, and
answers with a page that moves on to the dashboard: a SameSite=Strict
session cookie would not be sent along a redirect chain that began at the
provider's site.
"""

from __future__ import annotations

import base64
import os
import time
from typing import Annotated, Any, Final
from urllib.parse import urlsplit, urlunsplit

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect

from adapters.oidc import OidcClient, OidcConfig, Pending, SignOnRefused, granted_scopes
from api.pages.errors import PageNotFound
from api.pages.rendering import render
from api.pages.session import SessionKeys, local_page, sign_in
from api.services.access import NotAllowed

PENDING_COOKIE: Final = "invtrack_sso"
PENDING_SECONDS: Final = 600
CALLBACK: Final = "/ui/oidc/callback"
_AAD: Final = b"invtrack pending sign-in"

Query = Annotated[str | None, QueryParameter()]


class _Sealed(msgspec.Struct, frozen=True):
    pending: Pending
    at: float


class SingleSignOn:
    """The provider client, and the sealing of sign-ins in progress."""

    def __init__(self, config: OidcConfig, client: OidcClient, keys: SessionKeys, secure: bool):
        self.config = config
        self.client = client
        self._cipher = AESGCM(keys.aead_key())
        self._secure = secure

    def redirect_uri(self, request: Request[Any, Any, Any]) -> str:
        if self.config.redirect_uri is not None:
            return self.config.redirect_uri
        return str(request.base_url).rstrip("/") + CALLBACK

    async def logout_url(self, request: Request[Any, Any, Any]) -> str | None:
        """The provider's end-session URL, bringing the browser back to the sign-in form."""
        scheme, host, *_ = urlsplit(self.redirect_uri(request))
        back = urlunsplit((scheme, host, "/ui/login", "out=1", ""))
        return await self.client.logout_url(back)

    def seal(self, pending: Pending) -> str:
        nonce = os.urandom(12)
        data = msgspec.json.encode(_Sealed(pending, time.time()))
        sealed = nonce + self._cipher.encrypt(nonce, data, _AAD)
        return base64.urlsafe_b64encode(sealed).decode().rstrip("=")

    def unseal(self, value: str | None) -> Pending | None:
        """The sign-in a cookie holds; None when absent, forged or too old."""
        if not value or len(value) > 4096:
            return None
        try:
            raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))
            data = self._cipher.decrypt(raw[:12], raw[12:], _AAD)
            sealed = msgspec.json.decode(data, type=_Sealed)
        except (ValueError, InvalidTag, msgspec.DecodeError):
            return None
        if not 0 <= time.time() - sealed.at <= PENDING_SECONDS:
            return None
        return sealed.pending

    def keep(self, response: Response[Any], value: str, max_age: int) -> None:
        """Set (or, with max_age 0, drop) the cookie of the sign-in in progress."""
        response.set_cookie(
            key=PENDING_COOKIE,
            value=value,
            path="/ui/oidc",
            max_age=max_age,
            httponly=True,
            samesite="lax",
            secure=self._secure,
        )


def _configured(sso: SingleSignOn | None) -> SingleSignOn:
    if sso is None:
        raise PageNotFound("Single sign-on is not set up on this invtrack.")
    return sso


class SingleSignOnController(Controller):
    path = "/oidc"

    @get("/login", name="sso-login")
    async def start(
        self,
        request: Request[Any, Any, Any],
        sso: NamedDependency[SingleSignOn | None],
        next: Query = None,
    ) -> Response[Any]:
        sso = _configured(sso)
        pending, url = await sso.client.begin(sso.redirect_uri(request), local_page(next))
        response = Redirect(url, status_code=303)
        sso.keep(response, sso.seal(pending), PENDING_SECONDS)
        return response

    @get("/callback", name="sso-callback")
    async def callback(
        self,
        request: Request[Any, Any, Any],
        sso: NamedDependency[SingleSignOn | None],
        returned_state: Annotated[str | None, QueryParameter(name="state")] = None,
        code: Query = None,
        error: Query = None,
    ) -> Response[Any]:
        sso = _configured(sso)
        pending = sso.unseal(request.cookies.get(PENDING_COOKIE))
        if error is not None:
            raise SignOnRefused(f"the provider did not sign you in ({error[:100]})")
        if pending is None:
            raise SignOnRefused(
                "this sign-in was not started in this browser, or took over ten minutes"
            )
        identity = await sso.client.finish(pending, state=returned_state or "", code=code or "")
        scopes = granted_scopes(identity.roles, sso.config.role_map)
        if not scopes:
            held = ", ".join(identity.roles[:20]) or "none"
            raise NotAllowed(f"none of your roles ({held}) opens the dashboard")
        await sign_in(
            request, subject=identity.subject, name=identity.name, scopes=scopes, method="sso"
        )
        page = render(request, "moving_on.html", target=pending.next, leaving=False)
        sso.keep(page, "", 0)
        return page
