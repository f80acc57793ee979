"""The dashboard's tables and charts as values: sorting by a column, and a
quantity over time on real axes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from adapters.store.summaries import FleetLine, units
from api.pages import charts, sorting
from api.pages.params import BadInput

T0 = datetime(2026, 11, 21, 7, 0, tzinfo=UTC)


def line(owner: str, units_: str, negative: int = 0) -> FleetLine:
    return FleetLine(owner=owner, lines=1, negative=negative, units=units_, last_change=None)


def test_the_fleet_sorts_units_as_numbers_and_owners_without_case() -> None:
    fleet = [line("van-2", "10"), line("VAN-1", "9.5"), line("WH", "-1", negative=1)]
    by_units = sorting.read("units", None, sorting.FLEET_COLUMNS, "owner")
    assert [f.owner for f in sorting.apply(fleet, by_units, sorting.FLEET_COLUMNS)] == [
        "WH",
        "VAN-1",
        "van-2",
    ]
    by_owner = sorting.read(None, "desc", sorting.FLEET_COLUMNS, "owner")
    assert [f.owner for f in sorting.apply(fleet, by_owner, sorting.FLEET_COLUMNS)] == [
        "WH",
        "van-2",
        "VAN-1",
    ]
    assert by_owner.header("owner") == ("descending", "asc")
    assert by_owner.header("units") == ("none", "asc")


@pytest.mark.parametrize(
    ("sort", "order", "field"), [("colour", None, "sort"), (None, "up", "order")]
)
def test_a_column_or_order_a_table_lacks_is_bad_input(
    sort: str | None, order: str | None, field: str
) -> None:
    with pytest.raises(BadInput) as raised:
        sorting.read(sort, order, sorting.ITEM_COLUMNS, "product")
    assert raised.value.field == field


def test_units_are_summed_exactly() -> None:
    assert units("0.1 0.2 -0.3") == "0.0"
    assert units("96.5 3.5") == "100.0"
    assert units(None) == "0"


def test_a_quantity_over_time_has_round_ticks_from_below_zero() -> None:
    chart = charts.over_time([(T0, Decimal(-2)), (T0 + timedelta(hours=2), Decimal(3))])
    assert chart is not None
    assert [tick.label for tick in chart.y_ticks] == ["-2", "0", "2", "4"]
    assert chart.x_ticks[0].label == "07:00"
    assert chart.x_ticks[0].at == chart.left
    # One step per value, held until the next one and to the right edge.
    assert chart.line.count("H") == 2
    assert chart.line.count("V") == 1
    assert charts.over_time([]) is None


def test_one_value_at_one_time_still_has_axes() -> None:
    chart = charts.over_time([(T0, Decimal("0.5"))])
    assert chart is not None
    assert chart.y_ticks[0].label == "0"
    assert len(chart.x_ticks) == charts.TICKS
