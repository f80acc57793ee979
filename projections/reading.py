"""Stored events read back as domain events, for the folds.

Data already in its type's current version is decoded straight into the event
union; older data goes through the upcasters first. A stored event that is not
a domain event (a plain `append` of other data) is passed over by the folds.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final

import msgspec

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
_TAGS: Final = frozenset(
    str(cls.__struct_config__.tag)
    for cls in DomainEvent.__args__
    for cls in (cls.__args__ if hasattr(cls, "__args__") else (cls,))
)


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


class EventChunk:
    """Events read together, in store order, with the keys each one touches.
    `last` is the position of the last event read, domain event or not."""

    __slots__ = ("events", "keys", "last", "read")

    def __init__(
        self, events: list[tuple[int, Any]], keys: list[tuple[str, ...]], last: int, read: int
    ) -> None:
        self.events = events
        self.keys = keys
        self.last = last
        self.read = read

    def after(self, position: int) -> range:
        """Indexes of the events after a position (all but on a resume)."""
        start = 0
        while start < len(self.events) and self.events[start][0] <= position:
            start += 1
        return range(start, len(self.events))


async def decode_chunk(rows: Sequence[tuple[int, str, int, str]], decode: Decode) -> EventChunk:
    """Stored rows as a chunk of domain events; other events are passed over."""
    events: list[tuple[int, Any]] = []
    keys: list[tuple[str, ...]] = []
    for start in range(0, len(rows), SLICE):
        for position, kind, schema, data in rows[start : start + SLICE]:
            try:
                event = decode(kind, schema, data)
            except (msgspec.DecodeError, msgspec.ValidationError, LookupError) as error:
                raise ValueError(
                    f"the event at position {position} cannot be read: {error}"
                ) from error
            if event is not None:
                events.append((position, event))
                keys.append(touched_keys(event))
        await asyncio.sleep(0)
    return EventChunk(events, keys, rows[-1][0] if rows else 0, len(rows))
