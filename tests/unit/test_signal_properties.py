"""The stock signals' incremental folds equal a plain recomputation from the
full history (`tests.signal_oracle`), for random interleavings of usage
(counts and transfers included), OFS item events, recommendations (new and
stored by earlier builds) and par levels set by hand, however the history is
split into batches: one event at a time, in random batches, or all at once
(a rebuild). Every row, transfer and activity goes through its JSON form
between batches, as a store keeps it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from domain.events import DomainEvent, StockUsageRecorded
from domain.items import Item
from domain.signals import readiness, transfers
from domain.signals.low_stock import StockSignal, fold_batch, keys_of
from domain.signals.products import StockKey
from domain.signals.restock import low_stock, restock
from domain.signals.stock import StockRow, steps_of
from domain.signals.variance import CountLine, count_line, variance_report
from tests import signal_oracle as oracle
from tests.signal_strategies import RESOURCES, batch_cuts, signal_histories
from tests.strategies import T0, moments

T = TypeVar("T")
WINDOW = timedelta(hours=24)
NOWS = (T0, T0 + timedelta(hours=20), T0 + timedelta(days=3))


def kept(value: T, kind: type[T]) -> T:
    """A value as a store gives it back: through its JSON form."""
    return msgspec.json.decode(msgspec.json.encode(value), type=kind)


@dataclass
class Live:
    """What the store keeps inline, batch after batch."""

    items: dict[str, Item] = field(default_factory=dict)
    rows: dict[StockKey, StockRow] = field(default_factory=dict)
    transfers: dict[str, transfers.Transfer] = field(default_factory=dict)
    activities: dict[str, readiness.Activity] = field(default_factory=dict)
    counts: list[CountLine] = field(default_factory=list)
    signals: list[StockSignal] = field(default_factory=list)

    def batch(self, events: list[tuple[int, DomainEvent]]) -> None:
        steps, self.items = steps_of(self.items, events)
        keys = keys_of(steps)
        folded = fold_batch({key: self.rows[key] for key in keys if key in self.rows}, steps)
        for key, row in folded.rows.items():
            if row.empty:
                self.rows.pop(key, None)
            else:
                self.rows[key] = kept(row, StockRow)
        self.signals += [kept(signal, StockSignal) for signal in folded.signals]
        codes = transfers.codes_of(events)
        loaded = {code: self.transfers[code] for code in codes if code in self.transfers}
        for code, transfer in transfers.fold(loaded, events).items():
            self.transfers[code] = kept(transfer, transfers.Transfer)
        named = {readiness.activity_of(event) for _, event in events} - {None}
        known = {name: self.activities[name] for name in named if name in self.activities}
        for name, activity in readiness.fold(known, events).items():
            self.activities[name] = kept(activity, readiness.Activity)
        self.counts += [
            line
            for position, event in events
            if isinstance(event, StockUsageRecorded)
            and (line := count_line(position, event)) is not None
        ]

    def on_hand(self, key: StockKey) -> Decimal:
        row = self.rows.get(key)
        return row.on_hand if row else Decimal(0)


def live(history: oracle.Stored, cuts: list[int]) -> Live:
    state = Live()
    events = [(position, event) for position, event, _ in history]
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        state.batch(events[start:end])
    return state


def signal_tuples(state: Live) -> list[tuple[Any, ...]]:
    return [
        (s.type, s.resource_id, s.product, s.on_hand, s.min, s.target, s.at, s.position)
        for s in state.signals
    ]


def assert_stock_equal(state: Live, expected: oracle.Oracle) -> None:
    on_hand = {key: row.on_hand for key, row in state.rows.items() if row.on_hand != 0}
    assert on_hand == {key: value for key, value in expected.on_hand.items() if value != 0}
    levels = {
        key: (
            row.level.min,
            row.level.target,
            row.level.origin,
            row.level.set_at,
            row.level.position,
        )
        for key, row in state.rows.items()
        if row.level is not None
    }
    assert levels == {
        key: (level.min, level.target, level.origin, level.set_at, level.position)
        for key, level in expected.levels.items()
    }
    assert signal_tuples(state) == expected.signals
    low = [
        (e.resource_id, e.product, e.on_hand, e.min, e.target, e.shortfall, e.since)
        for e in low_stock(state.rows.values())
    ]
    assert low == oracle.low_list(expected)
    for resource in RESOURCES:
        picks = [
            (line.product, line.on_hand, line.target, line.load)
            for line in restock(state.rows.values(), resource)
        ]
        assert picks == oracle.pick_list(expected, resource)


def assert_transfers_equal(state: Live, history: oracle.Stored) -> None:
    for now in NOWS:
        found = [
            (
                transfer.code,
                transfer.from_locations,
                transfer.to_locations,
                tuple((item.identity, item.sent, item.received) for item in transfer.items),
                transfer.first_seen,
                transfer.last_seen,
                status,
            )
            for transfer, status in transfers.listed(state.transfers.values(), now, WINDOW)
        ]
        assert found == oracle.transfers(history, now, WINDOW)


def assert_readiness_equal(state: Live, history: oracle.Stored, expected: oracle.Oracle) -> None:
    found = {}
    for name, activity in state.activities.items():
        ready = readiness.readiness(activity, state.on_hand)
        lines = tuple((x.product, x.required, x.available, x.missing) for x in ready.lines)
        found[name] = (ready.resource_id, ready.date, ready.status, lines)
        assert ready.ready == (ready.status == "ready")
    assert found == oracle.readiness(history, expected.on_hand)


@settings(max_examples=200)
@given(data=st.data(), happenings=signal_histories())
def test_incremental_signals_equal_the_recomputation(data: st.DataObject, happenings: Any) -> None:
    history = oracle.stored(happenings)
    expected = oracle.stock(history)
    size = len(history)
    for cuts in (
        data.draw(batch_cuts(size), label="cuts"),
        list(range(1, size)),
        [],
    ):
        state = live(history, cuts)
        assert_stock_equal(state, expected)
        assert_transfers_equal(state, history)
        assert_readiness_equal(state, history, expected)


@given(
    happenings=signal_histories(parts=("usage", "transfer", "manual")),
    start=st.none() | moments(),
    end=st.none() | moments(),
    resource=st.sampled_from([None, *RESOURCES]),
)
def test_count_variance_equals_the_recomputation(
    happenings: Any, start: datetime | None, end: datetime | None, resource: str | None
) -> None:
    history = oracle.stored(happenings)
    state = live(history, [])
    report = variance_report(state.counts, start=start, end=end, resource_id=resource)
    products, shrinkage = oracle.variance(history, start, end, resource)
    found = [
        (p.resource_id, p.product, p.counts, p.expected, p.counted, p.variance)
        for p in report.products
    ]
    assert found == products
    assert [(r.resource_id, r.shrinkage) for r in report.resources] == shrinkage
