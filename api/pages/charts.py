"""Small charts drawn as inline SVG by the templates: here only the geometry,
in a 0..100 by 0..40 box the SVG stretches to its width."""

from __future__ import annotations

from collections.abc import Sequence
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


class Steps(msgspec.Struct, frozen=True):
    line: str
    """SVG path data of the step line: one flat step per value."""
    area: str
    """The same steps closed along the zero line, to fill."""
    zero: float
    """Height of the zero line."""
    lowest: Decimal
    highest: Decimal


def steps(values: Sequence[Decimal]) -> Steps | None:
    """One flat step per value, oldest on the left, on a scale from zero (or
    the lowest value, when below zero) to the highest; None for no values."""
    if not values:
        return None
    lowest, highest = min(values), max(values)
    low, high = min(lowest, Decimal(0)), max(highest, Decimal(0))
    span = high - low or Decimal(1)

    def y(value: Decimal) -> float:
        return round(HEIGHT - float((value - low) / span) * HEIGHT * 0.9 - HEIGHT * 0.05, 3)

    width = WIDTH / len(values)
    parts = [f"M0 {y(values[0])}"]
    for index, value in enumerate(values):
        if index:
            parts.append(f"V{y(value)}")
        parts.append(f"H{round((index + 1) * width, 3)}")
    line = " ".join(parts)
    zero = y(Decimal(0))
    return Steps(line, f"{line} V{zero} H0 Z", zero, lowest, highest)
