"""Throwaway databases: a PostgreSQL database per test, and migrated stores.

PostgreSQL tests need the server at INVTRACK_TEST_PG_ADMIN (default
postgresql://postgres@127.0.0.1:5432/postgres). When it is unreachable they
are skipped on a developer machine and fail when `CI` is set.
"""

from __future__ import annotations

import asyncio
import itertools
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from adapters.store import Store, connect
from projections.live import LiveProjector
from projections.setup import prepare
from tests.harness.postgres import admin_url, create, drop, reachable, unique_name

PG_ADMIN = admin_url("INVTRACK_TEST_PG_ADMIN")
_RUN = unique_name("invtrack_test")
_numbers = itertools.count()
_reachable: bool | None = None


def _postgres_reachable() -> bool:
    global _reachable
    if _reachable is None:
        _reachable = asyncio.run(reachable(PG_ADMIN))
    return _reachable


def pg_database_url() -> Iterator[str]:
    """Create a throwaway PostgreSQL database, yield its URL, then drop it."""
    if not _postgres_reachable():
        message = f"PostgreSQL is unreachable at {PG_ADMIN}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(message)
    url = asyncio.run(create(PG_ADMIN, f"{_RUN}_{next(_numbers)}"))
    try:
        yield url
    finally:
        asyncio.run(drop(PG_ADMIN, url))


@asynccontextmanager
async def migrated_store(url: str, **options: Any) -> AsyncIterator[Store]:
    """A migrated store at `url` with its projections set up, projecting live
    (`options` go to `connect`)."""
    store = connect(url, **{"projection": LiveProjector(), **options})
    try:
        await store.migrate()
        await prepare(store)
        yield store
    finally:
        await store.close()
