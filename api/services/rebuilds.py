"""Rebuilds started from the dashboard: one at a time, in the background of
the serving process, with the progress the rebuild reports."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, datetime

import msgspec

from adapters.store import Store
from projections.rebuild import RebuildBusy, rebuild
from projections.setup import Stale, find_stale

log = logging.getLogger("invtrack.rebuild")

__all__ = ["RebuildBusy", "RebuildRun", "Rebuilds"]


class RebuildRun(msgspec.Struct, kw_only=True):
    """The latest rebuild this process started, and how far it got."""

    names: list[str]
    """The projections rebuilt; empty for all of them."""
    started_at: datetime
    done: int = 0
    total: int = 0
    finished_at: datetime | None = None
    error: str | None = None
    switched: list[str] = msgspec.field(default_factory=list)
    """`items: v1 -> v1 build 2` for each projection switched."""

    @property
    def running(self) -> bool:
        return self.finished_at is None

    @property
    def percent(self) -> int:
        return 100 if self.total <= 0 else min(100, self.done * 100 // self.total)


class Rebuilds:
    """Starts `projections.rebuild.rebuild` as a task and keeps its progress.

    A second start while one runs raises RebuildBusy; a rebuild run by
    another process (`invtrack rebuild`) makes the started one fail with the
    same reason, shown as its error.
    """

    def __init__(self, store: Store, stale: list[Stale]) -> None:
        self.store = store
        self.stale = stale
        self.last: RebuildRun | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, names: Sequence[str] = ()) -> RebuildRun:
        """Start rebuilding the named projections (all when none is named)."""
        if self.running:
            raise RebuildBusy("a rebuild started from the dashboard is running")
        run = RebuildRun(names=list(names), started_at=datetime.now(UTC))
        self.last = run
        self._task = asyncio.create_task(self._run(run), name="invtrack-dashboard-rebuild")
        return run

    async def _run(self, run: RebuildRun) -> None:
        def progress(done: int, total: int) -> None:
            run.done, run.total = done, total

        try:
            rebuilt = await rebuild(self.store, run.names or None, progress)
            run.switched = [f"{r.name}: {r.previous or 'nothing'} -> {r.slot}" for r in rebuilt]
            # Readiness follows the projections this build wants.
            self.stale[:] = await find_stale(self.store)
        except RebuildBusy as error:
            run.error = f"{error}; try again when it has finished"
        except Exception as error:
            log.exception("the rebuild started from the dashboard failed")
            run.error = f"the rebuild failed ({type(error).__name__}); see the server log"
        finally:
            run.finished_at = datetime.now(UTC)

    async def close(self) -> None:
        """Stop a running rebuild; running it again resumes where it stopped."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
