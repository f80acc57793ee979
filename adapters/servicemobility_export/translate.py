"""An Export API page read tolerantly: its next `rowver` and its rows, each
row translated by the webhook's rules (`adapters.servicemobility`).

A page no decoder can take whole (a row nested thousands of levels deep) is
split by `adapters.json_scan`: its `rowver` still says where to go next, and
the row that cannot be read makes the page untranslatable, so it is
quarantined and passed like any other.

Pure: no I/O, no clock.
"""

from __future__ import annotations

from typing import Any, Final

import msgspec

from adapters.json_scan import elements, members
from adapters.servicemobility import TranslationError, decode_json, usage_facts
from domain.events import Fact

EXPORT_KIND: Final = "export/InventoryUsage"
"""Inbox kind of an Export API page."""


class NotAPage(Exception):
    """The answer is not an export page: nothing in it says where to go next."""


class UnreadableRow:
    """A row of a page that could not be decoded, with the reason."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def read_page(body: bytes) -> tuple[str | None, list[Any]]:
    """The page's next cursor (None when empty or missing) and its rows as sent."""
    try:
        document = decode_json(body)
    except (msgspec.DecodeError, RecursionError):
        document = _scanned(body)
    if not isinstance(document, dict) or not isinstance(document.get("rows", []), list):
        raise NotAPage("the answer is not an object with `rows`")
    rowver = document.get("rowver")
    return (str(rowver) if rowver not in (None, "") else None), document.get("rows", [])


def _scanned(body: bytes) -> dict[str, Any]:
    """The page's members read one by one (its rows too): for a page too deep
    to decode whole."""
    found = members(body)
    if found is None:
        raise NotAPage("the answer is not JSON")
    page: dict[str, Any] = {}
    for key, raw in found.items():
        if key == "rows":
            rows = elements(raw)
            page[key] = raw if rows is None else [_row(row) for row in rows]
        elif not isinstance(value := _row(raw), UnreadableRow):
            page[key] = value
    return page


def _row(raw: bytes) -> Any:
    try:
        return decode_json(raw)
    except RecursionError:
        return UnreadableRow("nested too deeply to be read")
    except msgspec.DecodeError as error:
        return UnreadableRow(f"not JSON: {error}")


def row_cursor(row: Any) -> str | None:
    """A row's own `rowver`, None when it has none."""
    rowver = row.get("rowver") if isinstance(row, dict) else None
    return str(rowver) if rowver not in (None, "") else None


def translate_rows(rows: list[Any]) -> list[Fact]:
    """The ledger lines of an export page's rows; TranslationError when one cannot be read."""
    for index, row in enumerate(rows):
        if isinstance(row, UnreadableRow):
            raise TranslationError(row.reason, f"$.rows[{index}]")
        if not isinstance(row, dict):
            raise TranslationError("a row must be an object", f"$.rows[{index}]")
    try:
        return usage_facts(rows, "$.rows")
    except RecursionError:
        raise TranslationError("the page is nested too deeply") from None
    except OverflowError:
        raise TranslationError("a date or number is out of range") from None


def translate_page(body: bytes) -> list[Fact]:
    """A whole kept page translated (replaying the quarantine)."""
    try:
        _, rows = read_page(body)
    except NotAPage as error:
        raise TranslationError(str(error)) from None
    return translate_rows(rows)
