"""What every projection offers: its tables per slot, its live fold, and its
bulk builder for rebuilds."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol, runtime_checkable

from sqlalchemy import Table

from adapters.store import Lookup, Row, Slot, TableWrite
from adapters.store.changes import ItemChange
from adapters.store.feed import FeedDraft
from projections.reading import Wanted

Applied = Sequence[tuple[int, Any]]
"""Events with their store positions, in store order (a domain event, or the
stored data of an event that is not one)."""


class Folded(NamedTuple):
    """A live fold's result: the events as they are to be stored, the rows to
    write, and what goes into the change feed in the same transaction: the
    items fold's `changes` (made into entries naming their payload's message)
    and any fold's own `entries` (a stock signal's `invtrack.stock.belowMin`,
    say), each a `FeedDraft` whose `event_position` is the event that caused
    it. The decision gives them feed positions in event order (at one event,
    in catalog order)."""

    events: list[Any]
    writes: list[TableWrite]
    changes: Sequence[ItemChange] = ()
    entries: Sequence[FeedDraft] = ()


class Chunk(Protocol):
    """Events of a rebuild read together, in store order: those of the types
    the builder folds (`Builder.reads`)."""

    events: list[tuple[int, Any]]
    """(position, event) pairs; the event is None for a builder that wants
    only the keys when no builder of the run needed it decoded."""
    keys: list[tuple[str, ...]]
    """The items each event touches."""

    last: int
    """Position of the last event read (the checkpoint after the chunk)."""

    def after(self, position: int) -> range:
        """Indexes of the events after a position (all but on a resume)."""
        ...


class Builder(Protocol):
    """Folds a rebuild's batches into one slot.

    `stage` folds a batch in memory (reading the slot's current rows it needs
    through `read`), and returns the writes that store the result; batches
    are staged in order and their writes committed in the same order, each
    with the slot's checkpoint; a batch may be staged while the previous one
    is still being written.
    """

    name: str
    slot: Slot
    position: int
    """Last position staged (the checkpoint when nothing is in flight)."""
    reads: Wanted
    """The events it folds: a rebuild neither decodes nor hands it others."""

    async def stage(self, chunk: Chunk, read: ReadRows) -> list[TableWrite]: ...


@runtime_checkable
class Holding(Builder, Protocol):
    """A builder that can hold its whole result in memory while it fills an
    empty slot, and write each of its tables once at the end (with COPY on
    PostgreSQL): what it writes is then proportional to the final state,
    not to the events. While it holds, its batches write nothing and its
    checkpoint stays where it began; `flush` gives the writes of everything
    held, committed with the checkpoint of the last batch staged."""

    holds: bool

    def hold(self) -> None:
        """Hold from now on (only on an empty slot, before the first batch)."""
        ...

    def flush(self) -> list[TableWrite]:
        """The writes of everything held, after which it holds no more."""
        ...


ReadRows = Callable[[Lookup], Awaitable[list[Row]]]
"""Reads the rows a lookup names (for a builder that needs stored state)."""


class Projection(Protocol):
    """A fold of the events into tables of its own, one set of tables per slot.

    Bump `version` whenever the fold's rules or its tables change: the new
    version is built from the full history by `invtrack rebuild` while the old
    one keeps serving.
    """

    name: str
    version: int
    looks_up: int
    """How many lookups `lookups` returns (always the same number)."""
    only_added: bool
    """Whether its tables only ever get new rows (no key needed while a
    rebuild fills them)."""

    def tables(self, slot: Slot) -> list[Table]:
        """The tables of one slot, from `adapters.store.projection_tables`
        (the same Table objects on every call)."""
        ...

    def lookups(self, slot: Slot, events: Sequence[Any]) -> list[Lookup]:
        """What its live fold reads before a batch of these events."""
        ...

    def fold(
        self, slot: Slot, rows: Sequence[Sequence[Row]], appended: Applied, *, fresh: bool
    ) -> Folded:
        """The live fold: the new events of a batch, with the rows its lookups
        found, into the rows to write. Only `fresh` events (new facts) may be
        annotated."""
        ...

    def builder(self, slot: Slot, position: int) -> Builder:
        """The bulk builder that rebuilds the slot from `position` on."""
        ...
