"""The store on PostgreSQL (asyncpg on the hot paths)."""

from adapters.store.postgres.store import PostgresStore

__all__ = ["PostgresStore"]
