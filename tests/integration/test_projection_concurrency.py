"""Live projection under concurrent writers on PostgreSQL (architecture.md,
properties 2, 3 and 4).

Several Ingestors, each on its own engine as separate processes would be,
deliver to the same items at once; every delivery is sent by several
writers, so duplicates race each other. Afterwards each message and each fact
is stored once, a reader that tailed the store saw every event, and the live
projection is a replay of the store.
"""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.store import Delivery, Receipt, Store, StoredEvent, connect
from api.services.group_commit import Ingestor
from domain.events import DomainEvent, from_data
from domain.fold import fold, touched_keys
from domain.items import stock_line_key
from projections.live import LiveProjector
from projections.queries import Queries
from tests.integration.test_projection_properties import (
    assert_counts_were_annotated,
    live_items,
    ofs_delivery,
    read_everything,
    sm_delivery,
)
from tests.strategies import OFS_TIME, T0, encode, sm_envelope, sm_time

WRITERS = 8
SENDS_PER_DELIVERY = 3
COUNTED = "WH-01"
"""The only location with counts: its balances depend on order, the others' do not."""
PRODUCTS = ("CBL-CAT6", "FUSE-10A")
INVENTORY_IDS = (31000001, 31000002, 31000003)


def quantity(rng: random.Random) -> Decimal:
    return Decimal(rng.randint(0, 5000)).scaleb(-rng.randint(0, 2))


def usage_row(rng: random.Random, number: int) -> dict[str, Any]:
    location = rng.choice(["VAN-07", "VAN-09", COUNTED])
    module = rng.choice(["1001", "1002", "1003", "1008"] + ["1004", "1005"] * (location == COUNTED))
    items = [
        {
            "ProdNum": product,
            "SerialNum": "",
            "BatchNum": "",
            "InQty": quantity(rng),
            "OutQty": quantity(rng),
            "InventoryQty": quantity(rng),
        }
        for product in rng.sample(PRODUCTS, rng.randint(1, 2))
    ]
    return {
        "rowver": f"row-{number}",
        "InventoryUsage": {
            "UserID": "tech7",
            "ModifiedUTC": sm_time(T0 + timedelta(minutes=number)),
            "RefModule": module,
            "RefObjID": f"WO-{number % 3}" if module == "1002" else f"REF-{number}",
            "StorageLocations": [{"StorageLocationID": location, "Items": items}],
        },
    }


def ofs_event(rng: random.Random, number: int) -> dict[str, Any]:
    """An OFS event for one of a few records, any type, any order."""
    inventory_id = rng.choice(INVENTORY_IDS)
    kind = rng.choice(
        [
            "resourceInventoryCreated",
            "resourceInventoryUpdated",
            "resourceInventoryDeleted",
            "customerInventoryCreated",
            "customerInventoryUpdated",
            "inventoryInstalled",
            "inventoryDeinstalled",
            "inventoryUndoInstall",
            "inventoryUndoDeinstall",
        ]
    )
    changes: dict[str, Any] = {"inventoryId": inventory_id, "quantity": quantity(rng)}
    if rng.random() < 0.5:
        changes["XA_CONDITION"] = rng.choice(["new", "damaged"])
    return {
        "eventType": kind,
        "time": (T0 + timedelta(minutes=number)).strftime(OFS_TIME),
        "user": "jsmith",
        "activityDetails": {
            "activityId": 4225599 + number % 2,
            "resourceId": "TECH_017",
            "customerNumber": "C-1009",
        },
        "inventoryDetails": {"inventoryId": inventory_id, "inventoryType": "CABLE"},
        "inventoryChanges": changes,
    }


def workload(rng: random.Random) -> tuple[list[Delivery], list[dict[str, Any]]]:
    """Deliveries touching a few shared items, and the distinct usage rows in them."""
    rows = [usage_row(rng, number) for number in range(80)]
    envelopes = [sm_envelope(f"sm-{n}", [row]) for n, row in enumerate(rows)]
    # The same rows again inside other envelopes: only line keys tell them apart.
    envelopes += [sm_envelope(f"sm-again-{n}", rng.sample(rows, 3)) for n in range(20)]
    raw = [ofs_event(rng, number) for number in range(60)]
    bodies = [encode(event) for event in raw]
    # Overlapping pages: every event twice more, in other bodies.
    bodies += [
        encode({"found": True, "nextPage": str(start), "items": raw[start : start + 4]})
        for start in range(0, len(raw), 2)
    ]
    deliveries = [sm_delivery(envelope) for envelope in envelopes]
    deliveries += [ofs_delivery(body) for body in bodies]
    assert all(delivery.rejected is None for delivery in deliveries)
    return deliveries, rows


