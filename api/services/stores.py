"""Opening the store the way every entry point needs it: with the live
projections, the configured pool and busy timeout."""

from __future__ import annotations

from adapters.store import Store, connect
from api.settings import Settings
from projections.live import LiveProjector


def open_store(
    settings: Settings, *, pool_size: int | None = None, projector: LiveProjector | None = None
) -> Store:
    """The store at the configured URL, folding what it appends into the live
    projections (`projector`, or new ones). Close it with `store.close()`."""
    return connect(
        settings.database_url,
        projection=projector or LiveProjector(),
        pool_size=pool_size or settings.pool_size,
        busy_seconds=settings.busy_seconds,
    )
