"""Fixtures of a real PostgreSQL primary and streaming standby for the read
replica tests (tests.harness.standby): started once per session
(`replication`), a database each test (`replica_database`, and `replicated`:
a migrated store on it with the reader side on the standby).

Skipped with the reason when the server binaries are not installed; when they
are and `CI` is set, a pair that does not start fails the tests."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest

from adapters.store import Store, connect_reads
from adapters.store.replica import ReplicaReader
from tests.harness.databases import migrated_store
from tests.harness.postgres import create, drop, unique_name
from tests.harness.standby import Replication, Server, ServerMissing, caught_up

__all__ = ["caught_up"]


@pytest.fixture(scope="session")
def replication() -> Iterator[Replication]:
    try:
        pair = Replication.start()
    except ServerMissing as missing:
        pytest.skip(f"no streaming standby: {missing}")
    except Exception as error:
        if os.environ.get("CI"):
            pytest.fail(f"the PostgreSQL primary did not start: {error}")
        pytest.skip(f"the PostgreSQL primary did not start: {error}")
    try:
        pair.standby()
    except Exception as error:
        pair.close()
        if os.environ.get("CI"):
            pytest.fail(f"the streaming standby did not start: {error}")
        pytest.skip(f"the streaming standby did not start: {error}")
    yield pair
    pair.close()


@dataclass
class Replicated:
    """One test's database on the primary, and its copy on the standby."""

    primary: Store
    reads: ReplicaReader
    standby: Server
    primary_admin: str
    standby_admin: str

    async def caught_up(self) -> None:
        await caught_up(self.primary_admin, self.standby_admin)


@dataclass
class ReplicaDatabase:
    """An empty database on the primary, there on the standby too."""

    name: str
    primary: Server
    standby: Server

    @property
    def url(self) -> str:
        return self.primary.url(self.name)

    @property
    def read_url(self) -> str:
        return self.standby.url(self.name)

    async def caught_up(self) -> None:
        await caught_up(self.primary.admin(self.name), self.standby.admin(self.name))


@pytest.fixture
async def replica_database(replication: Replication) -> AsyncIterator[ReplicaDatabase]:
    standby = replication.standbys[0]
    if not standby.running:
        standby.start()
    url = await create(replication.primary.admin(), unique_name("invtrack_replica"))
    try:
        database = ReplicaDatabase(url.rsplit("/", 1)[1], replication.primary, standby)
        await caught_up(replication.primary.admin(), standby.admin())
        yield database
    finally:
        await drop(replication.primary.admin(), url)


@pytest.fixture
async def replicated(replica_database: ReplicaDatabase) -> AsyncIterator[Replicated]:
    """A migrated store on the primary with its projections, and the reader
    side on the standby (at most 0.5 s of lag allowed)."""
    database = replica_database
    async with migrated_store(database.url) as primary:
        await database.caught_up()
        reads = connect_reads(primary, database.read_url, max_lag=0.5)
        assert isinstance(reads, ReplicaReader)
        try:
            yield Replicated(
                primary,
                reads,
                database.standby,
                database.primary.admin(database.name),
                database.standby.admin(database.name),
            )
        finally:
            await reads.close()
