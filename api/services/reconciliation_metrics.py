"""Reconciliation metrics, read from the kept runs on each scrape (runs are
made by `invtrack reconcile`, often in another process):

- `invtrack_reconciliation_runs_total{source, outcome}`: runs kept, `outcome`
  `clean` or `drift`;
- `invtrack_reconciliation_last_drifted_items{source}`: items that differed
  in the newest run;
- `invtrack_reconciliation_last_run_timestamp_seconds{source}`: when the
  newest run finished.

Left out when the store does not answer within the scrape's time
(api.services.metrics).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from adapters.store import Reader


async def reconciliation_families(store: Reader) -> list[Metric]:
    """The runs kept, by vendor and outcome, and the newest run of each vendor."""
    latest = await store.reconciliation_summary()
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
    return [runs, drifted, finished]
