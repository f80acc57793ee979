"""The overview: what the store holds, what arrives, and what needs a look."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Redirect, Template

from adapters.store import Store
from api.pages import charts
from api.pages.params import text
from api.pages.rendering import render
from api.pages.session import signed_in
from api.services.dashboard import Dashboard
from api.services.vendor_health import vendor_health
from projections.status import status

CHART_HOURS: Final = 3


@get("/", include_in_schema=False, name="home")
async def home() -> Redirect:
    return Redirect("/ui/", status_code=302)


class OverviewController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/", name="overview")
    async def overview(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        dashboard: NamedDependency[Dashboard],
    ) -> Template:
        minutes = await dashboard.deliveries_per_minute(CHART_HOURS)
        chart = charts.bars([(m.start.strftime("%H:%M"), m.deliveries) for m in minutes])
        return render(
            request,
            "overview.html",
            status=await status(store, quarantined=0),
            chart=chart,
            hours=CHART_HOURS,
            first=minutes[0].start,
            last=minutes[-1].start,
            reconciliation=await dashboard.last_reconciliation(),
            vendors=await vendor_health(store, gaps=3),
            feed_head=await store.feed_head(),
        )

    @get("/find", name="find")
    async def find(
        self,
        request: Request[Any, Any, Any],
        dashboard: NamedDependency[Dashboard],
        q: Annotated[str | None, QueryParameter()] = None,
    ) -> Template | Redirect:
        wanted = text(q, "q")
        found = await dashboard.find_items(wanted) if wanted else []
        if len(found) == 1:
            return Redirect(f"/ui/inventories/{found[0].key}", status_code=303)
        return render(request, "find.html", wanted=wanted, items=found)
