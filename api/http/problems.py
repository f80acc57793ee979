"""RFC 9457 problem details: every error the API answers, and nothing internal.

Litestar's problem-details plugin writes the bodies: `type`, `title`,
`status`, `detail`, and `errors` naming the offending fields where there are
any. `CONVERSIONS` says which problem each of our exceptions is; anything
else is logged and answered as a 500 that tells nothing internal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any, Final

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.plugins.problem_details import (
    ProblemDetailsConfig,
    ProblemDetailsException,
    ProblemDetailsPlugin,
)

from adapters.auth import KeysUnavailable
from api.services.access import NotAllowed, NotAuthenticated
from api.services.group_commit import CommitFailed, StoreUnavailable
from api.services.payloads import NotJson, Unreadable
from api.services.receiving import UnknownKind

log = logging.getLogger("invtrack.api")

PROBLEM_JSON: Final = "application/problem+json"
_NO_KEYS: Final = "the token signing keys cannot be fetched right now"
_TITLES: Final = {code: HTTPStatus(code).phrase for code in (401, 403, 404, 405, 408)}


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ProblemBody(msgspec.Struct, frozen=True, omit_defaults=True):
    """The shape of every problem answer (for the OpenAPI document)."""

    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(ProblemDetailsException):
    """An answer other than success; its `type` is made from its title."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            detail=detail or title,
            status_code=status,
            headers=headers,
            extra={"errors": msgspec.to_builtins(errors)} if errors else None,
            type_="https://invtrack.dev/problems/" + title.lower().replace(" ", "-"),
            title=title,
        )


def _commit_failed(exc: CommitFailed) -> Problem:
    if isinstance(exc, StoreUnavailable):
        detail = "the store is busy; nothing was kept, send it again shortly"
        return Problem(503, "Service Unavailable", detail, headers={"Retry-After": "5"})
    detail = "the delivery could not be stored; nothing of it was kept, send it again"
    return Problem(500, "Internal Server Error", detail)


def _unreadable(exc: Unreadable) -> Problem:
    if isinstance(exc, NotJson):
        return Problem(415, "Unsupported Media Type", f"{exc.message}; it was kept")
    errors = [FieldError(field=exc.field or "$", message=exc.message)]
    return Problem(400, "Bad Request", f"{exc.message} (the payload was kept)", errors=errors)


def _invalid(exc: ValidationException) -> Problem:
    entries = exc.extra if isinstance(exc.extra, list) else []
    errors = [
        FieldError(field=str(entry.get("key", "")), message=str(entry.get("message", "")))
        for entry in entries
        if isinstance(entry, dict)
    ]
    return Problem(
        400, "Bad Request", exc.detail or "the request is not valid", errors=errors or None
    )


def _http(exc: HTTPException) -> Problem:
    detail = exc.detail
    if isinstance(exc, NotFoundException) and detail == "Not Found":
        detail = "no such route"
    if exc.status_code == 413:
        title, detail = "Payload Too Large", "the request body is larger than the configured limit"
    else:
        title = _TITLES.get(exc.status_code, "Error")
    return Problem(exc.status_code, title, detail, headers=dict(exc.headers or {}))


CONVERSIONS: Final[Mapping[type[Exception], Callable[[Any], ProblemDetailsException]]] = {
    NotAuthenticated: lambda exc: Problem(
        401, exc.title, exc.reason, headers={"WWW-Authenticate": "Bearer"}
    ),
    NotAllowed: lambda exc: Problem(403, "Forbidden", exc.reason),
    # The token's signing keys could not be fetched: our side, so try again.
    KeysUnavailable: lambda _: Problem(
        503, "Service Unavailable", _NO_KEYS, headers={"Retry-After": "10"}
    ),
    UnknownKind: lambda exc: Problem(404, "Not Found", str(exc)),
    Unreadable: _unreadable,
    CommitFailed: _commit_failed,
    ValidationException: _invalid,
    HTTPException: _http,
}


def on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    """Any other failure: logged with its traceback, answered without it."""
    log.error("request failed: %s %s", request.method, request.url.path, exc_info=exc)
    detail = "the request could not be completed; nothing of it was kept"
    return Problem(500, "Internal Server Error", detail).to_response(request)


PLUGIN: Final = ProblemDetailsPlugin(
    ProblemDetailsConfig(exception_to_problem_detail_map=CONVERSIONS)
)
HANDLERS: Final[dict[type[Exception] | int, Any]] = {Exception: on_error}
