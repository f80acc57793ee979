"""Reading a ServiceMobility `StockLevelRecommendation`: for its
`StorageLocationID`, each item's `ProdNum` gets `target = RecQty`.

One reader for both shapes a recommendation is stored in: the
`ParLevelsRecommended` event the webhook translates it into now, and the
`DocumentRecorded` (document type `StockLevelRecommendation`, the row as
`body`) earlier builds stored. Both go through `read_recommendation`, so an
envelope stored either way gives the same par levels, and a rebuild counts
the ones stored before par levels existed.

Tolerant: the usable items count, the others are reported with the reason
(`SkippedLine`). An item is unusable when its `ProdNum` is missing, blank,
not a text or too long, or its `RecQty` is missing, not a number, negative or
out of range. A `RecQty` written as a text holding a plain number (`"5"`,
`"2.5"`) is read as that number: stored documents keep every non-integer
number as text. Without a usable `StorageLocationID` nothing is usable. When
an item names a product twice, the later one counts.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any, Final, NamedTuple

from domain.events import (
    DocumentRecorded,
    ParLevelsRecommended,
    RecommendedLevel,
    SkippedLine,
)
from domain.quantities import quantity_problem

RECOMMENDATION: Final = "StockLevelRecommendation"
"""The webhook type, and the key of the object inside a row."""
LONGEST_NAME: Final = 255
"""Identifiers longer than this are not used (as for every ServiceMobility id)."""
_NUMBER: Final = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")


class Reading(NamedTuple):
    """What a recommendation says: its location (None when unusable), its
    `ID` (None when it has none), the usable levels and what was skipped."""

    location: str | None
    recommendation_id: str | None
    levels: tuple[RecommendedLevel, ...]
    skipped: tuple[SkippedLine, ...]


def recommendation_object(row: Any) -> Any:
    """The recommendation inside a row (`{"rowver", "StockLevelRecommendation": {...}}`),
    or the row itself when it is the object (a `data` without rows)."""
    if isinstance(row, dict) and RECOMMENDATION in row:
        return row[RECOMMENDATION]
    return row


def read_recommendation(document: Any, path: str = "$") -> Reading:
    """The par levels a recommendation object sets, and what it skipped."""
    if not isinstance(document, dict):
        reason = "the recommendation must be an object"
        return Reading(None, None, (), (SkippedLine(field=path, reason=reason),))
    location, location_problem = _name(document.get("StorageLocationID"))
    items = document.get("Items")
    if not isinstance(items, list):
        reason = "`Items` is missing" if items is None else "`Items` must be an array"
        return Reading(
            location, _id(document), (), (SkippedLine(field=f"{path}.Items", reason=reason),)
        )
    levels: dict[str, RecommendedLevel] = {}
    skipped: list[SkippedLine] = []
    for index, item in enumerate(items):
        read = _level(item, f"{path}.Items[{index}]")
        if isinstance(read, SkippedLine):
            skipped.append(read)
        else:
            levels.pop(read.product, None)
            levels[read.product] = read
    if location is None:
        where = f"{path}.StorageLocationID"
        reason = f"`StorageLocationID` {location_problem}: no item is usable"
        skipped = [SkippedLine(field=where, reason=reason)]
        return Reading(None, _id(document), (), tuple(skipped))
    return Reading(location, _id(document), tuple(levels.values()), tuple(skipped))


def from_document(event: DocumentRecorded) -> ParLevelsRecommended | None:
    """A stored recommendation document as the event it is translated into now;
    None for another document, or one whose location is unusable."""
    if event.document_type != RECOMMENDATION:
        return None
    reading = read_recommendation(recommendation_object(event.body))
    if reading.location is None:
        return None
    return ParLevelsRecommended(
        occurred_at=event.occurred_at,
        recommendation_id=event.document_id,
        location=reading.location,
        levels=reading.levels,
        skipped=reading.skipped,
        body=event.body,
    )


def _level(item: Any, path: str) -> RecommendedLevel | SkippedLine:
    if not isinstance(item, dict):
        return SkippedLine(field=path, reason="an item must be an object")
    product, problem = _name(item.get("ProdNum"))
    if product is None:
        return SkippedLine(field=f"{path}.ProdNum", reason=f"unknown product: `ProdNum` {problem}")
    target = _target(item.get("RecQty"))
    if isinstance(target, str):
        return SkippedLine(field=f"{path}.RecQty", reason=target)
    return RecommendedLevel(product=product, target=target)


def _name(value: Any) -> tuple[str | None, str]:
    """An identifier, or None and why it is not one."""
    if value is None:
        return None, "is missing"
    if not isinstance(value, str):
        return None, "must be a text"
    if not value.strip():
        return None, "must not be blank"
    if "\x00" in value:
        return None, "must not contain NUL characters"
    if len(value) > LONGEST_NAME:
        return None, f"must be at most {LONGEST_NAME} characters"
    return value, ""


def _id(document: dict[str, Any]) -> str | None:
    value = document.get("ID")
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    name, _ = _name(value)
    return name


def _target(value: Any) -> Decimal | str:
    """`RecQty` as a quantity, or why it is not one."""
    if value is None:
        return "`RecQty` is missing"
    if isinstance(value, bool):
        return "`RecQty` must be a number"
    if isinstance(value, str):
        if not _NUMBER.fullmatch(value):
            return f"`RecQty` must be a number, not {value[:40]!r}"
        value = Decimal(value)
    elif isinstance(value, int | float):
        value = Decimal(str(value))
    if not isinstance(value, Decimal):
        return "`RecQty` must be a number"
    problem = quantity_problem(value)
    if problem is not None:
        return f"`RecQty`: {problem}"
    if value < 0:
        return f"`RecQty` must not be negative, not {value}"
    return value
