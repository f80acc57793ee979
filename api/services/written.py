"""The position a request's writes reached, for its answer's
`Invtrack-Position` header (set around each request by `api.http.positions`):
a reader asking for that position sees everything the request wrote."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass


@dataclass
class Written:
    position: int = 0


_WRITTEN: ContextVar[Written | None] = ContextVar("invtrack_written", default=None)


@contextlib.contextmanager
def noting() -> Iterator[Written]:
    """What the request writes inside is noted in the value given."""
    written = Written()
    token = _WRITTEN.set(written)
    try:
        yield written
    finally:
        _WRITTEN.reset(token)


def note(position: int) -> None:
    """A write of this request committed at `position`."""
    written = _WRITTEN.get()
    if written is not None:
        written.position = max(written.position, position)
