"""What the overview opens on: tiles saying what needs action, each a count
that links to its list.

A tile is an async function of the overview's context answering a `Tile`,
or None when its signal is not there (the tile is then left out, never shown
with a made-up number). Tiles register with `@needs_action(order)`; a page
module that brings a new signal adds its tile in the same way, and the
overview shows it where its order puts it."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Final

import msgspec

from adapters.store import Store
from api.signal_settings import SignalSettings
from projections.queries import Queries
from projections.status import Status

LAGGING: Final = 1000
"""Feed entries a push subscription may be behind before it is in trouble."""


class Tile(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    """A name for the tile's element ids (letters and dashes)."""
    title: str
    count: int | Decimal
    """A number of things, or of units (whole units as an int)."""
    href: str
    note: str = ""
    warn: bool = False
    """The count is a problem: shown as one when above zero."""


class Context(msgspec.Struct, frozen=True, kw_only=True):
    """What tiles read."""

    store: Store
    queries: Queries
    status: Status
    signal_settings: SignalSettings = SignalSettings()


TileSource = Callable[[Context], Awaitable[Tile | None]]

_REGISTERED: list[tuple[int, TileSource]] = []


def needs_action(order: int) -> Callable[[TileSource], TileSource]:
    """Register a tile; tiles show by `order`, lowest first."""

    def register(source: TileSource) -> TileSource:
        _REGISTERED.append((order, source))
        _REGISTERED.sort(key=lambda entry: entry[0])
        return source

    return register


async def tiles(context: Context) -> list[Tile]:
    """Every registered tile whose signal is there, in order."""
    found = await asyncio.gather(*(source(context) for _, source in _REGISTERED))
    return [tile for tile in found if tile is not None]


def plural(count: int | Decimal, one: str, many: str) -> str:
    return one if count == 1 else many


@needs_action(10)
async def negative_lines(context: Context) -> Tile:
    fleet = await context.queries.fleet()
    vans = [line for line in fleet if line.negative]
    lines = sum(line.negative for line in vans)
    return Tile(
        name="negative",
        title="Vans with negative lines",
        count=len(vans),
        href="/ui/resources?negative=1&sort=negative&order=desc",
        note=f"{lines} {plural(lines, 'line', 'lines')} below zero in all",
        warn=True,
    )


@needs_action(80)
async def quarantined(context: Context) -> Tile:
    count = context.status.inbox.get("quarantined", 0)
    return Tile(
        name="quarantined",
        title="Quarantined payloads",
        count=count,
        href="/ui/quarantine",
        note="payloads invtrack could not read",
        warn=True,
    )


@needs_action(90)
async def subscriptions_in_trouble(context: Context) -> Tile | None:
    subscriptions = await context.store.subscriptions()
    if not subscriptions:
        return None
    head = await context.store.feed_head()
    troubled = [
        each
        for each in subscriptions
        if each.state == "parked"
        or each.failing_since is not None
        or head - each.position > LAGGING
    ]
    parked = sum(1 for each in troubled if each.state == "parked")
    return Tile(
        name="subscriptions",
        title="Push subscriptions in trouble",
        count=len(troubled),
        href="/ui/subscriptions",
        note=f"{parked} parked, of {len(subscriptions)} in all",
        warn=True,
    )
