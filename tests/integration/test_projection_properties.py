"""Replay equals live (architecture.md, property 4), on SQLite and on PostgreSQL.

Generated histories of both sources (envelopes split and redelivered, OFS
bodies resent and overlapping, arrival shuffled, events for unknown records,
deletes then updates, undos, exchanges, counts, decimals, documents and
payloads that cannot be translated) go through the Ingestor as deliveries.
Afterwards the live projection, the pure fold of the facts the store should
have kept (in arrival order) and a replay of the stored events from zero are
the same state; item histories and "as of" answers agree with the events.

The properties run few examples on a workstation and at least 100 in CI
(tests.harness.profiles); each reports the shapes of its history
(tests.harness.shapes) as Hypothesis events, and a coverage test checks that
the strategies give many items, many owners and late events often.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import hypothesis
import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters import servicemobility
from adapters.ofs import TranslationError as OfsTranslationError
from adapters.ofs import translate as ofs_translate
from adapters.store import Delivery, InboxEntry, Receipt, Store, StoredEvent
from adapters.store.queries import ItemFilter, OwnerKind
from api.services.group_commit import Ingestor
from domain.events import DomainEvent, Fact, OfsInventory, StockUsageRecorded, from_data
from domain.fold import annotate, apply, fold, touched_keys
from domain.items import Item
from projections.catalog import HISTORY, ITEMS
from projections.items import item_of, stored_item
from projections.items import lookup as items_lookup
from projections.queries import Queries
from projections.rebuild import rebuild
from tests.harness.profiles import examples
from tests.harness.shapes import BOTH_SOURCES, SHAPES, shapes
from tests.harness.tables import items_in, links_in, owners_in
from tests.strategies import (
    REF_MODULES,
    T0,
    encode,
    ofs_bodies,
    ofs_fact,
    ofs_histories,
    ofs_vendor_event,
    sm_arrivals,
    sm_documents,
    sm_envelope,
    sm_histories,
)

EXAMPLES = settings(
    max_examples=examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
FEWER_EXAMPLES = settings(EXAMPLES, max_examples=examples(8))
RECEIVED = T0 + timedelta(days=1)


# --------------------------------------------------------------------------
# Deliveries, as the receivers build them


def sm_delivery(envelope: dict[str, Any]) -> Delivery:
    body = encode(envelope)
    entry = InboxEntry(
        source="servicemobility",
        kind=envelope["type"],
        body=body,
        received_at=RECEIVED,
        message_id=envelope["id"],
        content_type="application/json",
    )
    try:
        facts = servicemobility.translate(servicemobility.read_envelope(body, envelope["type"]))
    except servicemobility.TranslationError as error:
        # As the receiver does: a payload that cannot be read has no message id.
        unread = msgspec.structs.replace(entry, message_id=None)
        return Delivery(inbox=unread, rejected=f"{error.field}: {error.message}")
    metadata = {"source": "servicemobility", "messageId": envelope["id"]}
    return Delivery(inbox=entry, facts=tuple(facts), metadata=metadata)


def ofs_delivery(body: bytes) -> Delivery:
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    entry = InboxEntry(
        source="ofs",
        kind="events",
        body=body,
        received_at=RECEIVED,
        message_id=digest,
        content_type="application/json",
    )
    try:
        facts = ofs_translate(body)
    except OfsTranslationError as error:
        return Delivery(inbox=entry, rejected=str(error))
    return Delivery(inbox=entry, facts=tuple(facts), metadata={"source": "ofs"})


UNREADABLE: tuple[Delivery, ...] = (
    sm_delivery({"id": "broken-1", "type": "InventoryUsage", "data": {"rows": "none"}}),
    ofs_delivery(b'{"eventType": "inventoryInstalled", "time": "yesterday"}'),
)


@st.composite
def deliveries(draw: st.DrawFn) -> list[Delivery]:
    """Both sources' deliveries, in one arrival order."""
    rows = draw(sm_histories(REF_MODULES, min_size=0, max_size=5), label="rows")
    envelopes = draw(sm_arrivals(rows, max_redeliveries=3), label="envelopes") if rows else []
    documents = [
        sm_envelope(f"document-{number}", [row], kind=kind)
        for number, (kind, row) in enumerate(
            draw(st.lists(sm_documents(), max_size=2), label="documents")
        )
    ]
    history = draw(ofs_histories(min_size=0, max_size=14), label="ofs")
    bodies = draw(ofs_bodies([ofs_vendor_event(event) for event in history]), label="bodies")
    sent = [
        *(sm_delivery(envelope) for envelope in envelopes + documents + documents[:1]),
        *(ofs_delivery(body) for body in bodies),
        *draw(st.lists(st.sampled_from(UNREADABLE), max_size=2), label="unreadable"),
    ]
    # Generated envelopes are all readable; only UNREADABLE ones are quarantined.
    assert all(delivery.rejected is None for delivery in sent[: len(envelopes) + len(documents)])
    return list(draw(st.permutations(sent), label="arrival"))


