"""State as a pure fold of events: which items an event touches, and how."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final, assert_never

from domain import ofs_rules, sm_rules
from domain.events import (
    DocumentRecorded,
    DomainEvent,
    OfsEventRecorded,
    OfsInventoryEvent,
    OfsSubscriptionGap,
    ParLevelsRecommended,
    ParLevelsSet,
    RequiredInventoriesRecorded,
    StockUsageRecorded,
)
from domain.items import Item, ofs_key, stock_line_key

GAPS_STREAM = "ofs-subscription-gaps"
"""The stream of the OFS pollers' subscription gaps."""
RECOMMENDATIONS_STREAM = "sm-StockLevelRecommendation-"
"""The prefix of a stock level recommendation's stream (the stream its rows
had when they were stored as documents)."""


ITEM_EVENTS: Final = (StockUsageRecorded, OfsInventoryEvent)
"""The events `apply` folds into items (and `named_owners` names owners of);
the others change no item."""
KEYED_EVENTS: Final = (*ITEM_EVENTS, DocumentRecorded, ParLevelsRecommended)
"""The events `touched_keys` may give keys for; the others touch no item."""


def touched_keys(event: DomainEvent) -> tuple[str, ...]:
    """Keys of the items whose history the event belongs to."""
    match event:
        case StockUsageRecorded():
            return sm_rules.touched_keys(event)
        case DocumentRecorded(mentions=mentions):
            return tuple(
                dict.fromkeys(
                    stock_line_key("resource", m.location, m.product, m.serial, m.batch)
                    for m in mentions
                )
            )
        case ParLevelsRecommended(location=location, levels=levels):
            # The stock lines a recommendation names, as its document named them.
            return tuple(
                dict.fromkeys(
                    stock_line_key("resource", location, level.product, None, None)
                    for level in levels
                )
            )
        case (
            OfsEventRecorded()
            | OfsSubscriptionGap()
            | ParLevelsSet()
            | RequiredInventoriesRecorded()
        ):
            return ()
        case OfsInventoryEvent():
            return (ofs_key(event.inventory_id),)
        case _:
            assert_never(event)


def stream_of(event: DomainEvent) -> str:
    """The stream an event is appended to: its item, or its document."""
    match event:
        case DocumentRecorded(document_type=kind, document_id=document_id):
            return f"sm-{kind}-{document_id}"
        case OfsEventRecorded(event_type=kind):
            return f"ofs-events-{kind}"
        case OfsSubscriptionGap():
            return GAPS_STREAM
        case ParLevelsRecommended(recommendation_id=recommendation_id):
            return RECOMMENDATIONS_STREAM + recommendation_id
        case ParLevelsSet(resource_id=resource_id):
            return f"invtrack-par-levels-{resource_id}"
        case RequiredInventoriesRecorded(activity_id=activity_id):
            return f"ofs-required-{activity_id}"
        case _:
            return touched_keys(event)[0]


def apply(items: Mapping[str, Item], event: DomainEvent, position: int) -> list[Item]:
    """The items the event changes, as they are after it. `items` holds at least
    the current state of every touched key that exists."""
    match event:
        case StockUsageRecorded():
            return sm_rules.apply(items, event, position)
        case DocumentRecorded() | OfsEventRecorded() | OfsSubscriptionGap():
            return []
        case ParLevelsRecommended() | ParLevelsSet() | RequiredInventoriesRecorded():
            # Signals, not stock: folded by `domain.signals`.
            return []
        case OfsInventoryEvent():
            return [ofs_rules.apply(items.get(ofs_key(event.inventory_id)), event, position)]
        case _:
            assert_never(event)


def named_owners(event: DomainEvent) -> tuple[tuple[str, str, str], ...]:
    """(kind, owner, key) for every owner the event names for an item.

    An item's owner as of any time was named by one of its events, so these
    (with the owners of its live states) are where "as of" queries look.
    """
    match event:
        case OfsInventoryEvent():
            return _ofs_owners(event)
        case (
            StockUsageRecorded()
            | DocumentRecorded()
            | OfsEventRecorded()
            | OfsSubscriptionGap()
            | ParLevelsRecommended()
            | ParLevelsSet()
            | RequiredInventoriesRecorded()
        ):
            # A stock line's owners are those of the states it takes, kept as
            # they change; the other events name no item.
            return ()
        case _:
            assert_never(event)


def _ofs_owners(event: OfsInventoryEvent) -> tuple[tuple[str, str, str], ...]:
    key = ofs_key(event.inventory_id)
    activity = event.activity
    candidates = (
        ("resource", event.changes.resource_id),
        ("resource", activity.resource_id if activity else None),
        ("activity", _text(event.changes.activity_id)),
        ("activity", _text(activity.activity_id) if activity else None),
        ("customer", activity.customer_number if activity else None),
    )
    return tuple((kind, owner, key) for kind, owner in candidates if owner)


def _text(value: int | None) -> str | None:
    return None if value is None else str(value)


def annotated_keys(event: DomainEvent) -> tuple[str, ...]:
    """The items whose current state `annotate` reads for this event."""
    if isinstance(event, StockUsageRecorded) and sm_rules.is_count(event):
        return (sm_rules.resource_key(event),)
    return ()


def annotate(items: Mapping[str, Item], event: DomainEvent) -> DomainEvent:
    """Facts known only at append time, recorded on the event (a count's variance)."""
    if isinstance(event, StockUsageRecorded) and sm_rules.is_count(event):
        stock = items.get(sm_rules.resource_key(event))
        return sm_rules.annotate(event, stock.quantity if stock else None)
    return event


def fold(events: Iterable[tuple[int, DomainEvent]]) -> dict[str, Item]:
    """Every item after the events, applied in the given (store) order."""
    items: dict[str, Item] = {}
    for position, event in events:
        for item in apply(items, event, position):
            items[item.key] = item
    return items
