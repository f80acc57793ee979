"""The stock signal pages' charts as geometry for server-drawn SVG: a
shortfall bar per low-stock line, and shrinkage over time per technician
with a time axis and a quantity axis, each tick labelled."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import Final

import msgspec

from domain.quantities import decimal_text

BAR_WIDTH: Final = 100.0
"""The shortfall bar's box: 0..100 wide, stretched to the cell."""


class ShortfallBar(msgspec.Struct, frozen=True):
    """On hand (from 0), the shortfall up to `min`, the way on to `target`,
    and where `min` is, on a scale whose end is the largest of the three."""

    on_hand: float
    shortfall_x: float
    shortfall: float
    rest_x: float
    rest: float
    min_x: float
    label: str


def _share(value: Decimal, scale: Decimal) -> float:
    return round(float(max(value, Decimal(0)) / scale) * BAR_WIDTH, 2)


def shortfall_bar(on_hand: Decimal, low: Decimal, target: Decimal) -> ShortfallBar:
    scale = max(target, low, on_hand, Decimal(1))
    held = _share(on_hand, scale)
    minimum = _share(low, scale)
    top = _share(target, scale)
    short = max(minimum - held, 0.0)
    rest_x = max(held, minimum)
    label = (
        f"{decimal_text(on_hand)} on hand, min {decimal_text(low)}, target {decimal_text(target)}"
    )
    return ShortfallBar(
        on_hand=held,
        shortfall_x=held,
        shortfall=round(short, 2),
        rest_x=rest_x,
        rest=round(max(top - rest_x, 0.0), 2),
        min_x=minimum,
        label=label,
    )


# ---- shrinkage over time -----------------------------------------------------------

LEFT: Final = 44.0
RIGHT: Final = 312.0
TOP: Final = 10.0
BOTTOM: Final = 110.0
"""The plot area in a 320 x 140 box; axis labels go around it."""


class Tick(msgspec.Struct, frozen=True):
    at: float
    label: str


class Column(msgspec.Struct, frozen=True):
    x: float
    y: float
    width: float
    height: float
    label: str


class TimeChart(msgspec.Struct, frozen=True):
    resource_id: str
    total: str
    columns: list[Column]
    x_ticks: list[Tick]
    y_ticks: list[Tick]


def _nice_top(highest: Decimal) -> Decimal:
    """A round upper end for the quantity axis (1, 2, 5 x 10^n)."""
    if highest <= 0:
        return Decimal(1)
    step = Decimal(1)
    while step * 10 <= highest:
        step *= 10
    while step > highest:
        step /= 10
    for factor in (1, 2, 5, 10):
        if step * factor >= highest:
            return step * factor
    return step * 10


def time_chart(
    resource_id: str, per_day: dict[date, Decimal], first: date, last: date
) -> TimeChart:
    """Units lost per day as columns on a real time axis from `first` to
    `last` (both included), on a quantity axis from 0."""
    days = (last - first).days + 1
    width = (RIGHT - LEFT) / days
    top = _nice_top(max(per_day.values(), default=Decimal(0)))

    def y(value: Decimal) -> float:
        return round(BOTTOM - float(value / top) * (BOTTOM - TOP), 2)

    columns = [
        Column(
            x=round(LEFT + (day - first).days * width + width * 0.1, 2),
            y=y(lost),
            width=round(max(width * 0.8, 0.5), 2),
            height=round(BOTTOM - y(lost), 2),
            label=f"{day.isoformat()}: {decimal_text(lost)} lost",
        )
        for day, lost in sorted(per_day.items())
        if first <= day <= last and lost > 0
    ]
    return TimeChart(
        resource_id=resource_id,
        total=decimal_text(sum(per_day.values(), Decimal(0))),
        columns=columns,
        x_ticks=_date_ticks(first, days, width),
        y_ticks=[
            Tick(at=y(top * share / 4), label=decimal_text(top * share / 4)) for share in range(5)
        ],
    )


def _date_ticks(first: date, days: int, width: float) -> list[Tick]:
    """About five dates along the axis, the first and the last among them."""
    every = max(1, round(days / 4))
    offsets = sorted({*range(0, days, every), days - 1})
    return [
        Tick(
            at=round(LEFT + offset * width + width / 2, 2),
            label=_short(first + timedelta(days=offset)),
        )
        for offset in offsets
    ]


def _short(day: date) -> str:
    return day.strftime("%b %d").replace(" 0", " ")


def days_between(first: date, last: date) -> Iterable[date]:
    return (first + timedelta(days=n) for n in range((last - first).days + 1))


def charts(lost: dict[str, dict[date, Decimal]], first: date, last: date) -> Sequence[TimeChart]:
    """One chart per technician, the one who lost most first."""
    made = [time_chart(resource, per_day, first, last) for resource, per_day in lost.items()]
    return sorted(made, key=lambda chart: (-Decimal(chart.total), chart.resource_id))
