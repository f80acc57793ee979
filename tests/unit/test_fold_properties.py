"""State as a pure fold of events: properties that hold for every history.

OFS state is absolute and per inventoryId; ServiceMobility balances are sums.
The live projection applies one event at a time to the few items it loads; a
rebuild folds everything from zero; both must end in the same state.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.servicemobility import read_envelope, translate
from domain.events import (
    CustomerInventoryCreated,
    CustomerInventoryDeleted,
    DomainEvent,
    InventoryDeinstalled,
    InventoryInstalled,
    InventoryUndoDeinstall,
    InventoryUndoInstall,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsInventory,
    ResourceInventoryCreated,
    ResourceInventoryDeleted,
    ResourceInventoryUpdated,
    from_data,
    to_data,
)
from domain.fold import annotate, apply, fold, touched_keys
from domain.items import POOLS, Item, ofs_key
from domain.ofs_rules import is_delete
from tests.harness.profiles import examples
from tests.strategies import (
    OFS_NOT_DELETES,
    REF_MODULES,
    encode,
    ofs_fact,
    ofs_histories,
    sm_envelope,
    sm_histories,
)

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)

Positioned = list[tuple[int, DomainEvent]]


def positioned(events: Sequence[DomainEvent], start: int = 1) -> Positioned:
    return list(enumerate(events, start=start))


def sm_events(rows: list[dict[str, Any]]) -> list[DomainEvent]:
    body = encode(sm_envelope("rows", rows))
    return [fact.event for fact in translate(read_envelope(body, "InventoryUsage"))]


@st.composite
def mixed_histories(draw: st.DrawFn) -> list[DomainEvent]:
    """OFS events and ServiceMobility ledger lines (counts included), interleaved."""
    ofs: list[DomainEvent] = list(draw(ofs_histories(min_size=0, max_size=12)))
    sm = sm_events(draw(sm_histories(REF_MODULES, min_size=0, max_size=4)))
    merged = ofs + sm
    order = draw(st.permutations(range(len(merged))))
    return [merged[i] for i in order]


def apply_one_by_one(events: Positioned, state: dict[str, Item] | None = None) -> dict[str, Item]:
    """What the live projection does: per event, load only the touched items,
    apply, write back what changed."""
    stored: dict[str, Item] = dict(state or {})
    for position, event in events:
        touched = touched_keys(event)
        loaded = {key: stored[key] for key in touched if key in stored}
        changed = apply(loaded, event, position)
        assert {item.key for item in changed} <= set(touched)
        for item in changed:
            stored[item.key] = item
    return stored


def without_position(items: dict[str, Item]) -> dict[str, Item]:
    return {key: msgspec.structs.replace(item, position=0) for key, item in items.items()}


# --------------------------------------------------------------------------
# Any history


@settings(max_examples=examples(60), deadline=None)
@given(events=mixed_histories())
def test_folding_is_deterministic(events: list[DomainEvent]) -> None:
    before = [to_data(event) for event in events]
    first = fold(positioned(events))
    assert fold(iter(positioned(events))) == first
    # Folding reads the events and nothing else: they are left as they were.
    assert [to_data(event) for event in events] == before


@settings(max_examples=examples(60), deadline=None)
@given(events=mixed_histories(), data=st.data())
def test_a_prefix_then_the_rest_is_the_whole(
    events: list[DomainEvent], data: st.DataObject
) -> None:
    history = positioned(events)
    cut = data.draw(st.integers(0, len(history)), label="cut")
    assert apply_one_by_one(history[cut:], fold(history[:cut])) == fold(history)
    assert apply_one_by_one(history) == fold(history)


@settings(max_examples=examples(60), deadline=None)
@given(events=mixed_histories())
def test_stored_events_fold_to_the_same_state(events: list[DomainEvent]) -> None:
    """Replay reads events back from their stored JSON: nothing may change on the way."""
    stored = [msgspec.json.decode(msgspec.json.encode(to_data(event))) for event in events]
    replayed = [from_data(data) for data in stored]
    assert replayed == events
    assert fold(positioned(replayed)) == fold(positioned(events))


@settings(max_examples=100, deadline=None)
@given(events=mixed_histories())
def test_annotating_counts_changes_no_state(events: list[DomainEvent]) -> None:
    """The live projection stores counts with their variance; a rebuild folds those."""
    state: dict[str, Item] = {}
    annotated: list[DomainEvent] = []
    for position, event in positioned(events):
        noted = annotate(state, event)
        annotated.append(noted)
        for item in apply(state, noted, position):
            state[item.key] = item
    assert fold(positioned(annotated)) == fold(positioned(events)) == state


# --------------------------------------------------------------------------
# OFS: absolute state per inventoryId


def ofs_only(events: Sequence[OfsInventory]) -> dict[str, Item]:
    return fold(positioned(events))


@settings(max_examples=100, deadline=None)
@given(events=ofs_histories())
def test_one_state_per_inventory_id_in_at_most_one_pool(events: list[OfsInventory]) -> None:
    items = ofs_only(events)
    assert set(items) == {ofs_key(event.inventory_id) for event in events}
    for key, item in items.items():
        assert item.key == key == ofs_key(item.inventory_id or 0)
        assert item.source == "ofs"
        # A record is in exactly one pool, or deleted and in none.
        assert (item.pool is None) == item.deleted
        assert item.pool is None or item.pool in POOLS


class Record(msgspec.Struct, kw_only=True):
    """docs/vendors.md, "Oracle Field Service", applied by hand to one inventoryId."""

    pool: str | None = None
    quantity: Decimal | None = None
    resource_id: str | None = None
    activity_id: str | None = None
    customer_number: str | None = None
    exchanged_with: int | None = None
    inventory_type: str | None = None
    serial_number: str | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    deleted: bool = False


STATUS = {
    "resource": "resource",
    "provider": "resource",
    "customer": "customer",
    "installed": "install",
    "deinstalled": "deinstall",
}
IMPLIED: dict[type[OfsInventory], str] = {
    ResourceInventoryCreated: "resource",
    CustomerInventoryCreated: "customer",
    InventoryInstalled: "install",
    InventoryDeinstalled: "deinstall",
    InventoryUndoInstall: "resource",
    InventoryUndoDeinstall: "customer",
}


def by_hand(events: Sequence[OfsInventory]) -> Record:
    record: Record | None = None
    for event in events:
        if record is None or record.deleted:
            record = Record()
        if is_delete(event):
            record.deleted, record.pool = True, None
            continue
        changes, details = event.changes, event.details
        activity = event.activity or OfsActivity()
        statuses = [s for s in (changes.status, details.status) if s in STATUS]
        if statuses:
            record.pool = STATUS[statuses[0]]
        elif type(event) in IMPLIED:
            record.pool = IMPLIED[type(event)]
        elif record.pool is None:
            record.pool = "resource" if isinstance(event, ResourceInventoryUpdated) else "customer"
        for quantity in (details.quantity, changes.quantity):
            if quantity is not None:
                record.quantity = quantity
        record.resource_id = changes.resource_id or activity.resource_id or record.resource_id
        activity_id = changes.activity_id or activity.activity_id
        if activity_id is not None:
            record.activity_id = str(activity_id)
        record.customer_number = activity.customer_number or record.customer_number
        if record.pool == "resource":
            record.activity_id = record.customer_number = None
        if changes.exchanged_inventory_id is not None:
            record.exchanged_with = changes.exchanged_inventory_id
        record.inventory_type = (
            changes.inventory_type or details.inventory_type or record.inventory_type
        )
        record.serial_number = (
            changes.serial_number or details.serial_number or record.serial_number
        )
        record.properties = {**record.properties, **details.properties, **changes.properties}
    assert record is not None
    return record


@settings(max_examples=100, deadline=None)
@given(events=ofs_histories())
def test_each_record_follows_the_rules_by_hand(events: list[OfsInventory]) -> None:
    items = ofs_only(events)
    for key, item in items.items():
        mine = [event for event in events if ofs_key(event.inventory_id) == key]
        expected = by_hand(mine)
        assert item.deleted == expected.deleted
        assert item.pool == expected.pool
        assert item.updated_at == mine[-1].occurred_at
        if expected.deleted:
            continue
        # Quantities are absolute and exact; a record that never stated one holds 1.
        quantity = expected.quantity if expected.quantity is not None else Decimal(1)
        assert item.quantity.as_tuple() == quantity.as_tuple()
        assert (item.resource_id, item.activity_id, item.customer_number) == (
            expected.resource_id,
            expected.activity_id,
            expected.customer_number,
        )
        assert item.exchanged_inventory_id == expected.exchanged_with
        assert (item.inventory_type, item.serial_number) == (
            expected.inventory_type,
            expected.serial_number,
        )
        assert item.properties == expected.properties


@settings(max_examples=100, deadline=None)
@given(events=ofs_histories())
def test_nothing_in_a_resource_pool_keeps_an_activity(events: list[OfsInventory]) -> None:
    state: dict[str, Item] = {}
    for position, event in positioned(events):
        for item in apply(state, event, position):
            state[item.key] = item
            if item.pool == "resource":
                assert (item.activity_id, item.customer_number) == (None, None)


@st.composite
def histories_with_a_repeat(
    draw: st.DrawFn,
) -> tuple[list[OfsInventory], list[OfsInventory]]:
    """A history, and the same history with one non-delete event delivered
    twice before anything else happens to its record."""
    events = draw(ofs_histories(kinds=OFS_NOT_DELETES) | ofs_histories())
    candidates = [i for i, event in enumerate(events) if not is_delete(event)]
    if not candidates:
        return events, events
    index = draw(st.sampled_from(candidates))
    repeated = events[index]
    later = [
        i for i in range(index + 1, len(events)) if events[i].inventory_id == repeated.inventory_id
    ]
    until = later[0] if later else len(events)
    at = draw(st.integers(index + 1, until))
    return events, [*events[:at], repeated, *events[at:]]


@settings(max_examples=100, deadline=None)
@given(pair=histories_with_a_repeat())
def test_a_duplicate_event_collapsed_or_applied_again_gives_the_same_state(
    pair: tuple[list[OfsInventory], list[OfsInventory]],
) -> None:
    once, twice = pair
    assert collapse(twice) == collapse(once)
    assert without_position(ofs_only(twice)) == without_position(ofs_only(once))


def collapse(events: Sequence[OfsInventory]) -> list[OfsInventory]:
    """The events the store keeps: the first of each dedupe key, in arrival order."""
    seen: set[str] = set()
    kept: list[OfsInventory] = []
    for event in events:
        key = ofs_fact(event).dedupe_key
        if key not in seen:
            seen.add(key)
            kept.append(event)
    return kept


def created(inventory_id: int = 21258547, **changes: Any) -> ResourceInventoryCreated:
    return ResourceInventoryCreated(
        occurred_at=T0,
        inventory_id=inventory_id,
        details=OfsDetails(status="resource", inventory_type="MODEM", serial_number="SN-1"),
        changes=OfsChanges(status="resource", resource_id="TECH_017", **changes),
    )


ACTIVITY = OfsActivity(activity_id=4225599, resource_id="TECH_017", customer_number="C-1009")


def test_a_duplicate_delete_keeps_what_the_record_was() -> None:
    """A delete of a deleted record changes nothing: the state is absolute."""
    history: list[OfsInventory] = [
        created(quantity=Decimal("2.5"), properties={"XA_CONDITION": "new"}),
        ResourceInventoryDeleted(occurred_at=T0, inventory_id=21258547),
    ]
    once = ofs_only(history)
    twice = ofs_only([*history, history[-1]])
    assert without_position(twice) == without_position(once)


def test_an_update_after_a_delete_recreates_the_record_from_what_it_carries() -> None:
    items = ofs_only(
        [
            created(quantity=Decimal(3), properties={"XA_CONDITION": "new"}),
            ResourceInventoryDeleted(occurred_at=T0, inventory_id=21258547),
            ResourceInventoryUpdated(
                occurred_at=T0,
                inventory_id=21258547,
                changes=OfsChanges(quantity=Decimal("0.5"), properties={"XA_NOTE": "back"}),
            ),
        ]
    )
    item = items[ofs_key(21258547)]
    assert (item.deleted, item.pool, item.quantity) == (False, "resource", Decimal("0.5"))
    assert item.properties == {"XA_NOTE": "back"}
    assert item.inventory_type is None


def test_undo_install_goes_back_to_the_resource_and_clears_the_activity() -> None:
    installed = InventoryInstalled(
        occurred_at=T0,
        inventory_id=21258547,
        changes=OfsChanges(status="installed", activity_id=4225599),
        activity=ACTIVITY,
    )
    undone = InventoryUndoInstall(occurred_at=T0, inventory_id=21258547, activity=ACTIVITY)
    items = ofs_only([created(), installed])
    assert (items[ofs_key(21258547)].pool, items[ofs_key(21258547)].activity_id) == (
        "install",
        "4225599",
    )
    item = ofs_only([created(), installed, undone])[ofs_key(21258547)]
    assert (item.pool, item.resource_id) == ("resource", "TECH_017")
    assert (item.activity_id, item.customer_number) == (None, None)


def test_undo_deinstall_goes_back_to_the_customer() -> None:
    deinstalled = InventoryDeinstalled(
        occurred_at=T0, inventory_id=21250001, activity=ACTIVITY, exchanged=True,
        changes=OfsChanges(status="deinstalled", exchanged_inventory_id=21258547),
    )  # fmt: skip
    undone = InventoryUndoDeinstall(occurred_at=T0, inventory_id=21250001, activity=ACTIVITY)
    item = ofs_only([deinstalled, undone])[ofs_key(21250001)]
    assert (item.pool, item.activity_id, item.customer_number) == ("customer", "4225599", "C-1009")
    assert item.exchanged_inventory_id == 21258547


def test_exchange_links_both_sides() -> None:
    items = ofs_only(
        [
            created(),
            InventoryDeinstalled(
                occurred_at=T0, inventory_id=21250001, activity=ACTIVITY, exchanged=True,
                changes=OfsChanges(exchanged_inventory_id=21258547),
            ),
            InventoryInstalled(
                occurred_at=T0, inventory_id=21258547, activity=ACTIVITY, exchanged=True,
                changes=OfsChanges(exchanged_inventory_id=21250001),
            ),
        ]
    )  # fmt: skip
    assert items[ofs_key(21258547)].exchanged_inventory_id == 21250001
    assert items[ofs_key(21250001)].exchanged_inventory_id == 21258547
    assert (items[ofs_key(21258547)].pool, items[ofs_key(21250001)].pool) == (
        "install",
        "deinstall",
    )


def test_quantities_are_absolute_not_deltas() -> None:
    items = ofs_only(
        [
            created(inventory_id=21259000, quantity=Decimal("50")),
            ResourceInventoryUpdated(
                occurred_at=T0, inventory_id=21259000, changes=OfsChanges(quantity=Decimal("40.25"))
            ),
            ResourceInventoryUpdated(occurred_at=T0, inventory_id=21259000),
        ]
    )
    assert items[ofs_key(21259000)].quantity == Decimal("40.25")


def test_a_deleted_customer_record_is_in_no_pool() -> None:
    item = ofs_only(
        [
            CustomerInventoryCreated(occurred_at=T0, inventory_id=7, activity=ACTIVITY),
            CustomerInventoryDeleted(occurred_at=T0, inventory_id=7),
        ]
    )[ofs_key(7)]
    assert (item.deleted, item.pool) == (True, None)
