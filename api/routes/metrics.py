"""Prometheus metrics: `GET /metrics` in the Prometheus text format.

What is measured:

- `invtrack_http_requests_total{method, route, status}` and
  `invtrack_http_request_duration_seconds{method, route}` (a histogram), for
  every request a route answers; `route` is the route's template
  (`/servicemobility/{kind}`), never the concrete path, so the number of series
  stays bounded. Requests no route matches (404/405 from the router) are not
  counted.
- `invtrack_deliveries_total{source, outcome}`: payloads received, by outcome
  (`accepted`, `duplicate`, `quarantined`, `failed`);
  `invtrack_events_appended_total{source}`: events appended;
  `invtrack_events_duplicate_total{source}`: events of accepted payloads that
  were already stored and were skipped.
- Computed on each scrape from the store, with two indexed queries:
  `invtrack_events_head_position` (the highest position stored),
  `invtrack_projection_checkpoint{projection, slot, state}` and
  `invtrack_projection_lag_events{projection, slot, state}` (head position
  minus the checkpoint). `invtrack_store_up` is 0 when the store did not answer
  within two seconds; the lag series are then left out.

No authentication: operators' scrapers call `/metrics`, and it holds counts
and timings only, never payloads, identifiers or tokens. Keep the port off
public networks as you would any operations endpoint.

Workers: `invtrack serve --workers N` with N > 1 runs N processes. `serve`
then points `PROMETHEUS_MULTIPROC_DIR` at a fresh directory before the workers
start (`multiprocess_dir`), which puts prometheus_client in multiprocess mode:
every worker writes its counters and histograms to files there, and the worker
that answers a scrape sums the files of all workers, so any scrape shows the
whole server and counters never go backwards when a different worker answers.
A directory the operator sets is used as it is (empty it before each start).
With one worker the metrics are plain in-process ones, plus the standard
`process_*` and `python_*` collectors, which multiprocess mode cannot sum.

Why not Litestar's Prometheus plugin (`litestar.plugins.prometheus`): its
request metrics carry the labels `path`, `status_code` and `app_name`, while
ours carry `route` and `status`, and dashboards and alerts rely on those
names; nor would its scrape route add the store's gauges below.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from litestar import Response, get
from litestar.di import NamedDependency
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from adapters.store import Delivery, EventStore, Receipt, ReconciliationLog
from api.routes.reconciliation_metrics import reconciliation_gauges
from api.services.group_commit import CommitFailed, Ingestor

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
SCRAPE_TIMEOUT_SECONDS: Final = 2.0
# fmt: off
LATENCY_BUCKETS: Final = (
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
)
# fmt: on

REQUESTS: Final = Counter(
    "invtrack_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
LATENCY: Final = Histogram(
    "invtrack_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["method", "route"],
    buckets=LATENCY_BUCKETS,
)
DELIVERIES: Final = Counter(
    "invtrack_deliveries",
    "Payloads received, by outcome: accepted, duplicate, quarantined, failed",
    ["source", "outcome"],
)
APPENDED: Final = Counter("invtrack_events_appended", "Events appended to the store", ["source"])
DUPLICATE_EVENTS: Final = Counter(
    "invtrack_events_duplicate",
    "Events of accepted payloads that were stored before and were skipped",
    ["source"],
)

_TYPED_PARAMETER: Final = re.compile(r"\{(\w+):[^}]*\}")


def is_multiprocess() -> bool:
    """Whether prometheus_client keeps values in files shared by the workers."""
    return values.ValueClass is not values.MutexValue


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[None]:
    """Set up multiprocess mode for the workers `serve` is about to start.

    With more than one worker and no directory configured, a fresh directory is
    created, named in the environment the workers inherit, and removed after.
    """
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    directory = tempfile.mkdtemp(prefix="invtrack-metrics-")
    os.environ[MULTIPROC_ENV] = directory
    try:
        yield
    finally:
        os.environ.pop(MULTIPROC_ENV, None)
        shutil.rmtree(directory, ignore_errors=True)


def route_of(scope: Scope) -> str:
    """The route template without parameter types: `/inventories/{key}`."""
    template = scope.get("path_template")
    if not isinstance(template, str):
        return "unmatched"
    return _TYPED_PARAMETER.sub(r"{\1}", template)


class MetricsMiddleware:
    """Counts and times every request a route answers."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_note)
        finally:
            method, route = scope["method"], route_of(scope)
            REQUESTS.labels(method, route, str(status)).inc()
            LATENCY.labels(method, route).observe(time.perf_counter() - started)


