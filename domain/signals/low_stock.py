"""Low stock as a fold: on-hand quantities and par levels per (resource,
product), and the crossings of `min`.

A (resource, product) is low while it has a par level and its on-hand
quantity is below the level's `min`. A crossing is a change of that state
made by one event: `invtrack.stock.belowMin` when an event makes it low
(stock going out, `min` raised, a first par level above what is on hand),
`invtrack.stock.restored` when an event makes it not low (stock coming in,
`min` lowered). Events that leave the state as it was add nothing, however
far they move the quantity, so there is one signal per crossing, never one
per event; an event that crosses and crosses back within itself (several
items of one product) is no crossing. Both signals carry the event time
and store position of the event that crossed; `below_since` keeps the time
of the last crossing below.

The fold works event by event on the rows a batch touches (`keys_of`), so
folding a history in any batch split gives the same rows and signals.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Final, Literal, NamedTuple

import msgspec

from domain.signals.par_levels import levels_set_by
from domain.signals.products import StockKey
from domain.signals.stock import Step, StockRow, change_keys, new_row, on_hand_deltas

BELOW_MIN: Final = "invtrack.stock.belowMin"
RESTORED: Final = "invtrack.stock.restored"
SignalType = Literal["invtrack.stock.belowMin", "invtrack.stock.restored"]


class StockSignal(msgspec.Struct, frozen=True, kw_only=True):
    """A crossing of `min`: what the feed serves as `invtrack.stock.*`."""

    type: SignalType
    resource_id: str
    product: str
    on_hand: Decimal
    min: Decimal
    target: Decimal
    at: datetime
    """Event time of the event that crossed."""
    position: int
    """Store position of the event that crossed."""

    @property
    def subject(self) -> str:
        return StockKey(self.resource_id, self.product).subject


class StockBatch(NamedTuple):
    """A batch folded: every row it touched, as it is after the batch (rows
    that are `empty` may be dropped), and the crossings in store order."""

    rows: dict[StockKey, StockRow]
    signals: list[StockSignal]


def keys_of(steps: Iterable[Step]) -> set[StockKey]:
    """The rows a batch of steps reads and may change."""
    keys: set[StockKey] = set()
    for step in steps:
        keys |= change_keys(step.changes)
        keys.update(key for key, _ in levels_set_by(step.event, step.position))
    return keys


def fold_batch(stored: Mapping[StockKey, StockRow], steps: Iterable[Step]) -> StockBatch:
    """Fold steps in order over the stored rows (at least those of `keys_of`
    that exist)."""
    rows = dict(stored)
    touched: set[StockKey] = set()
    signals: list[StockSignal] = []
    for step in steps:
        found, crossed = fold_step(rows, step)
        touched |= found
        signals += crossed
    return StockBatch({key: rows[key] for key in touched}, signals)


def fold_step(
    rows: dict[StockKey, StockRow], step: Step
) -> tuple[set[StockKey], list[StockSignal]]:
    """Apply one event's on-hand changes and par levels to `rows` (in place);
    the keys it touched and its crossings, by (resource, product)."""
    before: dict[StockKey, StockRow] = {}
    for key, delta in on_hand_deltas(step.changes).items():
        row = before[key] = rows.get(key) or new_row(key)
        rows[key] = msgspec.structs.replace(row, on_hand=row.on_hand + delta)
    for key, level in levels_set_by(step.event, step.position):
        row = rows.get(key) or new_row(key)
        before.setdefault(key, row)
        rows[key] = msgspec.structs.replace(row, level=level)
    signals: list[StockSignal] = []
    for key in sorted(before) if len(before) > 1 else before:
        rows[key], signal = settle(before[key], rows[key], step.event.occurred_at, step.position)
        if signal is not None:
            signals.append(signal)
    return set(before), signals


def settle(
    before: StockRow, after: StockRow, at: datetime, position: int
) -> tuple[StockRow, StockSignal | None]:
    """The row after a change, with `below_since` kept, and the crossing the
    change made (None when it made none)."""
    if after.low == before.low:
        since = before.below_since if after.low else None
        if since == after.below_since:
            return after, None
        return msgspec.structs.replace(after, below_since=since), None
    since = at if after.low else None
    row = msgspec.structs.replace(after, below_since=since)
    level = after.level or before.level
    assert level is not None  # a crossing needs a par level on one side
    signal = StockSignal(
        type=BELOW_MIN if after.low else RESTORED,
        resource_id=after.resource_id,
        product=after.product,
        on_hand=after.on_hand,
        min=level.min,
        target=level.target,
        at=at,
        position=position,
    )
    return row, signal
