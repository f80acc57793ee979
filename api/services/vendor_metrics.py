"""Pullers' metrics, read from the store on each scrape (the pullers often
run in another process):

- `invtrack_puller_failing{poller, source}`: 1 while a puller cannot read its
  vendor (unreachable, error answers, or the store failing), else 0;
- `invtrack_puller_failing_since_timestamp_seconds{poller, source}`: since
  when it has been failing (only for failing pullers);
- `invtrack_ofs_subscription_gaps_total`: OFS subscription gaps recorded
  (OFS dropped a subscription, events may be missing, a reconciliation ran);
- `invtrack_ofs_subscription_last_gap_timestamp_seconds`: when the newest
  gap ended (a new subscription began), when there is one.

Left out when the store does not answer within the scrape's time
(api.services.metrics).
"""

from __future__ import annotations

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric

from adapters.store import Reader
from api.services.vendor_health import vendor_health


async def vendor_families(store: Reader) -> list[Metric]:
    """The pullers' health and the OFS subscription gaps."""
    health = await vendor_health(store, gaps=1)
    labels = ["poller", "source"]
    failing = GaugeMetricFamily(
        "invtrack_puller_failing",
        "1 while a puller cannot read its vendor (or store what it read), else 0",
        labels=labels,
    )
    since = GaugeMetricFamily(
        "invtrack_puller_failing_since_timestamp_seconds",
        "Since when a failing puller has been failing (Unix time)",
        labels=labels,
    )
    for puller in health.pullers:
        failing.add_metric([puller.name, puller.source], int(puller.failing_since is not None))
        if puller.failing_since is not None:
            since.add_metric([puller.name, puller.source], puller.failing_since.timestamp())
    gaps = CounterMetricFamily(
        "invtrack_ofs_subscription_gaps",
        "OFS subscriptions dropped and replaced: events between may be missing",
        value=health.subscription_gaps,
    )
    families: list[Metric] = [failing, since, gaps]
    if health.recent_gaps:
        families.append(
            GaugeMetricFamily(
                "invtrack_ofs_subscription_last_gap_timestamp_seconds",
                "When the newest OFS subscription gap ended (Unix time)",
                value=health.recent_gaps[0].until.timestamp(),
            )
        )
    return families
