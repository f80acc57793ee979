"""Upcasters: old stored shapes of an event turned into the current one on read.

A stored event keeps the schema version it was written with. Register one
function per (type, version) that lifts data of that version by one step; reads
chain them until the data has the current version of its type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

Upcaster = Callable[[dict[str, Any]], dict[str, Any]]

CURRENT_VERSIONS: Final[dict[str, int]] = {}
"""Event types whose current schema version is above 1."""

UPCASTERS: Final[dict[tuple[str, int], Upcaster]] = {}
"""(type, version) -> function lifting data of that version to version + 1."""


def current_version(event_type: str) -> int:
    return CURRENT_VERSIONS.get(event_type, 1)


def upcast(
    event_type: str,
    version: int,
    data: dict[str, Any],
    upcasters: dict[tuple[str, int], Upcaster] = UPCASTERS,
    current: dict[str, int] = CURRENT_VERSIONS,
) -> tuple[dict[str, Any], int]:
    """The data lifted to the current version of its type, and that version."""
    target = current.get(event_type, 1)
    while version < target:
        step = upcasters.get((event_type, version))
        if step is None:
            raise LookupError(f"no upcaster for {event_type} version {version}")
        data = step(data)
        version += 1
    return data, version