# --------------------------------------------------------------------------
# What the store should do with them


@dataclass
class Expected:
    """The facts the store keeps (in arrival order) and what each delivery is told."""

    kept: list[Fact]
    answers: list[tuple[str, int, int]]
    """(outcome, facts appended, facts skipped) per delivery."""
    accepted: int
    quarantined: int


def expect(sent: Sequence[Delivery]) -> Expected:
    messages: set[tuple[str, str | None]] = set()
    keys: set[str] = set()
    expected = Expected(kept=[], answers=[], accepted=0, quarantined=0)
    unreadable: set[bytes] = set()
    for delivery in sent:
        assert delivery.inbox is not None
        if delivery.rejected is not None:
            # Kept once per content: a repeat raises the count of the first.
            expected.quarantined += delivery.inbox.body not in unreadable
            unreadable.add(delivery.inbox.body)
            expected.answers.append(("quarantined", 0, 0))
            continue
        message = (delivery.inbox.source, delivery.inbox.message_id)
        if message in messages:
            expected.answers.append(("duplicate", 0, len(delivery.facts)))
            continue
        messages.add(message)
        expected.accepted += 1
        fresh = 0
        for fact in delivery.facts:
            if fact.dedupe_key not in keys:
                keys.add(fact.dedupe_key)
                expected.kept.append(fact)
                fresh += 1
        expected.answers.append(("accepted", fresh, len(delivery.facts) - fresh))
    return expected


def answer(receipt: Receipt) -> tuple[str, int, int]:
    outcome = (
        "quarantined" if receipt.quarantined else "duplicate" if receipt.duplicate else "accepted"
    )
    return outcome, receipt.appended, receipt.skipped


# --------------------------------------------------------------------------
# The store


async def wipe(store: Store) -> None:
    """Empty the store and its projections, so each example starts from
    nothing: every table but the registry (its checkpoints stay behind: no
    event is left for them to cover) and the schema's version."""
    async with store.maintaining(locked=True) as maintenance:
        kept = {"projections", "alembic_version"}
        await maintenance.empty(await maintenance.table_names() - kept)


async def submit(store: Store, sent: Sequence[Delivery], grouped: bool) -> list[Receipt]:
    """One commit per delivery, or group commit (deliveries queued together
    share transactions; the queue keeps their order)."""
    ingestor = Ingestor(store)
    if not grouped:
        return [await ingestor.submit(delivery) for delivery in sent]
    await ingestor.start()
    try:
        return list(await asyncio.gather(*(ingestor.submit(delivery) for delivery in sent)))
    finally:
        await ingestor.stop()


async def read_everything(store: Store) -> list[StoredEvent]:
    stored: list[StoredEvent] = []
    while batch := await store.read_events(stored[-1].position if stored else 0, 500):
        stored.extend(batch)
    return stored


async def live_items(store: Store) -> dict[str, Item]:
    """Every item the live projection holds, read back through the projection
    (its lookups read them alike)."""
    slot = (await store.active_slots())[ITEMS.name]
    rows = await items_in(store, slot)
    looked_up = await store.look_up(items_lookup(slot, rows))
    assert {row[0]: stored_item(row) for row in looked_up} == rows
    return rows


