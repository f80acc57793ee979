"""The signal events in the tagged union: stored and read back unchanged,
each in its own stream, in the history of the stock lines a recommendation
names, and changing no item."""

from __future__ import annotations

from decimal import Decimal

import msgspec
import pytest

from domain.events import (
    DomainEvent,
    ManualLevel,
    ParLevelsRecommended,
    ParLevelsSet,
    RecommendedLevel,
    RequiredInventoriesRecorded,
    RequiredLine,
    SkippedLine,
    decode_json,
    event_type,
    from_data,
    to_data,
)
from domain.fold import apply, named_owners, stream_of, touched_keys
from domain.items import stock_line_key
from projections.items import Fold
from tests.strategies import T0

RECOMMENDED = ParLevelsRecommended(
    occurred_at=T0,
    recommendation_id="REC-7",
    location="VAN-07",
    levels=(
        RecommendedLevel(product="CBL-CAT6", target=Decimal("100")),
        RecommendedLevel(product="ONT-G240", target=Decimal("2.5")),
    ),
    skipped=(SkippedLine(field="$.data.rows[0].Items[2].RecQty", reason="`RecQty` is missing"),),
    body={"rowver": "r1", "StockLevelRecommendation": {"ID": "REC-7"}},
)
SET_BY_HAND = ParLevelsSet(
    occurred_at=T0,
    resource_id="TECH_017",
    levels=(
        ManualLevel(product="MODEM/X1", target=Decimal(4), min=Decimal(2)),
        ManualLevel(product="CABLE", target=Decimal("30.5")),
    ),
    user="ops",
)
REQUIRED = RequiredInventoriesRecorded(
    occurred_at=T0,
    activity_id="4225599",
    resource_id="TECH_017",
    date="2026-11-20",
    lines=(RequiredLine(inventory_type="MODEM", model="X1", quantity=Decimal(1)),),
)
UNKNOWN = RequiredInventoriesRecorded(
    occurred_at=T0, activity_id="4225600", unknown="OFS answered no required inventories"
)
EVENTS: list[DomainEvent] = [RECOMMENDED, SET_BY_HAND, REQUIRED, UNKNOWN]


@pytest.mark.parametrize("event", EVENTS)
def test_a_signal_event_is_stored_and_read_back_unchanged(event: DomainEvent) -> None:
    assert from_data(to_data(event)) == event
    assert decode_json(msgspec.json.encode(event)) == event


def test_each_kind_has_its_type_name_and_stream() -> None:
    assert [event_type(event) for event in EVENTS] == [
        "sm.ParLevelsRecommended",
        "invtrack.ParLevelsSet",
        "ofs.RequiredInventoriesRecorded",
        "ofs.RequiredInventoriesRecorded",
    ]
    assert [stream_of(event) for event in EVENTS] == [
        "sm-StockLevelRecommendation-REC-7",
        "invtrack-par-levels-TECH_017",
        "ofs-required-4225599",
        "ofs-required-4225600",
    ]


def test_a_recommendation_is_in_the_history_of_the_stock_lines_it_names() -> None:
    assert touched_keys(RECOMMENDED) == (
        stock_line_key("resource", "VAN-07", "CBL-CAT6", None, None),
        stock_line_key("resource", "VAN-07", "ONT-G240", None, None),
    )
    assert touched_keys(SET_BY_HAND) == touched_keys(REQUIRED) == ()


@pytest.mark.parametrize("event", EVENTS)
def test_signal_events_change_no_item_and_name_no_owner(event: DomainEvent) -> None:
    assert apply({}, event, 1) == []
    assert named_owners(event) == ()
    fold = Fold({})
    assert fold.apply(1, event) == event
    assert fold.changed == {}
    assert fold.owners == set()
