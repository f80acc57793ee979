"""Fixtures of the reliability suite: throwaway PostgreSQL databases and
`invtrack serve` processes. The helpers live in `tests.harness`.

Tests marked `soak` are too slow for CI: they run only with INVTRACK_SOAK=1
(`make soak`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.harness.databases import pg_database_url
from tests.harness.server import Server


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], str]]:
    """A factory of throwaway PostgreSQL databases, all dropped at the end."""
    made: list[Iterator[str]] = []

    def make() -> str:
        database = pg_database_url()
        url = next(database)
        made.append(database)
        return url

    try:
        yield make
    finally:
        for database in reversed(made):
            next(database, None)


@pytest.fixture
def servers(pg_databases: Callable[[], str], tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """A factory of started servers; every one is killed before its database is dropped."""
    started: list[Server] = []

    def start(database_url: str, name: str = "server", **extra_env: str) -> Server:
        server = Server(database_url=database_url, workdir=tmp_path / name, extra_env=extra_env)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()
