"""What a batch's decision rests on (`Found`) and what it comes to
(`Decision`), and the state a decided batch leaves (`Found.after`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, NamedTuple

import msgspec

from adapters.store.records import NewEvent, Receipt, Slot, StoredEvent
from adapters.store.rows import Lookup, Row, TableWrite
from adapters.store.types import utc


@dataclass(slots=True)
class Found:
    """What the store holds that a batch's decisions depend on, read under the
    append lock: about the batch's own payloads, keys, streams and items."""

    head: int = 0
    inbox_head: int = 0
    accepted: dict[tuple[str, str], int] = field(default_factory=dict)
    """(source, message id) of accepted payloads among the batch's -> inbox id."""
    known: set[str] = field(default_factory=set)
    """The batch's dedupe keys that are stored."""
    streams: dict[str, int] = field(default_factory=dict)
    """The batch's streams that exist -> their version."""
    statuses: dict[int, str] = field(default_factory=dict)
    """Status of each payload the batch replays."""
    slots: dict[str, Slot] = field(default_factory=dict)
    """The active slot of each projection."""
    lookups: list[Lookup] = field(default_factory=list)
    """What the live projections asked to read for the batch."""
    rows: list[list[Row]] = field(default_factory=list)
    """The rows each lookup found."""

    def after(self, decision: Decision) -> Found:
        """The state once `decision` is written: this state with the batch's
        payloads, keys, stream versions, settled replays and the rows it wrote
        to what the lookups read. A batch decided from it decides as it would
        have decided as a part of the same batch; a state read before the
        decided batch committed is brought up to date by it as well."""
        return replace(
            self,
            head=max(self.head, decision.head),
            inbox_head=max(self.inbox_head, decision.inbox_head),
            accepted={**self.accepted, **decision.accepted},
            known=self.known | decision.known,
            streams={**self.streams, **decision.streams},
            statuses={**self.statuses, **decision.statuses},
            rows=[
                _overlaid(rows, lookup, decision.writes)
                for lookup, rows in zip(self.lookups, self.rows, strict=True)
            ],
        )


def _overlaid(rows: list[Row], lookup: Lookup, writes: Sequence[TableWrite]) -> list[Row]:
    """The rows a lookup found, with the rows written to its table since."""
    key = lookup.columns.index(lookup.key)
    by_key = {row[key]: row for row in rows}
    for write in writes:
        if (
            write.table is lookup.table
            and write.columns == lookup.columns
            and write.mode in ("insert", "upsert")
        ):
            by_key.update((row[key], row) for row in write.rows)
    return list(by_key.values())


class Placed(NamedTuple):
    """A new event where it goes, with the data to store (annotated, maybe)."""

    position: int
    version: int
    event: NewEvent
    data: Any


@dataclass(slots=True)
class Decision:
    """What a batch does: an answer per delivery, the rows to write and the
    events it appends; and what the store holds once it is written."""

    receipts: list[Receipt]
    writes: list[TableWrite]
    placed: list[Placed]
    recorded_at: datetime
    head: int
    inbox_head: int
    accepted: dict[tuple[str, str], int]
    known: set[str]
    streams: dict[str, int]
    statuses: dict[int, str]

    def appended(self) -> list[StoredEvent]:
        """The new events as they will read back."""
        return [
            StoredEvent(
                position=placed.position,
                stream_id=placed.event.stream_id,
                version=placed.version,
                type=placed.event.type,
                schema_version=placed.event.schema_version,
                data=msgspec.to_builtins(placed.data),
                metadata=placed.event.metadata,
                occurred_at=utc(placed.event.occurred_at),
                recorded_at=self.recorded_at,
                dedupe_key=placed.event.dedupe_key,
                inbox_id=placed.event.inbox_id,
            )
            for placed in self.placed
        ]
