"""The shape of a batch's statements on PostgreSQL: lookups without keys and
writes without rows are left out, and what the read answers still lines up
with every lookup asked for."""

from __future__ import annotations

from adapters.store.found import Batch
from adapters.store.postgres.batch_sql import found_from, read_statement, write_statement
from adapters.store.records import Slot
from adapters.store.rows import Lookup, TableWrite
from adapters.store.schema import streams
from adapters.store.signal_tables import (
    ACTIVITY_COLUMNS,
    STOCK_COLUMNS,
    TRANSFER_COLUMNS,
    signal_tables,
)

SLOT = Slot(1, 1)


def _lookups(*, transfers: set[str], stock: set[str]) -> list[Lookup]:
    stock_table, transfers_table, activities_table = signal_tables(SLOT)
    return [
        Lookup(transfers_table, "code", TRANSFER_COLUMNS, transfers),
        Lookup(activities_table, "activity_id", ACTIVITY_COLUMNS, set()),
        Lookup(stock_table, "key", STOCK_COLUMNS, stock),
    ]


def test_a_lookup_without_keys_is_not_read_and_finds_nothing() -> None:
    lookups = _lookups(transfers=set(), stock={'["VAN-1","P-1"]'})
    statement, parameters = read_statement(Batch(), lookups)
    assert "transfers" not in statement
    assert "activities" not in statement
    assert statement.count("FROM stock_v1") == 1
    assert len(parameters) == 4 + 1
    stock_row = ('["VAN-1","P-1"]', "VAN-1", "P-1", "2")
    record = [3, 4, 5, None, None, None, None, None, [stock_row]]
    found = found_from(record, lookups)
    assert found.rows == [[], [], [stock_row]]
    assert (found.head, found.feed_head, found.inbox_head) == (3, 4, 5)


def test_lookups_with_keys_answer_in_their_order() -> None:
    lookups = _lookups(transfers={"T-1"}, stock={'["VAN-1","P-1"]'})
    statement, parameters = read_statement(Batch(), lookups)
    assert statement.index("FROM transfers_v1") < statement.index("FROM stock_v1")
    assert len(parameters) == 4 + 2
    transfer, stock = ("T-1",), ('["VAN-1","P-1"]',)
    found = found_from([0, 0, 0, None, None, None, None, None, [transfer], [stock]], lookups)
    assert found.rows == [[transfer], [], [stock]]


def test_writes_without_rows_are_left_out() -> None:
    empty = TableWrite(streams, ("stream_id", "version"), [], "upsert")
    full = TableWrite(streams, ("stream_id", "version"), [("s-1", 1)], "upsert")
    statement, parameters = write_statement([empty, full, empty])
    assert statement.count("INSERT INTO streams") == 1
    assert parameters == [[("s-1", 1)]]
    assert write_statement([empty]) == ("SELECT 1", [])
