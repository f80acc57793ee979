"""The change feed (read scope): `GET /feed` (long polling), `GET /feed/stream`
(Server-Sent Events) and `GET /feed/snapshot`. The parameters are read and
checked in `api.http.feed_params`; the work is `api.services.feed`."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import QueryParameter
from litestar.response import Stream

from adapters.auth import Claims
from adapters.store.feed import FeedQuery
from api.http import feed_params as checked
from api.http.feed_schemas import FeedEntryOut, SnapshotOut
from api.http.openapi import READER, READER_PROBLEMS, problems
from api.http.security import provide_reader
from api.services.feed import Feed, batch_body

BATCH_JSON: Final = "application/cloudevents-batch+json"
EVENT_STREAM: Final = "text/event-stream"

Texts = list[str] | None
After = Annotated[
    str | None, QueryParameter(description="position after which to start (0: the beginning)")
]
Limit = Annotated[str | None, QueryParameter(description="at most this many (1 to 1000, 100)")]
Timeout = Annotated[
    str | None,
    QueryParameter(
        name="timeout",
        description="seconds to wait for a first entry when none is there (0 to 60)",
    ),
]
Types = Annotated[Texts, QueryParameter(name="type", description="entry type (repeatable)")]
Sources = Annotated[Texts, QueryParameter(description="`ofs` or `servicemobility` (repeatable)")]
Resources = Annotated[
    Texts, QueryParameter(name="resourceId", description="owner before or after (repeatable)")
]
Customers = Annotated[
    Texts, QueryParameter(name="customerNumber", description="owner before or after (repeatable)")
]
Activities = Annotated[
    Texts, QueryParameter(name="activityId", description="owner before or after (repeatable)")
]
Subjects = Annotated[Texts, QueryParameter(description="item key prefix (repeatable)")]
Cursor = Annotated[str | None, QueryParameter(description="`nextCursor` of the previous page")]

ENTRY_EXAMPLE: Final[dict[str, Any]] = {
    "specversion": "1.0",
    "id": "42-ofs-21258547",
    "source": "invtrack",
    "type": "invtrack.item.changed",
    "subject": "ofs-21258547",
    "time": "2026-11-20T09:31:07Z",
    "position": 57,
    "datacontenttype": "application/json",
    "data": {
        "key": "ofs-21258547",
        "source": "ofs",
        "pool": "install",
        "quantity": "1",
        "resourceId": "TECH_017",
        "activityId": "4225599",
        "position": 42,
        "change": {
            "eventType": "inventoryInstalled",
            "messageId": "sha256:…",
            "source": "ofs",
            "quantityDelta": "0",
        },
    },
}


def _params(request: Request[Any, Any, Any], known: tuple[str, ...]) -> checked.Params:
    params = checked.params_of(request.query_params.multi_items())
    checked.check_known(params, known)
    return params


class FeedController(Controller):
    tags = ["feed"]
    security = READER
    dependencies = {"reader": Provide(provide_reader)}

    @get(
        "/feed",
        operation_id="readFeed",
        summary="Every change after a position, oldest first (long polling)",
        responses={
            200: ResponseSpec(
                list[FeedEntryOut],
                media_type=BATCH_JSON,
                description="a CloudEvents batch, possibly empty; header `Feed-Position` is "
                "the position to pass as `after` next",
                examples=[Example(summary="one change", value=[ENTRY_EXAMPLE])],
            ),
            **problems(*READER_PROBLEMS),
        },
    )
    async def read(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[Feed],
        reader: NamedDependency[Claims],
        after: After = None,
        limit: Limit = None,
        wait: Timeout = None,
        type_: Types = None,
        source: Sources = None,
        resource_id: Resources = None,
        customer_number: Customers = None,
        activity_id: Activities = None,
        subject: Subjects = None,
    ) -> Response[bytes]:
        params = _params(request, checked.FEED_PARAMETERS)
        query = FeedQuery(
            after=checked.position(checked.one(params, "after")),
            limit=checked.limit(checked.one(params, "limit")),
            where=checked.feed_filter(params),
        )
        page = await feed.poll(query, checked.timeout(checked.one(params, "timeout")))
        return Response(
            batch_body(page.entries),
            media_type=BATCH_JSON,
            headers={"Feed-Position": str(page.through)},
        )

    @get(
        "/feed/stream",
        operation_id="streamFeed",
        summary="Every change after a position, as Server-Sent Events",
        description="`id:` is the position, `event:` the type, `data:` the entry; a comment "
        "line at least every 15 s while idle. Resumes after the `Last-Event-ID` header when "
        "it is sent (it wins over `after`).",
        responses={
            200: ResponseSpec(None, media_type=EVENT_STREAM, description="the event stream"),
            **problems(*READER_PROBLEMS),
        },
    )
    async def stream(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[Feed],
        reader: NamedDependency[Claims],
        after: After = None,
        type_: Types = None,
        source: Sources = None,
        resource_id: Resources = None,
        customer_number: Customers = None,
        activity_id: Activities = None,
        subject: Subjects = None,
    ) -> Stream:
        params = _params(request, checked.STREAM_PARAMETERS)
        start = checked.position(checked.one(params, "after"))
        resumed = checked.last_event_id(request.headers)
        query = FeedQuery(
            after=start if resumed is None else resumed, where=checked.feed_filter(params)
        )
        return Stream(
            feed.stream(query),
            media_type=EVENT_STREAM,
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    @get(
        "/feed/snapshot",
        operation_id="readFeedSnapshot",
        summary="Every current item at one feed position, paged by key",
        responses={
            200: ResponseSpec(
                SnapshotOut,
                description="every page of one snapshot is at the same `position`; follow "
                "`/feed?after={position}` afterwards",
            ),
            **problems(*READER_PROBLEMS),
        },
    )
    async def snapshot(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[Feed],
        reader: NamedDependency[Claims],
        limit: Limit = None,
        cursor: Cursor = None,
        type_: Types = None,
        source: Sources = None,
        resource_id: Resources = None,
        customer_number: Customers = None,
        activity_id: Activities = None,
        subject: Subjects = None,
    ) -> SnapshotOut:
        params = _params(request, checked.SNAPSHOT_PARAMETERS)
        size = checked.limit(checked.one(params, "limit"))
        start = checked.snapshot_cursor(checked.one(params, "cursor"))
        page = await feed.snapshot(
            checked.feed_filter(params),
            size,
            None if start is None else start.position,
            None if start is None else start.key,
        )
        next_cursor = (
            None
            if page.last_key is None
            else checked.encode_cursor(checked.SnapshotCursor(page.position, page.last_key))
        )
        return SnapshotOut(position=page.position, items=page.items, next_cursor=next_cursor)
