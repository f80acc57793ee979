"""The fleet: every technician and storage location in one table, with its
lines, negative lines, units and last change, and its lines below min once
par levels are set anywhere; sortable by each column and filtered by text or
to the ones with negative lines."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from adapters.store.signal_queries import ParSummaryQuery
from adapters.store.summaries import FleetLine
from api.pages import params, sorting
from api.pages.owners import RESOURCES
from api.pages.rendering import render, segment
from api.pages.session import signed_in
from projections.queries import Queries

Query = Annotated[str | None, QueryParameter()]


class FleetRow(FleetLine, frozen=True, kw_only=True):
    below: int = 0
    """Lines below their par level's `min`."""


def _only_negative(value: str | None) -> bool:
    if value in (None, "", "0"):
        return False
    if value != "1":
        raise params.BadInput("negative", "must be 1 (only lines below zero) or left out")
    return True


class FleetController(Controller):
    path = "/resources"
    guards = [signed_in]

    @get("/", name="fleet")
    async def fleet(
        self,
        request: Request[Any, Any, Any],
        queries: NamedDependency[Queries],
        q: Query = None,
        negative: Query = None,
        sort: Query = None,
        order: Query = None,
    ) -> Template | Redirect:
        wanted = params.text(request.query_params.get("id"), "id", longest=1000)
        if wanted is not None:
            return Redirect(f"/ui/resources/{segment(wanted)}", status_code=303)
        search = params.text(q, "q") or ""
        only_negative = _only_negative(negative)
        ordering = sorting.read(sort, order, sorting.FLEET_COLUMNS, "owner")
        head = await queries.store.feed_head()
        summaries = await queries.store.fetch(ParSummaryQuery())
        below = {each.resource_id: each.below for each in summaries}
        lines = [
            FleetRow(**msgspec.structs.asdict(line), below=below.get(line.owner, 0))
            for line in await queries.fleet(search)
            if line.negative or not only_negative
        ]
        return render(
            request,
            "fleet.html",
            kind=RESOURCES,
            search=search,
            only_negative=only_negative,
            par_levels=bool(summaries),
            lines=sorting.apply(lines, ordering, sorting.FLEET_COLUMNS),
            sorting=ordering,
            feed_head=head,
        )
