"""What makes two InventoryUsage rows one row, and finding a row in a kept
payload again.

A row's identity is what the ledger depends on: its row version (`rowver`)
and the ledger lines it gives, written one way (numbers by value, `100` and
`100.0` alike; a field left out as the default it stands for; times in UTC; a
disposition reason without content as none). Nothing of how it travelled is
part of it: not the webhook source, the envelope, the keys the Export API
writes beside the object, key order or number spelling. Its lines are keyed
`{identity}:{location index}:{item index}`.

One row version counts with one content; the same version with other ledger
lines is a conflict (the first stays counted, adapters.store.row_versions).
The vendor documents a `rowver` of its own for every row, but recorded
deliveries carry one `rowver` on rows of different movements (every row of
the shared ServiceMobility fixtures has `AAAAAAAB9x0=`), so a row version is
the `rowver` with what says which movement the row records: who, when and
why (UserID, ModifiedUTC, RefModule, RefObjID). Two renderings of one row
agree on those and on their lines; a row sent again under its version with
other lines disagrees only on the lines.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from decimal import Decimal
from typing import Any, Final

import msgspec

from domain.events import DispositionReason, RowClaim, StockUsageRecorded

IDENTITY_PREFIX: Final = "smrow2:"
"""Prefix of a row's identity (the `smrow:` of earlier builds hashed the raw
object; migration 0006 re-keys stored lines)."""
VERSION_PREFIX: Final = "smver:"

_NO_REASON: Final = DispositionReason()
_any: Final = msgspec.json.Decoder(Any, float_hook=Decimal)


def rowver_text(rowver: Any) -> str:
    """A row version as text, "" when there is none."""
    return "" if rowver is None else str(rowver)


def ledger_identity(rowver: str, lines: Sequence[StockUsageRecorded]) -> str:
    """The identity of the row `rowver` whose ledger lines are `lines`."""
    content = [_line(line) for line in lines]
    material = msgspec.json.encode([rowver, content])
    return IDENTITY_PREFIX + hashlib.sha256(material).hexdigest()


def version_key(rowver: str, line: StockUsageRecorded) -> str:
    """The key of a row version: the `rowver` with what says which stock
    movement the row records (who, when, why: UserID, ModifiedUTC, RefModule,
    RefObjID), which every line of the row carries."""
    head = [rowver, line.occurred_at.isoformat(), line.ref_module, line.ref_object, line.user or ""]
    return VERSION_PREFIX + hashlib.sha256(msgspec.json.encode(head)).hexdigest()


def claim(rowver: str, lines: Sequence[StockUsageRecorded]) -> tuple[str, RowClaim | None]:
    """The row's identity, and what its lines claim: its version, held by the
    first content it arrives with (nothing for a row without a `rowver` or
    without lines)."""
    identity = ledger_identity(rowver, lines)
    if not rowver or not lines:
        return identity, None
    version = version_key(rowver, lines[0])
    return identity, RowClaim(version=version, identity=identity, rowver=rowver)


def _line(line: StockUsageRecorded) -> list[Any]:
    return [
        line.occurred_at.isoformat(),
        line.ref_module,
        line.ref_object,
        line.user or "",
        line.location,
        line.product,
        line.serial or "",
        line.batch or "",
        *map(
            number,
            (
                line.quantity_in,
                line.quantity_out,
                line.reported_quantity,
                line.damaged_quantity,
                line.reported_damaged_quantity,
            ),
        ),
        [_reason(reason) for reason in line.disposition_reasons if reason != _NO_REASON],
    ]


def _reason(reason: DispositionReason) -> list[str]:
    return [
        reason.reason_code,
        reason.description,
        number(reason.quantity_in),
        number(reason.quantity_out),
        number(reason.inventory_quantity),
        number(reason.quantity),
    ]


def number(value: Decimal) -> str:
    """A quantity by its value: `100`, `100.0` and `1E+2` alike, `-0` as `0`."""
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text


def rows_with_version(body: bytes, rowver: str) -> list[Any]:
    """The rows of a kept payload (a webhook envelope, the `data` of a
    binary-mode one, or an Export API page) whose `rowver` is `rowver`, as
    sent; none when the payload cannot be read."""
    try:
        document = _any.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return []
    if isinstance(document, dict) and isinstance(document.get("data"), dict):
        document = document["data"]
    rows = document.get("rows") if isinstance(document, dict) else None
    if not isinstance(rows, list):
        return []
    return [
        row
        for row in rows
        if isinstance(row, dict) and "rowver" in row and rowver_text(row["rowver"]) == rowver
    ]
