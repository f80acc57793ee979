"""The stock signals recomputed plainly from a full history: the oracle the
incremental folds are held to.

Written apart from `domain.signals`: par levels come from what each
happening says it sets (the strategy wrote it down), on-hand quantities from
summing every item after every event, crossings from comparing the whole
low set before and after each event, transfers from grouping all 1003 lines
by code, balances before counts from replaying the ledger, readiness from a
scan of everything said about an activity. Only the item rules
(`domain.fold.apply`) are shared: they have properties of their own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from domain.events import (
    DomainEvent,
    OfsInventoryEvent,
    RequiredInventoriesRecorded,
    StockUsageRecorded,
    from_data,
    to_data,
)
from domain.fold import annotate, apply
from domain.items import Item
from tests.signal_strategies import Happening

Key = tuple[str, str]
Stored = list[tuple[int, DomainEvent, Happening]]


@dataclass(frozen=True)
class Level:
    min: Decimal
    target: Decimal
    origin: str
    set_at: datetime
    position: int


@dataclass
class Oracle:
    on_hand: dict[Key, Decimal] = field(default_factory=dict)
    levels: dict[Key, Level] = field(default_factory=dict)
    since: dict[Key, datetime] = field(default_factory=dict)
    signals: list[tuple[Any, ...]] = field(default_factory=list)


def product_of(item: Item) -> str | None:
    if item.source == "servicemobility":
        return item.product_number or None
    if not item.inventory_type:
        return None
    model = item.properties.get("model")
    if isinstance(model, int) and not isinstance(model, bool):
        model = str(model)
    if isinstance(model, str) and model.strip():
        return f"{item.inventory_type}/{model}"
    return item.inventory_type


def on_hand_of(items: dict[str, Item]) -> dict[Key, Decimal]:
    totals: dict[Key, Decimal] = {}
    for item in items.values():
        product = product_of(item)
        if item.pool == "resource" and not item.deleted and item.resource_id and product:
            key = (item.resource_id, product)
            totals[key] = totals.get(key, Decimal(0)) + item.quantity
    return totals


def low_keys(on_hand: dict[Key, Decimal], levels: dict[Key, Level]) -> set[Key]:
    return {key for key, level in levels.items() if on_hand.get(key, Decimal(0)) < level.min}


def stock(history: Stored) -> Oracle:
    """On-hand, par levels, `since` and every crossing, event by event."""
    oracle = Oracle()
    items: dict[str, Item] = {}
    low: set[Key] = set()
    for position, event, happening in history:
        for item in apply(items, event, position):
            items[item.key] = item
        for resource, product, minimum, target, origin in happening.levels:
            oracle.levels[(resource, product)] = Level(
                minimum, target, origin, event.occurred_at, position
            )
        oracle.on_hand = on_hand_of(items)
        now_low = low_keys(oracle.on_hand, oracle.levels)
        for key in sorted(now_low ^ low):
            level = oracle.levels[key]
            kind = "invtrack.stock.belowMin" if key in now_low else "invtrack.stock.restored"
            if key in now_low:
                oracle.since[key] = event.occurred_at
            else:
                del oracle.since[key]
            on_hand = oracle.on_hand.get(key, Decimal(0))
            oracle.signals.append(
                (kind, *key, on_hand, level.min, level.target, event.occurred_at, position)
            )
        low = now_low
    return oracle


def low_list(oracle: Oracle) -> list[tuple[Any, ...]]:
    entries = []
    for key in low_keys(oracle.on_hand, oracle.levels):
        level, on_hand = oracle.levels[key], oracle.on_hand.get(key, Decimal(0))
        entries.append(
            (*key, on_hand, level.min, level.target, level.min - on_hand, oracle.since[key])
        )
    return sorted(entries, key=lambda entry: (-entry[5], entry[0], entry[1]))


def pick_list(oracle: Oracle, resource: str) -> list[tuple[Any, ...]]:
    lines = []
    for (owner, product), level in sorted(oracle.levels.items()):
        on_hand = oracle.on_hand.get((owner, product), Decimal(0))
        if owner == resource and level.target - on_hand > 0:
            lines.append((product, on_hand, level.target, level.target - on_hand))
    return lines


# --------------------------------------------------------------------------
# Transfers


def transfers(history: Stored, now: datetime, window: timedelta) -> list[tuple[Any, ...]]:
    """(code, from, to, items, first, last, status) of every transfer."""
    lines: dict[str, dict[tuple[Any, ...], StockUsageRecorded]] = {}
    for _, event, _ in history:
        if isinstance(event, StockUsageRecorded) and event.ref_module == "1003":
            same = (
                event.location,
                event.product,
                event.serial or "",
                event.batch or "",
                event.quantity_in.normalize(),
                event.quantity_out.normalize(),
                event.occurred_at,
                event.user,
            )
            lines.setdefault(event.ref_object, {})[same] = event
    found = [
        _transfer(code, list(by_line.values()), now, window) for code, by_line in lines.items()
    ]
    order = ("open", "mismatched", "pending", "paired")
    return sorted(found, key=lambda entry: (order.index(entry[-1]), entry[4], entry[0]))


def _transfer(
    code: str, lines: list[StockUsageRecorded], now: datetime, window: timedelta
) -> tuple[Any, ...]:
    senders = sorted({line.location for line in lines if line.quantity_out != 0})
    receivers = sorted({line.location for line in lines if line.quantity_in != 0})
    items: dict[tuple[str, str, str], list[Decimal]] = {}
    for line in lines:
        sums = items.setdefault(
            (line.product, line.serial or "", line.batch or ""),
            [
                Decimal(0),
                Decimal(0),
            ],
        )
        sums[0] += line.quantity_out
        sums[1] += line.quantity_in
    first = min(line.occurred_at for line in lines)
    last = max(line.occurred_at for line in lines)
    if senders and receivers:
        status = "paired" if all(a == b for a, b in items.values()) else "mismatched"
    else:
        status = "open" if now - first > window else "pending"
    listed = tuple((key, sent, received) for key, (sent, received) in sorted(items.items()))
    return (code, tuple(senders), tuple(receivers), listed, first, last, status)


# --------------------------------------------------------------------------
# Counts


def variance(
    history: Stored, start: datetime | None, end: datetime | None, resource: str | None
) -> tuple[list[tuple[Any, ...]], list[tuple[str, Decimal]]]:
    """Per (resource, product): counts, expected, counted, variance; and shrinkage per resource."""
    balances: dict[tuple[str, str, str, str], Decimal] = {}
    sums: dict[Key, list[Any]] = {}
    for _, event, _ in history:
        if not isinstance(event, StockUsageRecorded):
            continue
        line = (event.location, event.product, event.serial or "", event.batch or "")
        balance = balances.get(line, Decimal(0))
        if event.ref_module in ("1004", "1005"):
            balances[line] = event.reported_quantity
            inside = (start is None or event.occurred_at >= start) and (
                end is None or event.occurred_at < end
            )
            if inside and resource in (None, event.location):
                total = sums.setdefault(
                    (event.location, event.product), [0, Decimal(0), Decimal(0)]
                )
                total[0] += 1
                total[1] += balance
                total[2] += event.reported_quantity
        else:
            balances[line] = balance + event.quantity_in - event.quantity_out
    products = [(*key, n, exp, got, got - exp) for key, (n, exp, got) in sorted(sums.items())]
    lost: dict[str, Decimal] = {}
    for owner, _, _, _, _, change in products:
        lost[owner] = lost.get(owner, Decimal(0)) + (-change if change < 0 else Decimal(0))
    return products, sorted(lost.items())


# --------------------------------------------------------------------------
# Readiness


def readiness(history: Stored, on_hand: dict[Key, Decimal]) -> dict[str, tuple[Any, ...]]:
    """Per activity: (resource, date, status, lines (product, required, available, missing))."""
    said: dict[str, dict[str, Any]] = {}
    for _, event, _ in history:
        if isinstance(event, OfsInventoryEvent) and event.activity is not None:
            details = event.activity
            if details.activity_id is None:
                continue
            known = said.setdefault(str(details.activity_id), {"lines": None, "unknown": None})
            known["resource"] = details.resource_id or known.get("resource")
            known["date"] = details.date or known.get("date")
        elif isinstance(event, RequiredInventoriesRecorded):
            known = said.setdefault(event.activity_id, {})
            known["resource"] = event.resource_id or known.get("resource")
            known["date"] = event.date or known.get("date")
            known["lines"] = None if event.unknown else event.lines
            known["unknown"] = event.unknown
    return {activity: _ready(known, on_hand) for activity, known in said.items()}


def _ready(known: dict[str, Any], on_hand: dict[Key, Decimal]) -> tuple[Any, ...]:
    resource, date, lines = known.get("resource"), known.get("date"), known.get("lines")
    if lines is None:
        return (resource, date, "unknown", ())
    required: dict[str, Decimal] = {}
    for line in lines:
        product = f"{line.inventory_type}/{line.model}" if line.model else line.inventory_type
        required[product] = required.get(product, Decimal(0)) + line.quantity
    rows = []
    for product, quantity in required.items():
        held = on_hand.get((resource, product), Decimal(0)) if resource else Decimal(0)
        available = held if held > 0 else Decimal(0)
        rows.append((product, quantity, available, max(quantity - available, Decimal(0))))
    status = "ready" if all(row[3] == 0 for row in rows) else "missing"
    return (resource, date, status, tuple(rows))


def stored(happenings: Sequence[Happening]) -> Stored:
    """The history as the store keeps it: positions from 1, counts annotated
    with the balance they replaced (by the item rules, as on append)."""
    items: dict[str, Item] = {}
    history: Stored = []
    for position, happening in enumerate(happenings, start=1):
        event = annotate(items, happening.event)
        for item in apply(items, event, position):
            items[item.key] = item
        history.append((position, from_data(to_data(event)), happening))
    return history
