"""Routes for operators: liveness, readiness."""

from __future__ import annotations

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from sqlalchemy import text

from adapters.store import EventStore
from api.routes.schemas import Health, Readiness
from projections.setup import Stale


class OperationsController(Controller):
    tags = ["operations"]
    include_in_schema = True

    @get("/health", operation_id="getHealth", summary="The process is up", cache=False)
    async def health(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        operation_id="getReadiness",
        summary="The database answers and the projections are current",
        cache=False,
        responses={
            503: ResponseSpec(
                Readiness, description="the database does not answer, or a projection is stale"
            )
        },
    )
    async def ready(
        self, store: NamedDependency[EventStore], stale: NamedDependency[list[Stale]]
    ) -> Response[Readiness]:
        try:
            async with store.reading() as conn:
                await conn.execute(text("SELECT 1"))
            database = True
        except Exception:  # any failure to reach the database means not ready
            database = False
        names = [f"{s.name} v{s.active} (wanted v{s.wanted})" for s in stale]
        ready = database and not names
        body = Readiness(status="ready" if ready else "not ready", database=database, stale=names)
        return Response(body, status_code=200 if ready else 503)
