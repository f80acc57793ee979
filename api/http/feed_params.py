"""The change feed's query parameters, read and checked: an unknown one, a bad
`after`, a `timeout` over 60 or a `limit` over 1000 is a 400 naming it.

Filters, on every feed route: `type`, `source`, `resourceId`,
`customerNumber`, `activityId` and `subject` (a key prefix). Each may be
given several times: an entry passes when it matches one of the values of
each filter given.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Final

import msgspec

from adapters.store.feed import FeedFilter, FeedOwnerKind
from api.http.cursors import MAX_POSITION
from api.http.problems import FieldError, Problem

OWNER_FILTERS: Final[dict[str, FeedOwnerKind]] = {
    "resourceId": "resource",
    "customerNumber": "customer",
    "activityId": "activity",
}
FILTERS: Final = ("type", "source", "subject", *OWNER_FILTERS)
SOURCES: Final = ("ofs", "servicemobility")
MAX_LIMIT: Final = 1000
MAX_TIMEOUT: Final = 60.0
MAX_TEXT: Final = 256

FEED_PARAMETERS: Final = ("after", "limit", "timeout", *FILTERS)
STREAM_PARAMETERS: Final = ("after", *FILTERS)
SNAPSHOT_PARAMETERS: Final = ("limit", "cursor", *FILTERS)

Params = Mapping[str, Sequence[str]]
"""Every query parameter with its values, in order."""


def bad(name: str, message: str) -> Problem:
    return Problem(
        400,
        "Bad Request",
        f"`{name}` {message}",
        errors=[FieldError(field=name, message=message)],
    )


def check_known(params: Params, known: Collection[str]) -> None:
    for name in params:
        if name not in known:
            raise bad(name, f"is not a parameter of this route (known: {', '.join(known)})")


def one(params: Params, name: str) -> str | None:
    values = params.get(name) or []
    if len(values) > 1:
        raise bad(name, "may be given once")
    return values[0] if values else None


def position(text: str | None, name: str = "after") -> int:
    """A feed position: a whole number from 0; 0 when not given."""
    if text is None:
        return 0
    if not (text.isascii() and text.isdigit() and len(text) <= 19) or int(text) > MAX_POSITION:
        raise bad(name, "must be a feed position (a whole number from 0)")
    return int(text)


def limit(text: str | None, default: int = 100) -> int:
    if text is None:
        return default
    if not (text.isascii() and text.isdigit() and len(text) <= 7):
        raise bad("limit", f"must be a whole number from 1 to {MAX_LIMIT}")
    value = int(text)
    if not 1 <= value <= MAX_LIMIT:
        raise bad("limit", f"must be a whole number from 1 to {MAX_LIMIT}, not {value}")
    return value


def timeout(text: str | None) -> float:
    if text is None:
        return 0.0
    try:
        value = float(text)
    except ValueError:
        raise bad("timeout", "must be a number of seconds from 0 to 60") from None
    if not (math.isfinite(value) and 0 <= value <= MAX_TIMEOUT):
        raise bad("timeout", f"must be a number of seconds from 0 to 60, not {text[:20]}")
    return value


def _texts(params: Params, name: str) -> tuple[str, ...]:
    values = tuple(dict.fromkeys(params.get(name) or ()))
    for value in values:
        if not value or len(value) > MAX_TEXT or "\x00" in value:
            raise bad(name, f"must be a non-empty text of at most {MAX_TEXT} characters")
    return values


def feed_filter(params: Params) -> FeedFilter:
    sources = _texts(params, "source")
    for source in sources:
        if source not in SOURCES:
            raise bad("source", f"must be one of {', '.join(SOURCES)}, not {source[:40]!r}")
    owners = tuple(
        (kind, values) for name, kind in OWNER_FILTERS.items() if (values := _texts(params, name))
    )
    return FeedFilter(
        types=_texts(params, "type"),
        sources=sources,
        subjects=_texts(params, "subject"),
        owners=owners,
    )


def last_event_id(headers: Mapping[str, str]) -> int | None:
    """The position an SSE client saw last (`Last-Event-ID`), None without one."""
    text = headers.get("last-event-id")
    if text is None or text == "":
        return None
    return position(text.strip(), "Last-Event-ID")


# ---- snapshot cursors -------------------------------------------------------------


class SnapshotCursor(msgspec.Struct, frozen=True, array_like=True):
    """Where a snapshot's next page starts: its position and the last key."""

    position: int
    key: str


def encode_cursor(cursor: SnapshotCursor) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(cursor)).decode().rstrip("=")


def snapshot_cursor(text: str | None) -> SnapshotCursor | None:
    if text is None:
        return None
    try:
        padded = text + "=" * (-len(text) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        cursor = msgspec.json.decode(raw, type=SnapshotCursor)
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise bad("cursor", "is not a cursor this API gave out") from None
    if not 0 <= cursor.position <= MAX_POSITION or not cursor.key:
        raise bad("cursor", "is not a cursor this API gave out")
    return cursor


def params_of(items: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """Query parameters as (name, value) pairs, gathered by name."""
    found: dict[str, list[str]] = {}
    for name, value in items:
        found.setdefault(name, []).append(value)
    return found
