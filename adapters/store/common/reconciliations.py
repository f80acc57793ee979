"""Reconciliation runs kept for listing later: each run and its differences in
one transaction, read back newest first. Through SQLAlchemy Core, the same on
both backends."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec
from sqlalchemy import Row, case, func, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from adapters.store.records import ReconciliationSummary
from adapters.store.schema import reconciliation_drifts, reconciliations
from domain.reconciliation import Drift, Reconciliation


class ReconciliationLog:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    async def record(self, run: Reconciliation) -> Reconciliation:
        """Keep a run and its differences; the run with its id."""
        targets = {"resources": list(run.resources), "activities": list(run.activities)}
        async with self.engine.begin() as conn:
            run_id = await conn.scalar(
                insert(reconciliations)
                .values(
                    source=run.source,
                    started_at=run.started_at,
                    finished_at=run.finished_at,
                    targets=msgspec.json.encode(targets).decode(),
                    compared=run.compared,
                    drifted=run.drifted,
                )
                .returning(reconciliations.c.id)
            )
            assert run_id is not None
            if run.drifts:
                await conn.execute(
                    insert(reconciliation_drifts),
                    [
                        {
                            "run_id": run_id,
                            "seq": seq,
                            "key": drift.key,
                            "field": drift.field,
                            "ours": drift.ours,
                            "theirs": drift.theirs,
                        }
                        for seq, drift in enumerate(run.drifts)
                    ],
                )
        return msgspec.structs.replace(run, id=int(run_id))

    async def runs(self, *, before: int | None = None, limit: int = 100) -> list[Reconciliation]:
        """Up to `limit` runs, newest first, older than run `before` when given."""
        query = select(reconciliations).order_by(reconciliations.c.id.desc()).limit(limit)
        if before is not None:
            query = query.where(reconciliations.c.id < before)
        async with self.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
            drifts = await self._drifts(conn, [int(row.id) for row in rows])
        return [_run(row, drifts.get(int(row.id), ())) for row in rows]

    async def summary(self) -> list[ReconciliationSummary]:
        """Per vendor: runs with and without drift, and the newest run."""
        drifted = func.sum(case((reconciliations.c.drifted > 0, 1), else_=0))
        counts = select(
            reconciliations.c.source,
            func.count().label("runs"),
            drifted.label("drifted_runs"),
            func.max(reconciliations.c.id).label("newest"),
        ).group_by(reconciliations.c.source)
        async with self.engine.connect() as conn:
            totals = (await conn.execute(counts)).all()
            newest = {
                int(row.id): row
                for row in await conn.execute(
                    select(reconciliations).where(
                        reconciliations.c.id.in_([int(total.newest) for total in totals])
                    )
                )
            }
        return [
            ReconciliationSummary(
                source=str(total.source),
                clean=int(total.runs) - int(total.drifted_runs or 0),
                drifted_runs=int(total.drifted_runs or 0),
                finished_at=newest[int(total.newest)].finished_at,
                drifted=int(newest[int(total.newest)].drifted),
            )
            for total in totals
        ]

    async def _drifts(
        self, conn: AsyncConnection, run_ids: Sequence[int]
    ) -> dict[int, tuple[Drift, ...]]:
        if not run_ids:
            return {}
        query = (
            select(reconciliation_drifts)
            .where(reconciliation_drifts.c.run_id.in_(run_ids))
            .order_by(reconciliation_drifts.c.run_id, reconciliation_drifts.c.seq)
        )
        found: dict[int, list[Drift]] = {}
        for row in await conn.execute(query):
            found.setdefault(int(row.run_id), []).append(
                Drift(key=row.key, field=row.field, ours=row.ours, theirs=row.theirs)
            )
        return {run_id: tuple(drifts) for run_id, drifts in found.items()}


def _run(row: Row[Any], drifts: tuple[Drift, ...]) -> Reconciliation:
    targets = msgspec.json.decode(row.targets)
    return Reconciliation(
        id=int(row.id),
        source=row.source,
        started_at=row.started_at,
        finished_at=row.finished_at,
        resources=tuple(targets.get("resources", ())),
        activities=tuple(targets.get("activities", ())),
        compared=int(row.compared),
        drifts=drifts,
    )
