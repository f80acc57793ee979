"""The fleet: every technician and storage location in one table, with its
lines, negative lines, units and last change; sortable by each column and
filtered by text or to the ones with negative lines."""

from __future__ import annotations

from typing import Annotated, Any

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from api.pages import params, sorting
from api.pages.owners import RESOURCES
from api.pages.rendering import render, segment
from api.pages.session import signed_in
from projections.queries import Queries

Query = Annotated[str | None, QueryParameter()]


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
        lines = await queries.fleet(search)
        if only_negative:
            lines = [line for line in lines if line.negative]
        return render(
            request,
            "fleet.html",
            kind=RESOURCES,
            search=search,
            only_negative=only_negative,
            lines=sorting.apply(lines, ordering, sorting.FLEET_COLUMNS),
            sorting=ordering,
            feed_head=head,
        )
