"""Opening a store: the one place that looks at which backend a URL names.

`postgresql://...` (or `postgresql+asyncpg://...`) opens the PostgreSQL
backend, `sqlite:///path` (or `sqlite+aiosqlite:///path`) the embedded SQLite
one. Everything else sees the `Store` port only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Final

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from adapters.store.errors import UnsupportedDatabase
from adapters.store.port import Reader, Store
from adapters.store.postgres import PostgresStore
from adapters.store.records import Upcast
from adapters.store.replica import MAX_LAG_SECONDS, WAIT_SECONDS, ReplicaReader
from adapters.store.rows import LiveProjection
from adapters.store.sqlite import SqliteStore
from domain.upcasters import upcast as current_shape

BUSY_SECONDS: Final = 5.0
"""How long a write waits for another writer before the store is called busy."""

URL_HINT: Final = (
    "use sqlite+aiosqlite:///path/invtrack.db or postgresql+asyncpg://user:pass@host/db"
)
_DRIVERS: Final = {
    "postgresql": "postgresql+asyncpg",
    "postgres": "postgresql+asyncpg",
    "postgresql+psycopg2": "postgresql+asyncpg",
    "postgresql+asyncpg": "postgresql+asyncpg",
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
}


def _parsed(url: str) -> URL:
    """The URL with the driver its backend runs on; UnsupportedDatabase for
    one that is not a URL of either backend."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise UnsupportedDatabase(f"not a database URL; {URL_HINT}") from None
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise UnsupportedDatabase(
            f"unsupported database URL scheme {parsed.drivername!r}: {URL_HINT}"
        )
    return parsed.set(drivername=driver)


def connect(
    url: str,
    *,
    projection: LiveProjection | None = None,
    upcaster: Upcast = current_shape,
    pool_size: int = 10,
    busy_seconds: float = BUSY_SECONDS,
) -> Store:
    """The store at `url`. With `projection`, what it appends is folded into
    the live projections in the same transaction; a store opened without it
    can read, but cannot append while projections are active. Close it with
    `close()`."""
    parsed = _parsed(url)
    text = parsed.render_as_string(hide_password=False)
    if parsed.get_backend_name() == "sqlite":
        return SqliteStore(text, projection=projection, upcast=upcaster, busy_seconds=busy_seconds)
    return PostgresStore(
        text,
        projection=projection,
        upcast=upcaster,
        pool_size=pool_size,
        busy_seconds=busy_seconds,
    )


def connect_reads(
    primary: Store,
    read_url: str | None,
    *,
    pool_size: int = 10,
    max_lag: float = MAX_LAG_SECONDS,
    wait: float = WAIT_SECONDS,
    on_fallback: Callable[[str], None] | None = None,
) -> Reader:
    """Where the reader side is answered: `primary` itself without a
    `read_url`, else a streaming replica of it at `read_url` (PostgreSQL
    only), read while it follows and the primary when it does not
    (`adapters.store.replica`). Close a replica's reader with `close()`."""
    if read_url is None:
        return primary
    parsed = _parsed(read_url)
    if parsed.get_backend_name() != "postgresql":
        raise UnsupportedDatabase(
            "a read replica is a PostgreSQL standby: "
            "use postgresql+asyncpg://user:pass@host/db for INVTRACK_READ_DATABASE_URL"
        )
    replica = PostgresStore(
        parsed.render_as_string(hide_password=False),
        projection=None,
        upcast=primary.upcast,
        pool_size=pool_size,
        busy_seconds=BUSY_SECONDS,
    )
    return ReplicaReader(
        primary,
        replica,
        in_recovery=replica.in_recovery,
        close_replica=replica.close,
        max_lag=max_lag,
        wait=wait,
        on_fallback=on_fallback,
    )


def check_url(url: str) -> None:
    """Raises UnsupportedDatabase unless `url` names a store of either backend."""
    _parsed(url)


def where(url: str) -> str:
    """Where the store is, for messages: never its password."""
    try:
        parsed = _parsed(url)
    except UnsupportedDatabase:
        return "INVTRACK_DATABASE_URL"
    if parsed.get_backend_name() == "sqlite":
        return parsed.database or ":memory:"
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.host}{port}/{parsed.database}"


def missing(url: str) -> str | None:
    """The file an embedded store's URL names when there is none (reading a
    store never creates one); None when there is one or it is a server's."""
    parsed = _parsed(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return None if Path(parsed.database).expanduser().exists() else parsed.database