@asynccontextmanager
async def ingestors(url: str, count: int) -> AsyncIterator[list[tuple[Ingestor, bool]]]:
    """Ingestors on separate engines, and whether each commits in groups (every other one)."""
    async with AsyncExitStack() as stack:
        started: list[tuple[Ingestor, bool]] = []
        stores: list[Store] = []
        for number in range(count):
            store = connect(url, pool_size=2, projection=LiveProjector())
            stack.push_async_callback(store.close)
            stores.append(store)
            ingestor = Ingestor(store)
            grouped = number % 2 == 1
            if grouped:
                await ingestor.start()
                stack.push_async_callback(ingestor.stop)
            started.append((ingestor, grouped))
        await asyncio.gather(*(store.head() for store in stores))
        yield started


async def send(
    ingestor: Ingestor, grouped: bool, deliveries: Sequence[Delivery], go: asyncio.Event
) -> list[tuple[Delivery, Receipt]]:
    await go.wait()
    if grouped:  # everything queued at once, committed in groups
        receipts = await asyncio.gather(*(ingestor.submit(d) for d in deliveries))
        return list(zip(deliveries, receipts, strict=True))
    return [(delivery, await ingestor.submit(delivery)) for delivery in deliveries]


async def tail(store: Store, done: asyncio.Event) -> list[StoredEvent]:
    """A reader following the store by position, as a catch-up projection does."""
    seen: list[StoredEvent] = []
    while True:
        finished = done.is_set()
        seen += await store.read_events(seen[-1].position if seen else 0, 200)
        if finished:
            while batch := await store.read_events(seen[-1].position if seen else 0, 200):
                seen += batch
            return seen
        await asyncio.sleep(0)


def sums(rows: Sequence[dict[str, Any]]) -> dict[str, Decimal]:
    """Balances that do not depend on order: the count-free locations' and the
    install pools', sums of each distinct line."""
    balances: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        usage = row["InventoryUsage"]
        for location in usage["StorageLocations"]:
            where = location["StorageLocationID"]
            for item in location["Items"]:
                if where != COUNTED:
                    key = stock_line_key("resource", where, item["ProdNum"], None, None)
                    balances[key] += item["InQty"] - item["OutQty"]
                if usage["RefModule"] == "1002" and item["OutQty"] != 0:
                    installed = stock_line_key(
                        "install", usage["RefObjID"], item["ProdNum"], None, None
                    )
                    balances[installed] += item["OutQty"]
    return dict(balances)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_concurrent_writers_and_racing_duplicates_keep_live_equal_to_replay(
    pg_store: Store, pg_url: str, seed: int
) -> None:
    rng = random.Random(seed)
    deliveries, rows = workload(rng)
    plans: list[list[Delivery]] = [[] for _ in range(WRITERS)]
    for delivery in deliveries:
        for writer in rng.sample(range(WRITERS), SENDS_PER_DELIVERY):
            plans[writer].append(delivery)
    for plan in plans:
        rng.shuffle(plan)

    go, done = asyncio.Event(), asyncio.Event()
    async with ingestors(pg_url, WRITERS) as writers:
        tailer = asyncio.create_task(tail(pg_store, done))
        sending = [
            send(writer, grouped, plan, go)
            for (writer, grouped), plan in zip(writers, plans, strict=True)
        ]
        go.set()
        results = [pair for sent in await asyncio.gather(*sending) for pair in sent]
        done.set()
        tailed = await tailer

    stored = await read_everything(pg_store)

    # Every message accepted once, every fact stored once, whoever won the race.
    messages = {(d.inbox.source, d.inbox.message_id) for d in deliveries if d.inbox}
    assert sum(not receipt.duplicate for _, receipt in results) == len(messages)
    assert (await pg_store.inbox_counts()).get("accepted") == len(messages)
    facts = {fact.dedupe_key for delivery in deliveries for fact in delivery.facts}
    assert sorted(event.dedupe_key for event in stored) == sorted(facts)
    assert sum(receipt.appended for _, receipt in results) == len(stored)

    # A reader that followed the store while it was written saw every event.
    assert [event.position for event in tailed] == [event.position for event in stored]

    # Replay equals live.
    replayed: list[tuple[int, DomainEvent]] = [
        (event.position, from_data(event.data)) for event in stored
    ]
    live = await live_items(pg_store)
    assert live == fold(replayed)
    for key, balance in sums(rows).items():
        assert live[key].quantity == balance

    # Counts were annotated against the state right before them, in store order.
    assert_counts_were_annotated(replayed)

    # Item histories link every event that touched the item, in store order.
    queries = Queries(pg_store)
    for key in live:
        history = await queries.history(key)
        assert history is not None
        assert [event.position for event in history] == [
            position for position, event in replayed if key in touched_keys(event)
        ]

    # The projection's checkpoint is the last event.
    checkpoints = {row.position for row in await pg_store.registered() if row.state == "active"}
    assert checkpoints == {stored[-1].position}
