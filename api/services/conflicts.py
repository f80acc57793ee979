"""Row conflicts as the dashboard shows them: each with the rows behind it,
found again in the two payloads the store kept (the one whose content counts
and the one refused)."""

from __future__ import annotations

import msgspec

from adapters import servicemobility
from adapters.servicemobility_rows import rows_with_version
from adapters.store import Reader, RowConflict

_pretty = msgspec.json.Encoder(decimal_format="number")


class ConflictView(msgspec.Struct, frozen=True, kw_only=True):
    conflict: RowConflict
    counted: list[str]
    """The counted row as its payload carried it, as indented JSON (none when
    the payload is not kept)."""
    refused: list[str]
    """The refused row, likewise."""


async def conflict_view(store: Reader, conflict_id: int) -> ConflictView | None:
    """One conflict with both rows; None for an id no conflict has."""
    conflict = await store.conflict(conflict_id)
    if conflict is None:
        return None
    return ConflictView(
        conflict=conflict,
        counted=await _rows(store, conflict.counted_inbox_id, conflict.rowver, conflict.counted),
        refused=await _rows(store, conflict.inbox_id, conflict.rowver, conflict.identity),
    )


async def _rows(store: Reader, inbox_id: int | None, rowver: str, identity: str) -> list[str]:
    """The rows of a kept payload with this version and identity, as text."""
    record = None if inbox_id is None else await store.inbox_entry(inbox_id)
    if record is None:
        return []
    return [
        msgspec.json.format(_pretty.encode(row), indent=2).decode()
        for row in rows_with_version(record.body, rowver)
        if _identity(row) == identity
    ]


def _identity(row: dict[str, object]) -> str | None:
    try:
        facts = servicemobility.usage_facts([row], "$.rows")
    except (servicemobility.TranslationError, RecursionError, OverflowError):
        return None
    claimed = facts[0].row if facts else None
    return None if claimed is None else claimed.identity
