"""The read replica's metrics: how far behind it is, and how many reads the
primary answered instead (by reason: lagging, down, promoted, error, behind)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily, Metric

from adapters.store import Reader, Replicated

FALLBACKS: Final = Counter(
    "invtrack_replica_fallbacks",
    "Reads the primary answered instead of the read replica, by reason: the replica "
    "lagging, down or promoted, a read on it that failed (error), or a position asked "
    "for that it did not show in time (behind)",
    ["reason"],
)


def count_fallback(reason: str) -> None:
    FALLBACKS.labels(reason).inc()


async def replica_families(reads: Reader) -> list[Metric]:
    """The replica's lag and state, when there is one."""
    if not isinstance(reads, Replicated):
        return []
    status = await reads.replica_status()
    lag = GaugeMetricFamily(
        "invtrack_replica_lag_seconds",
        "How long ago the oldest event the read replica lacks was recorded "
        "(0 when it shows every event); absent when it cannot be asked",
    )
    if status.lag_seconds is not None:
        lag.add_metric([], status.lag_seconds)
    state = GaugeMetricFamily(
        "invtrack_replica_state",
        "1 for the read replica's state: following (read), lagging, down or promoted "
        "(the primary is read instead)",
        labels=["state"],
    )
    for name in ("following", "lagging", "down", "promoted"):
        state.add_metric([name], int(status.state == name))
    return [lag, state]
