"""An event's routing: the keys of the items it touches, stored with it (the
events table's `routing` column) so a rebuild routes it to its items without
decoding it.

The keys are `domain.fold.touched_keys` of the event as stored (a count
annotated by the items fold touches what it touched before), written as a
JSON array: decoded by one msgspec call, as fast as splitting a string, on
both backends. An event that is no domain event has none (NULL), nor has one
stored before revision 0012, nor data stored in an older shape of its type:
a rebuild computes those from the data.

Like the stream id, the routing is fixed when the event is appended: a change
to the rules of `touched_keys`, or an upcaster that changes an event's keys,
comes with a migration that sets the routing of the events it changes to
NULL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

import msgspec

from domain.events import DomainEvent, from_data
from domain.fold import touched_keys
from domain.upcasters import current_version

_encode: Final = msgspec.json.Encoder().encode
_keys: Final = msgspec.json.Decoder(tuple[str, ...]).decode


def routing_text(keys: Sequence[str] | None) -> str | None:
    """The keys as the column holds them."""
    return None if keys is None else _encode(keys).decode()


def routing_keys(text: str | None) -> tuple[str, ...] | None:
    """The keys the column holds (None for NULL)."""
    return None if text is None else keys_in(text)


def keys_in(text: str) -> tuple[str, ...]:
    """The keys of a routing the column holds (not NULL)."""
    return _keys(text)


def routing_of(kind: str, schema_version: int, data: Any) -> tuple[str, ...] | None:
    """The keys of an event about to be stored as (type, schema version, data):
    those of the domain event it is (given as one, or as its data in the
    current shape); None for other data, and for data of an older shape,
    which a rebuild lifts before it can tell."""
    if isinstance(data, DomainEvent):
        return touched_keys(data)
    if not isinstance(data, dict) or data.get("type") != kind:
        return None
    try:
        if schema_version != current_version(kind):
            return None
        return touched_keys(from_data(data))
    except (msgspec.ValidationError, LookupError):
        return None
