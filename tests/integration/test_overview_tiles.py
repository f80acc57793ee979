"""The overview's tiles on each backend: counts read from the store, a tile
left out while its signal is absent, and a tile a new signal registers."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from adapters.store import Store
from adapters.store.feed import SubscriptionRecord
from api.pages import tiles
from projections.queries import Queries
from projections.status import status
from tests.contract.queries import stored_history


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
