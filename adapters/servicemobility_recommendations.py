"""ServiceMobility `StockLevelRecommendation` rows turned into par levels.

Each row is one recommendation: for its `StorageLocationID`, each item's
`ProdNum` gets `target = RecQty` (`domain.signals.recommendations` reads it,
for new rows and for documents stored by earlier builds alike). The usable
items become one `ParLevelsRecommended` event; the others are reported with
where and why (`Translation.skipped`). A row without a usable location, or
whose items are all unusable, gives no event (a row without items gives one
that sets nothing). A row's dedupe key is the one its document had (webhook source, row
version, canonical content), so a row stored as a document by an earlier
build and delivered again is a duplicate. Its time is its `ModifiedUTC`, else
the envelope's `time`.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any

import msgspec

from adapters.servicemobility_fields import Translation, parse_time, row_key
from domain.events import Fact, ParLevelsRecommended, SkippedLine
from domain.signals.recommendations import (
    RECOMMENDATION,
    read_recommendation,
    recommendation_object,
)

__all__ = ["RECOMMENDATION", "recommendation_row", "recommendations"]


def recommendations(
    source: str | None, envelope_time: str | None, rows: list[dict[str, Any]]
) -> Translation:
    """The par levels of every row, and every item skipped."""
    facts: list[Fact] = []
    skipped: list[SkippedLine] = []
    for index, row in enumerate(rows):
        fact, left_out = recommendation_row(source, envelope_time, row, f"$.data.rows[{index}]")
        if fact is not None:
            facts.append(fact)
        skipped += left_out
    return Translation(facts, tuple(skipped))


def recommendation_row(
    source: str | None, envelope_time: str | None, row: dict[str, Any], path: str
) -> tuple[Fact | None, tuple[SkippedLine, ...]]:
    """One row's event (None when nothing of it is usable) and what it skipped."""
    document = recommendation_object(row)
    where = path if document is row else f"{path}.{RECOMMENDATION}"
    reading = read_recommendation(document, where)
    if reading.location is None or (reading.skipped and not reading.levels):
        return None, reading.skipped
    modified = document.get("ModifiedUTC")
    if modified:
        occurred_at = parse_time(str(modified), f"{where}.ModifiedUTC")
    else:
        occurred_at = parse_time(envelope_time, "$.time")
    key = row_key(source, row)
    event = ParLevelsRecommended(
        occurred_at=occurred_at,
        recommendation_id=reading.recommendation_id or f"row-{key[3:27]}",
        location=reading.location,
        levels=reading.levels,
        skipped=reading.skipped,
        body=msgspec.to_builtins(row),
    )
    return Fact(event=event, dedupe_key=key), reading.skipped
