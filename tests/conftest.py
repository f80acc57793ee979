"""Shared fixtures: a throwaway database per test, on SQLite and on PostgreSQL
(see tests.harness.databases), and the Hypothesis profile (`ci` when `CI` is
set: tests.harness.profiles)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from adapters.store import Store
from tests.fakes.contract import VIOLATIONS
from tests.harness import profiles
from tests.harness.databases import migrated_store, pg_database_url
from tests.harness.replicas import replica_database, replicated, replication

__all__ = ["replica_database", "replicated", "replication"]

profiles.load()


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from pg_database_url()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """One URL per backend: every test using it runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[Store]:
    """A migrated store on each backend."""
    async with migrated_store(database_url) as migrated:
        yield migrated


@pytest.fixture
async def pg_store(pg_url: str) -> AsyncIterator[Store]:
    """A migrated store on PostgreSQL only."""
    async with migrated_store(pg_url) as migrated:
        yield migrated


def pytest_report_header() -> str:
    return f"hypothesis profile: {profiles.PROFILE} (INVTRACK_HYPOTHESIS_PROFILE, or CI)"


@pytest.fixture(autouse=True)
def vendor_contracts() -> Iterator[None]:
    """Fail the test when invtrack sent a fake vendor a request its OpenAPI
    file does not allow, or a fake answered outside it (tests.fakes.contract)."""
    VIOLATIONS.clear()
    yield
    found = list(dict.fromkeys(VIOLATIONS))
    VIOLATIONS.clear()
    assert not found, "drift from the vendor's contract:\n" + "\n".join(found[:20])
