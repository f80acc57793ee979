"""`invtrack serve` on PostgreSQL killed with SIGKILL while concurrent senders
deliver: every acknowledged envelope is stored exactly once and nothing is
half-written; after a restart, redelivering everything that was sent gives the
state a clean server reaches from the same deliveries."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from adapters import servicemobility
from adapters.store import connect
from tests.harness.deliveries import Line, UsageRow, post_json, usage_envelope
from tests.harness.reading import all_events, all_inbox, assert_projection_is_the_replay, listed
from tests.harness.server import Server
from tests.harness.soak import soak_only

LOCATIONS = [f"VAN-{n}" for n in range(5)]
WORK_ORDERS = [f"WO-{n}" for n in range(4)]


def workload(count: int, seed: int) -> list[dict[str, Any]]:
    """InventoryUsage envelopes whose balances do not depend on arrival order
    (adjustments and work orders, no counts); one in five also repeats an earlier
    row, as a new envelope redelivering a row does."""
    rng = random.Random(seed)
    envelopes: list[dict[str, Any]] = []
    rows: list[UsageRow] = []
    for n in range(count):
        fresh = []
        for r in range(rng.randint(1, 3)):
            location = rng.choice(LOCATIONS)
            lines = tuple(
                Line(location, f"P-{p}", str(rng.randint(0, 9)), str(rng.randint(0, 4)))
                for p in rng.sample(range(6), rng.randint(1, 3))
            )
            on_order = rng.random() < 0.4
            fresh.append(
                UsageRow(
                    f"rv-{n}-{r}",
                    lines,
                    ref_module="1002" if on_order else "1008",
                    ref_object=rng.choice(WORK_ORDERS) if on_order else location,
                )
            )
        repeated = [rng.choice(rows)] if rows and rng.random() < 0.2 else []
        rows.extend(fresh)
        envelopes.append(usage_envelope(f"crash-{seed}-{n}", [*fresh, *repeated]))
    return envelopes


@dataclass
class Outcomes:
    """What each sender saw: acknowledged envelopes, and those sent without an answer."""

    acked: set[int] = field(default_factory=set)
    unanswered: set[int] = field(default_factory=set)
    answers: dict[int, dict[str, Any]] = field(default_factory=dict)

    @property
    def sent(self) -> set[int]:
        return self.acked | self.unanswered


async def deliver(
    url: str,
    envelopes: list[dict[str, Any]],
    *,
    senders: int = 8,
    after_ack: Callable[[int], None] = lambda _: None,
) -> Outcomes:
    """Concurrent senders, each on its own connection, share the envelopes in
    order. A sender stops at its first request without an answer."""
    outcomes = Outcomes()
    queue = iter(range(len(envelopes)))

    async def sender() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=60) as client:
            for index in queue:
                try:
                    response = await post_json(
                        client, "/servicemobility/InventoryUsage/", envelopes[index]
                    )
                except httpx.HTTPError:
                    outcomes.unanswered.add(index)
                    return
                if response.status_code != 200:
                    outcomes.unanswered.add(index)
                    continue
                outcomes.answers[index] = response.json()
                assert response.json()["id"] == envelopes[index]["id"]
                outcomes.acked.add(index)
                after_ack(len(outcomes.acked))

    await asyncio.gather(*(sender() for _ in range(senders)))
    return outcomes


def facts_of(body: bytes) -> list[str]:
    envelope = servicemobility.read_envelope(body, "InventoryUsage")
    return [fact.dedupe_key for fact in servicemobility.translate(envelope)]


async def assert_stored_exactly_once(database_url: str, acked: list[dict[str, Any]]) -> None:
    """Each acknowledged envelope has one accepted inbox row and every ledger
    line once; every kept payload has all its lines (nothing half-written)."""
    store = connect(database_url)
    try:
        inbox = [row for row in await all_inbox(store) if row.status == "accepted"]
        events = await all_events(store)
    finally:
        await store.close()
    kept = Counter(row.message_id for row in inbox)
    assert all(kept[envelope["id"]] == 1 for envelope in acked), "acknowledged but not kept once"
    assert max(kept.values(), default=1) == 1
    stored = Counter(event.dedupe_key for event in events)
    assert max(stored.values(), default=1) == 1
    for row in inbox:
        missing = [key for key in facts_of(row.body) if key not in stored]
        assert not missing, f"{row.message_id} is half-written"
    known = {row.id for row in inbox}
    assert all(event.inbox_id in known for event in events)


async def balances(url: str) -> dict[str, tuple[str, str, str | None]]:
    """Each stock line's pool, quantity and owner. Which van last put a line into
    a work order depends on arrival order, so only the owner is compared."""
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
        items = [
            item
            for path in [
                *(f"/resources/{location}/inventories" for location in LOCATIONS),
                *(f"/activities/{order}/inventories" for order in WORK_ORDERS),
            ]
            for item in await listed(client, path, unknown_is_empty=True)
        ]
    return {
        item["key"]: (
            item["pool"],
            item["quantity"],
            item["resourceId"] if item["pool"] == "resource" else item["activityId"],
        )
        for item in items
    }


async def kill_under_load(
    start: Callable[..., Server], database_url: str, envelopes: list[dict[str, Any]], acks: int
) -> tuple[Server, Outcomes]:
    server = await asyncio.to_thread(start, database_url, "crashed")

    def kill_at(count: int) -> None:
        if count >= acks:
            server.kill()

    outcomes = await deliver(server.url, envelopes, after_ack=kill_at)
    assert not server.alive
    assert len(outcomes.acked) >= acks
    assert outcomes.unanswered, "the kill came after the last delivery"
    return server, outcomes


async def crash_and_recover(
    servers: Callable[..., Server],
    pg_databases: Callable[[], str],
    envelopes: list[dict[str, Any]],
    acks: int,
) -> None:
    crashed_url = await asyncio.to_thread(pg_databases)
    server, outcomes = await kill_under_load(servers, crashed_url, envelopes, acks)
    await assert_stored_exactly_once(crashed_url, [envelopes[i] for i in outcomes.acked])

    sent = sorted(outcomes.sent)
    await asyncio.to_thread(server.start)
    redelivered = await deliver(server.url, [envelopes[i] for i in sent])
    assert len(redelivered.acked) == len(sent)
    # What survived the crash, not a memory of it, recognises the repeats.
    repeats = [redelivered.answers[n] for n, i in enumerate(sent) if i in outcomes.acked]
    assert {(a["duplicate"], a["events"]) for a in repeats} == {(True, 0)}
    sent_envelopes = [envelopes[i] for i in sent]
    clean = await asyncio.to_thread(servers, await asyncio.to_thread(pg_databases), "clean")
    fed = await deliver(clean.url, sent_envelopes)
    assert len(fed.acked) == len(sent)

    assert await balances(server.url) == await balances(clean.url)
    await assert_stored_exactly_once(crashed_url, sent_envelopes)
    await assert_projection_is_the_replay(crashed_url, server.url)


async def test_a_killed_server_keeps_what_it_acknowledged(
    servers: Callable[..., Server], pg_databases: Callable[[], str]
) -> None:
    await crash_and_recover(servers, pg_databases, workload(360, seed=1), acks=120)


@pytest.mark.soak
@pytest.mark.timeout(3600)
@soak_only
async def test_repeated_kills_lose_nothing(
    servers: Callable[..., Server], pg_databases: Callable[[], str]
) -> None:
    for seed in range(10, 20):
        await crash_and_recover(servers, pg_databases, workload(1000, seed=seed), acks=300 + seed)
