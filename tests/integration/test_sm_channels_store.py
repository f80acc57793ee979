"""Webhook, export and re-extraction in any order, through the real store: each
row changes the projected balances once, as the webhook alone would."""

from __future__ import annotations

import asyncio
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.servicemobility_export.translate import EXPORT_KIND
from adapters.store import Delivery, InboxEntry
from api.services.group_commit import Ingestor
from api.services.payloads import read_servicemobility, read_servicemobility_export
from tests.harness.databases import migrated_store
from tests.harness.profiles import examples
from tests.harness.servicemobility import balances, ledger_lines
from tests.strategies import COUNT_FREE, sm_histories
from tests.unit.test_sm_channels import channels
from tests.unit.test_sm_translate import expected_balances


def delivery(channel: str, body: bytes) -> Delivery:
    if channel == "webhook":
        translated = read_servicemobility("InventoryUsage", body, "sender")
        kind = "InventoryUsage"
    else:
        translated = read_servicemobility_export(body, "sm-poll")
        kind = EXPORT_KIND
    return Delivery(
        inbox=InboxEntry(
            source="servicemobility",
            kind=kind,
            body=body,
            received_at=datetime.now(UTC),
            message_id=translated.message_id,
        ),
        facts=translated.facts,
        metadata=translated.metadata,
    )


async def deliver_all(rows: list[dict[str, Any]], arrivals: list[tuple[str, bytes]]) -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite+aiosqlite:///{Path(directory) / 'channels.db'}"
        async with migrated_store(url) as store:
            ingestor = Ingestor(store)
            for channel, body in arrivals:
                await ingestor.submit(delivery(channel, body))
            expected = expected_balances(rows)
            assert await balances(store, sorted(expected)) == expected
            assert await store.count() == ledger_lines(rows)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_store_counts_every_row_once_whichever_way_it_came(data: st.DataObject) -> None:
    rows = data.draw(sm_histories(COUNT_FREE, max_size=5), label="rows")
    arrivals = data.draw(channels(rows), label="arrivals")
    asyncio.run(deliver_all(rows, arrivals))
