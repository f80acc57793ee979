"""Reconciliation metrics, read from the kept runs on each scrape (runs are
made by `invtrack reconcile`, often in another process):

- `invtrack_reconciliation_runs_total{source, outcome}`: runs kept, `outcome`
  `clean` or `drift`;
- `invtrack_reconciliation_last_drifted_items{source}`: items that differed
  in the newest run;
- `invtrack_reconciliation_last_run_timestamp_seconds{source}`: when the
  newest run finished.

Left out when the store does not answer within the scrape's time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Final

from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from adapters.store import ReconciliationLog

SCRAPE_TIMEOUT_SECONDS: Final = 2.0


class _Families(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def reconciliation_gauges(log: ReconciliationLog) -> CollectorRegistry:
    """The runs kept, by vendor and outcome, and the newest run of each vendor."""
    registry = CollectorRegistry()
    try:
        latest = await asyncio.wait_for(log.latest(), SCRAPE_TIMEOUT_SECONDS)
    except Exception:  # a scrape must answer even when the store does not
        return registry
    runs = CounterMetricFamily(
        "invtrack_reconciliation_runs",
        "Reconciliation runs kept, by outcome (clean or drift)",
        labels=["source", "outcome"],
    )
    drifted = GaugeMetricFamily(
        "invtrack_reconciliation_last_drifted_items",
        "Items that differed in the newest reconciliation run",
        labels=["source"],
    )
    finished = GaugeMetricFamily(
        "invtrack_reconciliation_last_run_timestamp_seconds",
        "When the newest reconciliation run finished (Unix time)",
        labels=["source"],
    )
    for vendor in latest:
        runs.add_metric([vendor.source, "clean"], vendor.clean)
        runs.add_metric([vendor.source, "drift"], vendor.drifted_runs)
        drifted.add_metric([vendor.source], vendor.drifted)
        finished.add_metric([vendor.source], vendor.finished_at.timestamp())
    registry.register(_Families([runs, drifted, finished]))
    return registry
