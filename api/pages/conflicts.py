"""For operators: ServiceMobility row versions that came with other ledger
content than the content they count with, newest first, and each with both
rows side by side."""

from __future__ import annotations

from typing import Annotated, Any, Final

from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from adapters.store import Store
from api.pages import params
from api.pages.errors import PageNotFound
from api.pages.rendering import render
from api.pages.session import signed_in
from api.services.conflicts import conflict_view

CONFLICTS_PAGE: Final = 50


class ConflictsController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/conflicts", name="conflicts")
    async def conflicts(
        self,
        request: Request[Any, Any, Any],
        store: NamedDependency[Store],
        cursor: Annotated[str | None, QueryParameter()] = None,
    ) -> Template:
        found = await store.conflicts(
            before=params.position_cursor(cursor), limit=CONFLICTS_PAGE + 1
        )
        shown = found[:CONFLICTS_PAGE]
        more = len(found) > CONFLICTS_PAGE
        return render(
            request,
            "conflicts.html",
            conflicts=shown,
            total=await store.conflict_count(),
            next_cursor=params.encode_cursor(shown[-1].id) if more else None,
        )

    @get("/conflicts/{conflict_id:int}", name="conflict")
    async def conflict(
        self,
        request: Request[Any, Any, Any],
        conflict_id: FromPath[int],
        store: NamedDependency[Store],
    ) -> Template:
        view = await conflict_view(store, conflict_id)
        if view is None:
            raise PageNotFound(f"No row conflict has the id {conflict_id}.")
        return render(request, "conflict.html", view=view)
