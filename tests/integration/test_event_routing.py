"""Events carry their routing (revision 0012), on SQLite and PostgreSQL: every
appended domain event is stored with the keys `touched_keys` gives for it as
stored, and a rebuild routes by them, decoding only the events its builders
fold. A store whose events have no routing (written before the revision, or
some of them) rebuilds to the same answers, computing the keys as before;
the revision upgrades a store of the previous one without touching its rows."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import projections.filling as filling
import projections.reading as reading
import projections.rebuild as rebuilding
from adapters.store import NewEvent, Store, StoredEvent, TableWrite, connect
from adapters.store.routing import routing_keys
from adapters.store.schema import events as events_table
from adapters.store.signal_tables import (
    ACTIVITY_COLUMNS,
    STOCK_COLUMNS,
    TRANSFER_COLUMNS,
    signal_tables,
)
from api.services.group_commit import Ingestor
from domain.events import (
    DomainEvent,
    ManualLevel,
    OfsEventRecorded,
    OfsSubscriptionGap,
    ParLevelsSet,
    StockUsageRecorded,
    event_type,
    from_data,
)
from domain.fold import KEYED_EVENTS, stream_of, touched_keys
from projections.catalog import COUNTS, HISTORY, PROJECTIONS, SIGNALS
from projections.live import LiveProjector
from projections.rebuild import rebuild
from projections.setup import prepare
from tests.harness.histories import BATCH, T0, appended, deliveries, submit_all
from tests.harness.old_store import OLD_EVENTS
from tests.harness.tables import (
    Tables,
    active,
    active_tables,
    execute,
    expect_replay,
    rows_of,
    stored_events,
)

Answers = tuple[Tables, list[list[Any]]]


def others(count: int) -> list[DomainEvent]:
    """Domain events no item is touched by, some folded by the signals."""
    made: list[DomainEvent] = []
    for n in range(count):
        at = T0 + timedelta(minutes=n, seconds=30)
        made.append(OfsEventRecorded(occurred_at=at, event_type="activityStarted", body={"n": n}))
        made.append(OfsSubscriptionGap(occurred_at=at, poller="p", subscription=f"sub-{n}"))
        made.append(
            ParLevelsSet(
                occurred_at=at,
                resource_id="VAN-01",
                levels=(ManualLevel(product="CBL-CAT6", target=Decimal(n + 3)),),
            )
        )
    return made


async def history(store: Store) -> None:
    """Deliveries of both sources (counts annotated among them), events of
    other types, and plain appends that are no domain event."""
    ingestor = Ingestor(store)
    await submit_all(ingestor, deliveries(21, 0, 40))
    await store.append([appended(event, f"other-{n}") for n, event in enumerate(others(4))])
    await store.append(
        [
            NewEvent(
                stream_id="plain",
                type="test.Happened",
                data={"n": n},
                occurred_at=T0,
                dedupe_key=f"plain-{n}",
            )
            for n in range(3)
        ]
    )
    await submit_all(ingestor, deliveries(22, 40, 30))


def domain_of(events: list[StoredEvent]) -> list[StoredEvent]:
    """The domain events of a history (what a replay folds)."""
    return [event for event in events if event.type != "test.Happened"]


async def answers(store: Store) -> Answers:
    """What every active projection holds."""
    slots = await active(store)
    tables = signal_tables(slots[SIGNALS.name])
    columns = (STOCK_COLUMNS, TRANSFER_COLUMNS, ACTIVITY_COLUMNS)
    signals = [
        sorted(map(list, await rows_of(store, table, names)), key=repr)
        for table, names in zip(tables, columns, strict=True)
    ]
    return await active_tables(store), signals


async def forget_routing(store: Store, where: str) -> None:
    """The routing of the events that match `where` gone, as events stored
    before revision 0012 have none."""
    await execute(store, f"UPDATE events SET routing = NULL WHERE {where}")


@pytest.fixture
def decoded(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The types of the events a rebuild decodes, in the order it decodes them."""
    seen: list[str] = []
    made = reading.decoder

    def counting(*args: Any) -> Any:
        decode = made(*args)

        def counted(kind: str, schema: int, data: str) -> Any:
            seen.append(kind)
            return decode(kind, schema, data)

        return counted

    monkeypatch.setattr(filling, "decoder", counting)
    monkeypatch.setattr(rebuilding, "decoder", counting)
    return seen


