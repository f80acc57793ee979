"""Count variance and shrinkage by example, computed from the rows the
counts projection keeps."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import msgspec

from domain.events import StockUsageRecorded
from domain.signals.variance import (
    CountLine,
    ProductVariance,
    ResourceShrinkage,
    count_line,
    count_line_of_row,
    variance_report,
)
from domain.sm_rules import annotate
from projections.counts import record_of
from tests.strategies import T0


def count(
    location: str, product: str, expected: str | None, counted: str, hours: int = 0
) -> CountLine:
    return CountLine(
        position=hours + 1,
        occurred_at=T0 + timedelta(hours=hours),
        resource_id=location,
        product=product,
        counted=Decimal(counted),
        expected=None if expected is None else Decimal(expected),
        variance=None if expected is None else Decimal(counted) - Decimal(expected),
    )


LINES = [
    count("VAN-07", "A", "10", "6", 0),  # -4
    count("VAN-07", "A", "6", "7", 1),  # +1: A nets -3
    count("VAN-07", "B", "2", "3", 2),  # +1
    count("VAN-09", "A", "5", "5", 3),  # 0
    count("VAN-09", "B", None, "9", 4),  # expected unknown
]


def test_variance_per_product_and_shrinkage_per_resource() -> None:
    report = variance_report(LINES)
    assert report.products == (
        ProductVariance(
            resource_id="VAN-07",
            product="A",
            counts=2,
            expected=Decimal(16),
            counted=Decimal(13),
            variance=Decimal(-3),
        ),
        ProductVariance(
            resource_id="VAN-07",
            product="B",
            counts=1,
            expected=Decimal(2),
            counted=Decimal(3),
            variance=Decimal(1),
        ),
        ProductVariance(
            resource_id="VAN-09",
            product="A",
            counts=1,
            expected=Decimal(5),
            counted=Decimal(5),
            variance=Decimal(0),
        ),
        ProductVariance(
            resource_id="VAN-09",
            product="B",
            counts=0,
            expected=Decimal(0),
            counted=Decimal(0),
            variance=Decimal(0),
            unannotated=1,
        ),
    )
    # -3 and +1 give a shrinkage of 3.
    assert report.resources == (
        ResourceShrinkage(resource_id="VAN-07", shrinkage=Decimal(3)),
        ResourceShrinkage(resource_id="VAN-09", shrinkage=Decimal(0)),
    )


def test_the_period_includes_its_start_and_not_its_end() -> None:
    report = variance_report(LINES, start=T0 + timedelta(hours=1), end=T0 + timedelta(hours=3))
    assert [(p.resource_id, p.product, p.variance) for p in report.products] == [
        ("VAN-07", "A", Decimal(1)),
        ("VAN-07", "B", Decimal(1)),
    ]
    assert report.resources == (ResourceShrinkage(resource_id="VAN-07", shrinkage=Decimal(0)),)
    only = variance_report(LINES, resource_id="VAN-09")
    assert {p.resource_id for p in only.products} == {"VAN-09"}


def test_a_row_of_the_counts_projection_reads_as_the_count_it_records() -> None:
    line = annotate(
        StockUsageRecorded(
            occurred_at=T0,
            location="VAN-07",
            product="CBL-CAT6",
            reported_quantity=Decimal("92.5"),
            ref_module="1005",
            ref_object="PI-1",
            user="tech7",
        ),
        Decimal("96.5"),
    )
    stored = msgspec.structs.asdict(record_of(42, line))
    assert count_line_of_row(stored) == count_line(42, line)
    assert count_line(42, line) == CountLine(
        position=42,
        occurred_at=T0,
        resource_id="VAN-07",
        product="CBL-CAT6",
        counted=Decimal("92.5"),
        expected=Decimal("96.5"),
        variance=Decimal(-4),
        user="tech7",
    )
    moved = StockUsageRecorded(
        occurred_at=T0, location="VAN-07", product="P", ref_module="1002", ref_object="WO-1"
    )
    assert count_line(1, moved) is None
