"""Column types the store's tables and the projections' tables share."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect, Integer
from sqlalchemy.types import TypeDecorator

Position = BigInteger().with_variant(Integer(), "sqlite")
"""Positions: BIGINT, and on SQLite the rowid alias INTEGER."""


def utc(moment: datetime) -> datetime:
    """The moment as the store keeps it: timezone-aware UTC, naive taken as UTC."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """Timestamps stored in UTC and always read back timezone-aware (a
    backend that keeps no offset keeps the UTC wall time)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else utc(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return utc(value)
