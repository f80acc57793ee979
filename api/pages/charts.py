"""Small charts drawn as inline SVG by the templates: here only the geometry.
Bars and steps fill a 0..100 by 0..40 box the SVG stretches to its width; a
quantity over time (`over_time`) has real axes, time across and quantity up,
with their ticks, in a box of fixed proportions."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final

import msgspec

WIDTH: Final = 100.0
HEIGHT: Final = 40.0


class Bar(msgspec.Struct, frozen=True):
    x: float
    y: float
    width: float
    height: float
    label: str


class Bars(msgspec.Struct, frozen=True):
    bars: list[Bar]
    highest: int
    total: int


def bars(values: Sequence[tuple[str, int]]) -> Bars:
    """One bar per value, as tall as the value over the highest one."""
    highest = max((value for _, value in values), default=0)
    width = WIDTH / max(len(values), 1)
    drawn = []
    for index, (label, value) in enumerate(values):
        height = 0.0 if highest == 0 else HEIGHT * value / highest
        drawn.append(
            Bar(
                x=round(index * width, 3),
                y=round(HEIGHT - height, 3),
                width=round(width * 0.9, 3),
                height=round(height, 3),
                label=label,
            )
        )
    return Bars(drawn, highest, sum(value for _, value in values))


BOX_WIDTH: Final = 640.0
BOX_HEIGHT: Final = 220.0
LEFT: Final = 56.0
RIGHT: Final = 12.0
TOP: Final = 10.0
BOTTOM: Final = 30.0
TICKS: Final = 4


class Tick(msgspec.Struct, frozen=True):
    at: float
    """Where along its axis, in the box's units."""
    label: str


class OverTime(msgspec.Struct, frozen=True):
    """A step line of a quantity over time: `line` and `area` are SVG path
    data in a BOX_WIDTH by BOX_HEIGHT box, the plot between `left`, `right`,
    `top` and `bottom`."""

    line: str
    area: str
    zero: float
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    left: float
    right: float
    top: float
    bottom: float
    first: datetime
    last: datetime
    lowest: Decimal
    highest: Decimal


def _number(value: Decimal) -> str:
    text = f"{value.normalize():f}"
    return "0" if text == "-0" else text


def _nice(low: Decimal, high: Decimal) -> list[Decimal]:
    """Round ticks (steps of 1, 2 or 5 times a power of ten) from at or
    below `low` to at or above `high`, about TICKS of them."""
    raw = (high - low) / (TICKS - 1)
    magnitude = Decimal(10) ** raw.adjusted()
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    start = (low / step).to_integral_value(rounding="ROUND_FLOOR") * step
    ticks = [start]
    while ticks[-1] < high:
        ticks.append(ticks[-1] + step)
    return ticks


def _time_label(moment: datetime, span: timedelta) -> str:
    if span <= timedelta(days=1):
        return moment.strftime("%H:%M")
    return moment.strftime("%m-%d %H:%M")


def over_time(points: Sequence[tuple[datetime, Decimal]]) -> OverTime | None:
    """The quantity after each event, held until the next one, on a time
    axis from the first event to the last (a minute wide at least) and a
    quantity axis from zero (or the lowest value, when below zero) to the
    highest; None for no points."""
    if not points:
        return None
    first, last = points[0][0], points[-1][0]
    # A tenth past the last event, so its step shows.
    span = max(last - first, timedelta(minutes=1)) * 11 / 10
    values = [quantity for _, quantity in points]
    lowest, highest = min(values), max(values)
    low, high = min(lowest, Decimal(0)), max(highest, Decimal(0))
    if high == low:
        high = low + 1
    marks = _nice(low, high)
    low, high = marks[0], marks[-1]
    right, bottom = BOX_WIDTH - RIGHT, BOX_HEIGHT - BOTTOM

    def x(moment: datetime) -> float:
        return round(LEFT + (moment - first) / span * (right - LEFT), 2)

    def y(value: Decimal) -> float:
        return round(bottom - float((value - low) / (high - low)) * (bottom - TOP), 2)

    parts = [f"M{x(first)} {y(points[0][1])}"]
    for moment, quantity in points[1:]:
        parts.append(f"H{x(moment)} V{y(quantity)}")
    parts.append(f"H{right}")
    line = " ".join(parts)
    zero = y(Decimal(0))
    area = f"{line} V{zero} H{x(first)} Z"
    x_ticks = [
        Tick(
            x(first + span * step / (TICKS - 1)),
            _time_label(first + span * step / (TICKS - 1), span),
        )
        for step in range(TICKS)
    ]
    y_ticks = [Tick(y(mark), _number(mark)) for mark in marks]
    return OverTime(
        line=line,
        area=area,
        zero=zero,
        x_ticks=x_ticks,
        y_ticks=y_ticks,
        left=LEFT,
        right=right,
        top=TOP,
        bottom=bottom,
        first=first,
        last=last,
        lowest=lowest,
        highest=highest,
    )
