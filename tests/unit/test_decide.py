"""The batch decision (`adapters.store.decide`) on its own, without a store:
deciding batch A and then batch B from the state A leaves (`Found.after`) is
deciding A and B as one batch (the change feed's entries and their
positions included), for any deliveries (repeated message ids and
dedupe keys, quarantined payloads, repeats of their content and their
replays, ServiceMobility row versions with their first content or another,
cursors) and any appends (stale expected versions), with the live projections
folding them. And the state A leaves is what a read after A's writes finds.

The store is a model here: tables as dictionaries, which the decisions' table
writes change as their modes say, and from which a batch's `Found` is read as
the backends read it.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.store import (
    ConcurrencyConflict,
    Cursor,
    Delivery,
    InboxEntry,
    Lookup,
    NewEvent,
    Slot,
    TableWrite,
)
from adapters.store.decide import decide
from adapters.store.found import Batch, Decision, Found
from adapters.store.routing import routing_keys
from adapters.store.schema import EVENT_COLUMNS
from domain.events import RowClaim
from domain.fold import touched_keys
from projections.catalog import PROJECTIONS
from projections.live import LiveProjector
from projections.reading import decoder
from tests.harness.histories import appended, usage
from tests.harness.histories import delivery as history_delivery

NOW = datetime(2026, 3, 2, 9, 30, 15, tzinfo=UTC)
SLOTS = {projection.name: Slot(projection.version) for projection in PROJECTIONS}
PROJECTOR = LiveProjector()

Table = dict[tuple[Any, ...], dict[str, Any]]
Model = dict[str, Table]


# --------------------------------------------------------------------------
# The store, as a model


def empty_store() -> Model:
    """No payload, no event; the projections registered, at position 0."""
    registry: Table = {
        (name, slot.version, slot.generation): {
            "name": name,
            "version": slot.version,
            "generation": slot.generation,
            "position": 0,
        }
        for name, slot in SLOTS.items()
    }
    return {"projections": registry}


def written(model: Model, writes: Sequence[TableWrite]) -> Model:
    """The model after the writes, each as its mode says."""
    after = {name: dict(rows) for name, rows in model.items()}
    for write in writes:
        table = after.setdefault(write.table.name, {})
        keys = write.key_columns()
        for row in write.rows:
            values = dict(zip(write.columns, row, strict=True))
            key = tuple(values[column] for column in keys)
            _write(table, key, values, write.mode, keys)
    return after


def _write(
    table: Table, key: tuple[Any, ...], values: dict[str, Any], mode: str, keys: Sequence[str]
) -> None:
    stored = table.get(key)
    if mode == "insert":
        assert stored is None, f"inserted twice: {key}"
        table[key] = values
    elif mode == "ignore":
        table.setdefault(key, values)
    elif mode == "upsert":
        table[key] = {**(stored or {}), **values}
    elif mode == "add":
        added = {c: v if c in keys or stored is None else stored[c] + v for c, v in values.items()}
        table[key] = {**(stored or {}), **added}
    elif stored is not None:  # update
        table[key] = {**stored, **values}


def read(model: Model, batch: Batch) -> Found:
    """What a backend reads for the batch, under the append lock."""
    events = model.get("events", {}).values()
    inbox = model.get("inbox", {})
    messages = set(batch.messages())
    lookups = batch.lookups(PROJECTOR, dict(SLOTS))
    found = Found(
        head=max((event["position"] for event in events), default=0),
        feed_head=max((row["position"] for row in model.get("feed", {}).values()), default=0),
        inbox_head=max((row["id"] for row in inbox.values()), default=0),
        accepted={
            (row["source"], row["message_id"]): row["id"]
            for row in inbox.values()
            if row["status"] == "accepted" and (row["source"], row["message_id"]) in messages
        },
        known={event["dedupe_key"] for event in events} & set(batch.dedupe_keys()),
        streams={
            key[0]: row["version"]
            for key, row in model.get("streams", {}).items()
            if key[0] in batch.stream_ids()
        },
        statuses={
            inbox_id: inbox[(inbox_id,)]["status"]
            for inbox_id in batch.replayed()
            if (inbox_id,) in inbox
        },
        slots=dict(SLOTS),
        lookups=lookups,
        rows=[_rows(model, lookup) for lookup in lookups],
    )
    # Then what the projections read once those rows are known, as a backend does.
    more = batch.follow_ups(PROJECTOR, found)
    found.add(more, [_rows(model, lookup) for lookup in more])
    return found


def _rows(model: Model, lookup: Lookup) -> list[tuple[Any, ...]]:
    return [
        tuple(row[column] for column in lookup.columns)
        for row in model.get(lookup.table.name, {}).values()
        if row[lookup.key] in lookup.keys
    ]


def decided(batch: Batch, found: Found) -> Decision | ConcurrencyConflict:
    try:
        return decide(batch, found, PROJECTOR, NOW)
    except ConcurrencyConflict as conflict:
        return conflict


# --------------------------------------------------------------------------
# Batches


def _entry(message_id: str | None) -> InboxEntry:
    return InboxEntry(
        source="servicemobility",
        kind="InventoryUsage",
        body=b"{}",
        received_at=NOW,
        message_id=message_id,
    )


BODIES = (b"{}", b"[", b'{"a": 1}')


def bad(index: int, content: int) -> Delivery:
    """A payload that cannot be read, with one of a few contents (body,
    content type, CloudEvents headers): one of another message may repeat it."""
    entry = msgspec.structs.replace(
        _entry(f"bad-{index}"),
        body=BODIES[content % len(BODIES)],
        content_type=None if content % 2 else "application/json",
        headers={"ce-type": "x", "ce-id": f"bad-{index}"} if content >= len(BODIES) else {},
    )
    return Delivery(inbox=entry, rejected="unreadable")


def claimed(chosen: Delivery, version: int, content: int) -> Delivery:
    """The delivery's facts as the lines of ServiceMobility row version
    `version` with ledger content `content` (other content under one version
    is a conflict), in a payload of its own."""
    claim = RowClaim(version=f"v{version}", identity=f"v{version}/c{content}", rowver=f"r{version}")
    facts = tuple(
        msgspec.structs.replace(fact, row=claim, dedupe_key=f"{fact.dedupe_key}/c{content}")
        for fact in chosen.facts
    )
    assert chosen.inbox is not None
    message = f"{chosen.inbox.message_id}/v{version}/c{content}"
    entry = msgspec.structs.replace(chosen.inbox, message_id=message)
    return Delivery(inbox=entry, facts=facts, metadata=chosen.metadata)


Make = Callable[[list[int]], Delivery]
"""A delivery, given the inbox ids of the payloads the first batch quarantined."""

KINDS = ["pool", "pool", "pool", "bad", "bad", "anonymous", "replay", "cursor", "row", "row"]


@st.composite
def makers(draw: st.DrawFn, pool: Sequence[Delivery]) -> Make:
    """A delivery of the pool (repeated: a duplicate), a payload that cannot be
    read (its content perhaps kept before), one without a message id, a
    replay of a quarantined payload (read now, or still not), a page that only
    moves a cursor, or the lines of a row version (with the content it counts
    with, or another)."""
    kind = draw(st.sampled_from(KINDS))
    index = draw(st.integers(0, len(pool) - 1))
    chosen = pool[index]
    if kind == "bad":
        content = draw(st.integers(0, 2 * len(BODIES) - 1))
        return lambda _: bad(index, content)
    if kind == "row":
        version, content = draw(st.integers(0, 1)), draw(st.integers(0, 1))
        return lambda _: claimed(chosen, version, content)
    if kind == "anonymous":
        return lambda _: Delivery(inbox=_entry(None), facts=chosen.facts)
    if kind == "cursor":
        return lambda _: Delivery(inbox=None, cursor=Cursor(name="c", state={"at": str(index)}))
    if kind == "replay":
        readable = draw(st.booleans())

        def replay(quarantined: list[int]) -> Delivery:
            inbox_id = quarantined[index % len(quarantined)]
            if not readable:
                return Delivery(inbox=_entry(None), rejected="still unreadable", replaying=inbox_id)
            entry = _entry(f"replayed-{index}")
            return Delivery(inbox=entry, facts=chosen.facts, replaying=inbox_id)

        return replay
    return lambda _: chosen


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Make], list[Make], list[Make]]:
    """A first batch (Z, which quarantines some payloads), then A and B."""
    rng = random.Random(draw(st.integers(0, 2**16)))
    pool = [history_delivery(rng, n) for n in range(10)]
    some = st.lists(makers(pool), max_size=6)
    return draw(some), draw(some), draw(some)


def new_event(number: int, stream: int, expected: int | None) -> NewEvent:
    return NewEvent(
        stream_id=f"s{stream}",
        type="test.Happened",
        data={"n": number},
        occurred_at=NOW,
        dedupe_key=f"k{number}",
        expected_version=expected,
    )


appends = st.lists(
    st.builds(
        new_event,
        st.integers(0, 12),
        st.integers(0, 2),
        st.one_of(st.none(), st.integers(0, 3)),
    ),
    max_size=6,
)


# --------------------------------------------------------------------------
# The properties


def assert_feed_in_order(model: Model) -> None:
    """The feed's positions run from 1 without a gap, its entries follow their
    events' order, each entry's text names its position, and each id is its
    own."""
    feed = sorted(model.get("feed", {}).values(), key=lambda row: row["position"])
    assert [row["position"] for row in feed] == list(range(1, len(feed) + 1))
    assert [row["event_position"] for row in feed] == sorted(r["event_position"] for r in feed)
    assert all(msgspec.json.decode(row["entry"])["position"] == row["position"] for row in feed)
    assert len({row["id"] for row in feed}) == len(feed)
    owners = model.get("feed_owners", {})
    assert {key[2] for key in owners} <= {row["position"] for row in feed}


def assert_split_decides_as_one(model: Model, first: Batch, second: Batch, both: Batch) -> None:
    found = read(model, both)
    whole = decided(both, found)
    one = decided(first, found)
    two = one if isinstance(one, ConcurrencyConflict) else decided(second, found.after(one))
    if isinstance(whole, ConcurrencyConflict):
        assert isinstance(two, ConcurrencyConflict)
        assert str(two) == str(whole)
        return
    assert isinstance(one, Decision)
    assert isinstance(two, Decision)
    assert one.receipts + two.receipts == whole.receipts
    assert one.appended() + two.appended() == whole.appended()
    assert written(written(model, one.writes), two.writes) == written(model, whole.writes)
    assert_feed_in_order(written(model, whole.writes))
    # What A leaves is what a read after A's writes finds.
    fresh = decided(second, read(written(model, one.writes), second))
    assert isinstance(fresh, Decision)
    assert fresh.receipts == two.receipts
    assert fresh.appended() == two.appended()
    after_one = written(model, one.writes)
    assert written(after_one, fresh.writes) == written(after_one, two.writes)


@settings(max_examples=150, deadline=None)
@given(history=histories())
def test_deciding_a_then_b_is_deciding_both_at_once(
    history: tuple[list[Make], list[Make], list[Make]],
) -> None:
    start, first, second = history
    model = empty_store()
    # A replay in the first batch names a payload that is not there: not settled.
    zeroth = Batch(deliveries=[make([10_000]) for make in start])
    found = read(model, zeroth)
    decision = decide(zeroth, found, PROJECTOR, NOW)
    model = written(model, decision.writes)
    quarantined = [r.inbox_id for r in decision.receipts if r.quarantined and r.inbox_id]
    quarantined = quarantined or [10_000]
    a = [make(quarantined) for make in first]
    b = [make(quarantined) for make in second]
    assert_split_decides_as_one(
        model, Batch(deliveries=a), Batch(deliveries=b), Batch(deliveries=a + b)
    )


@settings(max_examples=150, deadline=None)
@given(start=appends, first=appends, second=appends)
def test_appends_split_in_two_decide_as_one(
    start: list[NewEvent], first: list[NewEvent], second: list[NewEvent]
) -> None:
    model = empty_store()
    zeroth = Batch(events=[anywhere(event) for event in start])
    model = written(model, decide(zeroth, read(model, zeroth), PROJECTOR, NOW).writes)
    assert_split_decides_as_one(
        model, Batch(events=first), Batch(events=second), Batch(events=first + second)
    )


def anywhere(event: NewEvent) -> NewEvent:
    """The event appended wherever its stream is."""
    return msgspec.structs.replace(event, expected_version=None)


def test_a_decision_leaves_its_payloads_keys_versions_and_rows() -> None:
    rng = random.Random(5)
    deliveries = [history_delivery(rng, n) for n in range(4)]
    batch = Batch(deliveries=deliveries)
    found = read(empty_store(), batch)
    decision = decide(batch, found, PROJECTOR, NOW)
    after = found.after(decision)
    appended = decision.appended()

    assert after.head == appended[-1].position
    assert after.inbox_head == len(deliveries)
    assert set(after.accepted) == {
        (d.inbox.source, d.inbox.message_id)
        for d in deliveries
        if d.inbox is not None and d.inbox.message_id is not None
    }
    assert after.known == {event.dedupe_key for event in appended}
    assert after.streams == {event.stream_id: event.version for event in appended}
    *own, lookup = found.lookups[:3]
    assert [own_lookup.table.name for own_lookup in own] == ["row_versions", "inbox"]
    written_keys = {
        row[0] for write in decision.writes if write.table is lookup.table for row in write.rows
    }
    assert written_keys
    assert {row[0] for row in after.rows[2]} == written_keys
    # The state read is left as it was.
    assert (found.head, found.rows) == (0, [[] for _ in found.lookups])


@pytest.mark.parametrize("readable", [True, False])
def test_a_payload_replayed_twice_in_one_batch_settles_as_in_two(readable: bool) -> None:
    model = empty_store()
    bad = Batch(deliveries=[Delivery(inbox=_entry("bad"), rejected="unreadable")])
    decision = decide(bad, read(model, bad), PROJECTOR, NOW)
    model = written(model, decision.writes)
    (receipt,) = decision.receipts
    assert receipt.inbox_id is not None
    rng = random.Random(1)
    facts = history_delivery(rng, 1).facts if readable else ()
    replay = Delivery(
        inbox=_entry("bad"),
        facts=facts,
        rejected=None if readable else "still unreadable",
        replaying=receipt.inbox_id,
    )
    assert_split_decides_as_one(
        model, Batch(deliveries=[replay]), Batch(deliveries=[replay]), Batch([replay, replay])
    )


def test_a_row_version_counts_with_the_first_content_it_came_with() -> None:
    chosen = history_delivery(random.Random(3), 1)
    first, other, again = claimed(chosen, 0, 0), claimed(chosen, 0, 1), claimed(chosen, 0, 1)
    again = msgspec.structs.replace(
        again, inbox=msgspec.structs.replace(_entry("again"), body=b"[]")
    )
    batch = Batch(deliveries=[first, other, again])
    decision = decide(batch, read(empty_store(), batch), PROJECTOR, NOW)

    lines = len(chosen.facts)
    assert [(r.appended, r.skipped, r.conflicts) for r in decision.receipts] == [
        (lines, 0, 0),
        (0, 0, 1),
        (0, 0, 1),
    ]
    model = written(empty_store(), decision.writes)
    assert list(model["row_versions"].values()) == [
        {"version": "v0", "identity": "v0/c0", "inbox_id": 1}
    ]
    (conflict,) = model["row_conflicts"].values()  # recorded once
    assert (conflict["counted"], conflict["counted_inbox_id"]) == ("v0/c0", 1)
    assert (conflict["identity"], conflict["inbox_id"]) == ("v0/c1", 2)
    assert_split_decides_as_one(
        empty_store(), Batch([first, other]), Batch([again]), Batch([first, other, again])
    )


def test_a_bad_payload_is_kept_once_per_content_with_its_count() -> None:
    model = empty_store()
    first = Batch([bad(0, 0)])
    one = decide(first, read(model, first), PROJECTOR, NOW)
    model = written(model, one.writes)
    # The same content again (twice), and another content type.
    second = Batch([bad(1, 0), bad(2, 1), bad(3, 0)])
    two = decide(second, read(model, second), PROJECTOR, NOW)
    model = written(model, two.writes)

    assert [(r.inbox_id, r.quarantined, r.repeated) for r in one.receipts + two.receipts] == [
        (1, True, False),
        (1, True, True),
        (2, True, False),
        (1, True, True),
    ]
    assert {key[0]: row["received_count"] for key, row in model["inbox"].items()} == {1: 3, 2: 1}
    (minute,) = model["inbox_minutes"].values()
    assert minute["received"] == 4


def test_a_payload_replayed_out_of_quarantine_is_not_counted_again() -> None:
    """Once a replay accepted the kept copy, its content coming again unread
    is kept anew, in the same batch as in the next."""
    model = empty_store()
    zeroth = Batch([bad(0, 0)])
    model = written(model, decide(zeroth, read(model, zeroth), PROJECTOR, NOW).writes)
    facts = history_delivery(random.Random(4), 1).facts
    replay = Delivery(inbox=_entry("fixed"), facts=facts, replaying=1)
    batch = Batch([replay, bad(1, 0)])
    decision = decide(batch, read(model, batch), PROJECTOR, NOW)

    assert [(r.inbox_id, r.repeated) for r in decision.receipts] == [(1, False), (2, False)]
    assert_split_decides_as_one(model, Batch([replay]), Batch([bad(1, 0)]), batch)


def test_each_item_change_is_one_feed_entry_after_the_feeds_head() -> None:
    rng = random.Random(7)
    first = Batch(deliveries=[history_delivery(rng, n) for n in range(3)])
    model = empty_store()
    one = decide(first, read(model, first), PROJECTOR, NOW)
    model = written(model, one.writes)
    second = Batch(deliveries=[history_delivery(rng, n) for n in range(3, 6)])
    found = read(model, second)
    two = decide(second, found, PROJECTOR, NOW)
    model = written(model, two.writes)

    assert found.feed_head == one.feed_head > 0
    assert two.feed_head > one.feed_head
    feed = sorted(model["feed"].values(), key=lambda row: row["position"])
    assert len(feed) == two.feed_head
    for row in feed:
        entry = msgspec.json.decode(row["entry"])
        assert entry["id"] == f"{row['event_position']}-{row['subject']}" == row["id"]
        assert entry["type"] in ("invtrack.item.changed", "invtrack.item.deleted")
        assert entry["data"]["key"] == entry["subject"]
        assert set(entry["data"]["change"]) == {"eventType", "messageId", "source", "quantityDelta"}
    assert_feed_in_order(model)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**16))
def test_every_stored_event_carries_the_keys_its_stored_data_touches(seed: int) -> None:
    """Deliveries (counts annotated by the items fold among them), domain
    events appended as data and plain appends: the routing of each event row
    is `touched_keys` of the event its stored data reads back as; none for
    data that is no domain event."""
    rng = random.Random(seed)
    deliveries = [history_delivery(rng, n) for n in range(6)]
    as_data = [appended(usage(rng, 100 + n), f"as-data-{n}", as_data=True) for n in range(2)]
    batch = Batch(deliveries=deliveries, events=[*as_data, new_event(1, 0, None)])
    decision = decide(batch, read(empty_store(), batch), PROJECTOR, NOW)

    (rows,) = [write.rows for write in decision.writes if write.table.name == "events"]
    column = {name: n for n, name in enumerate(EVENT_COLUMNS)}
    decode = decoder()
    expected = []
    for row in rows:
        event = decode(row[column["type"]], row[column["schema_version"]], row[column["data"]])
        expected.append(None if event is None else touched_keys(event))
    assert [routing_keys(row[column["routing"]]) for row in rows] == expected
    assert [event.routing for event in decision.appended()] == expected
    assert expected[-1] is None
    assert all(keys is not None for keys in expected[:-1])
