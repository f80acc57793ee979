"""ServiceMobility row versions in a batch: each counts with one content.

The vendor gives every row its own version (`rowver`). The first content a
version arrives with is the one counted: its claim is stored with the payload
that brought it. The same version arriving again with the same content is a
redelivery (its lines are known by their keys); with other ledger content it
is a conflict: its lines are not counted, and the conflict is recorded once
per (version, content) with both payloads.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from adapters.store.rows import Lookup, Row, TableWrite
from adapters.store.schema import row_conflicts, row_versions
from domain.events import RowClaim

LOOKUP_COLUMNS: Final = ("version", "identity", "inbox_id")
CONFLICT_COLUMNS: Final = (
    "version",
    "rowver",
    "counted",
    "counted_inbox_id",
    "identity",
    "inbox_id",
    "detected_at",
)


def lookup(versions: Sequence[str]) -> Lookup:
    """The stored claims of these row versions."""
    return Lookup(row_versions, "version", LOOKUP_COLUMNS, versions)


class RowVersions:
    """The row versions a batch claims: what the store holds, what the batch adds."""

    def __init__(self, found: Sequence[Row], now: datetime) -> None:
        self.held: dict[str, tuple[str, int | None]] = {
            version: (identity, inbox_id) for version, identity, inbox_id in found
        }
        self.now = now
        self.claimed: list[Row] = []
        self.conflicts: list[Row] = []
        self._recorded: set[tuple[str, str]] = set()

    def admit(self, claim: RowClaim, inbox_id: int) -> bool:
        """Whether a line of this row may count: its version is new (and now
        counts with this content) or counts with this content already. Other
        content is a conflict, recorded once."""
        held = self.held.get(claim.version)
        if held is None:
            self.held[claim.version] = (claim.identity, inbox_id)
            self.claimed.append((claim.version, claim.identity, inbox_id))
            return True
        counted, counted_inbox = held
        if counted == claim.identity:
            return True
        if (claim.version, claim.identity) not in self._recorded:
            self._recorded.add((claim.version, claim.identity))
            self.conflicts.append(
                (
                    claim.version,
                    claim.rowver,
                    counted,
                    counted_inbox,
                    claim.identity,
                    inbox_id,
                    self.now,
                )
            )
        return False

    def writes(self) -> list[TableWrite]:
        return [
            TableWrite(row_versions, LOOKUP_COLUMNS, self.claimed),
            # A conflict recorded by an earlier batch is not recorded again.
            TableWrite(
                row_conflicts,
                CONFLICT_COLUMNS,
                self.conflicts,
                mode="ignore",
                keys=("version", "identity"),
            ),
        ]
