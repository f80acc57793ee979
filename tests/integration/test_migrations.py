"""Upgrading a store keeps what it holds, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import text

from adapters.store import Cursor, EventStore, connect


async def test_ofs_cursors_are_carried_into_the_cursors_table(database_url: str) -> None:
    database = connect(database_url)
    try:
        await database.migrate("0001")
        async with database.engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO ofs_cursors "
                    "(name, subscription_id, next_page, last_event_time, updated_at) "
                    "VALUES ('https://acme#c@i', 'sub-9', '17-3', '2026-11-20 09:00:00', :at)"
                ),
                {"at": datetime(2026, 11, 20, tzinfo=UTC)},
            )
        await database.migrate()
        saved = await EventStore(database).cursor("https://acme#c@i")
    finally:
        await database.dispose()
    assert saved == Cursor(
        name="https://acme#c@i",
        state={
            "subscription_id": "sub-9",
            "next_page": "17-3",
            "last_event_time": "2026-11-20 09:00:00",
        },
    )