async def owner_rows(store: Store) -> set[tuple[str, str, str]]:
    """Every (kind, owner, key) the items projection has recorded."""
    return await owners_in(store, (await store.active_slots())[ITEMS.name])


async def history_links(store: Store) -> set[tuple[str, int]]:
    """Every (key, position) the history projection has recorded."""
    return set(await links_in(store, (await store.active_slots())[HISTORY.name]))


async def item_at(queries: Queries, key: str, at: datetime | None = None) -> Item | None:
    record = await queries.item(key, at)
    return None if record is None else item_of(record)


def assert_counts_were_annotated(replayed: Sequence[tuple[int, DomainEvent]]) -> None:
    """A stored count carries the balance it replaced, in store order, and the variance."""
    state: dict[str, Item] = {}
    for position, event in replayed:
        if isinstance(event, StockUsageRecorded) and event.ref_module in ("1004", "1005"):
            bare = msgspec.structs.replace(event, expected=None, variance=None)
            assert annotate(state, bare) == event, position
        else:
            assert annotate(state, event) == event, position
        for item in apply(state, event, position):
            state[item.key] = item


def moments_of(history: Sequence[tuple[int, DomainEvent]]) -> list[datetime]:
    """Event times worth asking "as of": before everything, and each distinct time."""
    times = sorted({event.occurred_at for _, event in history})
    return [times[0] - timedelta(seconds=1), *times] if times else []


