"""SQLite's locks between processes that are not the append lock (SQLite's
own write lock, BEGIN IMMEDIATE): lock files beside the database file, which
end with the process."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from adapters.store.errors import AlreadyRunning


@contextlib.contextmanager
def migrating(database: str) -> Iterator[None]:
    """The first process switches the file to WAL and migrates; the others
    wait for it."""
    if database in ("", ":memory:"):
        yield
        return
    path = Path(database)
    with path.with_name(path.name + ".migrate-lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


@contextlib.asynccontextmanager
async def exclusively(database: str, name: str) -> AsyncIterator[None]:
    """A lock only one process can hold; AlreadyRunning when another does."""
    if database in ("", ":memory:"):
        yield
        return
    path = Path(database)
    handle = path.with_name(f"{path.name}.{name}-lock").open("a")
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise AlreadyRunning(f"{name} is running in another process") from None
    try:
        yield
    finally:
        handle.close()
