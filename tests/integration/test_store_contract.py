"""The store's contract: one test class, run through the `Store` port on
every backend (the `store` fixture gives a migrated store on SQLite and on
PostgreSQL), as the eventsourcing library tests its recorders. The parts of
the contract are in `tests/contract/`."""

from __future__ import annotations

from tests.contract.appending import AppendingContract
from tests.contract.feed import FeedContract
from tests.contract.inbox import InboxContract
from tests.contract.kept import KeptContract
from tests.contract.maintenance import MaintenanceContract
from tests.contract.queries import QueriesContract
from tests.contract.sessions import SessionsContract
from tests.contract.signals import SignalsContract
from tests.contract.summaries import SummariesContract
from tests.contract.values import ValuesContract


class TestStoreContract(
    AppendingContract,
    FeedContract,
    InboxContract,
    KeptContract,
    ValuesContract,
    QueriesContract,
    MaintenanceContract,
    SessionsContract,
    SignalsContract,
    SummariesContract,
):
    """Everything a backend of the store does alike."""
