"""Reading and deciding a batch ahead, while the batch before it holds the
append lock, writes and commits.

The batch behind waits until the batch ahead holds the append lock: from then
on every commit of another writer that came before is visible, and none can
come until the batch ahead commits. It then reads what it needs on a
connection of its own, outside any transaction, and lays the decision of the
batch ahead over it (`Found.after`): the state the batch ahead leaves, as
tests/unit/test_decide.py proves for any two batches. It decides from that
state, and once it holds the lock in its turn it checks that nothing else was
written meanwhile (`batch_sql.HEADS`): only then is that decision written.

A batch that repeats a quarantined payload or replays one is not read ahead:
counting a repeat or settling a replay moves no head, so the check could not
see another writer's.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import NamedTuple

import asyncpg

from adapters.store.found import Batch, Decision, Found


class Turn:
    """A batch's progress, as the batch behind it needs to know it."""

    __slots__ = ("committed", "decision", "locked", "ready")

    def __init__(self) -> None:
        self.locked = asyncio.Event()
        """Set once it holds the append lock (or has given up)."""
        self.ready = asyncio.Event()
        """Set once `decision` is the one it writes (or it has given up)."""
        self.decision: Decision | None = None
        self.committed = False

    def decided(self, decision: Decision) -> None:
        self.decision = decision
        self.ready.set()

    def settle(self) -> None:
        """Done, committed or not: nothing behind it waits any longer."""
        self.locked.set()
        self.ready.set()


class Early(NamedTuple):
    """A batch read and decided ahead, on the decision of the batch before it."""

    prior: Decision
    found: Found
    decision: Decision

    def holds(self, ahead: Turn) -> bool:
        """Whether the batch ahead committed the decision this one rests on."""
        return ahead.committed and ahead.decision is self.prior


def readable_ahead(batch: Batch) -> bool:
    return not batch.replayed() and not batch.digests


class Spare:
    """The connection the reads ahead go through, one read at a time; a
    broken one is replaced on the next read."""

    def __init__(self, dsn: str, settings: dict[str, str]) -> None:
        self.dsn = dsn
        self.settings = settings
        self._conn: asyncpg.Connection | None = None
        self._one = asyncio.Lock()

    async def read(self, read: Callable[[asyncpg.Connection], Awaitable[Found]]) -> Found | None:
        """What `read` finds, or None when the connection failed."""
        async with self._one:
            try:
                if self._conn is None or self._conn.is_closed():
                    self._conn = await asyncpg.connect(self.dsn, server_settings=self.settings)
                return await read(self._conn)
            except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError, ConnectionError):
                self._discard()
                return None
            except BaseException:
                self._discard()
                raise

    def _discard(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.terminate()

    async def close(self) -> None:
        async with self._one:
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    await self._conn.close(timeout=5)
                self._conn = None
