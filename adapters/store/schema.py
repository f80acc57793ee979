"""Tables of the event store, for the store alone: the inbox, the events, the
stream heads, the projection registry, cursors, deliveries per minute,
reconciliation runs, ServiceMobility row versions and their conflicts,
dashboard sessions, the change feed and its push subscriptions. The projections' tables are in
`adapters.store.projection_tables`."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
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
    Column("sha256", String(64)),
    Column("received_count", Integer, nullable=False, server_default="1"),
    Column("last_received_at", UtcDateTime),
    Index(
        "inbox_message_accepted",
        "source",
        "message_id",
        unique=True,
        postgresql_where=text("status = 'accepted'"),
        sqlite_where=text("status = 'accepted'"),
    ),
    Index("inbox_status", "status"),
    Index(
        "inbox_sha256",
        "sha256",
        postgresql_where=text("sha256 IS NOT NULL"),
        sqlite_where=text("sha256 IS NOT NULL"),
    ),
)
"""Every payload received, exactly as it came. A quarantined payload is kept
once per content: `sha256` of its body, `received_count` the times it came
(with the same content type and CloudEvents headers), `last_received_at` the
last of them (None while it came once)."""

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
    Column("routing", Text),
    UniqueConstraint("stream_id", "version", name="events_stream_version"),
    UniqueConstraint("dedupe_key", name="events_dedupe_key"),
)
"""Every event, in store order (`position`), as appended: its stream and
version there, its type and the schema version of its data (JSON), the
delivery's metadata and payload. `routing` holds the keys of the items a
domain event touches (`domain.fold.touched_keys` of the event as stored, a
JSON array) so a rebuild routes it without decoding it; NULL for an event that
is no domain event, or one stored before revision 0012 (a rebuild then
computes its keys from its data)."""

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
"""Where each puller is in its source: its own state, as JSON."""

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

row_versions = Table(
    "row_versions",
    metadata,
    Column("version", String(80), primary_key=True),
    Column("identity", String(80), nullable=False),
    Column("inbox_id", Position),
)
"""The ServiceMobility row versions counted: each with the identity (version
and ledger content) it counts with, the first that arrived, and the payload
that brought it."""

row_conflicts = Table(
    "row_conflicts",
    metadata,
    Column("id", Position, primary_key=True, autoincrement=True),
    Column("version", String(80), nullable=False),
    Column("rowver", Text, nullable=False),
    Column("counted", String(80), nullable=False),
    Column("counted_inbox_id", Position),
    Column("identity", String(80), nullable=False),
    Column("inbox_id", Position),
    Column("detected_at", UtcDateTime, nullable=False),
    Column("both_counted", Boolean, nullable=False, server_default=text("false")),
    UniqueConstraint("version", "identity", name="row_conflicts_version_identity"),
)
"""A row version that arrived with other ledger content than the one it counts
with: the identity counted and the payload it came in, the identity refused
and its payload. `both_counted` marks one found by migration 0006 in a store
that had counted both before conflicts were detected."""

dashboard_sessions = Table(
    "dashboard_sessions",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("subject", Text, nullable=False),
    Column("name", Text, nullable=False),
    Column("scopes", Text, nullable=False),
    Column("method", String(16), nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("ended_at", UtcDateTime),
    Index("dashboard_sessions_subject", "subject"),
    Index("dashboard_sessions_expires", "expires_at"),
)
"""Signed-in dashboard browsers. `key` is a hash of the session id the cookie
carries (the id itself is never stored); `scopes` are separated by spaces;
`method` is `token` or `sso`. A session is open until `expires_at` unless
`ended_at` is set (sign-out, or an admin ending it)."""

feed = Table(
    "feed",
    metadata,
    Column("position", Position, primary_key=True, autoincrement=False),
    Column("id", Text, nullable=False),
    Column("type", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("source", String(32), nullable=False),
    Column("time", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("event_position", Position, nullable=False),
    Column("entry", Text, nullable=False),
    Index("feed_subject", "subject", "position"),
    Index("feed_type", "type", "position"),
    Index("feed_recorded", "recorded_at"),
)
"""The change feed: one row per entry, append-only, written in the batch's
transaction and never rebuilt, so positions and ids never change. `entry` is
the whole CloudEvents JSON object as served; `source` is the item's source
(`ofs`, `servicemobility`), what the `source` filter matches; `time` is when
the stock moved, `recorded_at` when the entry was committed."""

feed_owners = Table(
    "feed_owners",
    metadata,
    Column("kind", String(16), primary_key=True),
    Column("owner", Text, primary_key=True),
    Column("position", Position, primary_key=True),
)
"""The owners an entry's item had before or after its change (kind
`resource`, `activity` or `customer`): what the owner filters read by key."""

subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("url", Text, nullable=False),
    Column("filters", Text, nullable=False, server_default="{}"),
    Column("secret", Text, nullable=False),
    Column("batch_size", Integer, nullable=False),
    Column("position", Position, nullable=False),
    Column("state", String(16), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("last_error", Text),
    Column("last_delivered_at", UtcDateTime),
    Column("failing_since", UtcDateTime),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", UtcDateTime),
    Column("pending_id", String(64)),
    Column("pending_through", Position),
    Column("lease_holder", String(64)),
    Column("lease_until", UtcDateTime),
    Column("generation", Integer, nullable=False, server_default="0"),
)
"""Push subscriptions to the feed: where to, which entries (`filters`, JSON),
the signing secret, the position acknowledged, `state` (`active`,
`retrying`, `parked`), the last error and delivery, and the batch being
sent (`pending_id`, its `webhook-id`, and the position it ends at) so a retry
sends the same batch with the same id. The process holding the lease until
`lease_until` is the only one delivering it; `generation` moves on every
change by an admin (rewind, resume), so a delivery begun before does not
move the position."""

EVENT_COLUMNS = tuple(column.name for column in events.columns)
"""The events table's columns, in its order (and `StoredEvent`'s)."""

INBOX_COLUMNS = tuple(column.name for column in inbox.columns)
