"""RFC 9457 problem details: every error the API answers, and nothing internal."""

from __future__ import annotations

import logging
from typing import Any

import msgspec
from litestar import MediaType, Request, Response
from litestar.exceptions import HTTPException, NotFoundException, ValidationException
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from adapters.auth import KeysUnavailable
from api.services.access import NotAllowed, NotAuthenticated
from api.services.group_commit import CommitFailed
from api.services.payloads import NotJson, Unreadable
from api.services.receiving import UnknownKind

log = logging.getLogger("invtrack.api")

PROBLEM_JSON = "application/problem+json"


class FieldError(msgspec.Struct, frozen=True):
    field: str
    message: str


class ProblemBody(msgspec.Struct, frozen=True, omit_defaults=True):
    type: str
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None


class Problem(Exception):
    """An answer other than success, carried up to the exception handler."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> ProblemBody:
        slug = self.title.lower().replace(" ", "-")
        return ProblemBody(
            type=f"https://invtrack.dev/problems/{slug}",
            title=self.title,
            status=self.status,
            detail=self.detail,
            errors=self.errors,
        )


def keys_unavailable() -> Problem:
    """The token's signing keys could not be fetched: our side, so try again."""
    return Problem(
        503,
        "Service Unavailable",
        "the token signing keys cannot be fetched right now",
        headers={"Retry-After": "10"},
    )


def problem_response(problem: Problem) -> Response[bytes]:
    return Response(
        content=msgspec.json.encode(problem.body()),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers=problem.headers,
    )


def on_problem(_: Request[Any, Any, Any], exc: Problem) -> Response[bytes]:
    return problem_response(exc)


def on_validation(_: Request[Any, Any, Any], exc: ValidationException) -> Response[bytes]:
    errors: list[FieldError] = []
    if isinstance(exc.extra, list):
        for entry in exc.extra:
            if isinstance(entry, dict):
                errors.append(
                    FieldError(
                        field=str(entry.get("key", "")), message=str(entry.get("message", ""))
                    )
                )
    detail = exc.detail if exc.detail else "the request is not valid"
    return problem_response(Problem(400, "Bad Request", detail, errors=errors or None))


def on_http(_: Request[Any, Any, Any], exc: HTTPException) -> Response[bytes]:
    title = {
        404: "Not Found",
        405: "Method Not Allowed",
        408: "Request Timeout",
        413: "Payload Too Large",
        401: "Unauthorized",
        403: "Forbidden",
    }.get(exc.status_code, "Error")
    detail = exc.detail
    if isinstance(exc, NotFoundException) and detail == "Not Found":
        detail = "no such route"
    if exc.status_code == 413:
        detail = "the request body is larger than the configured limit"
    headers = dict(exc.headers or {})
    return problem_response(Problem(exc.status_code, title, detail, headers=headers))


def on_error(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    log.error(
        "request failed: %s %s",
        request.method,
        request.url.path,
        exc_info=exc,
    )
    return problem_response(
        Problem(
            HTTP_500_INTERNAL_SERVER_ERROR,
            "Internal Server Error",
            "the request could not be completed; nothing of it was kept",
        )
    )


def on_not_authenticated(_: Request[Any, Any, Any], exc: NotAuthenticated) -> Response[bytes]:
    return problem_response(
        Problem(401, exc.title, exc.reason, headers={"WWW-Authenticate": "Bearer"})
    )


def on_not_allowed(_: Request[Any, Any, Any], exc: NotAllowed) -> Response[bytes]:
    return problem_response(Problem(403, "Forbidden", exc.reason))


def on_keys_unavailable(_: Request[Any, Any, Any], __: KeysUnavailable) -> Response[bytes]:
    return problem_response(keys_unavailable())


def on_unknown_kind(_: Request[Any, Any, Any], exc: UnknownKind) -> Response[bytes]:
    return problem_response(Problem(404, "Not Found", str(exc)))


def on_unreadable(_: Request[Any, Any, Any], exc: Unreadable) -> Response[bytes]:
    if isinstance(exc, NotJson):
        return problem_response(
            Problem(415, "Unsupported Media Type", f"{exc.message}; it was kept")
        )
    return problem_response(
        Problem(
            400,
            "Bad Request",
            f"{exc.message} (the payload was kept)",
            errors=[FieldError(field=exc.field or "$", message=exc.message)],
        )
    )


def on_commit_failed(_: Request[Any, Any, Any], __: CommitFailed) -> Response[bytes]:
    return problem_response(
        Problem(
            500,
            "Internal Server Error",
            "the delivery could not be stored; nothing of it was kept, send it again",
        )
    )


HANDLERS: dict[type[Exception] | int, Any] = {
    Problem: on_problem,
    NotAuthenticated: on_not_authenticated,
    NotAllowed: on_not_allowed,
    KeysUnavailable: on_keys_unavailable,
    UnknownKind: on_unknown_kind,
    Unreadable: on_unreadable,
    CommitFailed: on_commit_failed,
    ValidationException: on_validation,
    HTTPException: on_http,
    Exception: on_error,
}

__all__ = ["HANDLERS", "PROBLEM_JSON", "FieldError", "MediaType", "Problem", "problem_response"]
