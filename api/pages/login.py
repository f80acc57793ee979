"""Signing in with a token, and signing out."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, QueryParameter
from litestar.response import Redirect, Template

from api.pages.rendering import notify, render
from api.pages.session import local_page, sign_in, sign_out
from api.services.access import (
    NotAllowed,
    NotAuthenticated,
    VerifiedTokens,
    authenticate,
    require,
)
from api.settings import Settings


class SignInForm(msgspec.Struct, kw_only=True):
    token: str = ""
    next: str = "/ui/"


Form = Annotated[SignInForm, Body(media_type=RequestEncodingType.URL_ENCODED)]
Query = Annotated[str | None, QueryParameter()]


class LoginController(Controller):
    path = "/"

    @get("/login", name="login")
    async def form(
        self, request: Request[Any, Any, Any], next: Query = None, ended: Query = None
    ) -> Template:
        message = "Your session has ended; sign in again." if ended else None
        return render(request, "login.html", back_to=local_page(next), message=message)

    @post("/login", status_code=303)
    async def sign_in(
        self,
        request: Request[Any, Any, Any],
        data: Form,
        verifier: NamedDependency[VerifiedTokens],
        settings: NamedDependency[Settings],
    ) -> Template | Redirect:
        back_to = local_page(data.next)
        try:
            claims = await authenticate(verifier, data.token.strip())
            require(claims, "read", "the dashboard")
        except NotAuthenticated as error:
            message = f"That token was not accepted: {error.reason}."
            return render(request, "login.html", status_code=401, back_to=back_to, message=message)
        except NotAllowed as error:
            message = f"That token is valid, but {error.reason}."
            return render(request, "login.html", status_code=403, back_to=back_to, message=message)
        sign_in(request, claims, settings.dashboard.session_hours)
        return Redirect(back_to, status_code=303)

    @post("/logout", status_code=303)
    async def sign_out(self, request: Request[Any, Any, Any]) -> Redirect:
        sign_out(request)
        notify(request, "You are signed out.")
        return Redirect("/ui/login", status_code=303)
