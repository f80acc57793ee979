"""Batches read and decided ahead on PostgreSQL, while the batch before them
writes and commits (adapters/store/postgres/ahead.py).

Consecutive batches touch the same stock lines, OFS items, streams and
message ids, so every batch decided ahead rests on rows the batch before it
writes. Whether it was written as decided ahead or decided again in its turn
(another process committed in between), the store ends as the replay of what
it holds: every acknowledged fact stored once, each payload once, the
projections equal to the fold of the stored events, positions gap-free and
stream versions consecutive.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from typing import Any

import pytest

from adapters.store import Delivery, InboxEntry, Receipt, Store, connect
from api.services.group_commit import Ingestor
from domain.events import Fact
from projections.live import LiveProjector
from projections.setup import prepare
from tests.harness.histories import T0, ofs_event, usage
from tests.harness.tables import active_tables, expect_replay, stored_events

ROUNDS = 12
PER_ROUND = 24


def delivery(rng: random.Random, n: int, message: int, ofs: bool) -> Delivery:
    """A payload of one or two facts on the few shared lines and items; its
    message id and first dedupe key may be those of an earlier payload."""
    makers = [usage, usage, ofs_event] if ofs else [usage]
    facts = [Fact(event=rng.choice(makers)(rng, n), dedupe_key=f"fact-{message}-0")]
    if rng.random() < 0.5:
        facts.append(Fact(event=usage(rng, n), dedupe_key=f"fact-{n}-1"))
    entry = InboxEntry(
        source="servicemobility",
        kind="InventoryUsage",
        body=b"{}",
        received_at=T0,
        message_id=f"msg-{message}",
        content_type="application/json",
    )
    return Delivery(inbox=entry, facts=tuple(facts), metadata={"source": "servicemobility"})


def rounds(seed: int, ofs: bool = False) -> list[list[Delivery]]:
    """Rounds of deliveries; a tenth repeat a message of an earlier round."""
    rng = random.Random(seed)
    done: list[list[Delivery]] = []
    n = 0
    for _ in range(ROUNDS):
        batch = []
        for _ in range(PER_ROUND):
            n += 1
            again = n > PER_ROUND and rng.random() < 0.1
            message = rng.randrange(1, n - PER_ROUND) if again else n
            batch.append(delivery(rng, n, message, ofs))
        done.append(batch)
    return done


async def submit_rounds(ingestor: Ingestor, batches: list[list[Delivery]]) -> list[Receipt]:
    """Each round submitted at once, the next one while it is being committed."""
    answers: list[asyncio.Task[Receipt]] = []
    for batch in batches:
        answers += [asyncio.create_task(ingestor.submit(item)) for item in batch]
        await asyncio.sleep(0)
    return list(await asyncio.gather(*answers))


async def expect_exactly_once(store: Store, receipts: list[Receipt]) -> None:
    events = await stored_events(store)
    assert [event.position for event in events] == list(range(1, len(events) + 1))
    assert len({event.dedupe_key for event in events}) == len(events)
    versions: dict[str, list[int]] = {}
    for event in events:
        versions.setdefault(event.stream_id, []).append(event.version)
    assert all(found == list(range(1, len(found) + 1)) for found in versions.values())
    # Every payload once: a repeated message id is answered as a duplicate.
    accepted = [r for r in receipts if not r.duplicate and r.inbox_id is not None]
    assert len({r.inbox_id for r in accepted}) == len(accepted)
    assert sum(r.appended for r in receipts) == len(events)
    assert Counter(r.duplicate for r in receipts)[True] > 0
    expect_replay(await active_tables(store), events)


@pytest.mark.parametrize("ofs", [False, True], ids=["stock lines", "with OFS items"])
async def test_batches_decided_ahead_on_the_rows_the_batch_before_writes(
    pg_url: str, ofs: bool
) -> None:
    """Stock lines only: batches are decided ahead. With OFS item events, whose
    stock rows are read a second time from what the first read found, a batch
    is read in its turn; the store ends the same either way."""
    store = connect(pg_url, projection=LiveProjector())
    try:
        await store.migrate()
        await prepare(store)
        assert store.batches_at_once == 2
        ingestor = Ingestor(store)
        await ingestor.start()
        receipts = await submit_rounds(ingestor, rounds(3, ofs))
        await ingestor.stop()
        writer = store.postgres_writer  # type: ignore[attr-defined]
        if not ofs:
            assert writer.ahead > 0
        await expect_exactly_once(store, receipts)
    finally:
        await store.close()


async def test_a_batch_decided_ahead_is_decided_again_when_another_process_wrote(
    pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two stores on one database, as two processes are: between the batch
    ahead's commit and the next batch's turn, the other one commits on the
    same lines. The batch decided ahead is decided again under the lock, and
    nothing is stored twice or lost."""
    first = connect(pg_url, projection=LiveProjector())
    second = connect(pg_url, projection=LiveProjector())
    try:
        await first.migrate()
        await prepare(first)
        await prepare(second)
        made = rounds(7)
        writer = first.postgres_writer  # type: ignore[attr-defined]
        read_ahead = writer._read_ahead
        between: list[Receipt] = []

        async def read_ahead_then_other_process(*args: Any) -> Any:
            early = await read_ahead(*args)
            # Waits for the append lock the batch ahead holds, then commits.
            between.extend(await second.commit(made[2][:4]))
            return early

        monkeypatch.setattr(writer, "_read_ahead", read_ahead_then_other_process)
        receipts = await asyncio.gather(first.commit(made[0]), first.commit(made[1]))
        assert (writer.ahead, writer.again) == (0, 1)
        await expect_exactly_once(first, [*receipts[0], *receipts[1], *between])
    finally:
        await first.close()
        await second.close()
