"""Errors the store raises."""


class ConcurrencyConflict(Exception):
    """A stream's version was not the one the caller expected."""

    def __init__(self, stream_id: str, expected: int, actual: int) -> None:
        super().__init__(f"stream {stream_id!r} is at version {actual}, expected {expected}")
        self.stream_id = stream_id
        self.expected = expected
        self.actual = actual


class StoreBusy(Exception):
    """The store could not be written within the configured time (another
    writer holds the append lock): nothing was written, try again later."""


class AlreadyRunning(Exception):
    """Another process holds the exclusive lock asked for (a rebuild, say)."""


class NotReady(Exception):
    """The projections have not been set up (run `invtrack migrate`)."""


class UnsupportedDatabase(ValueError):
    """The database URL names neither PostgreSQL nor SQLite."""
