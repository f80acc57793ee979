"""A reference of the rows each projection should hold after some stored
events, written for the tests from docs/vendors.md and not with the
projections' code (`touched_keys`, `named_owners`, `owner_rows`,
`counts.rows_of`), so a mistake there cannot show on both sides of a test.

The items' states come from the domain's fold (`domain.fold.apply`), whose
rules tests/unit/test_fold_properties.py checks against rules applied by hand;
what is derived here is which rows the states and the events make.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, Final

from domain.events import (
    DocumentRecorded,
    DomainEvent,
    OfsInventoryEvent,
    StockUsageRecorded,
)
from domain.fold import apply
from domain.items import Item

COUNT_MODULES: Final = ("1004", "1005")
"""Full and partial counts: the balance becomes what was counted."""
WORK_ORDER: Final = "1002"

Owner = tuple[str, str, str]


def stock_key(pool: str, owner: str, product: str, serial: str | None, batch: str | None) -> str:
    """`sm-{pool}-{hash}`: the first 24 hex digits of the SHA-256 of pool,
    owner, product, serial and batch (none written as ""), joined by U+001F,
    or written as a JSON array when one of them holds U+001F."""
    parts = [pool, owner, product, serial or "", batch or ""]
    text = json.dumps(parts) if any("\x1f" in part for part in parts) else "\x1f".join(parts)
    return f"sm-{pool}-{hashlib.sha256(text.encode()).hexdigest()[:24]}"


def keys_of(event: DomainEvent) -> list[str]:
    """The items whose history holds the event: an OFS record; a ledger
    line's stock line at its location, and a work order's install line when
    it takes stock out; each stock line a document mentions, once."""
    if isinstance(event, OfsInventoryEvent):
        return [f"ofs-{event.inventory_id}"]
    if isinstance(event, StockUsageRecorded):
        keys = [stock_key("resource", event.location, event.product, event.serial, event.batch)]
        if event.ref_module == WORK_ORDER and event.quantity_out != 0:
            keys.append(
                stock_key("install", event.ref_object, event.product, event.serial, event.batch)
            )
        return keys
    if isinstance(event, DocumentRecorded):
        mentioned = [
            stock_key("resource", ref.location, ref.product, ref.serial, ref.batch)
            for ref in event.mentions
        ]
        return list(dict.fromkeys(mentioned))
    return []


def links(events: Sequence[tuple[int, DomainEvent]]) -> list[tuple[str, int]]:
    return sorted((key, position) for position, event in events for key in keys_of(event))


def _named(event: DomainEvent) -> set[Owner]:
    """The owners an OFS event names for its record: the resources, the
    activities and the customer in its changes and its activity."""
    if not isinstance(event, OfsInventoryEvent):
        return set()
    key = f"ofs-{event.inventory_id}"
    activity = event.activity
    named = [
        ("resource", event.changes.resource_id),
        ("activity", event.changes.activity_id),
    ]
    if activity is not None:
        named += [
            ("resource", activity.resource_id),
            ("activity", activity.activity_id),
            ("customer", activity.customer_number),
        ]
    return {(kind, str(owner), key) for kind, owner in named if owner not in (None, "")}


def _held(item: Item) -> set[Owner]:
    fields = (
        ("resource", item.resource_id),
        ("activity", item.activity_id),
        ("customer", item.customer_number),
    )
    return {(kind, owner, item.key) for kind, owner in fields if owner}


def owners(events: Iterable[tuple[int, DomainEvent]]) -> set[Owner]:
    """Every owner an event named, and every owner of every state an item
    went through: where "as of" queries look."""
    state: dict[str, Item] = {}
    found: set[Owner] = set()
    for position, event in events:
        found |= _named(event)
        for item in apply(state, event, position):
            state[item.key] = item
            found |= _held(item)
    return found


def _text(value: Decimal | None) -> str | None:
    """A decimal written without needless zeros ("12", "96.5", "-5")."""
    if value is None:
        return None
    if value == 0:
        return "0"
    text = f"{value:f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def counts(events: Iterable[tuple[int, DomainEvent]]) -> list[tuple[Any, ...]]:
    """A row per count (RefModule 1004 or 1005), in store order: what it
    found, what was counted and the variance, as the stored event says."""
    return [
        (
            position,
            event.occurred_at,
            event.location,
            event.product,
            event.serial,
            event.batch,
            event.ref_module,
            event.ref_object,
            event.user,
            _text(event.expected),
            _text(event.reported_quantity),
            _text(event.variance),
            stock_key("resource", event.location, event.product, event.serial, event.batch),
        )
        for position, event in events
        if isinstance(event, StockUsageRecorded) and event.ref_module in COUNT_MODULES
    ]
