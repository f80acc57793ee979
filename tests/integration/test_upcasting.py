"""Schema evolution: stored events keep the schema version they were written
with; upcasters lift old shapes to the current one on every read (live
queries, item histories, rebuilds), on SQLite and on PostgreSQL.

The test plays a change of StockUsageRecorded: version 1 named the location
`storage_location` and the quantities `qty_in` / `qty_out`, and had no
disposition reasons nor count fields. Version 2 is the shape of today's class.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import pytest

from adapters.store import NewEvent, Store
from api.services.group_commit import Ingestor
from domain import upcasters
from domain.events import StockUsageRecorded, event_type, from_data, to_data
from domain.fold import fold, stream_of
from projections.catalog import ITEMS
from projections.items import item_of
from projections.queries import Queries
from projections.reading import decoder
from projections.rebuild import rebuild
from tests.harness.histories import BATCH, deliveries, submit_all, usage
from tests.harness.tables import active_tables, expect_replay, items_in, stored_events

USAGE = event_type(usage(random.Random(0), 0))
RENAMED = {"location": "storage_location", "quantity_in": "qty_in", "quantity_out": "qty_out"}
ADDED = ("disposition_reasons", "expected", "variance")


def version_1(event: StockUsageRecorded) -> dict[str, Any]:
    """The event as the first version stored it."""
    data = to_data(event)
    for field in ADDED:
        del data[field]
    return {RENAMED.get(name, name): value for name, value in data.items()}


def lift_1_to_2(data: dict[str, Any]) -> dict[str, Any]:
    """Version 1 to 2: renamed fields get their new names; added ones their defaults."""
    lifted = {name: value for name, value in data.items() if name not in RENAMED.values()}
    lifted.update({new: data[old] for new, old in RENAMED.items()})
    return lifted


@pytest.fixture
def version_2(monkeypatch: pytest.MonkeyPatch) -> None:
    """This build's StockUsageRecorded is version 2 and lifts version 1."""
    monkeypatch.setitem(upcasters.UPCASTERS, (USAGE, 1), lift_1_to_2)
    monkeypatch.setitem(upcasters.CURRENT_VERSIONS, USAGE, 2)


def old_events(count: int) -> list[StockUsageRecorded]:
    rng = random.Random(11)
    return [usage(rng, n) for n in range(count)]


async def store_version_1(store: Store, old: Sequence[StockUsageRecorded]) -> None:
    """Events written by the build before the change, as it wrote them."""
    await store.append(
        [
            NewEvent(
                stream_id=stream_of(event),
                type=USAGE,
                schema_version=1,
                data=version_1(event),
                occurred_at=event.occurred_at,
                dedupe_key=f"old-{n}",
            )
            for n, event in enumerate(old)
        ]
    )


def test_the_version_1_shape_lifts_to_the_event() -> None:
    event = usage(random.Random(3), 7)
    data, version = upcasters.upcast(
        USAGE, 1, version_1(event), {(USAGE, 1): lift_1_to_2}, {USAGE: 2}
    )
    assert version == 2
    assert from_data(data) == event


async def test_old_events_are_read_in_the_current_shape_by_rebuild_and_history(
    store: Store, version_2: None
) -> None:
    old = old_events(3 * BATCH)
    await store_version_1(store, old)
    await submit_all(Ingestor(store), deliveries(12, 100, 40))

    rows = await store.read_raw(0, 10_000)
    # Stored as written: version 1 in its own shape, newer events in version 2.
    assert [schema for _, _, schema, _, _ in rows[: len(old)]] == [1] * len(old)
    assert "storage_location" in str(rows[0][3])
    assert {schema for _, kind, schema, _, _ in rows[len(old) :] if kind == USAGE} == {2}
    # Data of an older shape has no routing (its keys are known once it is
    # lifted): the rebuild computes them, and routes the newer events by theirs.
    assert {routing for *_, routing in rows[: len(old)]} == {None}
    assert None not in {routing for _, kind, *_, routing in rows[len(old) :] if kind == USAGE}

    events = await stored_events(store)
    assert [from_data(event.data) for event in events[: len(old)]] == old
    assert {event.schema_version for event in events if event.type == USAGE} == {2}
    # The rebuild's own decoding agrees with the store's reads, old or current.
    decode = decoder(store.upcast)
    assert [decode(kind, schema, str(data)) for _, kind, schema, data, _ in rows] == [
        from_data(event.data) for event in events
    ]

    await rebuild(store, batch_size=BATCH)

    expect_replay(await active_tables(store), events)
    queries = Queries(store)
    key = next(key for key, item in fold([(1, old[0])]).items() if item.pool == "resource")
    history = await queries.history(key)
    assert history is not None
    assert {entry.schema_version for entry in history} == {2}
    assert history[0].position == events[0].position
    assert from_data(history[0].data) == old[0]
    as_of = await queries.item(key, at=old[0].occurred_at)
    assert as_of is not None
    assert item_of(as_of) == fold([(events[0].position, old[0])])[key]


async def test_a_missing_upcaster_stops_the_rebuild_until_it_is_there(
    store: Store, version_2: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    old = old_events(BATCH)
    await store_version_1(store, old)
    monkeypatch.setitem(upcasters.CURRENT_VERSIONS, USAGE, 3)

    with pytest.raises(ValueError, match="no upcaster"):
        await rebuild(store, [ITEMS.name], batch_size=BATCH)
    with pytest.raises(LookupError):
        await store.read_events()

    monkeypatch.setitem(upcasters.UPCASTERS, (USAGE, 2), dict)
    (done,) = await rebuild(store, [ITEMS.name], batch_size=BATCH)

    assert done.events == len(old)
    assert await items_in(store, done.slot) == fold(
        (event.position, from_data(event.data)) for event in await stored_events(store)
    )
