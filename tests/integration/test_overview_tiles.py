"""The overview's tiles on each backend: counts read from the store, a tile
left out while its signal is absent, and a tile a new signal registers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.store import Store
from adapters.store.feed import SubscriptionRecord
from api.pages import signals_tiles, tiles
from domain.events import RequiredInventoriesRecorded, RequiredLine, StockUsageRecorded
from projections.queries import Queries
from projections.status import status
from tests.contract.queries import stored_history
from tests.contract.signals import append, levels, transfer, usage

SIGNAL_TILES = ("below-min", "readiness", "transfers", "shrinkage")
assert signals_tiles.SHRINKAGE_DAYS == 7


async def shown(store: Store) -> dict[str, tiles.Tile]:
    context = tiles.Context(
        store=store, queries=Queries(store), status=await status(store, quarantined=0)
    )
    return {tile.name: tile for tile in await tiles.tiles(context)}


def subscription(name: str, state: str, position: int) -> SubscriptionRecord:
    return SubscriptionRecord(
        id=name,
        url="https://consumer.example.com/hook",
        filters={},
        secret="whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
        batch_size=100,
        position=position,
        state=state,  # type: ignore[arg-type]
        created_at=datetime(2026, 11, 20, tzinfo=UTC),
    )


async def test_vans_with_negative_lines_and_no_subscriptions_tile(store: Store) -> None:
    await stored_history(store)

    found = await shown(store)
    assert found["negative"].count == 1  # VAN-2 holds -2
    assert found["negative"].href.startswith("/ui/resources?negative=1")
    assert found["quarantined"].count == 0
    assert "subscriptions" not in found  # no subscription: absent, not zero


async def test_subscriptions_in_trouble(store: Store) -> None:
    await stored_history(store)
    head = await store.feed_head()
    await store.add_subscription(subscription("keeping-up", "active", head))
    await store.add_subscription(subscription("parked", "parked", head))

    found = await shown(store)
    assert found["subscriptions"].count == 1
    assert found["subscriptions"].note == "1 parked, of 2 in all"


@pytest.fixture
def below_min_tile() -> Iterator[None]:
    """A tile as a page of a new signal would register it."""

    @tiles.needs_action(20)
    async def below_min(context: tiles.Context) -> tiles.Tile | None:
        return None

    @tiles.needs_action(30)
    async def readiness(context: tiles.Context) -> tiles.Tile:
        return tiles.Tile(name="readiness", title="Activities not ready", count=3, href="/ui/x")

    yield
    tiles._REGISTERED[:] = [
        entry for entry in tiles._REGISTERED if entry[1] not in (below_min, readiness)
    ]


async def test_a_registered_tile_shows_in_its_order(store: Store, below_min_tile: None) -> None:
    found = await shown(store)
    assert list(found) == ["negative", "readiness", "quarantined"]


def counted(days: float, location: str, counted: str, expected: str) -> StockUsageRecorded:
    """A count as received: with the balance it found and its variance."""
    return StockUsageRecorded(
        occurred_at=datetime.now(UTC) - timedelta(days=days),
        location=location,
        product="CBL-CAT6",
        quantity_in=Decimal(0),
        quantity_out=Decimal(0),
        reported_quantity=Decimal(counted),
        ref_module="1004",
        ref_object=f"PI-{location}-{days}",
        expected=Decimal(expected),
        variance=Decimal(counted) - Decimal(expected),
    )


async def test_signal_tiles_are_left_out_while_their_signals_are_absent(store: Store) -> None:
    await stored_history(store)  # counts weeks ago, no par level, activity or transfer

    found = await shown(store)
    assert [name for name in SIGNAL_TILES if name in found] == []


async def test_vans_below_min_with_their_shortfall(store: Store) -> None:
    await append(
        store,
        usage("VAN-1", "A", 0, got="2"),
        usage("VAN-1", "B", 0, got="9"),
        usage("VAN-2", "A", 0, got="7"),
        usage("VAN-3", "A", 0, got="1"),
        levels("VAN-1", 1, ("A", "10", "5"), ("B", "10", "9.5")),
        levels("VAN-2", 1, ("A", "4", None)),
    )

    tile = (await shown(store))["below-min"]
    assert (tile.count, tile.href) == (1, "/ui/low-stock")  # VAN-2 holds its target
    assert tile.note == "3.5 units short in all"


async def test_vans_below_min_is_zero_when_every_level_is_met(store: Store) -> None:
    await append(store, usage("VAN-2", "A", 0, got="7"), levels("VAN-2", 1, ("A", "4", "2")))

    tile = (await shown(store))["below-min"]
    assert (tile.count, tile.note) == (0, "0 units short in all")


async def test_activities_not_ready_for_tomorrow(store: Store) -> None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    today = datetime.now(UTC).date().isoformat()
    part = RequiredLine(inventory_type="PART", quantity=Decimal(2))
    await append(
        store,
        RequiredInventoriesRecorded(
            occurred_at=datetime.now(UTC),
            activity_id="41",
            resource_id="R1",
            date=tomorrow,
            lines=(part,),
        ),
        RequiredInventoriesRecorded(
            occurred_at=datetime.now(UTC),
            activity_id="42",
            resource_id="R2",
            date=tomorrow,
            unknown="the answer was empty",
        ),
        RequiredInventoriesRecorded(
            occurred_at=datetime.now(UTC),
            activity_id="43",
            resource_id="R3",
            date=tomorrow,
            lines=(),
        ),
        RequiredInventoriesRecorded(
            occurred_at=datetime.now(UTC),
            activity_id="44",
            resource_id="R1",
            date=today,
            lines=(part,),
        ),
    )

    tile = (await shown(store))["readiness"]
    assert tile.count == 2  # 41 misses its part, 42 unknown, 43 needs nothing
    assert tile.href == f"/ui/readiness?date={tomorrow}"
    assert tile.note == f"activities on {tomorrow}, 1 of them unknown"


async def test_transfers_open_or_mismatched(store: Store) -> None:
    await append(
        store,
        transfer("VAN-1", "T-OPEN", 0, gave="3"),
        transfer("VAN-1", "T-SHORT", 0, gave="3"),
        transfer("VAN-2", "T-SHORT", 1, got="2"),
        transfer("VAN-1", "T-PAIRED", 0, gave="1"),
        transfer("VAN-2", "T-PAIRED", 1, got="1"),
    )

    tile = (await shown(store))["transfers"]
    assert (tile.count, tile.href) == (2, "/ui/transfers")
    assert tile.note == "1 open, 1 mismatched"


async def test_shrinkage_of_the_last_week_in_units(store: Store) -> None:
    await append(
        store,
        counted(10, "VAN-1", "4", "10"),  # before the week: not in it
        counted(2, "VAN-2", "3.5", "5"),
        counted(1, "VAN-3", "6", "5"),
    )

    tile = (await shown(store))["shrinkage"]
    assert tile.count == Decimal("1.5")
    assert tile.href.startswith("/ui/shrinkage?since=")
    assert tile.note == "units lost in 2 counted lines, by 1 technician"
