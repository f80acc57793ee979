"""Two `invtrack serve` processes on one PostgreSQL database receive
interleaved and duplicated deliveries for the same items, concurrently: each
delivery takes effect once, and what both answer equals a replay of the store
(its events folded in store order)."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from adapters.store import connect
from tests.harness.deliveries import Line, UsageRow, ofs_event, path_of, post_json, usage_envelope
from tests.harness.reading import all_events, all_inbox, assert_projection_is_the_replay
from tests.harness.server import Server
from tests.harness.soak import soak_only

Delivery = dict[str, Any] | list[Any]

OFS_TRANSITIONS = [
    ("resourceInventoryCreated", {"status": "resource", "resourceId": "TECH_1"}),
    ("inventoryInstalled", {"status": "installed", "activityId": 4225599}),
    ("inventoryUndoInstall", {"status": "resource", "resourceId": "TECH_2"}),
    ("resourceInventoryUpdated", {"quantity": 3}),
    ("customerInventoryCreated", {"status": "customer"}),
    ("inventoryDeinstalled", {"status": "deinstalled"}),
    ("resourceInventoryDeleted", {}),
]


def deliveries(count: int, seed: int) -> list[Delivery]:
    """ServiceMobility usage (adjustments, work orders and counts, so that order
    matters) and OFS events, all on a few items, some rows repeated in new
    envelopes and some OFS events pushed again inside other arrays."""
    rng = random.Random(seed)
    made: list[Delivery] = []
    rows: list[UsageRow] = []
    events: list[dict[str, Any]] = []
    for n in range(count):
        if rng.random() < 0.6:
            location = rng.choice(["VAN-A", "VAN-B"])
            module = rng.choice(["1008", "1008", "1002", "1004"])
            line = Line(
                location,
                rng.choice(["CABLE", "MODEM"]),
                str(rng.randint(0, 5)),
                str(rng.randint(0, 3)),
                counted=str(rng.randint(0, 20)),
            )
            row = UsageRow(
                f"many-{seed}-{n}",
                (line,),
                ref_module=module,
                ref_object="WO-1" if module == "1002" else location,
                modified=f"2026-11-20T09:{n % 60:02d}:00Z",
            )
            repeat = [rng.choice(rows)] if rows and rng.random() < 0.3 else []
            rows.append(row)
            made.append(usage_envelope(f"many-{seed}-{n}", [row, *repeat]))
        else:
            inventory_id = rng.randint(1, 4)
            kind, changes = rng.choice(OFS_TRANSITIONS)
            event = ofs_event(inventory_id, kind, f"2026-11-20 10:{n % 60:02d}:{n % 7:02d}")
            event["inventoryChanges"].update(changes)
            again = [rng.choice(events)] if events and rng.random() < 0.3 else []
            events.append(event)
            made.append([event, *again])
    return made


async def send_to_both(
    urls: tuple[str, str], batch: list[Delivery], seed: int
) -> list[tuple[Delivery, list[dict[str, Any]]]]:
    """Each delivery to one process picked at random; one in three to both at
    the same moment. Eight senders at a time. Returns the answers per delivery."""
    rng = random.Random(seed)
    plan = [(d, rng.sample(urls, 2 if rng.random() < 0.33 else 1)) for d in batch]
    answers: list[tuple[Delivery, list[dict[str, Any]]]] = []
    gate = asyncio.Semaphore(8)
    async with (
        httpx.AsyncClient(base_url=urls[0], timeout=60) as first,
        httpx.AsyncClient(base_url=urls[1], timeout=60) as second,
    ):
        clients = {urls[0]: first, urls[1]: second}

        async def send(delivery: Delivery, targets: list[str]) -> None:
            async with gate:
                responses = await asyncio.gather(
                    *(post_json(clients[url], path_of(delivery), delivery) for url in targets)
                )
            for response in responses:
                assert response.status_code == 200, response.text
            answers.append((delivery, [response.json() for response in responses]))

        await asyncio.gather(*(send(delivery, targets) for delivery, targets in plan))
    return answers


async def run(
    servers: Callable[..., Server], pg_databases: Callable[[], str], count: int, seed: int
) -> None:
    database_url = await asyncio.to_thread(pg_databases)
    one, two = await asyncio.gather(
        asyncio.to_thread(servers, database_url, "one"),
        asyncio.to_thread(servers, database_url, "two"),
    )
    answers = await send_to_both((one.url, two.url), deliveries(count, seed), seed)

    for delivery, replies in answers:
        if isinstance(delivery, dict) and len(replies) == 2:
            # The same envelope at the same moment on two processes: taken once.
            assert sorted(reply["duplicate"] for reply in replies) == [False, True]
            assert min(reply["events"] for reply in replies) == 0

    store = connect(database_url)
    try:
        inbox = [row for row in await all_inbox(store) if row.status == "accepted"]
        events = await all_events(store)
    finally:
        await store.close()
    envelope_ids = Counter(row.message_id for row in inbox if row.source == "servicemobility")
    assert set(envelope_ids.values()) == {1}
    assert len(envelope_ids) == len([d for d in answers if isinstance(d[0], dict)])
    appended = sum(reply["events"] for _, replies in answers for reply in replies)
    assert appended == len(events)
    assert len({event.dedupe_key for event in events}) == len(events)

    for server in (one, two):
        assert await assert_projection_is_the_replay(database_url, server.url) > 0


async def test_two_processes_project_what_a_replay_folds(
    servers: Callable[..., Server], pg_databases: Callable[[], str]
) -> None:
    await run(servers, pg_databases, count=240, seed=3)


@pytest.mark.soak
@pytest.mark.timeout(3600)
@soak_only
async def test_two_processes_under_a_long_run(
    servers: Callable[..., Server], pg_databases: Callable[[], str]
) -> None:
    for seed in range(100, 110):
        await run(servers, pg_databases, count=1500, seed=seed)
