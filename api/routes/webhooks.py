"""Routes for senders: ServiceMobility webhooks and OFS event pushes."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, post
from litestar.di import NamedDependency
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath

from adapters.servicemobility import TYPES
from api.http.openapi import (
    RELAY,
    SENDER,
    SENDER_PROBLEMS,
    OfsOperation,
    WebhookOperation,
    problems,
)
from api.http.paths import path_text
from api.http.schemas import Accepted, EventError, OfsAccepted
from api.services.receiving import Receiver


def refuse_announced_oversize(request: Request[Any, Any, Any]) -> None:
    """413 for a body announced larger than the limit, whoever sends it. Any
    other body is read only once its sender is known (and is cut off at the
    limit as it arrives)."""
    limit = request.route_handler.resolve_request_max_body_size()
    if limit and (request.content_length or 0) > limit:
        raise RequestEntityTooLarge


class WebhookController(Controller):
    tags = ["senders"]

    @post(
        "/servicemobility/{kind:str}",
        status_code=200,
        operation_id="receiveServiceMobilityWebhook",
        operation_class=WebhookOperation,
        security=SENDER,
        summary="Receive a ServiceMobility webhook",
        description=f"`kind` is one of: {', '.join(TYPES)}. The trailing slash is optional. "
        "The envelope comes in CloudEvents structured mode (the body) or binary mode "
        "(`ce-*` headers, `data` as the body). The token has no scope, or write or admin. "
        "Answers 200 only once the payload and its events are durably committed.",
        responses={
            200: ResponseSpec(
                data_container=Accepted,
                description="accepted and durably committed, or a repeat of an earlier id",
                examples=[
                    Example(
                        summary="accepted",
                        value={
                            "status": "accepted",
                            "id": "3f0c6f7e-0b1e-4c39-a7a4-5b8f6f2e0001",
                            "duplicate": False,
                            "events": 2,
                        },
                    )
                ],
            ),
            **problems(*SENDER_PROBLEMS, 404),
        },
    )
    async def servicemobility(
        self,
        kind: FromPath[str],
        request: Request[Any, Any, Any],
        receiver: NamedDependency[Receiver],
    ) -> Accepted:
        refuse_announced_oversize(request)
        done = await receiver.servicemobility(path_text(kind), request.body, request.headers)
        return Accepted(
            status="accepted", id=done.message_id, duplicate=done.duplicate, events=done.appended
        )

    @post(
        "/ofs/events",
        status_code=200,
        operation_id="receiveOfsEvents",
        operation_class=OfsOperation,
        security=RELAY,
        summary="Receive OFS events pushed by a relay",
        description="One OFS event, an array of them, or a whole Events API page. "
        "Token in `Authorization: Bearer` or `x-access-token`, scope write or admin. "
        "An event that cannot be taken is quarantined on its own and named in `errors`; "
        "the others are committed. A body none of whose events can be taken is a 400.",
        responses={
            200: ResponseSpec(
                data_container=OfsAccepted,
                description="committed",
                examples=[
                    Example(
                        summary="a page of nine events",
                        value={"status": "accepted", "received": 9, "duplicates": 0, "events": 9},
                    ),
                    Example(
                        summary="a page with one bad event, quarantined on its own",
                        value={
                            "status": "accepted",
                            "received": 9,
                            "duplicates": 0,
                            "events": 8,
                            "quarantined": 1,
                            "errors": [
                                {
                                    "field": "items[3].time",
                                    "message": 'must be a "YYYY-MM-DD HH:MM:SS" time (UTC), '
                                    "not '2026-11-20T09:00:00Z'",
                                }
                            ],
                        },
                    ),
                ],
            ),
            **problems(*SENDER_PROBLEMS),
        },
    )
    async def ofs_events(
        self, request: Request[Any, Any, Any], receiver: NamedDependency[Receiver]
    ) -> OfsAccepted:
        refuse_announced_oversize(request)
        done = await receiver.ofs(request.body, request.headers)
        return OfsAccepted(
            status="accepted",
            received=done.facts + len(done.set_aside),
            duplicates=done.facts - done.appended,
            events=done.appended,
            quarantined=len(done.set_aside),
            errors=[EventError(field=bad.field, message=bad.message) for bad in done.set_aside],
        )
