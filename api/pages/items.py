"""One item: where it is now (or as of a time), every event that touched it
and what each changed, and for a stock line without a serial number, its
quantity over its history."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from api.pages import charts, params
from api.pages.errors import PageNotFound
from api.pages.rendering import render
from api.pages.session import signed_in
from api.services.dashboard import Dashboard
from projections.queries import Queries

Query = Annotated[str | None, QueryParameter()]

TIMELINE_PAGE = 50


class ItemController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/inventories/{key:str}", name="item")
    async def item(
        self,
        request: Request[Any, Any, Any],
        key: FromPath[str],
        queries: NamedDependency[Queries],
        dashboard: NamedDependency[Dashboard],
        at: Query = None,
        cursor: Query = None,
    ) -> Template:
        key = params.text(key, "key") or ""
        when = params.moment(at, "at")
        skip = params.position_cursor(cursor) or 0
        item = await queries.item(key, when)
        timeline = await dashboard.timeline(key, after=skip, limit=TIMELINE_PAGE)
        if item is None and timeline is None:
            raise PageNotFound(f"No item has the key {key!r}.")
        chart = None
        if timeline is not None and item is not None and item.serial_number is None:
            chart = charts.over_time(timeline.quantities)
        return render(
            request,
            "item.html",
            key=key,
            at=when,
            item=item,
            timeline=timeline,
            chart=chart,
            next_cursor=(
                params.encode_cursor(timeline.next_after)
                if timeline and timeline.next_after
                else None
            ),
        )
