"""Routes for operators: liveness, readiness."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Final

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec

from adapters.store import Reader, Replicated, Store
from api.http.schemas import Health, Readiness, ReplicaReport
from api.services.group_commit import Ingestor
from api.services.vendor_health import VendorHealth, vendor_health
from projections.setup import Stale

DETAILS_SECONDS: Final = 1.0
"""How long /ready waits for the pullers' details before it answers without them."""


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
                Readiness, description="the store takes no writes now, or a projection is stale"
            )
        },
    )
    async def ready(
        self,
        store: NamedDependency[Store],
        reads: NamedDependency[Reader],
        ingestor: NamedDependency[Ingestor],
        stale: NamedDependency[list[Stale]],
    ) -> Response[Readiness]:
        """Ready when the store takes writes (its append lock can be had within
        a second) and every projection is this build's version. The pullers'
        health, the OFS subscription gaps and the read replica come as details."""
        writable = await store.writable(wait=1.0) and not ingestor.busy
        names = [f"{s.name} v{s.active} (wanted v{s.wanted})" for s in stale]
        ready = writable and not names
        body = Readiness(
            status="ready" if ready else "not ready",
            database=writable,
            stale=names,
            vendors=await _vendors(store) if writable else None,
            replica=await _replica(reads),
        )
        return Response(body, status_code=200 if ready else 503)


async def _vendors(store: Store) -> VendorHealth | None:
    with contextlib.suppress(Exception):
        return await asyncio.wait_for(vendor_health(store), DETAILS_SECONDS)
    return None


async def _replica(reads: Reader) -> ReplicaReport | None:
    if not isinstance(reads, Replicated):
        return None
    status = await reads.replica_status()
    lag = None if status.lag_seconds is None else round(status.lag_seconds, 3)
    return ReplicaReport(state=status.state, lag_seconds=lag, reason=status.reason)
