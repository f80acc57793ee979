"""Events carry their routing: the keys of the items each touches.

`events.routing` holds, for a domain event appended from now on, the keys
`domain.fold.touched_keys` gives for it as stored (a JSON array), so a rebuild
routes the event to its items without decoding it, and a rebuild of the
projections that need only those keys decodes nothing. The column is added
nullable and empty: no row is rewritten, so the upgrade takes no time
whatever the history's length, and the events stored before it (NULL) have
their keys computed from their data by the rebuild, as before.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("events", sa.Column("routing", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("events") as batch:
        batch.drop_column("routing")
