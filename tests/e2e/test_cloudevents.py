"""ServiceMobility webhooks in both CloudEvents content modes, as the
CloudEvents SDK sends them: structured (the JSON body holds every attribute)
and binary (attributes in `ce-*` headers, the data as the body). Both are
kept raw and deduplicated by `id` alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cloudevents.core.bindings.http import to_binary_event, to_structured_event
from cloudevents.core.v1.event import CloudEvent

from adapters.store import Delivery, InboxEntry
from api.services.replay import replay_quarantine
from tests.harness.deliveries import Line, UsageRow, usage_envelope
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import reader, sender

PATH = "/servicemobility/InventoryUsage/"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        yield app


def event(event_id: str, product: str) -> CloudEvent:
    data: dict[str, Any] = usage_envelope(
        event_id, [UsageRow(f"{event_id}-row", (Line("VAN-9", product, quantity_in="3"),))]
    )["data"]
    attributes = {
        "id": event_id,
        "type": "InventoryUsage",
        "source": "5ad09380-8258-4d84-a440-e2d35043ae92",
        "specversion": "1.0",
        "time": datetime(2026, 11, 20, 9, 20, tzinfo=UTC),
        "datacontenttype": "application/json",
    }
    return CloudEvent(attributes=attributes, data=data)


async def post(live: Live, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    token = sender()["x-access-token"]
    response = await live.client.post(
        PATH, content=body, headers={**headers, "x-access-token": token}
    )
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def test_both_content_modes_are_accepted_kept_and_deduplicated(live: Live) -> None:
    structured = to_structured_event(event("ce-structured", "P-1"))
    binary = to_binary_event(event("ce-binary", "P-2"))
    assert "ce-id" in binary.headers
    assert binary.headers["content-type"] == "application/json"

    assert (await post(live, structured.headers, structured.body))["events"] == 1
    assert await post(live, binary.headers, binary.body) == {
        "status": "accepted",
        "id": "ce-binary",
        "duplicate": False,
        "events": 1,
    }
    # The same ids again, each in the other mode: duplicates, nothing appended.
    again_binary = to_binary_event(event("ce-structured", "P-1"))
    again_structured = to_structured_event(event("ce-binary", "P-2"))
    for message in (again_binary, again_structured):
        answer = await post(live, message.headers, message.body)
        assert (answer["duplicate"], answer["events"]) == (True, 0)

    kept = await live.store.inbox_entries("accepted")
    assert [row.body for row in kept] == [structured.body, binary.body]
    assert kept[1].headers["ce-id"] == "ce-binary"
    stock = await live.client.get("/resources/VAN-9/inventories", headers=reader())
    assert sorted(item["quantity"] for item in stock.json()["items"]) == ["3", "3"]


async def test_a_binary_event_of_another_type_than_the_path_is_a_400(live: Live) -> None:
    binary = to_binary_event(event("ce-wrong-type", "P-3"))
    headers = {**binary.headers, "ce-type": "WorkOrder", **sender()}

    response = await live.client.post(PATH, content=binary.body, headers=headers)

    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "$.type"


async def test_a_quarantined_binary_mode_payload_is_read_again_with_its_headers(
    live: Live,
) -> None:
    """What an older translator could not read is replayed as its receiver
    reads it: the attributes come from the `ce-*` headers kept beside it."""
    binary = to_binary_event(event("ce-kept", "P-3"))
    entry = InboxEntry(
        source="servicemobility",
        kind="InventoryUsage",
        body=binary.body,
        received_at=datetime(2026, 11, 20, 9, 21, tzinfo=UTC),
        content_type="application/json",
        headers={name.lower(): value for name, value in binary.headers.items()},
    )
    await live.store.commit([Delivery(inbox=entry, rejected="an older translator failed")])

    done = await replay_quarantine(live.store)

    assert (done.tried, done.accepted, done.events) == (1, 1, 1)
    (kept,) = await live.store.inbox_entries("accepted")
    assert kept.message_id == "ce-kept"
