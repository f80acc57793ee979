"""ServiceMobility counts: what each device counted against the balance it
replaced, by technician and date, with a CSV of the page."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any, Final

from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from api.pages import csvs, params
from api.pages.rendering import quantity, render, signed
from api.pages.session import signed_in
from api.services.dashboard import CountPage, Dashboard

Query = Annotated[str | None, QueryParameter()]

COLUMNS: Final = (
    "countedAt",
    "storageLocation",
    "productNumber",
    "serialNumber",
    "batchNumber",
    "expected",
    "counted",
    "variance",
    "kind",
    "request",
    "user",
    "key",
    "position",
)


def _rows(page: CountPage) -> list[list[str]]:
    return [
        [
            csvs.cell(line.occurred_at.isoformat().replace("+00:00", "Z")),
            csvs.cell(line.location),
            csvs.cell(line.product),
            csvs.cell(line.serial),
            csvs.cell(line.batch),
            quantity(line.expected),
            quantity(line.counted),
            signed(line.variance),
            csvs.cell(line.kind),
            csvs.cell(line.request),
            csvs.cell(line.user),
            line.key,
            str(line.position),
        ]
        for line in page.lines
    ]


class CountsController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/counts", name="counts")
    async def counts(
        self,
        request: Request[Any, Any, Any],
        dashboard: NamedDependency[Dashboard],
        location: Query = None,
        since: Query = None,
        until: Query = None,
        limit: Query = None,
        cursor: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        """`since` and `until` are days (or moments); `until` includes its day."""
        where = params.text(location, "location")
        first = params.moment(since, "since")
        last = params.moment(until, "until")
        end = last + timedelta(days=1) if last and until and len(until.strip()) == 10 else last
        page = await dashboard.counts(
            location=where,
            since=first,
            until=end,
            before=params.position_cursor(cursor),
            limit=params.limit(limit),
        )
        if format == "csv":
            return csvs.download(f"counts-{where or 'all'}", COLUMNS, _rows(page))
        return render(
            request,
            "counts.html",
            location=where,
            page=page,
            next_cursor=params.encode_cursor(page.next_before) if page.next_before else None,
        )