class MeteredIngestor(Ingestor):
    """The ingestor, counting what every delivery did."""

    async def submit(self, delivery: Delivery) -> Receipt:
        source = delivery.inbox.source if delivery.inbox is not None else "none"
        try:
            receipt = await super().submit(delivery)
        except CommitFailed:
            DELIVERIES.labels(source, "failed").inc()
            raise
        record(source, receipt)
        return receipt


def record(source: str, receipt: Receipt) -> None:
    if receipt.inbox_id is None and not receipt.duplicate:
        return  # a cursor moved, nothing was received
    if receipt.quarantined:
        DELIVERIES.labels(source, "quarantined").inc()
    elif receipt.duplicate:
        DELIVERIES.labels(source, "duplicate").inc()
        DUPLICATE_EVENTS.labels(source).inc(receipt.skipped)
    else:
        DELIVERIES.labels(source, "accepted").inc()
        APPENDED.labels(source).inc(receipt.appended)
        DUPLICATE_EVENTS.labels(source).inc(receipt.skipped)


class _Snapshot(Collector):
    """Gauges read from the store for one scrape. Plain metric families, not
    Gauge objects: in multiprocess mode a Gauge would be written to the shared
    files and show up again, per process, in later scrapes."""

    def __init__(self, families: list[GaugeMetricFamily]) -> None:
        self.families = families

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield from self.families


async def store_gauges(store: EventStore) -> CollectorRegistry:
    """The head position and each projection's checkpoint and lag, read now."""
    up = GaugeMetricFamily("invtrack_store_up", "1 when the store answered this scrape")
    families = [up]
    try:
        head, slots = await asyncio.wait_for(_positions(store), SCRAPE_TIMEOUT_SECONDS)
    except Exception:  # a scrape must answer even when the store does not
        up.add_metric([], 0)
    else:
        up.add_metric([], 1)
        labels = ["projection", "slot", "state"]
        checkpoint = GaugeMetricFamily(
            "invtrack_projection_checkpoint",
            "Position up to which a projection has applied the events",
            labels=labels,
        )
        lag = GaugeMetricFamily(
            "invtrack_projection_lag_events",
            "Head position minus the projection's checkpoint",
            labels=labels,
        )
        for name, slot, state, position in slots:
            checkpoint.add_metric([name, slot, state], position)
            lag.add_metric([name, slot, state], max(head - position, 0))
        families += [
            GaugeMetricFamily(
                "invtrack_events_head_position", "Highest position in the store", value=head
            ),
            checkpoint,
            lag,
        ]
    registry = CollectorRegistry()
    registry.register(_Snapshot(families))
    return registry


async def _positions(store: EventStore) -> tuple[int, list[tuple[str, str, str, int]]]:
    head = await store.head()
    slots: list[tuple[str, str, str, int]] = [
        (row.name, str(row.slot), row.state, row.position)
        for row in await store.registered()
        if row.state != "retired"
    ]
    return head, slots


async def exposition(store: EventStore) -> bytes:
    """Everything, in the Prometheus text format."""
    if is_multiprocess():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        counted = generate_latest(registry)
    else:
        counted = generate_latest(REGISTRY)
    reconciliations = await reconciliation_gauges(ReconciliationLog(store.database))
    return counted + generate_latest(await store_gauges(store)) + generate_latest(reconciliations)


@get(
    "/metrics",
    operation_id="getMetrics",
    summary="Prometheus metrics (no authentication: for operators' scrapers)",
    tags=["operations"],
    cache=False,
    media_type=CONTENT_TYPE_LATEST,
)
async def metrics_route(store: NamedDependency[EventStore]) -> Response[bytes]:
    return Response(await exposition(store), media_type=CONTENT_TYPE_LATEST)
