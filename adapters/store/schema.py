"""Tables of the event store, for the store alone: the inbox, the events, the
stream heads, the projection registry, cursors, deliveries per minute and
reconciliation runs. The projections' tables are in
`adapters.store.projection_tables`."""

from __future__ import annotations

from sqlalchemy import (
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from adapters.store.types import Position, UtcDateTime

metadata = MetaData()

inbox = Table(
    "inbox",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("kind", String(64), nullable=False),
    Column("message_id", Text),
    Column("content_type", Text),
    Column("headers", Text, nullable=False, server_default="{}"),
    Column("body", LargeBinary, nullable=False),
    Column("sender", Text),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", Text),
    Index(
        "inbox_message_accepted",
        "source",
        "message_id",
        unique=True,
        postgresql_where=text("status = 'accepted'"),
        sqlite_where=text("status = 'accepted'"),
    ),
    Index("inbox_status", "status"),
)

events = Table(
    "events",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=True),
    Column("stream_id", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("type", String(100), nullable=False),
    Column("schema_version", SmallInteger, nullable=False),
    Column("data", Text, nullable=False),
    Column("metadata", Text, nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("dedupe_key", String(128), nullable=False),
    Column("inbox_id", Position),
    UniqueConstraint("stream_id", "version", name="events_stream_version"),
    UniqueConstraint("dedupe_key", name="events_dedupe_key"),
)

streams = Table(
    "streams",
    metadata,
    Column("stream_id", Text, primary_key=True),
    Column("version", Integer, nullable=False),
)
"""The version each stream is at, so an append reads one row per stream instead
of scanning the stream's events."""

projections = Table(
    "projections",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("generation", Integer, primary_key=True, server_default="1"),
    Column("state", String(16), nullable=False),
    Column("position", Position, nullable=False, server_default="0"),
    Column("started_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(
        "projections_one_active",
        "name",
        unique=True,
        postgresql_where=text("state = 'active'"),
        sqlite_where=text("state = 'active'"),
    ),
    Index(
        "projections_one_building",
        "name",
        unique=True,
        postgresql_where=text("state = 'building'"),
        sqlite_where=text("state = 'building'"),
    ),
)
"""Every build of every projection version: `active` is served and kept live,
`building` is being rebuilt, `retired` was replaced (its tables are dropped).
`generation` tells apart builds of one version; `position` is the checkpoint.
At most one build per projection is active and at most one is building."""

inbox_minutes = Table(
    "inbox_minutes",
    metadata,
    Column("minute", UtcDateTime, primary_key=True),
    Column("received", Integer, nullable=False),
)
"""How many payloads arrived in each minute (UTC), kept with every batch, so a
chart of the last hours reads a few hundred rows whatever the traffic."""

cursors = Table(
    "cursors",
    metadata,
    Column("name", String(255), primary_key=True),
    Column("state", Text, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)
"""Where each puller is in its source, and each part of a rebuild filled in
several processes in the history: its own state, as JSON."""

reconciliations = Table(
    "reconciliations",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=False),
    Column("targets", Text, nullable=False),
    Column("compared", Integer, nullable=False),
    Column("drifted", Integer, nullable=False),
)
"""Each reconciliation run: the vendor, when, what was compared (`targets`, JSON
`{"resources": [...], "activities": [...]}`), how many items, how many differ."""

reconciliation_drifts = Table(
    "reconciliation_drifts",
    metadata,
    Column("run_id", Position, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("key", String(64), nullable=False),
    Column("field", String(32), nullable=False),
    Column("ours", Text),
    Column("theirs", Text),
)
"""The differences a run found, in the order it reported them."""

EVENT_COLUMNS = tuple(column.name for column in events.columns)
"""The events table's columns, in its order (and `StoredEvent`'s)."""

INBOX_COLUMNS = tuple(column.name for column in inbox.columns)
