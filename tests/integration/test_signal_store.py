"""The stock signals kept by the store equal a plain recomputation from the
full history (`tests.signal_oracle`), on SQLite and on PostgreSQL: random
interleavings of usage (counts and transfers included), OFS item events,
recommendations (new and stored as documents by earlier builds), par levels
set by hand and required inventories, appended in random batches. The
low-stock list (read page by page), every van's pick list, the belowMin /
restored entries of the change feed, the transfers and the readiness of
every activity are the oracle's; after `invtrack rebuild` the lists are
again, and the crossings the rebuild folds are the ones the feed holds.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import msgspec
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.store import NewEvent, Store
from adapters.store.feed import FeedFilter, FeedQuery
from domain.events import event_type, from_data, to_data
from domain.fold import stream_of
from projections.rebuild import rebuild
from projections.signal_reads import SignalReads
from tests import signal_oracle as oracle
from tests.harness.profiles import examples
from tests.signal_strategies import RESOURCES, batch_cuts, signal_histories
from tests.strategies import T0

EXAMPLES = settings(
    max_examples=examples(10),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
WINDOW = timedelta(hours=24)
NOWS = (T0, T0 + timedelta(hours=20), T0 + timedelta(days=3))
SIGNAL_TYPES = ("invtrack.stock.belowMin", "invtrack.stock.restored")


async def wipe(store: Store) -> None:
    async with store.maintaining(locked=True) as maintenance:
        kept = {"projections", "alembic_version"}
        await maintenance.empty(await maintenance.table_names() - kept)


async def append(store: Store, history: oracle.Stored, cuts: list[int]) -> oracle.Stored:
    """The history appended in batches; as stored, with the store's positions."""
    events = [
        NewEvent(
            stream_id=stream_of(event),
            type=event_type(event),
            data=event,
            occurred_at=event.occurred_at,
            dedupe_key=f"signal-{n}",
        )
        for n, (_, event, _) in enumerate(history)
    ]
    positions: list[int] = []
    for start, end in zip([0, *cuts], [*cuts, len(events)], strict=True):
        positions += [stored.position for stored in await store.append(events[start:end])]
    return [
        (position, event, happening)
        for position, (_, event, happening) in zip(positions, history, strict=True)
    ]


async def low_list(reads: SignalReads) -> list[tuple[Any, ...]]:
    """The whole low-stock list, two entries a page."""
    found: list[tuple[Any, ...]] = []
    after = None
    while True:
        page = await reads.low_stock(after=after, limit=2)
        found += [
            (e.resource_id, e.product, e.on_hand, e.min, e.target, e.shortfall, e.since)
            for e in page.entries
        ]
        if page.last is None:
            return found
        after = page.last


async def feed_signals(store: Store) -> list[tuple[Any, ...]]:
    where = FeedFilter(types=SIGNAL_TYPES)
    page = await store.read_feed(FeedQuery(limit=1000, where=where))
    found = []
    for entry in page.entries:
        served = msgspec.json.decode(entry.entry)
        data = served["data"]
        position = int(served["id"].split("-", 1)[0])
        resource, product = data["resourceId"], data["product"]
        assert served["subject"] == f"{resource}/{product}"
        found.append(
            (
                served["type"],
                resource,
                product,
                Decimal(data["onHand"]),
                Decimal(data["min"]),
                Decimal(data["target"]),
                served["time"],
                position,
            )
        )
    return found


def expected_signals(expected: oracle.Oracle) -> list[tuple[Any, ...]]:
    return [
        (*signal[:6], signal[6].isoformat().replace("+00:00", "Z"), signal[7])
        for signal in expected.signals
    ]


async def assert_lists(reads: SignalReads, history: oracle.Stored) -> None:
    expected = oracle.stock(history)
    assert await low_list(reads) == oracle.low_list(expected)
    for resource in RESOURCES:
        picks = [
            (line.product, line.on_hand, line.target, line.load)
            for line in await reads.restock(resource)
        ]
        assert picks == oracle.pick_list(expected, resource)
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
            for transfer, status in await reads.transfers(now, WINDOW)
        ]
        assert found == oracle.transfers(history, now, WINDOW)
    ready = oracle.readiness(history, expected.on_hand)
    for activity, (resource, date, status, lines) in ready.items():
        answer = await reads.readiness(activity)
        assert answer is not None
        got = tuple((x.product, x.required, x.available, x.missing) for x in answer.lines)
        assert (answer.resource_id, answer.date, answer.status, got) == (
            resource,
            date,
            status,
            lines,
        )


@EXAMPLES
@given(data=st.data(), happenings=signal_histories(max_parts=8))
async def test_the_stored_signals_equal_the_recomputation_and_again_after_a_rebuild(
    store: Store, data: st.DataObject, happenings: Any
) -> None:
    await wipe(store)
    history = [
        (position, from_data(to_data(event)), happening)
        for position, event, happening in oracle.stored(happenings)
    ]
    cuts = data.draw(batch_cuts(len(history)), label="cuts")
    history = await append(store, history, cuts)
    reads = SignalReads(store)

    await assert_lists(reads, history)
    entries = await feed_signals(store)
    assert entries == expected_signals(oracle.stock(history))

    await rebuild(store, reader_grace=0)
    await assert_lists(reads, history)
    assert await feed_signals(store) == entries
