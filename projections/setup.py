"""Bring the projections' tables in line with this build, and say which are stale."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import EventStore
from projections.base import Projection, active_versions, create_tables, next_slot, register
from projections.catalog import PROJECTIONS
from projections.rebuild import RebuildBusy, catch_up, rebuild

log = logging.getLogger("invtrack.projections")

__all__ = ["Stale", "create_tables", "find_stale", "prepare", "rebuild_stale"]


class Stale(msgspec.Struct, frozen=True):
    """A projection served from an older version than this build's."""

    name: str
    active: int
    wanted: int


async def prepare(
    store: EventStore, projections: Sequence[Projection] = PROJECTIONS
) -> list[Stale]:
    """Give every projection an active version (building it from the history
    when there is none) and list those whose active version is not this
    build's: they keep being served until `rebuild` replaces them."""
    async with store.writing() as writer:
        active = await active_versions(writer.conn)
        for projection in projections:
            if projection.name not in active:
                slot = await next_slot(writer.conn, projection.name, projection.version)
                await create_tables(writer.conn, projection, slot)
                await register(writer.conn, projection.name, slot, "active")
                await catch_up(store, writer.conn, projection, slot)
        return await _stale(writer.conn, projections)


async def find_stale(
    store: EventStore, projections: Sequence[Projection] = PROJECTIONS
) -> list[Stale]:
    """The projections served from a version other than this build's."""
    async with store.reading() as conn:
        return await _stale(conn, projections)


async def _stale(conn: AsyncConnection, projections: Sequence[Projection]) -> list[Stale]:
    active = await active_versions(conn)
    return [
        Stale(projection.name, active[projection.name].version, projection.version)
        for projection in projections
        if projection.name in active and active[projection.name].version != projection.version
    ]


async def rebuild_stale(store: EventStore, stale: list[Stale], *, poll: float = 5.0) -> None:
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
