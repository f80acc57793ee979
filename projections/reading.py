"""Stored events read back as domain events, for the folds.

Data already in its type's current version is decoded straight into the event
union; older data goes through the upcasters first. A stored event that is not
a domain event (a plain `append` of other data) is passed over by the folds.

A rebuild reads only what its builders fold (`Wanted`): events of types none
of them folds are not decoded, and the keys of the items an event touches
are taken from the event's stored routing (`adapters.store.routing`), so an
event whose keys are all its builders need is not decoded either. An event
stored without them (before revision 0012) is decoded and its keys computed,
as they always were.
"""

from __future__ import annotations

import asyncio
import bisect
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, NamedTuple

import msgspec

from adapters.store import RawEvent
from adapters.store.routing import keys_in
from domain.events import DomainEvent, from_data
from domain.fold import touched_keys
from domain.upcasters import current_version, upcast

Decode = Callable[[str, int, str], DomainEvent | None]
Upcast = Callable[[str, int, dict[str, Any]], tuple[dict[str, Any], int]]

SLICE: Final = 1_000
"""Events decoded or folded between two chances for other tasks to run: a
rebuild inside the service must not hold up its requests for a whole batch."""

_event_decoder: Final = msgspec.json.Decoder(DomainEvent)
_json_decoder: Final = msgspec.json.Decoder()
_MEMBERS: Final = tuple(
    cls
    for cls in DomainEvent.__args__
    for cls in (cls.__args__ if hasattr(cls, "__args__") else (cls,))
)
_TAGS: Final = frozenset(str(cls.__struct_config__.tag) for cls in _MEMBERS)


def is_domain_type(kind: str) -> bool:
    return kind in _TAGS


def decoder(upcaster: Upcast = upcast) -> Decode:
    """Stored (type, schema version, JSON data) to the event in its current
    shape; None for a type that is not a domain event."""
    fast = upcaster is upcast

    def decode(kind: str, schema_version: int, data: str) -> DomainEvent | None:
        if kind not in _TAGS:
            return None
        if fast and schema_version == current_version(kind):
            event: DomainEvent = _event_decoder.decode(data)
            return event
        lifted, _ = upcaster(kind, schema_version, _json_decoder.decode(data))
        return from_data(lifted)

    return decode


def domain_events(events: Sequence[Any]) -> Iterator[DomainEvent]:
    """The domain events among a batch's events (their data, as appended)."""
    for event in events:
        if isinstance(event, DomainEvent):
            yield event


class Wanted(NamedTuple):
    """What a rebuild's builder folds of the history: the events of other
    types are never decoded for it, nor handed to it."""

    kinds: frozenset[str] | None = None
    """The event types it folds; None for every domain event."""
    decoded: bool = True
    """False when the events' positions and keys are all it needs: an event
    that carries its keys (`routing`) is then not decoded for it."""


EVERY: Final = Wanted()
"""Every domain event, decoded."""


def kinds_of(*classes: type) -> frozenset[str]:
    """The types (tags) of the domain events of these classes or their subclasses."""
    return frozenset(
        str(member.__struct_config__.tag) for member in _MEMBERS if issubclass(member, classes)
    )


class EventChunk:
    """Events read together, in store order, with the keys each one touches.
    `last` is the position of the last event read, domain event or not, and
    `read` how many were read: a builder is past the chunk once staged with it
    whatever it folds of it.

    `events` are the domain events some builder of the run folds, as
    (position, event) pairs; the event is None when no builder of the run
    decodes its type and its keys were stored with it. `view` gives a
    builder the part it folds."""

    __slots__ = ("domain", "events", "keys", "kinds", "last", "read")

    def __init__(
        self,
        events: list[tuple[int, Any]],
        keys: list[tuple[str, ...]],
        kinds: list[str],
        domain: list[int],
        last: int,
        read: int,
    ) -> None:
        self.events = events
        self.keys = keys
        self.kinds = kinds
        """The type of each event."""
        self.domain = domain
        """Positions of every domain event read, folded by a builder or not."""
        self.last = last
        self.read = read

    def after(self, position: int) -> range:
        """Indexes of the events after a position (all but on a resume)."""
        start = 0
        while start < len(self.events) and self.events[start][0] <= position:
            start += 1
        return range(start, len(self.events))

    def counted(self, position: int) -> int:
        """How many domain events were read after a position."""
        return len(self.domain) - bisect.bisect_right(self.domain, position)

    def view(self, wanted: Wanted) -> EventChunk:
        """The events of the types a builder folds (the chunk itself when it
        folds every type the chunk holds)."""
        kinds = wanted.kinds
        if kinds is None or kinds.issuperset(self.kinds):
            return self
        mine = [n for n, kind in enumerate(self.kinds) if kind in kinds]
        return EventChunk(
            [self.events[n] for n in mine],
            [self.keys[n] for n in mine],
            [self.kinds[n] for n in mine],
            self.domain,
            self.last,
            self.read,
        )


class Reading:
    """How a run's chunks are read, from what its builders want: the types
    none of them folds are passed over undecoded, and an event is decoded
    only when a builder folds the event itself or its keys were not stored
    with it (before revision 0012)."""

    def __init__(self, decode: Decode, wanted: Sequence[Wanted] = (EVERY,)) -> None:
        self.decode = decode
        self.kept = frozenset().union(*(w.kinds or _TAGS for w in wanted)) & _TAGS
        self.decoded = frozenset().union(*(w.kinds or _TAGS for w in wanted if w.decoded)) & _TAGS

    @property
    def data_of(self) -> frozenset[str] | None:
        """The types whose data the read brings even when the event carries
        its routing (`Store.read_raw`); None for all."""
        return None if self.decoded == _TAGS else self.decoded

    async def chunk(self, rows: Sequence[RawEvent]) -> EventChunk:
        """Stored rows as a chunk of the domain events the run folds."""
        events: list[tuple[int, Any]] = []
        keys: list[tuple[str, ...]] = []
        kinds: list[str] = []
        domain: list[int] = []
        for start in range(0, len(rows), SLICE):
            for position, kind, schema, data, routing in rows[start : start + SLICE]:
                if kind not in _TAGS:
                    continue
                domain.append(position)
                if kind not in self.kept:
                    continue
                if routing is None:
                    event = self._decode(position, kind, schema, data)
                    keys.append(touched_keys(event))
                    events.append((position, event))
                else:
                    keys.append(keys_in(routing))
                    found = None
                    if kind in self.decoded:
                        found = self._decode(position, kind, schema, data)
                    events.append((position, found))
                kinds.append(kind)
            await asyncio.sleep(0)
        last = rows[-1][0] if rows else 0
        return EventChunk(events, keys, kinds, domain, last, len(rows))

    def _decode(self, position: int, kind: str, schema: int, data: str | None) -> DomainEvent:
        if data is None:
            raise ValueError(f"the event at position {position} was read without its data")
        try:
            event = self.decode(kind, schema, data)
        except (msgspec.DecodeError, msgspec.ValidationError, LookupError) as error:
            raise ValueError(f"the event at position {position} cannot be read: {error}") from error
        if event is None:
            raise ValueError(f"the event at position {position} is not a {kind}")
        return event


async def decode_chunk(
    rows: Sequence[RawEvent], decode: Decode, wanted: Sequence[Wanted] = (EVERY,)
) -> EventChunk:
    """Stored rows as a chunk of the domain events the builders wanting
    `wanted` fold; other events are passed over."""
    return await Reading(decode, wanted).chunk(rows)
