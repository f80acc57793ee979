"""Bring the projections' tables in line with this build, and say which are stale."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import msgspec

from adapters.store import Maintenance, Store
from projections.catalog import PROJECTIONS
from projections.projection import Projection
from projections.rebuild import RebuildBusy, rebuild

log = logging.getLogger("invtrack.projections")

__all__ = ["Stale", "find_stale", "prepare", "rebuild_stale"]


class Stale(msgspec.Struct, frozen=True):
    """A projection served from an older version than this build's."""

    name: str
    active: int
    wanted: int


async def prepare(
    store: Store, projections: Sequence[Projection] = PROJECTIONS, *, poll: float = 1.0
) -> list[Stale]:
    """Give every projection an active version and list those whose active
    version is not this build's: they keep being served until `rebuild`
    replaces them.

    A projection without an active version is created at once in an empty
    store; in one with a history it is built like a rebuild, outside the
    append lock, so appends go on meanwhile (another process building it
    first is waited for).
    """
    missing = await _create_if_empty(store, projections)
    while missing:
        try:
            await rebuild(store, missing)
        except RebuildBusy:
            await asyncio.sleep(poll)
        missing = await _missing(store, projections)
    return await find_stale(store, projections)


async def _create_if_empty(store: Store, projections: Sequence[Projection]) -> list[str]:
    """Activate empty slots for the missing projections if there is no history;
    the names of those still missing."""
    async with store.maintaining(locked=True) as maintenance:
        active = await maintenance.active_slots()
        missing = [p for p in projections if p.name not in active]
        if missing and await maintenance.head() > 0:
            return [p.name for p in missing]
        for projection in missing:
            await _activate_empty(maintenance, projection)
    return []


async def _activate_empty(maintenance: Maintenance, projection: Projection) -> None:
    slot = await maintenance.next_slot(projection.name, projection.version)
    await maintenance.create(projection.tables(slot))
    await maintenance.register(projection.name, slot, "active")


async def _missing(store: Store, projections: Sequence[Projection]) -> list[str]:
    async with store.maintaining() as maintenance:
        active = await maintenance.active_slots()
    return [p.name for p in projections if p.name not in active]


async def find_stale(store: Store, projections: Sequence[Projection] = PROJECTIONS) -> list[Stale]:
    """The projections served from a version other than this build's."""
    async with store.maintaining() as maintenance:
        active = await maintenance.active_slots()
    return [
        Stale(projection.name, active[projection.name].version, projection.version)
        for projection in projections
        if projection.name in active and active[projection.name].version != projection.version
    ]


async def rebuild_stale(store: Store, stale: list[Stale], *, poll: float = 5.0) -> None:
    """Bring the stale projections to this build's version in the background
    while the old versions keep serving: rebuild them, or, while another
    process rebuilds them, wait for it. `stale` is emptied in place once they
    are current, so whatever reports readiness from it follows."""
    while stale:
        try:
            await rebuild(store, [item.name for item in stale])
        except RebuildBusy:
            await asyncio.sleep(poll)
        except Exception:
            # The old versions keep serving; an operator has to look at it.
            log.exception("rebuilding the stale projections failed; see `invtrack rebuild`")
            return
        stale[:] = await find_stale(store)
