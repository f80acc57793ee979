"""ServiceMobility ledger lines keyed by their row alone, not by the channel.

A ledger line's dedupe key used to be `sm:{hash of webhook source, rowver and
the whole row}:{location}:{item}`. Rows now also arrive through the Export API,
which has no webhook source and may add keys beside `InventoryUsage`, so a line
is keyed by `smrow:{hash of rowver and the InventoryUsage object}` (see
`adapters.servicemobility.row_identity`). This migration gives every stored
line its new key, read from the raw envelope kept in the inbox, so a row stored
before the upgrade is recognised when it arrives again by either channel.

Both key functions are written out here as they were when this migration was
made: a later change of the live identity needs a migration of its own.

A row that the old keys let in twice (the same row from two webhook sources)
was counted twice before the upgrade. Its first line takes the new key; the
later copy keeps its old key and its effect, since stored events are never
rewritten; the number of such lines is logged.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

import msgspec
import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

log = logging.getLogger("invtrack.migrations")

BATCH = 1000
LEDGER_LINE = "sm.StockUsageRecorded"

_events = sa.table(
    "events",
    sa.column("position", sa.BigInteger),
    sa.column("type", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("inbox_id", sa.BigInteger),
)
_inbox = sa.table("inbox", sa.column("id", sa.BigInteger), sa.column("body", sa.LargeBinary))
_decoder = msgspec.json.Decoder(Any, float_hook=Decimal)


def upgrade() -> None:
    bind = op.get_bind()
    moved = kept = 0
    for batch in _old_lines(bind):
        bodies = _bodies(bind, {inbox_id for _, _, inbox_id in batch if inbox_id is not None})
        renamed = _renamed(batch, bodies)
        taken = _taken(bind, [new for _, new in renamed])
        updates = []
        for position, new in renamed:
            if new in taken:
                kept += 1
                continue
            taken.add(new)
            updates.append({"p": position, "k": new})
        if updates:
            bind.execute(
                sa.update(_events)
                .where(_events.c.position == sa.bindparam("p"))
                .values(dedupe_key=sa.bindparam("k")),
                updates,
            )
        moved += len(updates)
    if kept:
        log.warning(
            "%d ServiceMobility ledger lines had been stored twice (one row from two "
            "webhook sources); they keep their old keys",
            kept,
        )
    log.info("%d ServiceMobility ledger lines re-keyed by their row", moved)


def downgrade() -> None:
    """The old keys need the webhook source, which the export channel lacks:
    once export rows are stored there is no way back."""
    raise NotImplementedError("revision 0004 cannot be downgraded")


def _old_lines(bind: sa.Connection) -> Iterator[list[tuple[int, str, int | None]]]:
    """(position, key, inbox id) of the ledger lines still keyed the old way."""
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_events.c.position, _events.c.dedupe_key, _events.c.inbox_id)
            .where(
                _events.c.position > after,
                _events.c.type == LEDGER_LINE,
                _events.c.dedupe_key.like("sm:%"),
            )
            .order_by(_events.c.position)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [(int(row[0]), str(row[1]), row[2]) for row in rows]
        after = int(rows[-1][0])


def _bodies(bind: sa.Connection, inbox_ids: set[int]) -> dict[int, bytes]:
    if not inbox_ids:
        return {}
    rows = bind.execute(sa.select(_inbox.c.id, _inbox.c.body).where(_inbox.c.id.in_(inbox_ids)))
    return {int(row[0]): bytes(row[1]) for row in rows}


def _renamed(
    batch: Sequence[tuple[int, str, int | None]], bodies: dict[int, bytes]
) -> list[tuple[int, str]]:
    """(position, new key) of each line whose row is found in its envelope."""
    prefixes: dict[int, dict[str, str]] = {}
    renamed = []
    for position, key, inbox_id in batch:
        if inbox_id is None or inbox_id not in bodies:
            continue
        if inbox_id not in prefixes:
            prefixes[inbox_id] = _prefixes(bodies[inbox_id])
        old_prefix, _, line = key.rpartition(":")
        old_prefix, _, location = old_prefix.rpartition(":")
        new_prefix = prefixes[inbox_id].get(old_prefix)
        if new_prefix is not None:
            renamed.append((position, f"{new_prefix}:{location}:{line}"))
    return renamed


def _taken(bind: sa.Connection, keys: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = bind.execute(sa.select(_events.c.dedupe_key).where(_events.c.dedupe_key.in_(chunk)))
        taken.update(str(row[0]) for row in rows)
    return taken


def _prefixes(body: bytes) -> dict[str, str]:
    """Old row key -> new row key, for every row of a kept webhook envelope."""
    try:
        envelope = _decoder.decode(body)
    except msgspec.DecodeError:
        return {}
    data = envelope.get("data") if isinstance(envelope, dict) else None
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return {}
    source = envelope.get("source")
    source = source if isinstance(source, str) else ""
    return {_old_key(source, row): _new_key(row) for row in rows if isinstance(row, dict)}


def _old_key(source: str, row: dict[str, Any]) -> str:
    rowver = row.get("rowver")
    material = b"\x1f".join(
        (
            source.encode(),
            str(rowver if rowver is not None else "").encode(),
            msgspec.json.encode(_canonical(row), order="sorted"),
        )
    )
    return "sm:" + hashlib.sha256(material).hexdigest()


def _new_key(row: dict[str, Any]) -> str:
    rowver = row.get("rowver")
    material = b"\x1f".join(
        (
            str(rowver if rowver is not None else "").encode(),
            msgspec.json.encode(_canonical(row.get("InventoryUsage")), order="sorted"),
        )
    )
    return "smrow:" + hashlib.sha256(material).hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return {"#": format(number.normalize(), "f")}
    return value
