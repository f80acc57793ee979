"""Par levels, on-hand quantities and low stock, by example: product identity
for both vendors, on-hand from item changes, who sets a par level, the
crossings of `min` (once per crossing, not once per event), the low-stock
list and the restock pick list."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from domain.events import (
    DomainEvent,
    ManualLevel,
    ParLevelsRecommended,
    ParLevelsSet,
    RecommendedLevel,
    StockUsageRecorded,
)
from domain.items import Item
from domain.signals.low_stock import BELOW_MIN, RESTORED, StockSignal, fold_batch, keys_of
from domain.signals.par_levels import ParLevel
from domain.signals.products import StockKey, item_product, model_of, product_id
from domain.signals.restock import LowStock, RestockLine, low_stock, restock
from domain.signals.stock import Change, StockRow, on_hand_deltas, steps_of
from tests.strategies import T0

VAN = "VAN-07"
CABLE = StockKey(VAN, "CBL-CAT6")


def ofs_item(**fields: Any) -> Item:
    base: dict[str, Any] = {
        "key": "ofs-1",
        "source": "ofs",
        "pool": "resource",
        "inventory_id": 1,
        "inventory_type": "MODEM",
        "resource_id": "TECH_017",
    }
    return Item(**(base | fields))


def sm_item(**fields: Any) -> Item:
    base: dict[str, Any] = {
        "key": "sm-1",
        "source": "servicemobility",
        "pool": "resource",
        "product_number": "CBL-CAT6",
        "resource_id": VAN,
        "quantity": Decimal(0),
    }
    return Item(**(base | fields))


@pytest.mark.parametrize(
    ("item", "product"),
    [
        (sm_item(), "CBL-CAT6"),
        (ofs_item(), "MODEM"),
        (ofs_item(properties={"model": "X1"}), "MODEM/X1"),
        (ofs_item(properties={"model": 7}), "MODEM/7"),
        (ofs_item(properties={"model": "  "}), "MODEM"),
        (ofs_item(properties={"model": True}), "MODEM"),
        (ofs_item(properties={"model": None}), "MODEM"),
        (ofs_item(inventory_type=None, properties={"model": "X1"}), None),
        (sm_item(product_number=None), None),
    ],
)
def test_one_product_rule_for_both_vendors(item: Item, product: str | None) -> None:
    assert item_product(item) == product


def test_a_required_line_names_a_product_like_an_item() -> None:
    assert product_id("MODEM", model_of("X1")) == "MODEM/X1"
    assert product_id("MODEM", model_of("")) == "MODEM"
    assert StockKey("TECH_017", "MODEM/X1").subject == "TECH_017/MODEM/X1"


def test_on_hand_moves_with_the_resource_pool() -> None:
    modem = ofs_item(quantity=Decimal(2))
    installed = ofs_item(quantity=Decimal(2), pool="install")
    other_model = ofs_item(quantity=Decimal(2), properties={"model": "X1"})
    moved = ofs_item(quantity=Decimal(2), resource_id="TECH_018")
    deleted = ofs_item(quantity=Decimal(2), deleted=True, pool=None)
    key = StockKey("TECH_017", "MODEM")
    assert on_hand_deltas([Change(None, modem)]) == {key: 2}
    assert on_hand_deltas([Change(modem, installed)]) == {key: -2}
    assert on_hand_deltas([Change(modem, other_model)]) == {
        key: -2,
        StockKey("TECH_017", "MODEM/X1"): 2,
    }
    assert on_hand_deltas([Change(modem, moved)]) == {key: -2, StockKey("TECH_018", "MODEM"): 2}
    assert on_hand_deltas([Change(modem, deleted)]) == {key: -2}
    assert on_hand_deltas([Change(modem, modem)]) == {}


def usage(
    moment: int, *, load: str = "0", use: str = "0", count: str | None = None
) -> StockUsageRecorded:
    return StockUsageRecorded(
        occurred_at=T0 + timedelta(minutes=moment),
        location=VAN,
        product="CBL-CAT6",
        quantity_in=Decimal(load),
        quantity_out=Decimal(use),
        reported_quantity=Decimal(count or "0"),
        ref_module="1004" if count is not None else "1001" if load != "0" else "1002",
        ref_object="R-1",
    )


def set_level(moment: int, target: str, minimum: str | None = None) -> ParLevelsSet:
    level = ManualLevel(
        product="CBL-CAT6",
        target=Decimal(target),
        min=None if minimum is None else Decimal(minimum),
    )
    return ParLevelsSet(
        occurred_at=T0 + timedelta(minutes=moment), resource_id=VAN, levels=(level,)
    )


def fold(events: list[DomainEvent]) -> tuple[dict[StockKey, StockRow], list[StockSignal]]:
    steps, _ = steps_of({}, list(enumerate(events, start=1)))
    batch = fold_batch({}, steps)
    assert set(batch.rows) == keys_of(steps)
    return batch.rows, batch.signals


def crossings(signals: list[StockSignal]) -> list[tuple[str, Decimal, int]]:
    return [(signal.type, signal.on_hand, signal.position) for signal in signals]


def test_one_signal_per_crossing_not_per_event() -> None:
    rows, signals = fold(
        [
            usage(0, load="6"),
            set_level(1, "10", "5"),  # 6 >= 5: not low
            usage(2, use="2"),  # 4: below
            usage(3, use="1"),  # 3: still below, no signal
            usage(4, load="1"),  # 4: still below
            usage(5, load="3"),  # 7: restored
            usage(6, load="3"),  # 10: no signal
            usage(7, use="9"),  # 1: below again
        ]
    )
    assert crossings(signals) == [
        (BELOW_MIN, Decimal(4), 3),
        (RESTORED, Decimal(7), 6),
        (BELOW_MIN, Decimal(1), 8),
    ]
    assert all(s.subject == "VAN-07/CBL-CAT6" for s in signals)
    assert (signals[0].min, signals[0].target, signals[0].at) == (
        Decimal(5),
        Decimal(10),
        T0 + timedelta(minutes=2),
    )
    assert rows[CABLE].below_since == T0 + timedelta(minutes=7)


def test_par_level_changes_cross_too() -> None:
    _, signals = fold(
        [
            set_level(0, "4"),  # nothing on hand, min = target = 4: below at once
            usage(1, load="3"),  # 3: still below
            set_level(2, "5", "3"),  # min 3: restored by the change of level
            set_level(3, "5", "3"),  # the same again: nothing
            set_level(4, "8"),  # min 8: below
            usage(5, count="8"),  # counted 8: restored
        ]
    )
    assert crossings(signals) == [
        (BELOW_MIN, Decimal(0), 1),
        (RESTORED, Decimal(3), 3),
        (BELOW_MIN, Decimal(3), 5),
        (RESTORED, Decimal(8), 6),
    ]


def test_no_par_level_no_signal() -> None:
    rows, signals = fold([usage(0, use="5"), usage(1, load="2")])
    assert signals == []
    assert rows[CABLE].on_hand == -3
    assert not rows[CABLE].low


def recommended(moment: int, target: str) -> ParLevelsRecommended:
    return ParLevelsRecommended(
        occurred_at=T0 + timedelta(minutes=moment),
        recommendation_id=f"REC-{moment}",
        location=VAN,
        levels=(RecommendedLevel(product="CBL-CAT6", target=Decimal(target)),),
    )


def test_the_later_par_level_wins_whoever_sets_it() -> None:
    rows, _ = fold([set_level(0, "10", "2"), recommended(1, "6")])
    assert rows[CABLE].level == ParLevel(
        min=Decimal(6),
        target=Decimal(6),
        origin="recommendation",
        set_at=T0 + timedelta(minutes=1),
        position=2,
    )
    rows, _ = fold([recommended(0, "6"), set_level(1, "10", "2")])
    level = rows[CABLE].level
    assert level is not None
    assert (level.min, level.target, level.origin) == (Decimal(2), Decimal(10), "manual")


def test_a_change_by_hand_keeps_the_products_it_does_not_name() -> None:
    other = ParLevelsSet(
        occurred_at=T0,
        resource_id=VAN,
        levels=(ManualLevel(product="FUSE-10A", target=Decimal(3)),),
    )
    rows, _ = fold([set_level(0, "10"), other])
    assert {key.product for key, row in rows.items() if row.level} == {"CBL-CAT6", "FUSE-10A"}


def row(resource: str, product: str, on_hand: str, minimum: str, target: str) -> StockRow:
    level = ParLevel(
        min=Decimal(minimum), target=Decimal(target), origin="manual", set_at=T0, position=1
    )
    return StockRow(
        resource_id=resource,
        product=product,
        on_hand=Decimal(on_hand),
        level=level,
        below_since=T0 if Decimal(on_hand) < Decimal(minimum) else None,
    )


ROWS = [
    row("VAN-09", "B", "1", "3", "5"),  # shortfall 2
    row("VAN-07", "A", "0", "4", "8"),  # shortfall 4
    row("VAN-07", "C", "6", "4", "8"),  # not low, load 2
    row("VAN-07", "D", "-1", "1", "1"),  # shortfall 2, negative on hand
    row("VAN-07", "E", "9", "4", "8"),  # over target
    StockRow(resource_id="VAN-07", product="F", on_hand=Decimal(3)),  # no par level
]


def test_the_low_stock_list_puts_the_largest_shortfall_first() -> None:
    assert [(e.resource_id, e.product, e.shortfall) for e in low_stock(ROWS)] == [
        ("VAN-07", "A", Decimal(4)),
        ("VAN-07", "D", Decimal(2)),
        ("VAN-09", "B", Decimal(2)),
    ]
    assert low_stock(ROWS, resource_id="VAN-09") == [
        LowStock(
            resource_id="VAN-09",
            product="B",
            on_hand=Decimal(1),
            min=Decimal(3),
            target=Decimal(5),
            shortfall=Decimal(2),
            since=T0,
        )
    ]
    assert [e.resource_id for e in low_stock(ROWS, product="D")] == ["VAN-07"]


def test_the_pick_list_brings_a_van_to_target() -> None:
    assert restock(ROWS, "VAN-07") == [
        RestockLine(product="A", on_hand=Decimal(0), target=Decimal(8), load=Decimal(8)),
        RestockLine(product="C", on_hand=Decimal(6), target=Decimal(8), load=Decimal(2)),
        RestockLine(product="D", on_hand=Decimal(-1), target=Decimal(1), load=Decimal(2)),
    ]
    assert restock(ROWS, "VAN-08") == []


def test_a_row_with_nothing_in_it_may_be_dropped() -> None:
    assert StockRow(resource_id=VAN, product="A").empty
    assert not StockRow(resource_id=VAN, product="A", on_hand=Decimal(1)).empty
    assert not ROWS[0].empty
