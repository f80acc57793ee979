"""The web dashboard: server-rendered pages under /ui/, for the people who
ask what a technician carries, what a job installed and what happened to an
item, and for the operators who run invtrack."""

from __future__ import annotations

from typing import Any

from litestar import Router, get
from litestar.datastructures import CacheControlHeader
from litestar.di import Provide
from litestar.params import FromPath
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler

from adapters.store import DashboardSessions
from api.pages.conflicts import ConflictsController
from api.pages.counts import CountsController
from api.pages.errors import HANDLERS, PageNotFound
from api.pages.fleet import FleetController
from api.pages.items import ItemController
from api.pages.live import LiveController
from api.pages.login import LoginController
from api.pages.operations import ProjectionsController, QuarantineController
from api.pages.overview import OverviewController, home
from api.pages.owners import OwnersController
from api.pages.products import ProductsController
from api.pages.rendering import STATIC, template_config
from api.pages.session import same_session, session_middleware
from api.pages.sessions import SessionsController
from api.pages.signals_pages import SignalPages
from api.pages.sso import SingleSignOn, SingleSignOnController
from api.pages.subscriptions import SubscriptionsPageController
from api.services.dashboard import Dashboard
from api.services.rebuilds import Rebuilds
from api.settings import Settings

__all__ = ["SingleSignOn", "dashboard_routes", "template_config"]


@get("/{rest:path}", name="no-such-page")
async def no_such_page(rest: FromPath[str]) -> None:
    raise PageNotFound("There is no such page.")


def dashboard_routes(
    settings: Settings,
    dashboard: Dashboard,
    rebuilds: Rebuilds,
    sessions: DashboardSessions,
    sso: SingleSignOn | None,
) -> list[ControllerRouterHandler]:
    """The redirect from `/`, the pages under /ui/ and their static files.
    Their security headers are set around the whole app (`api.pages.headers`),
    so error answers made before routing carry them too."""

    def provide(value: Any) -> Provide:
        return Provide(lambda: value, use_cache=True, sync_to_thread=False)

    pages = Router(
        path="/ui",
        route_handlers=[
            LoginController,
            SingleSignOnController,
            SessionsController,
            OverviewController,
            FleetController,
            OwnersController,
            ProductsController,
            ItemController,
            LiveController,
            CountsController,
            QuarantineController,
            ConflictsController,
            ProjectionsController,
            SubscriptionsPageController,
            SignalPages,
            no_such_page,
        ],
        middleware=[session_middleware(settings, sessions)],
        guards=[same_session],
        dependencies={
            "dashboard": provide(dashboard),
            "rebuilds": provide(rebuilds),
            "settings": provide(settings),
            "sso": provide(sso),
        },
        exception_handlers=HANDLERS,
        include_in_schema=False,
    )
    static = create_static_files_router(
        path="/ui/static",
        directories=[STATIC],
        name="dashboard-static",
        cache_control=CacheControlHeader(max_age=3600),
        include_in_schema=False,
    )
    return [home, pages, static]
