"""The store on SQLite, embedded (`sqlite3` on the hot paths)."""

from adapters.store.sqlite.store import SqliteStore

__all__ = ["SqliteStore"]
