"""Opening the store the way every entry point needs it: with the live
projections, the configured pool and busy timeout."""

from __future__ import annotations

from adapters.store import Reader, Store, connect, connect_reads
from api.services.replica_metrics import count_fallback
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


def open_reads(settings: Settings, store: Store) -> Reader:
    """What answers the reads: the read replica when one is configured
    (INVTRACK_READ_DATABASE_URL), else `store` itself."""
    return connect_reads(
        store,
        settings.read_database_url,
        pool_size=settings.pool_size,
        max_lag=settings.replica_max_lag_seconds,
        on_fallback=count_fallback,
    )
