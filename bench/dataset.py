"""A stored history to rebuild and query: the generated events of
bench/history.py, loaded into a migrated store with COPY."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Final

import asyncpg
import msgspec

from adapters.store.plan import EVENT_COLUMNS
from bench.history import Loaded
from bench.pg import plain

COLUMNS: Final = EVENT_COLUMNS[1:]
"""The events table's columns but `position`, which the table gives."""


async def load(url: str, count: int, seed: int = 7) -> Loaded:
    """Append `count` generated events to the (migrated) store at `url`.

    A subprocess generates them as COPY text while PostgreSQL takes them in,
    one core each. The table's secondary indexes and unique constraints are
    dropped for the load and built again after it, from their own definitions.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        summary = Path(directory) / "loaded.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.history",
            str(count),
            str(seed),
            str(summary),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        conn = await asyncpg.connect(plain(url))
        try:
            rebuild = await _drop_indexes(conn)
            await conn.copy_to_table(
                "events", source=_chunks(process.stdout), columns=COLUMNS, format="text"
            )
            if await process.wait() != 0:
                raise RuntimeError("generating the events failed")
            for statement in rebuild:
                await conn.execute(statement)
            # Appends read each stream's version from its head row; COPY into
            # events bypassed them, so set them from what was loaded.
            await conn.execute(
                "INSERT INTO streams (stream_id, version) "
                "SELECT stream_id, max(version) FROM events GROUP BY stream_id "
                "ON CONFLICT (stream_id) DO UPDATE SET version = excluded.version"
            )
            await conn.execute("VACUUM (ANALYZE) streams")
            # A store that grew over months has been vacuumed: visibility map
            # set (index-only scans), hint bits written, statistics current.
            await conn.execute("VACUUM (ANALYZE) events")
        finally:
            await conn.close()
            if process.returncode is None:
                process.kill()
                await process.wait()
        generated = msgspec.json.decode(summary.read_bytes(), type=Loaded)
    return msgspec.structs.replace(generated, seconds=time.perf_counter() - started)


async def _chunks(stream: asyncio.StreamReader) -> AsyncIterator[bytes]:
    while chunk := await stream.read(1 << 20):
        yield chunk


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
