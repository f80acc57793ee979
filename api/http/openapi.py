"""The OpenAPI document at /schema/openapi.json, and its viewer at
/schema/swagger with its JavaScript and CSS served by invtrack itself (from
the swagger-ui-bundle package), so it works on a network without internet.

The routes for senders read their bodies raw, to keep them exactly as they
came, so Litestar cannot see their shape: their request bodies are described
here (`WebhookOperation`, `OfsOperation`), as is the par levels' body
(`ParLevelsOperation`: read raw so that a 400 names the failing field),
with the problems every route can answer and the two token schemes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

import msgspec
from litestar import Router
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import (
    Components,
    OpenAPIMediaType,
    Operation,
    RequestBody,
    SecurityRequirement,
    SecurityScheme,
)
from litestar.static_files import create_static_files_router
from swagger_ui_bundle import swagger_ui_path

from api.http.problems import PROBLEM_JSON, ProblemBody
from api.http.signal_schemas import ParLevelsIn

ASSETS: Final = "/schema/assets"
SENDER: Final[list[SecurityRequirement]] = [{"accessToken": []}]
RELAY: Final[list[SecurityRequirement]] = [{"bearerToken": []}, {"accessToken": []}]
READER: Final[list[SecurityRequirement]] = [{"bearerToken": []}]

_PROBLEMS: Final = {
    400: "the request is not valid; `errors` names what (a sender's body is kept)",
    401: "no valid token (on webhooks titled `Invalid Logon`); nothing is stored",
    403: "the token's scope does not allow this",
    404: "no such item, or no such webhook type",
    408: "the body did not arrive in time; nothing is stored",
    413: "the body is larger than the configured limit",
    415: "the body is not JSON; it is kept",
    500: "a failure on our side; nothing half-written: send it again",
    503: "the token signing keys or the store cannot be reached now: send it again",
}


def problems(*statuses: int) -> dict[int, ResponseSpec]:
    """The problem+json answers a route gives, described."""
    return {
        status: ResponseSpec(
            ProblemBody,
            media_type=PROBLEM_JSON,
            description=_PROBLEMS[status],
            generate_examples=False,
        )
        for status in statuses
    }


SENDER_PROBLEMS: Final = (400, 401, 403, 408, 413, 415, 500, 503)
READER_PROBLEMS: Final = (400, 401, 403, 500, 503)


class WebhookRows(msgspec.Struct):
    """`data` of a ServiceMobility webhook: rows of the envelope's type."""

    rowver: str | None = None
    rows: list[dict[str, Any]] = msgspec.field(default_factory=list)


class WebhookEnvelope(msgspec.Struct):
    """A ServiceMobility webhook in CloudEvents 1.0 structured mode. In binary
    mode the same attributes come as `ce-id`, `ce-type`, ... headers and the
    body is `data` alone. `type` must be the path's type; `id` deduplicates."""

    id: str
    type: str
    data: WebhookRows
    specversion: str = "1.0"
    source: str | None = None
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    action: str | None = None


class OfsEvent(msgspec.Struct, rename="camel"):
    """One OFS inventory event, as the Events API gives it."""

    event_type: str
    time: str
    user: str | None = None
    activity_details: dict[str, Any] | None = None
    inventory_details: dict[str, Any] | None = None
    inventory_changes: dict[str, Any] | None = None


class OfsEventsPage(msgspec.Struct, rename="camel"):
    """A whole Events API page."""

    items: list[OfsEvent]
    found: bool | None = None
    next_page: str | None = None


_SECURITY: Final = Components(
    security_schemes={
        "accessToken": SecurityScheme(
            type="apiKey",
            name="x-access-token",
            security_scheme_in="header",
            description="a JWT, as ServiceMobility sends it (webhooks, OFS relays)",
        ),
        "bearerToken": SecurityScheme(
            type="http",
            scheme="bearer",
            bearer_format="JWT",
            description="`Authorization: Bearer <JWT>`; queries need scope read, "
            "write or admin, OFS relays write or admin",
        ),
    }
)


def _schema(*types: type) -> dict[str, Any]:
    """The JSON Schema of one type, or of any of several, written out in
    full: Litestar keeps only the component schemas it generates itself."""
    schemas, definitions = msgspec.json.schema_components(types, ref_template="{name}")

    def inline(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return inline(definitions[node["$ref"]])
            # Without titles, a generator names nested models after their place.
            return {key: inline(value) for key, value in node.items() if key != "title"}
        if isinstance(node, list):
            return [inline(item) for item in node]
        return node

    inlined = [inline(schema) for schema in schemas]
    return inlined[0] if len(inlined) == 1 else {"anyOf": inlined}


def _body(description: str, schema: dict[str, Any], *media_types: str) -> RequestBody:
    return RequestBody(
        description=description,
        required=True,
        content={media: OpenAPIMediaType(schema=schema) for media in media_types},  # type: ignore[arg-type]
    )


@dataclass
class WebhookOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(
            "the webhook envelope (CloudEvents structured mode)",
            _schema(WebhookEnvelope),
            "application/json",
            "application/cloudevents+json",
        )


@dataclass
class OfsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(
            "one OFS event, an array of them, or a whole Events API page",
            _schema(OfsEvent, list[OfsEvent], OfsEventsPage),
            "application/json",
        )


@dataclass
class ParLevelsOperation(Operation):
    def __post_init__(self) -> None:
        self.request_body = _body(
            "the par levels to set: each product named is replaced; `target` and `min` are "
            "numbers or decimal text, `min` defaults to `target`",
            _schema(ParLevelsIn),
            "application/json",
        )


def openapi_config(version: str) -> OpenAPIConfig:
    swagger = SwaggerRenderPlugin(
        js_url=f"{ASSETS}/swagger-ui-bundle.js",
        css_url=f"{ASSETS}/swagger-ui.css",
        standalone_preset_js_url=f"{ASSETS}/swagger-ui-standalone-preset.js",
        favicon=f"<link rel='icon' type='image/png' href='{ASSETS}/favicon-32x32.png'>",
    )
    return OpenAPIConfig(
        title="invtrack",
        version=version,
        description="Event-sourced inventory state for field service.",
        path="/schema",
        components=_SECURITY,
        render_plugins=[swagger],
    )


def viewer_assets() -> Router:
    """The Swagger UI files, served under ASSETS."""
    return create_static_files_router(
        path=ASSETS, directories=[swagger_ui_path], include_in_schema=False
    )
