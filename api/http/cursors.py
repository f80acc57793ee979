"""Cursors of the paged lists: opaque to clients, checked when they come back.

A list's cursor is the last item key of the page, a history's the last
position, each base64url-encoded. A cursor that does not decode to one of
those is a 400 naming `cursor`: it is never passed on to the database.
"""

from __future__ import annotations

import base64
import binascii
from typing import Final

from api.http.problems import FieldError, Problem
from domain.items import is_item_key

MAX_POSITION: Final = 2**63 - 1
"""The largest position a BIGINT column holds."""


def encode(value: str | int) -> str:
    return base64.urlsafe_b64encode(str(value).encode()).decode().rstrip("=")


def item_key_after(cursor: str | None) -> str | None:
    """The item key a list's cursor names, None for the first page."""
    if cursor is None:
        return None
    key = _decode(cursor)
    if not is_item_key(key):
        raise _invalid()
    return key


def position_after(cursor: str | None) -> int:
    """The position a history's cursor names, 0 for the first page."""
    if cursor is None:
        return 0
    text = _decode(cursor)
    if not (text.isascii() and text.isdigit() and len(text) <= 19):
        raise _invalid()
    position = int(text)
    if not 0 < position <= MAX_POSITION:
        raise _invalid()
    return position


def _decode(cursor: str) -> str:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return base64.b64decode(padded, altchars=b"-_", validate=True).decode("ascii")
    except (binascii.Error, UnicodeError, ValueError):
        raise _invalid() from None


def _invalid() -> Problem:
    return Problem(
        400,
        "Bad Request",
        "the cursor is not one this API gave out",
        errors=[FieldError(field="cursor", message="invalid cursor")],
    )
