"""Generated histories of both sources, as deliveries, and what a replay of
stored events makes of them."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from adapters.store import Delivery, InboxEntry, NewEvent
from api.services.group_commit import Ingestor
from domain.events import (
    OFS_INVENTORY_EVENTS,
    DocumentRecorded,
    DomainEvent,
    Fact,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    StockRef,
    StockUsageRecorded,
    event_type,
    to_data,
)
from domain.fold import stream_of

T0 = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LOCATIONS = ("VAN-01", "VAN-02", "WH-01")
PRODUCTS = ("CBL-CAT6", "FUSE-10A", "MODEM-X")
INVENTORY_IDS = tuple(range(41_000_001, 41_000_013))
BATCH = 20
"""Small batches: every test history spans many of them."""


# --------------------------------------------------------------------------
# Deliveries built from domain events


def usage(rng: random.Random, n: int) -> StockUsageRecorded:
    module = rng.choice(["1001", "1002", "1002", "1003", "1004", "1008"])
    return StockUsageRecorded(
        occurred_at=T0 + timedelta(minutes=n),
        location=rng.choice(LOCATIONS),
        product=rng.choice(PRODUCTS),
        serial=rng.choice([None, "SN-1"]),
        quantity_in=Decimal(rng.randint(0, 5)),
        quantity_out=Decimal(rng.randint(0, 3)),
        reported_quantity=Decimal(rng.randint(0, 9)),
        ref_module=module,
        ref_object=f"WO-{n % 4}" if module == "1002" else f"REF-{n}",
    )


def ofs_event(rng: random.Random, n: int) -> DomainEvent:
    kind = rng.choice(list(OFS_INVENTORY_EVENTS.values()))
    activity = OfsActivity(
        activity_id=4_225_599 + n % 3,
        resource_id=rng.choice(["TECH_017", "TECH_018"]),
        customer_number=rng.choice(["C-1009", "C-1010"]),
    )
    event = kind(
        occurred_at=T0 + timedelta(minutes=n),
        inventory_id=rng.choice(INVENTORY_IDS),
        details=OfsDetails(inventory_type="CABLE", quantity=Decimal(rng.randint(1, 4))),
        changes=OfsChanges(
            properties={"XA_CONDITION": rng.choice(["new", "damaged"])}
            if rng.random() < 0.3
            else {}
        ),
        activity=activity if rng.random() < 0.8 else None,
    )
    assert not isinstance(event, StockUsageRecorded | DocumentRecorded)
    return event  # type: ignore[return-value]


def document(rng: random.Random, n: int) -> DocumentRecorded:
    return DocumentRecorded(
        occurred_at=T0 + timedelta(minutes=n),
        document_type="LoadInventory",
        document_id=f"L-{n}",
        mentions=(StockRef(location=rng.choice(LOCATIONS), product=rng.choice(PRODUCTS)),),
    )


def delivery(rng: random.Random, n: int) -> Delivery:
    """One to three facts; now and then one that was delivered before."""
    source = rng.choice(["servicemobility", "ofs"])
    makers: dict[str, list[Callable[[random.Random, int], DomainEvent]]] = {
        "servicemobility": [usage, usage, document],
        "ofs": [ofs_event],
    }
    make = makers[source]
    facts = [
        Fact(event=rng.choice(make)(rng, n), dedupe_key=f"fact-{n}-{part}")
        for part in range(rng.randint(1, 3))
    ]
    if n > 5 and rng.random() < 0.1:
        # A fact seen before keeps its first event: this one is skipped.
        facts.append(Fact(event=usage(rng, n), dedupe_key=f"fact-{n - 5}-0"))
    entry = InboxEntry(
        source=source,
        kind="InventoryUsage" if source == "servicemobility" else "events",
        body=b"{}",
        received_at=T0,
        message_id=f"msg-{n}",
        content_type="application/json",
    )
    return Delivery(inbox=entry, facts=tuple(facts), metadata={"source": source})


def appended(event: DomainEvent, key: str, *, as_data: bool = False) -> NewEvent:
    """A domain event appended on its own under a dedupe key: as the event, or
    `as_data` as its data (a dict), as a plain `append` may give it."""
    return NewEvent(
        stream_id=stream_of(event),
        type=event_type(event),
        data=to_data(event) if as_data else event,
        occurred_at=event.occurred_at,
        dedupe_key=key,
    )


def deliveries(seed: int, start: int, count: int) -> list[Delivery]:
    rng = random.Random(seed)
    return [delivery(rng, n) for n in range(start, start + count)]


async def submit_all(ingestor: Ingestor, batch: Sequence[Delivery]) -> None:
    """Submit concurrently, so the Ingestor groups them into shared commits."""
    await asyncio.gather(*(ingestor.submit(item) for item in batch))
