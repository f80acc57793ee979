"""Opening the store the way every entry point needs it: with the live
projections, the configured pool and busy timeout."""

from __future__ import annotations

from adapters.store import EventStore, connect
from api.settings import Settings
from projections.live import LiveProjector


def open_store(settings: Settings, *, pool_size: int | None = None) -> EventStore:
    """The store at the configured URL, folding what it appends into the live
    projections. Close it with `store.database.dispose()`."""
    database = connect(
        settings.database_url,
        pool_size=pool_size or settings.pool_size,
        busy_seconds=settings.busy_seconds,
    )
    return EventStore(database, LiveProjector())
