"""Reconciling invtrack's OFS pools with what OFS reports now.

For each resource and activity named, both sides' items are listed: OFS's
through the Core API's inventory endpoints, invtrack's from the projection.
An item on one side only is looked up on the other wherever it is (OFS by its
`inventoryId`, invtrack by its key), so an item held elsewhere is reported as
the pool and owner it differs in, not as missing. Each item is compared once,
and every run is kept. Nothing here changes stock.

After an OFS subscription gap (`OfsSubscriptionGap`: events may have been
lost), `reconcile_after_gap` compares every resource and activity whose OFS
items changed in the days before the gap, so the drift the lost events left
is found and reported like any other run.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
import msgspec

from adapters.ofs.client import OfsClient
from adapters.ofs.inventory import InventoryReader
from adapters.ofs.poller import OfsPollerConfig, ofs_client
from adapters.store import Store, reading_after
from adapters.store.queries import ItemFilter, OwnerKind
from api.services.vendors import own_reads, own_store, poller_config
from api.settings import Settings
from domain.events import OfsSubscriptionGap
from domain.items import Item, Pool
from domain.reconciliation import (
    ACTIVITY_POOLS,
    Drift,
    Holding,
    Reconciliation,
    differences,
    holding_of,
)
from projections.items import item_of
from projections.queries import Queries

log = logging.getLogger("invtrack.reconcile")


class NothingToCompare(ValueError):
    """No resource or activity to compare (`--all-known` on a store that knows
    no OFS item yet)."""


class Targets(msgspec.Struct, frozen=True, kw_only=True):
    """What to compare: resources' pools and activities' pools, by id."""

    resources: tuple[str, ...] = ()
    activities: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.resources or self.activities)

    def __or__(self, other: Targets) -> Targets:
        return Targets(
            resources=tuple(dict.fromkeys(self.resources + other.resources)),
            activities=tuple(dict.fromkeys(self.activities + other.activities)),
        )


async def reconcile_ofs(
    queries: Queries,
    reader: InventoryReader,
    targets: Targets,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> Reconciliation:
    """Compare every item of the targets, on both sides."""
    started = clock()
    compared: dict[str, list[Drift]] = {}
    for resource in targets.resources:
        ours = await _ours(queries, "resource", resource, ("resource",))
        await _compare(compared, queries, reader, ours, await reader.resource(resource))
    for activity in targets.activities:
        ours = await _ours(queries, "activity", activity, ACTIVITY_POOLS)
        await _compare(compared, queries, reader, ours, await reader.activity(activity))
    return Reconciliation(
        source="ofs",
        started_at=started,
        finished_at=clock(),
        resources=targets.resources,
        activities=targets.activities,
        compared=len(compared),
        drifts=tuple(drift for key in sorted(compared) for drift in compared[key]),
    )


async def all_known(queries: Queries, *, since: datetime | None = None) -> Targets:
    """Every resource and activity invtrack has known an OFS item at (only of
    items changed at or after `since`, when given)."""
    return Targets(
        resources=tuple(await queries.known_owners("resource", "ofs", since=since)),
        activities=tuple(await queries.known_owners("activity", "ofs", since=since)),
    )


async def reconcile_after_gap(
    store: Store,
    config: OfsPollerConfig,
    gap: OfsSubscriptionGap,
    *,
    days: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> Reconciliation | None:
    """A run over the resources and activities whose OFS items changed in the
    `days` before the gap began, kept in the store; None when there are none."""
    begun = gap.since or gap.occurred_at
    queries = Queries(store)
    targets = await all_known(queries, since=begun - timedelta(days=days))
    if not targets:
        log.info("no OFS item changed in the %g days before the gap: nothing to reconcile", days)
        return None
    async with _client(ofs_client(config, transport)) as client:
        run = await reconcile_ofs(queries, InventoryReader(client, config), targets)
    kept = await store.record(run)
    log.warning(
        "reconciliation %s after the OFS subscription gap from %s to %s: "
        "%d items compared, %d differ",
        kept.id,
        gap.since or "the start",
        gap.occurred_at,
        kept.compared,
        kept.drifted,
    )
    return kept


async def run_reconciliation(
    settings: Settings, targets: Targets, *, everything: bool = False
) -> Reconciliation:
    """A run against the configured OFS instance, kept in the store; with
    `everything`, over every resource and activity invtrack knows besides the targets.

    Raises ValueError when OFS is not configured (NothingToCompare when there
    is no target), OfsRejected when it refuses us, OfsUnavailable when it
    cannot answer and TooManyPages when its listings do not end.
    """
    config = poller_config(settings)
    async with (
        own_store(settings) as store,
        own_reads(settings, store) as reads,
        _client(ofs_client(config)) as client,
    ):
        queries = Queries(reads)
        # Ours as fresh as the primary's when the run began, on a replica too.
        with reading_after(await store.head()):
            if everything:
                targets = targets | await all_known(queries)
            if not targets:
                raise NothingToCompare(
                    "nothing to compare: invtrack knows no OFS resource or activity yet"
                )
            run = await reconcile_ofs(queries, InventoryReader(client, config), targets)
        kept = await store.record(run)
    log.info(
        "reconciliation %s: %d items compared, %d differ", kept.id, kept.compared, kept.drifted
    )
    return kept


async def _ours(
    queries: Queries, kind: OwnerKind, owner: str, pools: tuple[Pool, ...]
) -> dict[str, Holding]:
    where = ItemFilter(owner_kind=kind, owner=owner, pools=pools, source="ofs")
    found: dict[str, Holding] = {}
    after: str | None = None
    while True:
        page = await queries.list_items(where, after=after, limit=1000)
        for item in page.items:
            holding = holding_of(item)
            if holding is not None:
                found[item.key] = holding
        if page.last_key is None:
            return found
        after = page.last_key


async def _compare(
    compared: dict[str, list[Drift]],
    queries: Queries,
    reader: InventoryReader,
    ours: dict[str, Holding],
    theirs: dict[str, Holding],
) -> None:
    for key in sorted(ours.keys() | theirs.keys()):
        if key in compared:
            continue
        mine = ours[key] if key in ours else holding_of(await _item(queries, key))
        other = theirs[key] if key in theirs else await reader.record(_inventory_id(key))
        compared[key] = differences(key, mine, other)


async def _item(queries: Queries, key: str) -> Item | None:
    record = await queries.item(key)
    return None if record is None else item_of(record)


def _inventory_id(key: str) -> int:
    """`ofs-21258547` -> 21258547."""
    return int(key.removeprefix("ofs-"))


@asynccontextmanager
async def _client(client: OfsClient) -> AsyncIterator[OfsClient]:
    try:
        yield client
    finally:
        await client.aclose()
