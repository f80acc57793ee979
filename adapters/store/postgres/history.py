"""A history loaded in bulk: events as given, with COPY, into a store nothing
else writes meanwhile (a benchmark's generated history).

The events table's unique constraints and secondary indexes are dropped for
the load and built again after it from their own definitions, the stream heads
are set from what was loaded, and both tables are vacuumed: a store that grew
over months has its visibility map set, hint bits written and statistics
current.
"""

from __future__ import annotations

from collections.abc import AsyncIterable, Sequence
from typing import Any

import asyncpg
import msgspec

from adapters.store.records import StoredEvent
from adapters.store.routing import routing_text
from adapters.store.schema import EVENT_COLUMNS

_encode = msgspec.json.Encoder().encode


def _row(event: StoredEvent) -> tuple[Any, ...]:
    return (
        event.position,
        event.stream_id,
        event.version,
        event.type,
        event.schema_version,
        _encode(event.data).decode(),
        _encode(event.metadata).decode(),
        event.occurred_at,
        event.recorded_at,
        event.dedupe_key,
        event.inbox_id,
        routing_text(event.routing),
    )


async def load(conn: asyncpg.Connection, batches: AsyncIterable[Sequence[StoredEvent]]) -> int:
    """Copy every batch into the events table; how many events."""
    rebuild = await _drop_indexes(conn)
    loaded = 0
    async for batch in batches:
        records = [_row(event) for event in batch]
        await conn.copy_records_to_table("events", records=records, columns=EVENT_COLUMNS)
        loaded += len(records)
    for statement in rebuild:
        await conn.execute(statement)
    # Appends read each stream's version from its head row.
    await conn.execute(
        "INSERT INTO streams (stream_id, version) "
        "SELECT stream_id, max(version) FROM events GROUP BY stream_id "
        "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version"
    )
    await conn.execute("VACUUM (ANALYZE) streams")
    await conn.execute("VACUUM (ANALYZE) events")
    return loaded


async def _drop_indexes(conn: asyncpg.Connection) -> list[str]:
    """Drop the events table's unique constraints and secondary indexes; the
    statements that create them again."""
    constraints = await conn.fetch(
        "SELECT conname, pg_get_constraintdef(oid) AS definition FROM pg_constraint "
        "WHERE conrelid = 'events'::regclass AND contype = 'u'"
    )
    indexes = await conn.fetch(
        "SELECT i.indexrelid::regclass::text AS name, pg_get_indexdef(i.indexrelid) AS definition "
        "FROM pg_index i WHERE i.indrelid = 'events'::regclass AND NOT i.indisprimary "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)"
    )
    for row in constraints:
        await conn.execute(f'ALTER TABLE events DROP CONSTRAINT "{row["conname"]}"')
    for row in indexes:
        await conn.execute(f"DROP INDEX {row['name']}")
    return [
        f'ALTER TABLE events ADD CONSTRAINT "{row["conname"]}" {row["definition"]}'
        for row in constraints
    ] + [row["definition"] for row in indexes]
