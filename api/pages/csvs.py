"""CSV downloads: the rows a page shows, with the API's field names and values."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal, InvalidOperation
from typing import Any, Final

import msgspec
from litestar import Response

from adapters.store import ItemRecord

ITEM_COLUMNS: Final = tuple(field.encode_name for field in msgspec.structs.fields(ItemRecord))
"""Every field of an item as the query API writes it."""

_FORMULA_START: Final = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> str:
    """A value as a CSV cell: JSON text for objects, `true`/`false`, empty for
    null. Text a spreadsheet would run as a formula gets a leading `'`;
    numbers (`-5`) stay as they are."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return msgspec.json.encode(value).decode()
    text = str(value)
    if text.startswith(_FORMULA_START) and not _is_number(text):
        return "'" + text
    return text


def _is_number(text: str) -> bool:
    try:
        Decimal(text)
    except InvalidOperation:
        return False
    return text.strip() == text


def item_rows(items: Iterable[ItemRecord]) -> list[list[str]]:
    """Items as rows of ITEM_COLUMNS, valued as in the API's JSON."""
    rows = []
    for item in items:
        answered = msgspec.json.decode(msgspec.json.encode(item))
        rows.append([cell(answered.get(column)) for column in ITEM_COLUMNS])
    return rows


def download(filename: str, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Response[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows(rows)
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", filename).strip("_") or "export"
    return Response(
        buffer.getvalue(),
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{safe}.csv"'},
    )
