"""`GET /reconciliations`: the reconciliation runs kept, newest first, each with
what was compared and the items that differ. Read scope."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import QueryParameter

from adapters.auth import Claims
from adapters.store import Reader
from api.http import cursors
from api.http.problems import PROBLEM_JSON, ProblemBody
from api.http.schemas import RunList, RunOut
from api.http.security import provide_reader

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
        reads: NamedDependency[Reader],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> RunList:
        before = cursors.position_after(cursor) or None
        runs = await reads.reconciliations(before=before, limit=limit + 1)
        shown = runs[:limit]
        more = len(runs) > limit
        return RunList(
            items=[RunOut.of(run) for run in shown],
            next_cursor=cursors.encode(shown[-1].id) if more and shown[-1].id else None,
        )
