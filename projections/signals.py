"""The `signals` projection: stock per (resource, product) with par levels and
low-stock crossings, transfers and OFS activities, kept inline in the append
transaction like the items (`domain.signals` holds the rules).

On-hand quantities come from item changes, so a batch's fold needs the items
it touches as they were before it: the items projection's lookup finds them,
and the stock rows those items and the events name are read in a follow-up
of the same transaction (`follow_ups`). Each crossing of `min` becomes a
change-feed entry (`invtrack.stock.belowMin` / `invtrack.stock.restored`).

A rebuild folds the whole history in one process (not in parts: a stock row
sums items of every part), holding every item in memory as the feed's fill
does; the stock, transfer and activity rows are read and written per batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, Final, NamedTuple

from sqlalchemy import Table

from adapters.store import Lookup, Row, Slot, TableWrite
from adapters.store.changes import ItemChange
from adapters.store.signal_tables import (
    ACTIVITY_COLUMNS,
    SIGNALS,
    STOCK_COLUMNS,
    TRANSFER_COLUMNS,
    signal_tables,
    stock_key,
)
from domain.events import (
    DocumentRecorded,
    DomainEvent,
    OfsInventoryEvent,
    ParLevelsRecommended,
    ParLevelsSet,
    RequiredInventoriesRecorded,
    StockUsageRecorded,
)
from domain.fold import ITEM_EVENTS
from domain.items import Item
from domain.signals import readiness, transfers
from domain.signals.low_stock import StockSignal, fold_batch, keys_of
from domain.signals.par_levels import levels_set_by
from domain.signals.products import StockKey
from domain.signals.readiness import Activity
from domain.signals.stock import Change, Step, StockRow, steps_of
from domain.signals.transfers import Transfer
from projections.items import stored_item
from projections.projection import Chunk, Folded, ReadRows
from projections.reading import Wanted, domain_events, kinds_of
from projections.signal_rows import (
    activity_of,
    activity_row,
    row_of_stock,
    signal_entry,
    source_of,
    stock_of_row,
    transfer_of,
    transfer_row,
)

NAME: Final = SIGNALS
VERSION: Final = 1


def tables(slot: Slot) -> list[Table]:
    return list(signal_tables(slot))


def _codes(events: Iterable[DomainEvent]) -> set[str]:
    return transfers.codes_of((0, event) for event in events)


def _activity_ids(events: Iterable[DomainEvent]) -> set[str]:
    return {name for event in events if (name := readiness.activity_of(event)) is not None}


def known_keys(events: Iterable[DomainEvent]) -> set[StockKey]:
    """The stock rows events name themselves: a ServiceMobility stock line's
    (its item counts at its location, before and after), and the par
    levels an event sets. OFS item events name theirs through the items."""
    keys: set[StockKey] = set()
    for event in events:
        if isinstance(event, StockUsageRecorded):
            keys.add(StockKey(event.location, event.product))
        keys.update(key for key, _ in levels_set_by(event, 0))
    return keys


def steps_from(
    events: Sequence[tuple[int, DomainEvent]], changes: Sequence[ItemChange]
) -> list[Step]:
    """The steps of a batch from the item changes the items fold made."""
    by_position: dict[int, list[Change]] = {}
    for change in changes:
        by_position.setdefault(change.position, []).append(Change(change.before, change.after))
    return [
        Step(position, event, tuple(by_position.get(position, ()))) for position, event in events
    ]


def stock_lookup(slot: Slot, keys: Iterable[StockKey]) -> Lookup:
    stock = signal_tables(slot)[0]
    return Lookup(stock, "key", STOCK_COLUMNS, {stock_key(*key) for key in keys})


class Signals:
    """The signals of a batch, folded from what is stored before it."""

    def __init__(self) -> None:
        self.stock: dict[StockKey, StockRow] = {}
        self.transfers: dict[str, Transfer] = {}
        self.activities: dict[str, Activity] = {}

    def fold(self, steps: list[Step], events: list[tuple[int, DomainEvent]]) -> Changed:
        """Fold a batch into the rows held; what it changed and its crossings."""
        folded = fold_batch(self.stock, steps)
        self.stock.update(folded.rows)
        moved = transfers.fold(self.transfers, events)
        known = readiness.fold(self.activities, events)
        return Changed(folded.signals, list(folded.rows.values()), moved, known)


class Changed(NamedTuple):
    crossed: list[StockSignal]
    stock: list[StockRow]
    transfers: dict[str, Transfer]
    activities: dict[str, Activity]

    def writes(self, slot: Slot) -> list[TableWrite]:
        return writes(slot, self.stock, self.transfers.values(), self.activities.values())


def writes(
    slot: Slot,
    stock: Iterable[StockRow],
    moved: Iterable[Transfer],
    known: Iterable[Activity],
) -> list[TableWrite]:
    stock_table, transfers_table, activities_table = signal_tables(slot)
    return [
        TableWrite(stock_table, STOCK_COLUMNS, [row_of_stock(row) for row in stock], "upsert"),
        TableWrite(transfers_table, TRANSFER_COLUMNS, [transfer_row(t) for t in moved], "upsert"),
        TableWrite(activities_table, ACTIVITY_COLUMNS, [activity_row(a) for a in known], "upsert"),
    ]


class SignalsProjection:
    name = NAME
    version = VERSION
    only_added = False
    looks_up = 3
    follows_up = 1
    splits = False
    """Folded whole in a rebuild, never in parts of the items."""
    resumes = False
    """An interrupted rebuild starts again: the items it held are gone."""

    def tables(self, slot: Slot) -> list[Table]:
        return tables(slot)

    def lookups(self, slot: Slot, events: Sequence[Any]) -> list[Lookup]:
        _, transfers_table, activities_table = signal_tables(slot)
        domain = list(domain_events(events))
        return [
            Lookup(transfers_table, "code", TRANSFER_COLUMNS, _codes(domain)),
            Lookup(activities_table, "activity_id", ACTIVITY_COLUMNS, _activity_ids(domain)),
            stock_lookup(slot, known_keys(domain)),
        ]

    def follow_ups(self, slot: Slot, items: Sequence[Row], events: Sequence[Any]) -> list[Lookup]:
        """The stock rows OFS item events may move, before and after, which
        only the stored items tell (none for a batch without OFS events)."""
        ofs = [(0, e) for e in domain_events(events) if isinstance(e, OfsInventoryEvent)]
        if not ofs:
            return [stock_lookup(slot, ())]
        state = {row[0]: stored_item(row) for row in items}
        steps, _ = steps_of(state, ofs)
        return [stock_lookup(slot, keys_of(steps) - known_keys(domain_events(events)))]

    def fold(
        self,
        slot: Slot,
        rows: Sequence[Sequence[Row]],
        appended: Sequence[Any],
        *,
        fresh: bool,
        changes: Sequence[ItemChange] = (),
    ) -> Folded:
        """The batch's signals from the item changes the items fold made (its
        events come annotated from there too)."""
        found_transfers, found_activities, named, followed = rows
        events = [(p, e) for p, e in appended if isinstance(e, DomainEvent)]
        signals = Signals()
        signals.stock = {StockKey(r[1], r[2]): stock_of_row(r) for r in [*named, *followed]}
        signals.transfers = {r[0]: transfer_of(r[-1]) for r in found_transfers}
        signals.activities = {r[0]: activity_of(r[-1]) for r in found_activities}
        changed = signals.fold(steps_from(events, changes), events)
        sources = {position: source_of(event) for position, event in events}
        return Folded(
            [event for _, event in appended],
            changed.writes(slot),
            entries=[signal_entry(each, sources[each.position]) for each in changed.crossed],
        )

    def builder(self, slot: Slot, position: int) -> SignalsBuilder:
        return SignalsBuilder(slot, position)

    def release(self) -> None:
        """Let go of the items a rebuild held, once it is over."""
        _KEPT.clear()


_KEPT: dict[Slot, tuple[int, dict[str, Item]]] = {}
"""The items a rebuild's builder folded up to a position, for the builder
that carries on from there (the catch-up and the switch of the same run)."""


class SignalsBuilder:
    """Rebuilds the signals: the items in memory, the rows a batch needs read
    (or taken from the previous batch, whose write may not be committed)."""

    name = NAME
    reads = Wanted(
        kinds_of(
            *ITEM_EVENTS,
            DocumentRecorded,
            ParLevelsRecommended,
            ParLevelsSet,
            RequiredInventoriesRecorded,
        )
    )
    """Item changes, par levels (a recommendation stored as a document by an
    earlier build too), transfers and activities' readiness: not the OFS
    events that name no inventory, nor the subscription gaps."""

    def __init__(self, slot: Slot, position: int) -> None:
        self.slot = slot
        self.position = position
        items: dict[str, Item] = {}
        if position > 0:
            kept = _KEPT.get(slot)
            if kept is None or kept[0] != position:
                raise RuntimeError("the signals are rebuilt from the start of the history")
            items = kept[1]
        self.items = items
        self._recent = Signals()

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]:
        indexes = chunk.after(self.position)
        events: list[tuple[int, DomainEvent]] = [chunk.events[i] for i in indexes]
        touched = {key for i in indexes for key in chunk.keys[i]}
        before = {key: self.items[key] for key in touched if key in self.items}
        # Stored counts carry their annotation already.
        steps, after = steps_of(before, events)
        self.items.update(after)
        signals = await self._load(steps, events, read)
        changed = signals.fold(steps, events)
        self._recent = signals
        self.position = chunk.last
        _KEPT[self.slot] = (self.position, self.items)
        return changed.writes(self.slot)

    async def _load(
        self, steps: list[Step], events: list[tuple[int, DomainEvent]], read: ReadRows
    ) -> Signals:
        recent, signals = self._recent, Signals()
        keys = keys_of(steps)
        signals.stock = {key: recent.stock[key] for key in keys if key in recent.stock}
        missing = keys - set(signals.stock)
        if missing:
            rows = await read(stock_lookup(self.slot, missing))
            signals.stock.update((StockKey(r[1], r[2]), stock_of_row(r)) for r in rows)
        _, transfers_table, activities_table = signal_tables(self.slot)
        domain = [event for _, event in events]
        codes = _codes(domain)
        signals.transfers = {c: recent.transfers[c] for c in codes if c in recent.transfers}
        if codes - set(signals.transfers):
            unread = codes - set(signals.transfers)
            lookup = Lookup(transfers_table, "code", TRANSFER_COLUMNS, unread)
            signals.transfers.update((r[0], transfer_of(r[-1])) for r in await read(lookup))
        names = _activity_ids(domain)
        signals.activities = {n: recent.activities[n] for n in names if n in recent.activities}
        if names - set(signals.activities):
            lookup = Lookup(
                activities_table, "activity_id", ACTIVITY_COLUMNS, names - set(signals.activities)
            )
            signals.activities.update((r[0], activity_of(r[-1])) for r in await read(lookup))
        return signals
