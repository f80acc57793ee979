"""What a failed command prints: one line saying what is wrong and what to
do, and exit status 1. `--debug` shows the traceback instead. (A command line
or setting that cannot be used is exit status 2, before anything runs.)"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from adapters.store import connect

SUPPORTED_BACKENDS = ("sqlite", "postgresql")
URL_HINT = "use sqlite+aiosqlite:///path/invtrack.db or postgresql+asyncpg://user:pass@host/db"


class Failure(Exception):
    """A failure the command explains itself."""


def database_url(text: str) -> URL:
    """The configured database URL, once its backend is one invtrack runs on."""
    try:
        url = make_url(text)
    except ArgumentError:
        raise Failure(f"INVTRACK_DATABASE_URL is not a database URL; {URL_HINT}") from None
    if url.get_backend_name() not in SUPPORTED_BACKENDS:
        raise Failure(
            f"INVTRACK_DATABASE_URL uses {url.drivername!r}, which invtrack does not support; "
            f"{URL_HINT}"
        )
    return url


def existing_sqlite_file(text: str) -> None:
    """For a SQLite URL, the database file must exist: reading a store never
    creates one."""
    url = database_url(text)
    if url.get_backend_name() != "sqlite" or url.database in (None, "", ":memory:"):
        return
    if not Path(url.database).expanduser().exists():
        raise Failure(
            f"there is no database at {url.database}: run `invtrack migrate` (or "
            "`invtrack serve`) first, or point INVTRACK_DATABASE_URL at an existing store"
        )


async def require_store(text: str) -> None:
    """The store must exist and hold invtrack's schema: only `serve` and
    `migrate` create one, so a mistyped URL is never taken for a new, empty
    store."""
    existing_sqlite_file(text)
    database = connect(text, pool_size=1)
    try:
        if await database.current_revision() is None:
            raise not_migrated(text)
    finally:
        await database.dispose()


def not_migrated(text: str) -> Failure:
    return Failure(
        f"the database at {_shown(text)} holds no invtrack schema yet: run `invtrack migrate`"
    )


def explain(error: BaseException, database: str) -> str:
    """One line for a command's failure."""
    if isinstance(error, Failure):
        return str(error)
    where = _shown(database)
    if isinstance(error, OSError):
        return (
            f"cannot reach the database at {where} ({error.strerror or error}): "
            "is the server running, and is INVTRACK_DATABASE_URL right?"
        )
    if isinstance(error, DBAPIError):
        reason = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
        reason = reason.removeprefix("<class ").split(">: ", 1)[-1]
        if "does not exist" in reason:
            return f"{reason} at {where}: create it, or point INVTRACK_DATABASE_URL at one"
        return f"the database at {where} refused: {reason}"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first} (run with --debug for the traceback)"


def _shown(text: str) -> str:
    """Where the database is, never its password."""
    try:
        url = make_url(text)
    except ArgumentError:
        return "INVTRACK_DATABASE_URL"
    if url.get_backend_name() == "sqlite":
        return url.database or ":memory:"
    port = f":{url.port}" if url.port else ""
    return f"{url.host}{port}/{url.database}"