def some_moments_of(history: Sequence[tuple[int, DomainEvent]]) -> list[datetime]:
    """Before everything, the first, a middle and the last event time."""
    times = moments_of(history)
    return sorted({times[0], times[1], times[len(times) // 2], times[-1]}) if times else []


# --------------------------------------------------------------------------
# The shapes the histories take


def report_shapes(history: Iterable[DomainEvent]) -> None:
    for shape in sorted(shapes(history)):
        hypothesis.event(shape)


SHAPED: dict[str, tuple[st.SearchStrategy[Any], tuple[str, ...]]] = {
    "deliveries": (
        deliveries().map(lambda sent: [fact.event for fact in expect(sent).kept]),
        SHAPES,
    ),
    "ofs histories": (
        ofs_histories(min_size=1, max_size=12),
        tuple(shape for shape in SHAPES if shape != BOTH_SOURCES),
    ),
}


@pytest.mark.parametrize("name", sorted(SHAPED))
def test_the_generated_histories_take_every_shape_often(name: str) -> None:
    """Two hundred histories as the properties draw them: each shape in at
    least a tenth of them, so 100 examples in CI replay a dozen or more of each."""
    strategy, wanted = SHAPED[name]
    seen: Counter[str] = Counter()

    @settings(
        max_examples=200, database=None, deadline=None, suppress_health_check=list(HealthCheck)
    )
    @given(history=strategy)
    def draw(history: list[DomainEvent]) -> None:
        seen["histories"] += 1
        seen.update(shapes(history))

    draw()
    assert seen["histories"] == 200
    rare = {shape: seen[shape] for shape in wanted if seen[shape] < seen["histories"] // 10}
    assert not rare, (rare, seen)


# --------------------------------------------------------------------------
# The property


@EXAMPLES
@given(sent=deliveries(), grouped=st.booleans(), rebuilt=st.booleans())
async def test_live_projection_equals_the_fold_and_a_replay(
    store: Store, sent: list[Delivery], grouped: bool, rebuilt: bool
) -> None:
    await wipe(store)
    expected = expect(sent)
    report_shapes(fact.event for fact in expected.kept)

    receipts = await submit(store, sent, grouped)

    assert [answer(receipt) for receipt in receipts] == expected.answers
    counts = await store.inbox_counts()
    assert (counts.get("accepted", 0), counts.get("quarantined", 0)) == (
        expected.accepted,
        expected.quarantined,
    )
    stored = await read_everything(store)
    # Store order is arrival order: the first delivery of each fact, once.
    assert [event.dedupe_key for event in stored] == [fact.dedupe_key for fact in expected.kept]
    positions = [event.position for event in stored]
    kept = list(zip(positions, (fact.event for fact in expected.kept), strict=True))
    replayed = [(event.position, from_data(event.data)) for event in stored]

    pure = fold(kept)
    assert fold(replayed) == pure
    assert await live_items(store) == pure
    assert_counts_were_annotated(replayed)

    queries = Queries(store)
    touched = {key for _, event in kept for key in touched_keys(event)}
    for key in sorted(touched):
        mine = [(position, event) for position, event in kept if key in touched_keys(event)]
        assert await item_at(queries, key) == pure.get(key)
        history = await queries.history(key)
        assert history is not None
        assert [event.position for event in history] == [position for position, _ in mine]
        for moment in some_moments_of(mine):
            then = [(p, event) for p, event in mine if event.occurred_at <= moment]
            assert await item_at(queries, key, at=moment) == fold(then).get(key), moment

    if not rebuilt:
        return
    # A rebuild from zero gives the same tables as the live projection did.
    owners, links = await owner_rows(store), await history_links(store)
    await rebuild(store, reader_grace=0)
    assert await live_items(store) == pure
    assert await owner_rows(store) == owners
    assert await history_links(store) == links


@FEWER_EXAMPLES
@given(history=ofs_histories(min_size=1, max_size=12), data=st.data())
async def test_an_ofs_history_in_any_batching_gives_the_fold_of_its_arrival(
    store: Store, history: list[OfsInventory], data: st.DataObject
) -> None:
    """The same events sent one by one, or as pages of any size: the same state."""
    await wipe(store)
    report_shapes(history)
    raw = [ofs_vendor_event(event) for event in history]
    cuts = sorted(data.draw(st.sets(st.integers(1, len(raw)), max_size=4), label="cuts"))
    pages = [
        encode({"found": True, "nextPage": str(n), "items": raw[a:b]})
        for n, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(raw)], strict=True))
        if b > a
    ]
    await submit(store, [ofs_delivery(page) for page in pages], grouped=False)
    stored = await read_everything(store)
    replayed = fold((event.position, from_data(event.data)) for event in stored)
    assert await live_items(store) == replayed
    # The vendor's JSON, however paged, ends where its events end, each once.
    once = {ofs_fact(event).dedupe_key: event for event in reversed(history)}
    first = [event for event in history if once.get(ofs_fact(event).dedupe_key) is event]
    assert len(stored) == len(first)
    assert unpositioned(replayed) == unpositioned(fold(enumerate(first, start=1)))
    for key, item in replayed.items():
        assert await item_at(Queries(store), key, at=T0 + timedelta(days=365)) == item


def unpositioned(items: dict[str, Item]) -> dict[str, Item]:
    return {key: msgspec.structs.replace(item, position=0) for key, item in items.items()}


def _usage_row(product: str) -> dict[str, Any]:
    return {
        "rowver": "nul",
        "InventoryUsage": {
            "ModifiedUTC": "2026-11-20T07:00:00Z",
            "RefModule": "1001",
            "RefObjID": "LOAD-1",
            "StorageLocations": [
                {"StorageLocationID": "VAN-07", "Items": [{"ProdNum": product, "InQty": 1}]}
            ],
        },
    }


def _ofs_event(event_type: str, serial: str) -> bytes:
    return encode(
        {
            "eventType": event_type,
            "time": "2026-11-20 06:00:00",
            "inventoryChanges": {"inventoryId": 21258547, "serialNumber": serial},
        }
    )


WITH_NUL = {
    "ProdNum": sm_delivery(sm_envelope("nul-1", [_usage_row("CBL\x00CAT6")])),
    "envelope id": sm_delivery(sm_envelope("nul\x00-2", [_usage_row("CBL-CAT6")])),
    "serialNumber": ofs_delivery(_ofs_event("resourceInventoryCreated", "SN\x000001")),
    "eventType": ofs_delivery(_ofs_event("activity\x00Moved", "SN-0001")),
}


@pytest.mark.parametrize("field", sorted(WITH_NUL))
async def test_a_nul_character_is_kept_or_quarantined_alike_on_both_backends(
    store: Store, field: str
) -> None:
    """JSON allows U+0000 in strings; PostgreSQL text does not. Whatever the
    answer, it must be the same on both backends and never a failed commit."""
    receipt = await Ingestor(store).submit(WITH_NUL[field])
    if receipt.quarantined:
        assert await store.count() == 0
        return
    assert receipt.appended == 1
    stored = await read_everything(store)
    assert await live_items(store) == fold(
        (event.position, from_data(event.data)) for event in stored
    )


# --------------------------------------------------------------------------
# Owners "as of" an event time

OWNER_KINDS: tuple[OwnerKind, ...] = ("resource", "activity", "customer")


def owner_of(item: Item, kind: OwnerKind) -> str | None:
    return {
        "resource": item.resource_id,
        "activity": item.activity_id,
        "customer": item.customer_number,
    }[kind]


async def listed(queries: Queries, kind: OwnerKind, owner: str, at: datetime) -> list[Item]:
    where = ItemFilter(owner_kind=kind, owner=owner)
    return (await queries.list_items(where, after=None, limit=1000, at=at)).items


async def assert_owners_as_of(store: Store, replayed: Sequence[tuple[int, DomainEvent]]) -> None:
    """Every owner lists, as of every event time, exactly the items the fold
    of the events up to that time gives it."""
    queries = Queries(store)
    for moment in moments_of(replayed):
        state = fold((p, event) for p, event in replayed if event.occurred_at <= moment)
        for kind in OWNER_KINDS:
            owners = {
                owner for item in state.values() if (owner := owner_of(item, kind)) is not None
            }
            for owner in sorted(owners | {"nobody"}):
                expected = sorted(
                    (item for item in state.values() if owner_of(item, kind) == owner),
                    key=lambda item: item.key,
                )
                expected = [item for item in expected if not item.deleted]
                assert await listed(queries, kind, owner, moment) == expected, (kind, owner)


@FEWER_EXAMPLES
@given(
    history=ofs_histories(min_size=0, max_size=10),
    rows=sm_histories(REF_MODULES, min_size=0, max_size=3),
)
async def test_owners_as_of_a_time_list_what_they_had_then(
    store: Store, history: list[OfsInventory], rows: list[dict[str, Any]]
) -> None:
    """Both sources, arriving in event-time order (ties in any order)."""
    await wipe(store)
    timed = [
        (event.occurred_at, ofs_delivery(encode(ofs_vendor_event(event)))) for event in history
    ]
    for number, row in enumerate(rows):
        moment = datetime.fromisoformat(row["InventoryUsage"]["ModifiedUTC"])
        timed.append((moment, sm_delivery(sm_envelope(f"row-{number}", [row]))))
    timed.sort(key=lambda pair: pair[0])
    await submit(store, [delivery for _, delivery in timed], grouped=False)
    stored = await read_everything(store)
    report_shapes(from_data(e.data) for e in stored)
    await assert_owners_as_of(store, [(e.position, from_data(e.data)) for e in stored])


async def test_owners_as_of_a_time_when_events_arrived_out_of_order(store: Store) -> None:
    def event(kind: str, time: str, **changes: Any) -> bytes:
        return encode(
            {
                "eventType": kind,
                "time": f"2026-11-20 {time}",
                "inventoryChanges": {"inventoryId": 7, **changes},
            }
        )

    arrivals = [
        event("inventoryInstalled", "06:03:00", status="installed", activityId=41),
        event("inventoryUndoInstall", "06:10:00", status="resource"),
        # Sent before the undo, received after it.
        event("resourceInventoryUpdated", "06:05:00", activityId=42),
    ]
    await submit(store, [ofs_delivery(body) for body in arrivals], grouped=False)
    at = datetime(2026, 11, 20, 6, 7, tzinfo=UTC)
    then = await item_at(Queries(store), "ofs-7", at=at)
    assert then is not None
    assert (then.pool, then.activity_id) == ("install", "42")
    assert await listed(Queries(store), "activity", "42", at) == [then]
