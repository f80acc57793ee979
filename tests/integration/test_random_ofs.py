"""`ofs-poll --once` and `reconcile ofs` against an OFS whose answers are
random but valid by Oracle's loadable files (tests.fakes.random_ofs), on
SQLite and on PostgreSQL, over several seeds: both finish on their own; the
poller reads each page once per run, quarantines exactly the events that
cannot be taken (each once, its own bytes) and stores every other one; the
reconciliation ends with a run or a clear error, within its page bound. The
fake checks every request invtrack sends against the files as it goes."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import msgspec
import pytest

from adapters.ofs.client import OfsError
from adapters.ofs.inventory import InventoryReader
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.poller import OfsPoller, OfsPollerConfig, ofs_client
from adapters.ofs.translate import TranslationError, translate_event
from adapters.store import Store
from api.services.group_commit import Ingestor
from api.services.reconciling import Targets, all_known, reconcile_ofs
from domain.reconciliation import Reconciliation
from projections.queries import Queries
from tests.fakes.random_ofs import RandomOfs
from tests.integration.test_ofs_poller import config

GUARD = 120.0
SEEDS = range(8)


def poller_config(fake: RandomOfs) -> OfsPollerConfig:
    credentials = OfsCredentials(
        client_id=fake.client_id,
        instance=fake.instance,
        client_secret=fake.secret,
        grant="client_credentials",
    )
    return config(credentials=credentials, max_pages=100, max_wait=5.0)


def oracle(fake: RandomOfs) -> tuple[Counter[bytes], set[str]]:
    """The events served that cannot be taken (their bytes), and the dedupe
    keys of the ones that can."""
    bad: Counter[bytes] = Counter()
    good: set[str] = set()
    for _, page in fake.served:
        for item in page.get("items", []):
            raw = msgspec.json.encode(item)
            try:
                good.add(translate_event(raw).dedupe_key)
            except TranslationError:
                bad[raw] += 1
    return bad, good


@pytest.mark.parametrize("seed", SEEDS)
async def test_poll_and_reconcile_against_random_valid_answers(store: Store, seed: int) -> None:
    fake = RandomOfs(seed=seed)
    transport = httpx.ASGITransport(app=fake)
    settings = poller_config(fake)
    ofs = OfsPoller(settings, store, Ingestor(store).submit, transport=transport)
    async with ofs:
        await asyncio.wait_for(ofs.run(asyncio.Event(), once=True), GUARD)

    # Each page once per run: no marker asked for twice.
    markers = [marker for marker, _ in fake.served]
    assert len(markers) == len(set(markers)), markers
    bad, good = oracle(fake)
    kept = await store.inbox_entries("quarantined", limit=10_000)
    assert Counter(entry.body for entry in kept) == bad
    assert all((entry.reason or "").startswith("items[") for entry in kept)
    assert await store.count() == len(good)
    # One token for the run, whatever lifetime the answers stated.
    assert len(fake.oauth.grants) == 1

    # A second run finishes too, and keeps no page twice.
    served = len(fake.served)
    async with OfsPoller(settings, store, Ingestor(store).submit, transport=transport) as again:
        await asyncio.wait_for(again.run(asyncio.Event(), once=True), GUARD)
    markers = [marker for marker, _ in fake.served[served:]]
    assert len(markers) == len(set(markers)), markers

    queries = Queries(store)
    targets = await all_known(queries) or Targets(resources=("TECH_017",), activities=("4225599",))
    client = ofs_client(settings, transport)
    reader = InventoryReader(client, settings)
    outcome: object
    try:
        outcome = await asyncio.wait_for(reconcile_ofs(queries, reader, targets), GUARD)
    except OfsError as error:
        outcome = error  # a clear error: a record that is not the one asked for, ...
    finally:
        await client.aclose()
    assert isinstance(outcome, Reconciliation) or str(outcome)
    assert reader.pages <= settings.max_pages
