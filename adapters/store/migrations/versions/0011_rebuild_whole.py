"""Rebuilds fold the history in one process.

A rebuild of the previous version could fill a slot in several processes, one
part of the items each, every part keeping its own checkpoint as a cursor
named `rebuild:{projection}:{slot}:{part}/{parts}`. A slot left half-filled
that way holds rows past its own checkpoint, so it cannot be resumed whole:
it is retired (the next rebuild drops its tables and starts a new slot) and
the parts' cursors are removed.

Revision ID: 0011
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None

_PREFIX = "rebuild:"


def upgrade() -> None:
    conn = op.get_bind()
    names = conn.execute(
        sa.text("SELECT name FROM cursors WHERE name LIKE :prefix"), {"prefix": f"{_PREFIX}%"}
    ).scalars()
    halves = {_slot_of(name) for name in names}
    for projection, slot in halves:
        conn.execute(
            sa.text(
                "UPDATE projections SET state = 'retired' WHERE name = :name AND "
                "state = 'building' AND (CASE WHEN generation = 1 THEN 'v' || version "
                "ELSE 'v' || version || '_' || generation END) = :slot"
            ),
            {"name": projection, "slot": slot},
        )
    conn.execute(sa.text("DELETE FROM cursors WHERE name LIKE :prefix"), {"prefix": f"{_PREFIX}%"})


def _slot_of(cursor: str) -> tuple[str, str]:
    """(projection, slot) of a part's cursor."""
    projection, slot, _ = cursor.removeprefix(_PREFIX).split(":", 2)
    return projection, slot


def downgrade() -> None:
    """Nothing to restore: a retired slot is rebuilt anew."""
