"""`GET /metrics`: Prometheus metrics, no token (counts and timings only; see
api.services.metrics)."""

from __future__ import annotations

from litestar import Response, get
from litestar.di import NamedDependency
from prometheus_client import CONTENT_TYPE_LATEST

from adapters.store import Reader, Store
from api.services.metrics import exposition


@get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (no authentication: for operators' scrapers)",
    tags=["operations"],
    cache=False,
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics_route(
    store: NamedDependency[Store], reads: NamedDependency[Reader]
) -> Response[bytes]:
    return Response(await exposition(store, reads), media_type=CONTENT_TYPE_LATEST)
