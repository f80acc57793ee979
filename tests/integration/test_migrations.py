"""Upgrading a store keeps what it holds, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from adapters.store import Cursor, connect


async def test_ofs_cursors_are_carried_into_the_cursors_table(database_url: str) -> None:
    store = connect(database_url)
    try:
        await store.migrate("0001")
        # A row as the build of revision 0001 wrote it, in its own table.
        engine = create_async_engine(database_url)
        async with engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ofs_cursors "
                    "(name, subscription_id, next_page, last_event_time, updated_at) "
                    "VALUES ('https://acme#c@i', 'sub-9', '17-3', '2026-11-20 09:00:00', :at)"
                ),
                {"at": datetime(2026, 11, 20, tzinfo=UTC)},
            )
        await engine.dispose()
        await store.migrate()
        saved = await store.cursor("https://acme#c@i")
    finally:
        await store.close()
    assert saved == Cursor(
        name="https://acme#c@i",
        state={
            "subscription_id": "sub-9",
            "next_page": "17-3",
            "last_event_time": "2026-11-20 09:00:00",
        },
    )
