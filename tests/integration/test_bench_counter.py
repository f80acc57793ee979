"""The benchmark's store check counts exactly what one run stored: the payloads
its own sender signed, and their events, never those of the run before it
that are still being committed when it starts."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from adapters import servicemobility
from adapters.store import Delivery, InboxEntry, Store
from api.services.group_commit import Ingestor
from bench.ingest import sender
from bench.stores import Grown, StoreCounter
from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.strategies import encode


def delivery(envelope_id: str, signed_by: str, rows: int = 1) -> Delivery:
    envelope = usage_envelope(
        envelope_id,
        [
            UsageRow(f"{envelope_id}-{n}", (Line("TECH_001", "CBL-CAT6", quantity_in="1"),))
            for n in range(rows)
        ],
    )
    body = encode(envelope)
    facts = servicemobility.translate(servicemobility.read_envelope(body, "InventoryUsage"))
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=body,
            received_at=datetime.now(UTC),
            message_id=envelope_id,
            sender=signed_by,
        ),
        facts=tuple(facts),
    )


async def test_a_run_counts_its_own_payloads_and_events(store: Store, database_url: str) -> None:
    counter = StoreCounter(database_url)
    ingestor = Ingestor(store)
    warm_up, measured = sender(1), sender(2)
    await ingestor.submit(delivery("warm-1", warm_up))
    before = await asyncio.to_thread(counter.mark)
    # The warm-up's last payload, still queued in the server, commits after the mark.
    await ingestor.submit(delivery("warm-2", warm_up, rows=3))
    for n in range(4):
        await ingestor.submit(delivery(f"measured-{n}", measured, rows=2))

    grown = await asyncio.to_thread(counter.grown, before, measured)

    assert grown == Grown(events=8, deliveries=4, strays=1)
