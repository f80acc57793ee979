"""Signing in with a token, and signing out (also at the identity provider
when the session came from single sign-on and the provider offers it)."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template

from api.pages.rendering import render
from api.pages.session import local_page, sign_in, sign_out
from api.pages.sso import SingleSignOn
from api.services.access import (
    NotAllowed,
    NotAuthenticated,
    VerifiedTokens,
    authenticate,
    require,
)


class SignInForm(msgspec.Struct, kw_only=True):
    token: str = ""
    next: str = "/ui/"


Form = Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
Query = Annotated[str | None, QueryParameter()]


class LoginController(Controller):
    path = "/"

    @get("/login", name="login")
    async def form(
        self,
        request: Request[Any, Any, Any],
        sso: NamedDependency[SingleSignOn | None],
        next: Query = None,
        ended: Query = None,
        out: Query = None,
    ) -> Template:
        message = "Your session has ended; sign in again." if ended else None
        notice = "You are signed out." if out else None
        return _form(request, sso, local_page(next), message=message, notice=notice)

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: Form,
        verifier: NamedDependency[VerifiedTokens],
        sso: NamedDependency[SingleSignOn | None],
    ) -> Template | Redirect:
        back_to = local_page(data.next)
        try:
            claims = await authenticate(verifier, data.token.strip())
            require(claims, "read", "the dashboard")
        except NotAuthenticated as error:
            message = f"That token was not accepted: {error.reason}."
            return _form(request, sso, back_to, message=message, status_code=401)
        except NotAllowed as error:
            message = f"That token is valid, but {error.reason}."
            return _form(request, sso, back_to, message=message, status_code=403)
        await sign_in(
            request,
            subject=claims.subject,
            name=claims.subject,
            scopes=tuple(claims.scopes),
            method="token",
        )
        return Redirect(back_to, status_code=303)

    @post("/logout", status_code=303)
    async def sign_out(
        self, request: Request[Any, Any, Any], sso: NamedDependency[SingleSignOn | None]
    ) -> Response[Any]:
        ended = await sign_out(request)
        if ended is not None and ended.method == "sso" and sso is not None:
            provider = await sso.logout_url(request)
            if provider is not None:
                # A page, not a redirect: the policy lets forms post only to
                # this site, and that covers where their redirects lead.
                return render(request, "moving_on.html", target=provider, leaving=True)
        return Redirect("/ui/login?out=1", status_code=303)


def _form(
    request: Request[Any, Any, Any],
    sso: SingleSignOn | None,
    back_to: str,
    *,
    message: str | None = None,
    notice: str | None = None,
    status_code: int = 200,
) -> Template:
    context: dict[str, Any] = {"notice": notice} if notice else {}
    return render(
        request,
        "login.html",
        status_code=status_code,
        back_to=back_to,
        message=message,
        single_sign_on=sso is not None,
        **context,
    )