async def test_every_appended_domain_event_is_stored_with_the_keys_it_touches(
    store: Store,
) -> None:
    await history(store)
    stored = await stored_events(store)
    domain = domain_of(stored)
    assert len(domain) > 100
    for event in domain:
        assert event.routing == touched_keys(from_data(event.data)), event.position
    assert [e.routing for e in stored if e.type == "test.Happened"] == [None] * 3
    # Counts are stored annotated; their keys are those of what is stored.
    assert any(e.data.get("expected") is not None for e in domain)
    # The rebuild reads the same keys, as the column holds them.
    raw = await store.read_raw(0, 10_000)
    assert [routing_keys(row[4]) for row in raw] == [e.routing for e in stored]


async def test_events_without_routing_rebuild_to_the_same_answers(store: Store) -> None:
    """With every event's routing, with some events' only (a store written
    partly before revision 0012) and with none: the same projections, the
    replay of the history."""
    await history(store)
    events = domain_of(await stored_events(store))
    await rebuild(store, batch_size=BATCH, reader_grace=0)
    routed = await answers(store)
    expect_replay(routed[0], events)

    await forget_routing(store, "position % 3 = 1")
    await rebuild(store, batch_size=BATCH, reader_grace=0)
    assert await answers(store) == routed

    await forget_routing(store, "routing IS NOT NULL")
    assert {event.routing for event in await stored_events(store)} == {None}
    await rebuild(store, batch_size=BATCH, reader_grace=0)
    assert await answers(store) == routed


async def test_a_rebuild_decodes_only_the_events_its_projections_fold(
    store: Store, decoded: list[str]
) -> None:
    """The history alone needs the keys only: nothing is decoded while the
    events carry them, and only the events that can touch items when they do
    not. The counts decode the ledger lines alone, and every projection
    together passes over the OFS events that name no inventory and the gaps."""
    await history(store)
    stored = await stored_events(store)
    kinds = [event.type for event in stored]
    events = domain_of(stored)

    await rebuild(store, [HISTORY.name], batch_size=BATCH, reader_grace=0)
    assert decoded == []
    await rebuild(store, [COUNTS.name], batch_size=BATCH, reader_grace=0)
    assert decoded == [kind for kind in kinds if kind == "sm.StockUsageRecorded"]
    decoded.clear()
    await rebuild(store, batch_size=BATCH, reader_grace=0)
    skipped = {"ofs.EventRecorded", "ofs.SubscriptionGap", "test.Happened"}
    assert decoded == [kind for kind in kinds if kind not in skipped]
    expect_replay(await active_tables(store), events)

    decoded.clear()
    await forget_routing(store, "routing IS NOT NULL")
    await rebuild(store, [HISTORY.name], batch_size=BATCH, reader_grace=0)
    can_touch = [e.type for e in events if isinstance(from_data(e.data), KEYED_EVENTS)]
    assert decoded == can_touch
    expect_replay(await active_tables(store), events)


async def test_the_revision_adds_the_routing_to_a_store_of_the_previous_one(
    database_url: str,
) -> None:
    """A store at revision 0011, its events written as that revision's builds
    wrote them: the upgrade keeps them as they are (no routing), and its
    projections, built after, are the replay of its history."""
    rng = random.Random(5)
    lines = [
        StockUsageRecorded(
            occurred_at=T0 + timedelta(minutes=n),
            location=rng.choice(("VAN-01", "VAN-02")),
            product=rng.choice(("CBL-CAT6", "MODEM-X")),
            quantity_in=Decimal(rng.randint(0, 4)),
            reported_quantity=Decimal(rng.randint(0, 9)),
            ref_module=rng.choice(("1001", "1004")),
            ref_object=f"REF-{n}",
        )
        for n in range(30)
    ]
    store = connect(database_url, projection=LiveProjector())
    try:
        await store.migrate("0011")
        rows = [
            (
                n,
                stream_of(line),
                n,
                event_type(line),
                1,
                msgspec.json.encode(line).decode(),
                "{}",
                line.occurred_at,
                T0,
                f"old-{n}",
                None,
            )
            for n, line in enumerate(lines, start=1)
        ]
        async with store.maintaining(locked=True) as maintenance:
            await maintenance.write([TableWrite(events_table, OLD_EVENTS, rows)])
        await store.migrate()
        assert await store.revision() == "0012"

        events = await stored_events(store)
        assert [event.position for event in events] == list(range(1, 31))
        assert {event.routing for event in events} == {None}
        await prepare(store)
        assert set(await active(store)) == {projection.name for projection in PROJECTIONS}
        expect_replay(await active_tables(store), events)
    finally:
        await store.close()
