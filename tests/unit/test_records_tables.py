"""Columns spelled once: the events table's columns are `StoredEvent`'s fields,
and the items and counts tables derived from `ItemRecord` and `CountRecord`
are the tables stores already hold (so a store written before keeps being
read and written as it is), on both dialects."""

from __future__ import annotations

from datetime import UTC, datetime

import msgspec
import pytest
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.schema import CreateTable

from adapters.store import CountRecord, ItemRecord, Slot
from adapters.store.projection_tables import (
    COUNT_COLUMNS,
    ITEM_COLUMNS,
    count_record,
    count_row,
    counts_table,
    item_record,
    item_row,
    items_tables,
)
from adapters.store.records import StoredEvent
from adapters.store.schema import EVENT_COLUMNS
from api.pages.csvs import ITEM_COLUMNS as CSV_COLUMNS

ITEMS_DDL = """
CREATE TABLE items_v2 (
	key VARCHAR(64) NOT NULL,
	source VARCHAR(16) NOT NULL,
	pool VARCHAR(16),
	inventory_id BIGINT,
	inventory_type TEXT,
	product_number TEXT,
	serial_number TEXT,
	batch_number TEXT,
	quantity TEXT NOT NULL,
	resource_id TEXT,
	activity_id TEXT,
	customer_number TEXT,
	exchanged_inventory_id BIGINT,
	properties TEXT NOT NULL,
	updated_at TIMESTAMP WITH TIME ZONE,
	position BIGINT NOT NULL,
	deleted BOOLEAN NOT NULL,
	PRIMARY KEY (key)
)
"""
"""The items table as the builds before this one created it (PostgreSQL)."""

COUNTS_DDL = """
CREATE TABLE counts_v1 (
	position BIGINT NOT NULL,
	occurred_at TIMESTAMP WITH TIME ZONE NOT NULL,
	location TEXT NOT NULL,
	product TEXT NOT NULL,
	serial TEXT,
	batch TEXT,
	ref_module VARCHAR(8) NOT NULL,
	ref_object TEXT NOT NULL,
	user_id TEXT,
	expected TEXT,
	counted TEXT NOT NULL,
	variance TEXT,
	key VARCHAR(64) NOT NULL,
	PRIMARY KEY (position)
)
"""


def ddl(table: Table, dialect: object) -> list[str]:
    """The statement that creates the table, line by line."""
    text = str(CreateTable(table).compile(dialect=dialect))  # type: ignore[arg-type]
    return [line.strip() for line in text.strip().splitlines()]


def test_the_events_columns_are_the_stored_events_fields() -> None:
    fields = tuple(field.name for field in msgspec.structs.fields(StoredEvent))
    assert fields == EVENT_COLUMNS


@pytest.mark.parametrize(
    ("table", "expected"),
    [(items_tables(Slot(2))[0], ITEMS_DDL), (counts_table(Slot(1)), COUNTS_DDL)],
    ids=["items", "counts"],
)
def test_the_derived_tables_are_those_stores_hold(table: Table, expected: str) -> None:
    lines = [line.strip() for line in expected.strip().splitlines()]
    assert ddl(table, postgresql.dialect()) == lines  # type: ignore[no-untyped-call]
    on_sqlite = ddl(table, sqlite.dialect())
    # SQLite spells the same types its own way; the columns are the same.
    assert [line.split()[0].strip('"') for line in on_sqlite] == [line.split()[0] for line in lines]
    assert "position INTEGER NOT NULL," in on_sqlite


def test_a_row_reads_back_as_the_record_it_was_made_from() -> None:
    item = ItemRecord(
        key="ofs-7",
        source="ofs",
        pool="install",
        inventory_id=7,
        inventory_type="MODEM",
        product_number=None,
        serial_number="SN-7",
        batch_number=None,
        quantity="-2.5",
        resource_id="TECH_1",
        activity_id="41",
        customer_number=None,
        exchanged_inventory_id=None,
        properties={"XA_COND": "new"},
        updated_at=datetime(2026, 3, 1, tzinfo=UTC),
        position=12,
        deleted=False,
        negative=True,
    )
    row = item_row(item)
    assert len(row) == len(ITEM_COLUMNS)
    assert row[ITEM_COLUMNS.index("properties")] == '{"XA_COND":"new"}'
    assert item_record(row) == item
    empty = msgspec.structs.replace(item, properties={}, quantity="1", negative=False)
    assert item_row(empty)[ITEM_COLUMNS.index("properties")] == "{}"
    assert item_record(item_row(empty)) == empty
    count = CountRecord(
        1,
        datetime(2026, 3, 1, tzinfo=UTC),
        "VAN",
        "P",
        None,
        None,
        "1004",
        "PI",
        None,
        "1",
        "2",
        "1",
        "sm-resource-0",
    )
    assert len(count_row(count)) == len(COUNT_COLUMNS)
    assert count_record(count_row(count)) == count


def test_the_csv_has_every_field_the_api_writes_in_its_order() -> None:
    assert CSV_COLUMNS == (
        "key",
        "source",
        "pool",
        "inventoryId",
        "inventoryType",
        "productNumber",
        "serialNumber",
        "batchNumber",
        "quantity",
        "resourceId",
        "activityId",
        "customerNumber",
        "exchangedInventoryId",
        "properties",
        "updatedAt",
        "position",
        "deleted",
        "negative",
    )
