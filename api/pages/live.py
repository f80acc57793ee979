"""Pages that keep themselves current: `/ui/live` tells a signed-in page,
as Server-Sent Events, each time a commit moves the change feed's head, and
the page script (static/dashboard.js) reads the page's live parts again."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Stream

from api.pages.params import BadInput
from api.pages.session import signed_in
from api.services.feed import Feed


def _position(value: str | None, field: str) -> int | None:
    if value is None or value == "":
        return None
    if not value.isdigit() or len(value) > 18:
        raise BadInput(field, "must be a feed position (a whole number)")
    return int(value)


class LiveController(Controller):
    path = "/live"
    guards = [signed_in]

    @get("/", name="live")
    async def live(
        self,
        request: Request[Any, Any, Any],
        feed: NamedDependency[Feed],
        after: Annotated[str | None, QueryParameter()] = None,
    ) -> Stream:
        """`event: changed` with the head, whenever it moves past `after` (or
        past `Last-Event-ID` when a reconnecting browser sends it)."""
        resumed = _position(request.headers.get("last-event-id"), "Last-Event-ID")
        start = resumed if resumed is not None else _position(after, "after")
        if start is None:
            start = await feed.store.feed_head()
        return Stream(
            feed.heads(start),
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )
