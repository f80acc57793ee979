"""The overview: what needs action first (`api.pages.tiles`), then what the
store holds and what arrives."""

from __future__ import annotations

from typing import Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.response import Redirect, Template

from adapters.store import Store
from api.pages import charts, tiles
from api.pages import signals_tiles as signals_tiles  # its tiles register
from api.pages.rendering import render
from api.pages.session import signed_in
from api.services.dashboard import Dashboard
from api.services.vendor_health import vendor_health
from projections.queries import Queries
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
        queries: NamedDependency[Queries],
    ) -> Template:
        head = await store.feed_head()  # before the reads: no change is missed
        now = await status(store, quarantined=0)
        settings = request.app.state["services"].signals.settings
        shown = await tiles.tiles(
            tiles.Context(store=store, queries=queries, status=now, signal_settings=settings)
        )
        minutes = await dashboard.deliveries_per_minute(CHART_HOURS)
        chart = charts.bars([(m.start.strftime("%H:%M"), m.deliveries) for m in minutes])
        return render(
            request,
            "overview.html",
            status=now,
            tiles=shown,
            chart=chart,
            hours=CHART_HOURS,
            first=minutes[0].start,
            last=minutes[-1].start,
            reconciliation=await dashboard.last_reconciliation(),
            vendors=await vendor_health(store, gaps=3),
            feed_head=head,
        )
