"""The change feed and its push subscriptions in `/metrics`, read on each
scrape: `invtrack_feed_head_position`, and per subscription
`invtrack_subscription_lag` (entries behind the feed's head) and
`invtrack_subscription_parked` (1 while parked). Deliveries by outcome are
counted as they happen (`invtrack_subscription_deliveries_total{outcome}`,
api.services.delivery)."""

from __future__ import annotations

from prometheus_client.core import GaugeMetricFamily, Metric

from adapters.store import Store


async def subscription_families(store: Store) -> list[Metric]:
    head = await store.feed_head()
    lag = GaugeMetricFamily(
        "invtrack_subscription_lag",
        "Feed entries a push subscription is behind the feed's head",
        labels=["subscription"],
    )
    parked = GaugeMetricFamily(
        "invtrack_subscription_parked",
        "1 while a push subscription is parked (failing for too long)",
        labels=["subscription"],
    )
    for record in await store.subscriptions():
        lag.add_metric([record.id], max(head - record.position, 0))
        parked.add_metric([record.id], int(record.state == "parked"))
    return [
        GaugeMetricFamily(
            "invtrack_feed_head_position", "The change feed's last position", value=head
        ),
        lag,
        parked,
    ]
