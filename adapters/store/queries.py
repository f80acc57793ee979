"""Reads of the projections, as values: what is wanted, never how.

Each value names what it answers (`Query[T]`: `store.fetch(query)` is a `T`)
and the projection whose active tables answer it. Each backend turns each
kind of value into its one statement, in one place; a rebuild's switch to new
tables is handled inside the store, so callers never see slots.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Generic, Literal, TypeVar

import msgspec

from adapters.store.feed import FeedOwnerKind, SnapshotItem
from adapters.store.projection_tables import COUNTS, HISTORY, ITEMS
from adapters.store.records import CountRecord, ItemRecord, StoredEvent
from adapters.store.summaries import FleetLine, Holding
from domain.items import Pool, Source

T = TypeVar("T")

OwnerKind = Literal["resource", "activity", "customer"]


class Query(msgspec.Struct, Generic[T], frozen=True, kw_only=True):
    """A read answered by the active tables of `projection`."""

    projection: ClassVar[str]


class ItemFilter(msgspec.Struct, frozen=True, kw_only=True):
    """The items one owner holds (not deleted), in some pools, of a source, of
    an OFS inventory type."""

    owner_kind: OwnerKind
    owner: str
    pools: tuple[Pool, ...] | None = None
    source: Source | None = None
    inventory_type: str | None = None


class ItemsQuery(Query[list[ItemRecord]], frozen=True, kw_only=True):
    """Up to `limit` items the filter holds now, by key, after the key `after`."""

    projection: ClassVar[str] = ITEMS
    where: ItemFilter
    after: str | None = None
    limit: int = 100


class ItemQuery(Query["ItemRecord | None"], frozen=True, kw_only=True):
    """One item now, None when no event named it."""

    projection: ClassVar[str] = ITEMS
    key: str


class FindQuery(Query[list[ItemRecord]], frozen=True, kw_only=True):
    """Items whose key is one of `keys` or whose serial number is `serial`, by key."""

    projection: ClassVar[str] = ITEMS
    keys: tuple[str, ...]
    serial: str
    limit: int = 50


class CandidatesQuery(Query[list[str]], frozen=True, kw_only=True):
    """The keys of every item an owner ever had (now or before), by key, after
    the key `after`: what an "as of" read folds."""

    projection: ClassVar[str] = ITEMS
    owner_kind: OwnerKind
    owner: str
    after: str = ""


class OwnersQuery(Query[list[str]], frozen=True, kw_only=True):
    """Owners of a kind any item ever had, holding `search` (case-insensitive),
    in order, after `after`."""

    projection: ClassVar[str] = ITEMS
    kind: OwnerKind
    search: str = ""
    after: str = ""
    limit: int = 100


class KnownOwnersQuery(Query[list[str]], frozen=True, kw_only=True):
    """Every owner of a kind an item has had, sorted; only owners of items of
    `source` when given, and only of items changed at or after `since` when
    given."""

    projection: ClassVar[str] = ITEMS
    kind: OwnerKind
    source: Source | None = None
    since: datetime | None = None


class OwnerSeenQuery(Query[bool], frozen=True, kw_only=True):
    """Whether an item ever had the owner (an event named it or a state held
    it): an owner never seen is unknown, one that holds nothing is empty."""

    projection: ClassVar[str] = ITEMS
    kind: OwnerKind
    owner: str


class FleetQuery(Query[list[FleetLine]], frozen=True, kw_only=True):
    """Every technician or storage location an item ever had, holding
    `search` (case-insensitive), with its stock summed up, by owner."""

    projection: ClassVar[str] = ITEMS
    search: str = ""


class HoldersQuery(Query[list[Holding]], frozen=True, kw_only=True):
    """Who holds the items (not deleted) whose ServiceMobility product number
    or OFS inventory type is `product`: a line per pool and holder, by pool
    then holder."""

    projection: ClassVar[str] = ITEMS
    product: str


class ProductsQuery(Query[list[str]], frozen=True, kw_only=True):
    """Product numbers and inventory types of any item holding `search`
    (case-insensitive), in order."""

    projection: ClassVar[str] = ITEMS
    search: str = ""
    limit: int = 50


class HistoryQuery(Query[list[StoredEvent]], frozen=True, kw_only=True):
    """The events that touched an item after a position, oldest first."""

    projection: ClassVar[str] = HISTORY
    key: str
    after: int = 0
    limit: int | None = None


class LinkedQuery(Query[list[tuple[str, StoredEvent]]], frozen=True, kw_only=True):
    """(key, event) for the events that touched any of `keys` with an event
    time at or before `until`, in position order."""

    projection: ClassVar[str] = HISTORY
    keys: tuple[str, ...]
    until: datetime


class CountsQuery(Query[list[CountRecord]], frozen=True, kw_only=True):
    """Counts, newest first: of a location, from `since`, before `until`,
    below the position `before`."""

    projection: ClassVar[str] = COUNTS
    location: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    before: int | None = None
    limit: int = 100


class SnapshotQuery(Query[list[SnapshotItem]], frozen=True, kw_only=True):
    """Up to `limit` items by key after the key `after`, each as it was at
    the feed's position `position` (every item a feed entry at or before it
    could name, deleted or not there yet included: the caller leaves those
    out). Only keys starting with one of `prefixes` when given, and only
    items that ever had one of the owners of each kind of `owners`."""

    projection: ClassVar[str] = ITEMS
    position: int
    after: str | None = None
    limit: int = 100
    prefixes: tuple[str, ...] = ()
    owners: tuple[tuple[FeedOwnerKind, tuple[str, ...]], ...] = ()
