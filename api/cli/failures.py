"""What a failed command prints: one line saying what is wrong and what to
do, and exit status 1. `--debug` shows the traceback instead. (A command line
or setting that cannot be used is exit status 2, before anything runs.)"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

from adapters.store import UnsupportedDatabase, check_url, connect, missing, where


class Failure(Exception):
    """A failure the command explains itself."""


def database_url(text: str) -> None:
    """The configured database URL must name a store invtrack runs on."""
    try:
        check_url(text)
    except UnsupportedDatabase as error:
        raise Failure(f"INVTRACK_DATABASE_URL: {error}") from None


def existing_sqlite_file(text: str) -> None:
    """An embedded store's file must exist: reading a store never creates one."""
    absent = missing(text)
    if absent is not None:
        raise Failure(
            f"there is no database at {absent}: run `invtrack migrate` (or "
            "`invtrack serve`) first, or point INVTRACK_DATABASE_URL at an existing store"
        )


async def require_store(text: str) -> None:
    """The store must exist and hold invtrack's schema: only `serve` and
    `migrate` create one, so a mistyped URL is never taken for a new, empty
    store."""
    existing_sqlite_file(text)
    store = connect(text, pool_size=1)
    try:
        if await store.revision() is None:
            raise not_migrated(text)
    finally:
        await store.close()


def not_migrated(text: str) -> Failure:
    return Failure(
        f"the database at {where(text)} holds no invtrack schema yet: run `invtrack migrate`"
    )


def explain(error: BaseException, database: str) -> str:
    """One line for a command's failure."""
    if isinstance(error, Failure):
        return str(error)
    place = where(database)
    if isinstance(error, OSError):
        return (
            f"cannot reach the database at {place} ({error.strerror or error}): "
            "is the server running, and is INVTRACK_DATABASE_URL right?"
        )
    if isinstance(error, DBAPIError):
        reason = str(error.orig).splitlines()[0] if error.orig is not None else str(error)
        reason = reason.removeprefix("<class ").split(">: ", 1)[-1]
        if "does not exist" in reason:
            return f"{reason} at {place}: create it, or point INVTRACK_DATABASE_URL at one"
        return f"the database at {place} refused: {reason}"
    first = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {first} (run with --debug for the traceback)"
