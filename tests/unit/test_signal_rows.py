"""The stock rows as rows of their table and back (Hypothesis): a batch reads
and writes them without the query records between, so both ways must agree
with the records the queries answer from."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from adapters.store.signal_tables import STOCK_COLUMNS, stock_key, stock_record
from domain.signals.par_levels import ParLevel
from domain.signals.stock import StockRow
from projections.signal_rows import row_of_stock, stock_of, stock_of_row
from tests.strategies import decimals, moments

levels = st.builds(
    ParLevel,
    min=decimals(min_value=0, max_value=500),
    target=decimals(min_value=0, max_value=500),
    origin=st.sampled_from(["manual", "recommendation"]),
    set_at=moments(),
    position=st.integers(min_value=0, max_value=2**40),
)
stock_rows = st.builds(
    StockRow,
    resource_id=st.text(min_size=1, max_size=12),
    product=st.text(min_size=1, max_size=12),
    on_hand=decimals(min_value=-500, max_value=500),
    level=st.none() | levels,
    below_since=st.none() | moments(),
)


@given(stock_rows)
def test_a_stock_row_comes_back_from_its_row(row: StockRow) -> None:
    written = row_of_stock(row)
    assert len(written) == len(STOCK_COLUMNS)
    assert stock_of_row(written) == row
    assert stock_of(stock_record(written)) == row


@given(stock_rows)
def test_the_row_is_keyed_and_ranked_by_its_shortfall(row: StockRow) -> None:
    written = dict(zip(STOCK_COLUMNS, row_of_stock(row), strict=True))
    assert written["key"] == stock_key(row.resource_id, row.product)
    if row.low:
        assert written["rank"] == -float(row.shortfall)
        assert row.shortfall > Decimal(0)
    else:
        assert written["rank"] is None
