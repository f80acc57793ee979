"""What the ServiceMobility readers share: the error that names a field, times,
msgspec's messages, a row's identity, and a translation with what it skipped.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from domain.events import Fact, SkippedLine


class TranslationError(Exception):
    """The payload cannot be read; `field` says where (a JSON path)."""

    def __init__(self, message: str, field: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class Translation(NamedTuple):
    """A payload's facts, and the parts of it that could not be used (why, where)."""

    facts: list[Fact]
    skipped: tuple[SkippedLine, ...] = ()

    @property
    def usable(self) -> bool:
        """False when parts were skipped and nothing was left: the payload is
        then refused (and kept in quarantine) rather than taken for nothing."""
        return bool(self.facts) or not self.skipped

    def checked(self) -> list[Fact]:
        """The facts; TranslationError naming the first skipped part when not usable."""
        if not self.usable:
            first = self.skipped[0]
            raise TranslationError(f"nothing in the payload is usable: {first.reason}", first.field)
        return self.facts


def row_key(source: str | None, row: dict[str, Any]) -> str:
    """A document row's identity: webhook source, row version and canonical
    content, so a row redelivered inside a new envelope is recognised."""
    canonical = msgspec.json.encode(_canonical(row), order="sorted")
    rowver = row.get("rowver")
    material = b"\x1f".join(
        (
            (source or "").encode(),
            str(rowver if rowver is not None else "").encode(),
            canonical,
        )
    )
    return "sm:" + hashlib.sha256(material).hexdigest()


def _canonical(value: Any) -> Any:
    """The row with every number written one way (1, 1.0 and 1.00 alike), so a
    row re-serialised by the sender is still recognised."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return {"#": format(number.normalize(), "f")}
    return value


def parse_time(value: str | None, path: str) -> datetime:
    """An ISO 8601 time as UTC (no offset: UTC); TranslationError naming `path`."""
    if not value:
        raise TranslationError("time is missing", path)
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise TranslationError(f"{value[:40]!r} is not an ISO 8601 time in range", path) from None


def explain(error: msgspec.ValidationError, prefix: str = "$") -> tuple[str, str]:
    """msgspec's message split into what is wrong and where (`... - at `$.x``)."""
    text = str(error)
    message, _, where = text.partition(" - at `")
    field = where.rstrip("`") or "$"
    if prefix != "$" and field.startswith("$"):
        field = prefix + field[1:]
    return message, field
