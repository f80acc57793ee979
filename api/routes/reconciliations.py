"""`GET /reconciliations`: the reconciliation runs kept, newest first, each with
what was compared and the items that differ. Read scope."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter
from msgspec import Meta

from adapters.auth import Claims
from adapters.store import ReconciliationLog
from api.routes import cursors
from api.routes.problems import PROBLEM_JSON, ProblemBody
from api.routes.security import provide_reader
from domain.reconciliation import Reconciliation


class DriftOut(msgspec.Struct, frozen=True):
    key: Annotated[str, Meta(examples=["ofs-21258547"])]
    field: Annotated[
        str,
        Meta(
            examples=["quantity"],
            description="item, pool, resourceId, activityId, quantity, serialNumber or "
            "inventoryType",
        ),
    ]
    ours: Annotated[
        str | None, Meta(examples=["15"], description="`present` or `absent` for `item`")
    ]
    theirs: Annotated[str | None, Meta(examples=["12"])]


class RunOut(msgspec.Struct, frozen=True, rename="camel"):
    id: int
    source: Annotated[str, Meta(examples=["ofs"])]
    started_at: datetime
    finished_at: datetime
    resources: list[str]
    activities: list[str]
    compared: Annotated[int, Meta(description="items compared")]
    drifted: Annotated[int, Meta(description="items that differ")]
    drifts: list[DriftOut]

    @classmethod
    def of(cls, run: Reconciliation) -> RunOut:
        return cls(
            id=run.id or 0,
            source=run.source,
            started_at=run.started_at,
            finished_at=run.finished_at,
            resources=list(run.resources),
            activities=list(run.activities),
            compared=run.compared,
            drifted=run.drifted,
            drifts=[DriftOut(d.key, d.field, d.ours, d.theirs) for d in run.drifts],
        )


class RunList(msgspec.Struct, frozen=True, rename="camel"):
    items: list[RunOut]
    next_cursor: str | None


Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="runs per page, at most 1000")]
Cursor = Annotated[str | None, QueryParameter(description="`nextCursor` of the previous page")]

_PROBLEMS = {
    status: ResponseSpec(
        ProblemBody, media_type=PROBLEM_JSON, description=description, generate_examples=False
    )
    for status, description in (
        (400, "a parameter is not valid"),
        (401, "no valid token"),
        (403, "scope lacks read"),
    )
}


class ReconciliationController(Controller):
    tags = ["queries"]
    dependencies = {"reader": Provide(provide_reader)}

    @get(
        "/reconciliations",
        operation_id="listReconciliations",
        summary="Reconciliation runs, newest first, with the items that differ",
        responses={
            200: ResponseSpec(data_container=RunList, description="one page of runs"),
            **_PROBLEMS,
        },
    )
    async def runs(
        self,
        reconciliations: NamedDependency[ReconciliationLog],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> RunList:
        before = cursors.position_after(cursor) or None
        runs = await reconciliations.runs(before=before, limit=limit + 1)
        shown = runs[:limit]
        more = len(runs) > limit
        return RunList(
            items=[RunOut.of(run) for run in shown],
            next_cursor=cursors.encode(shown[-1].id) if more and shown[-1].id else None,
        )
