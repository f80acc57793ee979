"""Prometheus metrics, served by `GET /metrics` (api.routes.metrics).

`invtrack_http_requests_total{method, route, status}` and the histogram
`invtrack_http_request_duration_seconds{method, route}` count what routes
answered (`route` is the template); `invtrack_deliveries_total{source,
outcome}`, `invtrack_events_appended_total{source}` and
`invtrack_events_duplicate_total{source}` what deliveries did. Read on each
scrape: `invtrack_store_up` (0, and nothing more of the store, when it does
not answer in two seconds), `invtrack_events_head_position`,
`invtrack_projection_checkpoint` and `invtrack_projection_lag_events`
`{projection, slot, state}`, `invtrack_quarantined_payloads` and
`invtrack_quarantined_received` (each content is kept once; the second counts
its repeats), `invtrack_row_conflicts`, api.services.reconciliation_metrics and
api.services.vendor_metrics.
`invtrack_row_conflicts_refused_total{source}` counts the rows refused as
conflicts as they arrive. The change feed and its subscriptions:
api.services.subscription_metrics.

Not Litestar's Prometheus plugin: its request labels are `path`, `status_code`
and `app_name` where dashboards use `route` and `status`, and its route has no
room for the store's gauges. With `serve --workers N`, `multiprocess_dir` puts
prometheus_client in multiprocess mode, so any worker answers with the totals.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import tempfile
from collections.abc import Awaitable, Iterator
from contextlib import contextmanager
from typing import Any, Final

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.store import Delivery, Reader, Receipt, Store
from api.services.group_commit import CommitFailed, Ingestor
from api.services.reconciliation_metrics import reconciliation_families
from api.services.replica_metrics import replica_families
from api.services.subscription_metrics import subscription_families
from api.services.vendor_metrics import vendor_families

log = logging.getLogger("invtrack.deliveries")

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
SCRAPE_TIMEOUT_SECONDS: Final = 2.0

REQUESTS: Final = Counter(
    "invtrack_http_requests",
    "HTTP requests answered, by route template and status",
    ["method", "route", "status"],
)
LATENCY: Final = Histogram(
    "invtrack_http_request_duration_seconds",
    "Time from a request's arrival to the end of its answer",
    ["method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DELIVERIES: Final = Counter(
    "invtrack_deliveries",
    "Payloads received, by outcome: accepted, duplicate, quarantined, failed",
    ["source", "outcome"],
)
APPENDED: Final = Counter("invtrack_events_appended", "Events appended to the store", ["source"])
CONFLICTS: Final = Counter(
    "invtrack_row_conflicts_refused",
    "Rows not counted because their row version counts with other ledger content",
    ["source"],
)
DUPLICATE_EVENTS: Final = Counter(
    "invtrack_events_duplicate",
    "Events of accepted payloads that were stored before and were skipped",
    ["source"],
)


@functools.lru_cache(maxsize=4096)
def _child(metric: Counter | Histogram, *labels: str) -> Any:
    """The metric's child for these label values, looked up once: every
    request counts itself, and `labels` checks and locks on every call."""
    return metric.labels(*labels)


@contextmanager
def multiprocess_dir(workers: int) -> Iterator[None]:
    """For more than one worker and no directory configured: a fresh one,
    named in the environment the workers inherit, removed after."""
    if workers <= 1 or os.environ.get(MULTIPROC_ENV):
        yield
        return
    with tempfile.TemporaryDirectory(prefix="invtrack-metrics-") as directory:
        os.environ[MULTIPROC_ENV] = directory
        try:
            yield
        finally:
            del os.environ[MULTIPROC_ENV]


def count_request(method: str, route: str | None, status: int, seconds: float) -> None:
    """Counts and times a request a route answered (`route` is its template)."""
    if route is not None:
        _child(REQUESTS, method, route, str(status)).inc()
        _child(LATENCY, method, route).observe(seconds)


class MeteredIngestor(Ingestor):
    """The ingestor, counting what every delivery did."""

    async def submit(self, delivery: Delivery) -> Receipt:
        source = delivery.inbox.source if delivery.inbox is not None else "none"
        try:
            receipt = await super().submit(delivery)
        except CommitFailed:
            _child(DELIVERIES, source, "failed").inc()
            raise
        record(source, receipt)
        return receipt


def record(source: str, receipt: Receipt) -> None:
    if receipt.inbox_id is None and not receipt.duplicate:
        return  # a cursor moved, nothing was received
    if receipt.quarantined:
        _child(DELIVERIES, source, "quarantined").inc()
        return
    _child(DELIVERIES, source, "duplicate" if receipt.duplicate else "accepted").inc()
    _child(DUPLICATE_EVENTS, source).inc(receipt.skipped)
    if receipt.conflicts:
        CONFLICTS.labels(source).inc(receipt.conflicts)
        log.warning(
            "%d row(s) of payload %s came under a row version that counts with other "
            "ledger content: not counted, recorded as conflicts",
            receipt.conflicts,
            receipt.inbox_id,
        )
    if not receipt.duplicate:
        _child(APPENDED, source).inc(receipt.appended)


class _Families(Collector):
    """Metric families read for one scrape. Not Gauge objects: in
    multiprocess mode those would be written to the shared files."""

    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def _in_time(read: Awaitable[list[Metric]]) -> list[Metric] | None:
    try:
        return await asyncio.wait_for(read, SCRAPE_TIMEOUT_SECONDS)
    except Exception:  # a scrape must answer even when the store does not
        return None


async def _store_families(store: Reader) -> list[Metric]:
    head = await store.head()
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
    for row in await store.registered():
        if row.state != "retired":
            checkpoint.add_metric([row.name, str(row.slot), row.state], row.position)
            lag.add_metric([row.name, str(row.slot), row.state], max(head - row.position, 0))
    payloads, received = await store.quarantine_totals()
    return [
        GaugeMetricFamily(
            "invtrack_events_head_position", "Highest position in the store", value=head
        ),
        checkpoint,
        lag,
        GaugeMetricFamily(
            "invtrack_quarantined_payloads",
            "Payloads in quarantine, each content kept once",
            value=payloads,
        ),
        GaugeMetricFamily(
            "invtrack_quarantined_received",
            "Times the payloads in quarantine came, repeats included",
            value=received,
        ),
        GaugeMetricFamily(
            "invtrack_row_conflicts",
            "ServiceMobility row versions that came with other ledger content than they "
            "count with (each recorded once)",
            value=await store.conflict_count(),
        ),
    ]


async def exposition(store: Store, reads: Reader | None = None) -> bytes:
    """Everything, in the Prometheus text format (`reads`: what answers the
    reads, when it is not `store`)."""
    counted = REGISTRY
    if os.environ.get(MULTIPROC_ENV):
        counted = CollectorRegistry()
        multiprocess.MultiProcessCollector(counted)  # type: ignore[no-untyped-call]
    stored = await _in_time(_store_families(store))
    up = GaugeMetricFamily(
        "invtrack_store_up", "1 when the store answered this scrape", value=int(stored is not None)
    )
    reconciliations = await _in_time(reconciliation_families(store))
    vendors = await _in_time(vendor_families(store))
    feed = await _in_time(subscription_families(store))
    replica = await _in_time(replica_families(reads or store))
    scraped = CollectorRegistry()
    families = [*(stored or []), *(reconciliations or []), *(vendors or []), *(feed or [])]
    families += replica or []
    scraped.register(_Families([up, *families]))
    return generate_latest(counted) + generate_latest(scraped)
