"""On-hand quantities per (resource, product), kept from item changes.

A resource's on-hand quantity of a product is the sum of the quantities of
the items in its resource pool with that product (a ServiceMobility stock
line of the storage location, an OFS record with the resource's id), whatever
their serial or batch. Items in other pools, deleted ones and ones without a
product or resource count for nothing. A negative ServiceMobility balance
counts as it is.

An item change is its state before and after an event; the change in on-hand
is what the item counts for after minus what it counted for before, so the
store keeps on-hand inline, from the changes of each batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import NamedTuple

import msgspec

from domain.events import DomainEvent
from domain.fold import annotate, apply
from domain.items import Item
from domain.signals.par_levels import ParLevel
from domain.signals.products import StockKey, item_product

_ZERO = Decimal(0)


class Change(NamedTuple):
    """An item before an event (None when new) and after it."""

    before: Item | None
    after: Item


class Step(NamedTuple):
    """One stored event with the item changes it made: the input of the signal folds."""

    position: int
    event: DomainEvent
    changes: tuple[Change, ...] = ()


class StockRow(msgspec.Struct, frozen=True, kw_only=True):
    """What is kept per (resource, product): the on-hand quantity, the par
    level (None when none is set), and since when (event time) it has been
    below `min` (None when it is not)."""

    resource_id: str
    product: str
    on_hand: Decimal = Decimal(0)
    level: ParLevel | None = None
    below_since: datetime | None = None

    @property
    def key(self) -> StockKey:
        return StockKey(self.resource_id, self.product)

    @property
    def low(self) -> bool:
        """Below `min`: on hand < min."""
        return self.level is not None and self.on_hand < self.level.min

    @property
    def shortfall(self) -> Decimal:
        """How far below `min` (0 when not below)."""
        if self.level is None:
            return Decimal(0)
        return max(self.level.min - self.on_hand, Decimal(0))

    @property
    def load(self) -> Decimal:
        """What to load to bring it to `target` (0 when at or above it)."""
        if self.level is None:
            return Decimal(0)
        return max(self.level.target - self.on_hand, Decimal(0))

    @property
    def empty(self) -> bool:
        """Holds nothing worth keeping: no stock, no par level (the store may drop it)."""
        return self.on_hand == 0 and self.level is None and self.below_since is None


def new_row(key: StockKey) -> StockRow:
    return StockRow(resource_id=key.resource_id, product=key.product)


def counted(item: Item | None) -> tuple[StockKey, Decimal] | None:
    """Where an item counts in on-hand quantities, and for how much."""
    if item is None or item.deleted or item.pool != "resource" or not item.resource_id:
        return None
    product = item_product(item)
    if product is None:
        return None
    return StockKey(item.resource_id, product), item.quantity


def on_hand_deltas(changes: Iterable[Change]) -> dict[StockKey, Decimal]:
    """How item changes move on-hand quantities (keys they leave unchanged are left out)."""
    deltas: dict[StockKey, Decimal] = {}
    for before, after in changes:
        if (found := counted(before)) is not None:
            key, quantity = found
            deltas[key] = deltas.get(key, _ZERO) - quantity
        if (found := counted(after)) is not None:
            key, quantity = found
            deltas[key] = deltas.get(key, _ZERO) + quantity
    return {key: delta for key, delta in deltas.items() if delta}


def change_keys(changes: Iterable[Change]) -> set[StockKey]:
    """Every (resource, product) an item change may move."""
    keys: set[StockKey] = set()
    for before, after in changes:
        for side in (before, after):
            found = counted(side)
            if found is not None:
                keys.add(found[0])
    return keys


def steps_of(
    items: Mapping[str, Item],
    events: Sequence[tuple[int, DomainEvent]],
    *,
    annotating: bool = False,
) -> tuple[list[Step], dict[str, Item]]:
    """The steps of events applied in order to `items` (which holds at least
    every item they touch or annotate from that exists), and the items after
    them. With `annotating`, new counts get the balance they replaced (as
    when they are appended; stored counts carry it already)."""
    state = dict(items)
    steps: list[Step] = []
    for position, stored in events:
        event = annotate(state, stored) if annotating else stored
        changes = []
        for after in apply(state, event, position):
            changes.append(Change(state.get(after.key), after))
            state[after.key] = after
        steps.append(Step(position, event, tuple(changes)))
    return steps, state
