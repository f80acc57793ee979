"""What the dashboard shows when a page cannot be shown: a page saying why
and what to do, never a stack trace or JSON."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.response import Redirect

from adapters.auth import KeysUnavailable
from adapters.oidc import ProviderUnavailable, SignOnRefused
from adapters.store import NotReady
from api.pages.params import BadInput
from api.pages.rendering import render
from api.pages.session import FormExpired, SignInRequired
from api.services.access import NotAllowed

log = logging.getLogger("invtrack.pages")

AnyRequest = Request[Any, Any, Any]


class PageNotFound(Exception):
    """Nothing is stored under the key or id in the address."""


def _page(request: AnyRequest, status: int, title: str, message: str) -> Response[Any]:
    return render(request, "error.html", status_code=status, title=title, message=message)


def on_sign_in_required(_: AnyRequest, exc: SignInRequired) -> Response[Any]:
    query = {"next": exc.back_to, **({"ended": "1"} if exc.reason else {})}
    return Redirect(f"/ui/login?{urlencode(query)}", status_code=303)


def on_bad_input(request: AnyRequest, exc: BadInput) -> Response[Any]:
    return _page(request, 400, "That did not work", f"{exc.field} {exc.message}.")


def on_validation(request: AnyRequest, exc: ValidationException) -> Response[Any]:
    fields = (
        [str(entry.get("key")) for entry in exc.extra or [] if isinstance(entry, dict)]
        if isinstance(exc.extra, list)
        else []
    )
    named = f" ({', '.join(fields)})" if fields else ""
    return _page(request, 400, "That did not work", f"A value in the address is not valid{named}.")


def on_not_found(request: AnyRequest, exc: PageNotFound | NotFoundException) -> Response[Any]:
    message = str(exc) if isinstance(exc, PageNotFound) else "There is no such page."
    return _page(request, 404, "Not found", message)


def on_not_allowed(request: AnyRequest, exc: NotAllowed) -> Response[Any]:
    return _page(request, 403, "Not allowed", f"Your token does not allow this: {exc.reason}.")


def on_form_expired(request: AnyRequest, _: FormExpired) -> Response[Any]:
    return _page(
        request,
        403,
        "The form has expired",
        "The form was out of date or did not come from this site. Go back, reload the page "
        "and try again.",
    )


def on_sign_on_refused(request: AnyRequest, exc: SignOnRefused) -> Response[Any]:
    return _page(
        request,
        400,
        "Single sign-on did not work",
        f"You are not signed in: {exc.reason}. Start again from the sign-in page.",
    )


def on_provider_unavailable(request: AnyRequest, exc: ProviderUnavailable) -> Response[Any]:
    log.warning("identity provider unavailable: %s", exc)
    return _page(
        request,
        503,
        "Try again shortly",
        "The identity provider cannot be reached or answered what it should not; "
        "the problem was logged. Signing in with a token still works.",
    )


def on_unavailable(request: AnyRequest, exc: KeysUnavailable | NotReady) -> Response[Any]:
    message = (
        "The token signing keys cannot be fetched right now."
        if isinstance(exc, KeysUnavailable)
        else "The projections are not set up yet: run `invtrack migrate`."
    )
    return _page(request, 503, "Try again shortly", message)


def on_http(request: AnyRequest, exc: HTTPException) -> Response[Any]:
    return _page(request, exc.status_code, "That did not work", str(exc.detail))


def on_error(request: AnyRequest, exc: Exception) -> Response[Any]:
    log.error("page failed: %s %r", request.method, request.url.path, exc_info=exc)
    return _page(
        request, 500, "Something went wrong", "The page could not be shown; the error was logged."
    )


HANDLERS: dict[type[Exception] | int, Any] = {
    SignInRequired: on_sign_in_required,
    BadInput: on_bad_input,
    ValidationException: on_validation,
    PageNotFound: on_not_found,
    NotFoundException: on_not_found,
    NotAllowed: on_not_allowed,
    FormExpired: on_form_expired,
    KeysUnavailable: on_unavailable,
    SignOnRefused: on_sign_on_refused,
    ProviderUnavailable: on_provider_unavailable,
    NotReady: on_unavailable,
    HTTPException: on_http,
    Exception: on_error,
}
