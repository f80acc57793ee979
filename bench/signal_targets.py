"""The stock signals' targets (part `signals`), each marked met or missed."""

from __future__ import annotations

from bench.results import Target
from bench.signals import INGEST_WITHIN, QUERY_P99_MS, SignalFigures

LABELS = {"low-stock": "GET /low-stock (first page)", "restock": "GET /resources/{id}/restock"}


def signal_targets(figures: SignalFigures | None) -> list[Target]:
    if figures is None:
        return []
    found: list[Target] = []
    for query, label in LABELS.items():
        p99 = figures.paced_p99(query)
        if p99 is None:
            continue
        found.append(
            Target(
                name=f"{label}, par levels for {figures.resources:,} resources x 200 products, "
                "1 worker, paced at half the saturated rate: p99",
                figure=f"{p99:,.1f} ms",
                against="PostgreSQL, 100 clients",
                wanted=f"< {QUERY_P99_MS:.0f} ms",
                met=p99 < QUERY_P99_MS,
            )
        )
    if figures.ingest_on and figures.ingest_off:
        ratio = figures.ingest_ratio
        found.append(
            Target(
                name="1-row ingest with par levels and low-stock tracking kept: deliveries/s",
                figure=f"{sum(figures.ingest_on) / len(figures.ingest_on):,.0f} ({ratio:.2f}x)",
                against=f"{sum(figures.ingest_off) / len(figures.ingest_off):,.0f} without",
                wanted=f">= {1 - INGEST_WITHIN:.2f}x",
                met=ratio >= 1 - INGEST_WITHIN,
            )
        )
    return found
