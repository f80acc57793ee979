"""Quarantined payloads kept once per content; ServiceMobility rows known by
their row version and ledger content.

1. The inbox gets `sha256` (of the body), `received_count` and
   `last_received_at`. Quarantined payloads of one content (source, kind,
   body, content type and CloudEvents headers) are collapsed into the first
   kept, with the number of copies and when the last one came.
2. `row_versions` holds the content each row version counts with, and
   `row_conflicts` each version that came with other ledger content.
3. Every stored ledger line gets its row's new identity as its key prefix
   (`smrow2:`, `adapters.servicemobility_rows`), found from the raw payload in
   the inbox, so a row stored before the upgrade is recognised when it comes
   again; its row version is claimed by the first stored content. A version
   the store holds with two contents (both counted, before versions were
   checked) is recorded as a conflict with `both_counted`; stored events are
   never rewritten, so both keep their effect. A line whose new key is taken
   (the same row counted twice under the old keys) keeps its old key.

The identity and the old keys are written out here as they are when this
migration is made: a later change of the live identity needs a migration of
its own.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

from adapters.store.row_keys import RowKeys, cloudevent, rows_by_old_key
from adapters.store.types import Position, UtcDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

log = logging.getLogger("invtrack.migrations")

BATCH = 1000
LEDGER_LINE = "sm.StockUsageRecorded"

_inbox = sa.table(
    "inbox",
    sa.column("id", sa.BigInteger),
    sa.column("source", sa.String),
    sa.column("kind", sa.String),
    sa.column("content_type", sa.Text),
    sa.column("headers", sa.Text),
    sa.column("body", sa.LargeBinary),
    sa.column("received_at", UtcDateTime),
    sa.column("status", sa.String),
    sa.column("sha256", sa.String),
    sa.column("received_count", sa.Integer),
    sa.column("last_received_at", UtcDateTime),
)
_events = sa.table(
    "events",
    sa.column("position", sa.BigInteger),
    sa.column("type", sa.String),
    sa.column("dedupe_key", sa.String),
    sa.column("inbox_id", sa.BigInteger),
)
_versions = sa.table(
    "row_versions",
    sa.column("version", sa.String),
    sa.column("identity", sa.String),
    sa.column("inbox_id", sa.BigInteger),
)
_conflicts = sa.table(
    "row_conflicts",
    sa.column("version", sa.String),
    sa.column("rowver", sa.Text),
    sa.column("counted", sa.String),
    sa.column("counted_inbox_id", sa.BigInteger),
    sa.column("identity", sa.String),
    sa.column("inbox_id", sa.BigInteger),
    sa.column("detected_at", UtcDateTime),
    sa.column("both_counted", sa.Boolean),
)


def upgrade() -> None:
    op.add_column("inbox", sa.Column("sha256", sa.String(64)))
    op.add_column(
        "inbox", sa.Column("received_count", sa.Integer, nullable=False, server_default="1")
    )
    op.add_column("inbox", sa.Column("last_received_at", UtcDateTime))
    op.create_index(
        "inbox_sha256",
        "inbox",
        ["sha256"],
        postgresql_where=sa.text("sha256 IS NOT NULL"),
        sqlite_where=sa.text("sha256 IS NOT NULL"),
    )
    op.create_table(
        "row_versions",
        sa.Column("version", sa.String(80), primary_key=True),
        sa.Column("identity", sa.String(80), nullable=False),
        sa.Column("inbox_id", Position),
    )
    op.create_table(
        "row_conflicts",
        sa.Column("id", Position, primary_key=True, autoincrement=True),
        sa.Column("version", sa.String(80), nullable=False),
        sa.Column("rowver", sa.Text, nullable=False),
        sa.Column("counted", sa.String(80), nullable=False),
        sa.Column("counted_inbox_id", Position),
        sa.Column("identity", sa.String(80), nullable=False),
        sa.Column("inbox_id", Position),
        sa.Column("detected_at", UtcDateTime, nullable=False),
        sa.Column("both_counted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.UniqueConstraint("version", "identity", name="row_conflicts_version_identity"),
    )
    bind = op.get_bind()
    collapse_quarantine(bind)
    rekey_lines(bind)


def downgrade() -> None:
    """Collapsed copies and old keys are gone: there is no way back."""
    raise NotImplementedError("revision 0006 cannot be downgraded")


# ---- 1. the quarantine, once per content ------------------------------------------


def collapse_quarantine(bind: sa.Connection) -> None:
    kept: dict[tuple[Any, ...], list[Any]] = {}
    """Content -> [first id, copies, last received]."""
    copies: list[int] = []
    after = 0
    while rows := bind.execute(
        sa.select(
            _inbox.c.id,
            _inbox.c.source,
            _inbox.c.kind,
            _inbox.c.content_type,
            _inbox.c.headers,
            _inbox.c.body,
            _inbox.c.received_at,
        )
        .where(_inbox.c.status == "quarantined", _inbox.c.id > after)
        .order_by(_inbox.c.id)
        .limit(100)
    ).all():
        digests = []
        for inbox_id, source, kind, content_type, headers, body, received_at in rows:
            digest = hashlib.sha256(bytes(body)).hexdigest()
            digests.append({"i": inbox_id, "d": digest})
            key = (source, kind, digest, content_type or "", cloudevent(headers))
            if key in kept:
                kept[key][1:] = [kept[key][1] + 1, received_at]
                copies.append(int(inbox_id))
            else:
                kept[key] = [int(inbox_id), 1, None]
        bind.execute(
            sa.update(_inbox)
            .where(_inbox.c.id == sa.bindparam("i"))
            .values(sha256=sa.bindparam("d")),
            digests,
        )
        after = int(rows[-1][0])
    _forget(bind, copies)
    counts = [{"i": i, "n": n, "t": t} for i, n, t in kept.values() if n > 1]
    if counts:
        bind.execute(
            sa.update(_inbox)
            .where(_inbox.c.id == sa.bindparam("i"))
            .values(received_count=sa.bindparam("n"), last_received_at=sa.bindparam("t")),
            counts,
        )
    if copies:
        log.warning(
            "%d quarantined payloads were copies of %d others; each is kept once with its count",
            len(copies),
            len(counts),
        )


def _forget(bind: sa.Connection, ids: list[int]) -> None:
    for start in range(0, len(ids), 500):
        bind.execute(sa.delete(_inbox).where(_inbox.c.id.in_(ids[start : start + 500])))


# ---- 2. ledger lines keyed by row version and content ---------------------------------


class _Claims:
    """The row versions of one batch of lines: who holds each, what to record."""

    def __init__(self, held: dict[str, tuple[str, int | None]], now: datetime) -> None:
        self.held = held
        self.now = now
        self.claims: list[dict[str, Any]] = []
        self.conflicts: list[dict[str, Any]] = []

    def see(self, row: RowKeys, inbox_id: int | None, recorded: set[tuple[str, str]]) -> None:
        if not row.version:
            return
        counted = self.held.get(row.version)
        if counted is None:
            self.held[row.version] = (row.identity, inbox_id)
            self.claims.append(
                {"version": row.version, "identity": row.identity, "inbox_id": inbox_id}
            )
        elif counted[0] != row.identity and (row.version, row.identity) not in recorded:
            recorded.add((row.version, row.identity))
            self.conflicts.append(_conflict(row, counted, inbox_id, self.now))


def rekey_lines(bind: sa.Connection) -> None:
    recorded: set[tuple[str, str]] = set()
    moved = kept = conflicts = 0
    now = datetime.now(UTC)
    for batch in _old_lines(bind):
        bodies = _bodies(bind, {inbox_id for _, _, inbox_id in batch if inbox_id is not None})
        renamed = _renamed(batch, bodies)
        taken = _taken(bind, [new for _, new, _, _ in renamed])
        claims = _Claims(_held(bind, [row.version for _, _, row, _ in renamed]), now)
        updates = []
        for position, new, row, inbox_id in renamed:
            claims.see(row, inbox_id, recorded)
            if new in taken:
                kept += 1
                continue
            taken.add(new)
            updates.append({"p": position, "k": new})
        _write(bind, updates, claims.claims, claims.conflicts)
        moved += len(updates)
        conflicts += len(claims.conflicts)
    if kept:
        log.warning(
            "%d ServiceMobility ledger lines had been stored twice; they keep their old keys", kept
        )
    if conflicts:
        log.warning(
            "%d ServiceMobility row versions had been counted with two contents; "
            "recorded as conflicts (invtrack status lists them)",
            conflicts,
        )
    log.info("%d ServiceMobility ledger lines keyed by row version and content", moved)


def _held(bind: sa.Connection, versions: list[str]) -> dict[str, tuple[str, int | None]]:
    """The content each of these row versions is claimed by, so far."""
    held: dict[str, tuple[str, int | None]] = {}
    unique = sorted({version for version in versions if version})
    for start in range(0, len(unique), 500):
        rows = bind.execute(
            sa.select(_versions.c.version, _versions.c.identity, _versions.c.inbox_id).where(
                _versions.c.version.in_(unique[start : start + 500])
            )
        )
        held.update({str(row[0]): (str(row[1]), row[2]) for row in rows})
    return held


def _conflict(
    row: RowKeys, counted: tuple[str, int | None], inbox_id: int | None, now: datetime
) -> dict[str, Any]:
    return {
        "version": row.version,
        "rowver": row.rowver,
        "counted": counted[0],
        "counted_inbox_id": counted[1],
        "identity": row.identity,
        "inbox_id": inbox_id,
        "detected_at": now,
        "both_counted": True,
    }


def _write(
    bind: sa.Connection,
    updates: list[dict[str, Any]],
    claims: list[dict[str, Any]],
    conflicts: list[dict[str, Any]],
) -> None:
    if updates:
        bind.execute(
            sa.update(_events)
            .where(_events.c.position == sa.bindparam("p"))
            .values(dedupe_key=sa.bindparam("k")),
            updates,
        )
    if claims:
        bind.execute(sa.insert(_versions), claims)
    if conflicts:
        bind.execute(sa.insert(_conflicts), conflicts)


def _old_lines(bind: sa.Connection) -> Iterator[list[tuple[int, str, int | None]]]:
    """(position, key, inbox id) of the ledger lines keyed by an earlier build."""
    after = 0
    while True:
        rows = bind.execute(
            sa.select(_events.c.position, _events.c.dedupe_key, _events.c.inbox_id)
            .where(
                _events.c.position > after,
                _events.c.type == LEDGER_LINE,
                sa.or_(_events.c.dedupe_key.like("smrow:%"), _events.c.dedupe_key.like("sm:%")),
            )
            .order_by(_events.c.position)
            .limit(BATCH)
        ).all()
        if not rows:
            return
        yield [(int(row[0]), str(row[1]), row[2]) for row in rows]
        after = int(rows[-1][0])


def _bodies(bind: sa.Connection, inbox_ids: set[int]) -> dict[int, tuple[bytes, str | None]]:
    """Body and headers of each payload."""
    found: dict[int, tuple[bytes, str | None]] = {}
    ids = sorted(inbox_ids)
    for start in range(0, len(ids), 200):
        rows = bind.execute(
            sa.select(_inbox.c.id, _inbox.c.body, _inbox.c.headers).where(
                _inbox.c.id.in_(ids[start : start + 200])
            )
        )
        found.update({int(row[0]): (bytes(row[1]), row[2]) for row in rows})
    return found


def _renamed(
    batch: Sequence[tuple[int, str, int | None]], bodies: dict[int, tuple[bytes, str | None]]
) -> list[tuple[int, str, RowKeys, int]]:
    """(position, new key, its row, inbox id) of each line whose row is found in its payload."""
    rows: dict[int, dict[str, RowKeys]] = {}
    renamed = []
    for position, key, inbox_id in batch:
        if inbox_id is None or inbox_id not in bodies:
            continue
        if inbox_id not in rows:
            rows[inbox_id] = rows_by_old_key(*bodies[inbox_id])
        old_prefix, _, line = key.rpartition(":")
        old_prefix, _, location = old_prefix.rpartition(":")
        row = rows[inbox_id].get(old_prefix)
        if row is not None:
            renamed.append((position, f"{row.identity}:{location}:{line}", row, inbox_id))
    return renamed


def _taken(bind: sa.Connection, keys: list[str]) -> set[str]:
    taken: set[str] = set()
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        rows = bind.execute(sa.select(_events.c.dedupe_key).where(_events.c.dedupe_key.in_(chunk)))
        taken.update(str(row[0]) for row in rows)
    return taken
