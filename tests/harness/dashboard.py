"""Data for the dashboard's tests: deliveries that give technicians, an
activity, customers, counts, a negative balance, owners whose ids hold `/`,
a payload holding `<script>`, and quarantined payloads (one that cannot be
read, one an older translator could not read)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Coroutine
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Final, TypeVar

import httpx

from adapters.store import Delivery, InboxEntry, connect
from tests.harness.deliveries import Line, UsageRow, ofs_event, usage_envelope
from tests.harness.fixtures import fixture
from tests.harness.tokens import relay, sender

SCRIPT: Final = '<script>alert("stock")</script>'
"""A product number no page may run."""

SLASHED_LOCATION: Final = "WH/01"
SLASHED_WORK_ORDER: Final = "WO/5521"
SLASHED_CUSTOMER: Final = "C/1009"

BROKEN_BODY: Final = json.dumps(
    {"id": "broken-1", "type": "InventoryUsage", "data": {"rows": [{"note": SCRIPT}]}}
).encode()
"""Valid JSON a receiver cannot read: it is quarantined, `<script>` and all."""


def _usage(envelope_id: str, rows: list[UsageRow]) -> dict[str, Any]:
    return usage_envelope(envelope_id, rows)


def deliveries() -> list[tuple[str, dict[str, Any] | list[Any]]]:
    """(path, body) of every delivery, in the order they are sent."""
    sent: list[tuple[str, dict[str, Any] | list[Any]]] = []
    for envelope in fixture("servicemobility", "01_load_then_work_order.json"):
        sent.append((f"/servicemobility/{envelope['type']}/", envelope))
    for envelope in fixture("servicemobility", "03_transfer_then_count.json"):
        sent.append((f"/servicemobility/{envelope['type']}/", envelope))
    sent.append(("/ofs/events", fixture("ofs", "01_exchange_and_non_serialized_install.page.json")))
    load = UsageRow(
        "wh-load",
        (Line(SLASHED_LOCATION, "CBL-CAT6", "20"), Line(SLASHED_LOCATION, SCRIPT, "1")),
        ref_module="1001",
        ref_object="LOAD-9",
        modified="2026-11-20T07:30:00Z",
    )
    job = UsageRow(
        "wh-job",
        (Line(SLASHED_LOCATION, "CBL-CAT6", quantity_out="2"),),
        ref_module="1002",
        ref_object=SLASHED_WORK_ORDER,
        modified="2026-11-20T10:00:00Z",
    )
    sent.append(("/servicemobility/InventoryUsage/", _usage("wh-1", [load, job])))
    at_customer = ofs_event(
        31000001,
        "customerInventoryCreated",
        "2026-11-20 12:00:00",
        status="customer",
        serialNumber="SN-C-1",
    )
    at_customer["activityDetails"].update(activityId=4300001, customerNumber=SLASHED_CUSTOMER)
    at_customer["inventoryChanges"]["activityId"] = 4300001
    sent.append(("/ofs/events", [at_customer]))
    return sent


def send_all(base_url: str) -> None:
    """Send every delivery to a running server; each must be accepted."""
    with httpx.Client(base_url=base_url, timeout=30) as client:
        for path, body in deliveries():
            headers = relay() if path == "/ofs/events" else sender()
            response = client.post(path, content=json.dumps(body).encode(), headers=headers)
            assert response.status_code == 200, (path, response.text)
        response = client.post(
            "/servicemobility/InventoryUsage/", content=BROKEN_BODY, headers=sender()
        )
        assert response.status_code == 400, response.text


REPLAYABLE_ID: Final = "replayable-1"


async def quarantine_readable(database_url: str) -> None:
    """Keep a payload that reads today in quarantine, as one an older
    translator turned down would be: a replay appends its events."""
    row = UsageRow(
        "replayable-row",
        (Line("VAN-77", "ONT-G240", "3"),),
        ref_module="1001",
        ref_object="LOAD-77",
    )
    body = json.dumps(_usage(REPLAYABLE_ID, [row])).encode()
    store = connect(database_url)
    try:
        entry = InboxEntry(
            source="servicemobility",
            kind="InventoryUsage",
            body=body,
            received_at=datetime.now(UTC),
            message_id=REPLAYABLE_ID,
            content_type="application/json",
            sender="webhook-reliability",
        )
        reason = "an older translator could not read it"
        await store.commit([Delivery(inbox=entry, rejected=reason)])
    finally:
        await store.close()


T = TypeVar("T")


def off_loop(work: Callable[..., T], *args: Any) -> T:
    """Call `work` in another thread and wait for it: the browser driver's
    event loop runs in this one, and `asyncio.run` refuses to run beside it."""
    with ThreadPoolExecutor(1) as pool:
        done: T = pool.submit(work, *args).result()
    return done


def in_thread(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to its end on a loop of its own, in another thread."""
    done: T = off_loop(asyncio.run, work)
    return done
