"""Reading what people type into the dashboard's forms and links: each bad
value becomes a BadInput naming the field, shown as a 400 page."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from typing import Final, get_args

from domain.items import Pool, Source

PAGE_SIZES: Final = (25, 50, 100, 250, 500, 1000)
DEFAULT_PAGE: Final = 100


class BadInput(ValueError):
    """A parameter that cannot be used; `field` is its name in the form."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def text(value: str | None, field: str, *, longest: int = 200) -> str | None:
    """Trimmed text, None when empty; identifiers never hold control characters."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) > longest:
        raise BadInput(field, f"is longer than {longest} characters")
    if any(ord(char) < 32 for char in value):
        raise BadInput(field, "holds control characters")
    return value


def moment(value: str | None, field: str) -> datetime | None:
    """A date and time (`2026-11-20T09:30`, seconds and an offset optional;
    UTC when none is given), or a date alone (its midnight, UTC)."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput(field, f"{value!r} is not a date and time like 2026-11-20T09:30") from None
    try:
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except OverflowError:
        raise BadInput(field, "is out of range") from None


def limit(value: str | None) -> int:
    if not value:
        return DEFAULT_PAGE
    if not value.isdigit() or not 1 <= int(value) <= 1000:
        raise BadInput("limit", "must be a whole number from 1 to 1000")
    return int(value)


def pool(value: str | None, default: Pool | None) -> Pool | None:
    if not value:
        return default
    if value == "all":
        return None
    if value not in get_args(Pool):
        raise BadInput("pool", f"must be one of {', '.join(get_args(Pool))}")
    return value  # type: ignore[return-value]


def source(value: str | None) -> Source | None:
    if not value:
        return None
    if value not in get_args(Source):
        raise BadInput("source", f"must be one of {', '.join(get_args(Source))}")
    return value  # type: ignore[return-value]


def encode_cursor(value: str | int) -> str:
    """An opaque cursor for the next page: the last key or position shown."""
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def cursor(value: str | None, field: str = "cursor") -> str | None:
    """The key or position a cursor stands for."""
    if not value:
        return None
    try:
        padded = value + "=" * (-len(value) % 4)
        decoded = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    if not decoded or any(ord(char) < 32 for char in decoded):
        raise BadInput(field, "is not a cursor this page gave out")
    return decoded


def position_cursor(value: str | None, field: str = "cursor") -> int | None:
    """A cursor standing for a store position."""
    decoded = cursor(value, field)
    if decoded is None:
        return None
    if not decoded.isdigit() or len(decoded) > 18:
        raise BadInput(field, "is not a cursor this page gave out")
    return int(decoded)
