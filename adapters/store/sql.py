"""SQL helpers shared by the store and the projections."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from sqlalchemy import ColumnElement, String, any_, bindparam
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncConnection

SQLITE_CHUNK = 500
"""Values per IN list on SQLite (it has a limit on bound parameters)."""


def chunks_of(conn: AsyncConnection, values: Sequence[Any]) -> Iterator[Sequence[Any]]:
    """The values in as few lookups as the backend allows: one on PostgreSQL
    (an array parameter), chunks of SQLITE_CHUNK on SQLite."""
    if conn.dialect.name == "postgresql":
        if values:
            yield values
        return
    for start in range(0, len(values), SQLITE_CHUNK):
        yield values[start : start + SQLITE_CHUNK]


def one_of(
    conn: AsyncConnection, column: ColumnElement[Any], values: Sequence[Any]
) -> ColumnElement[bool]:
    """`column IN values`: `= ANY(array)` on PostgreSQL, so the statement is the
    same whatever the number of values and its compiled form is reused."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, list(values), type_=ARRAY(String)))
    return column.in_(values)
