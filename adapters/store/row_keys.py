"""The keys ServiceMobility ledger lines had in earlier builds, and a row's
identity as migration 0006 gives it, written out as they were then: for the
migrations alone. The live identity is `adapters.servicemobility_rows`; a
later change of it needs a migration of its own, with its own copy here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final
from urllib.parse import unquote

import msgspec

_decoder: Final = msgspec.json.Decoder(Any, float_hook=Decimal)


class RowKeys(msgspec.Struct, frozen=True):
    """A row's identity in 0006, its version key ("" without a rowver) and rowver."""

    identity: str
    version: str
    rowver: str


def cloudevent(headers: str | None) -> tuple[tuple[str, str], ...]:
    try:
        found = msgspec.json.decode(headers or "{}")
    except msgspec.DecodeError:
        return ()
    if not isinstance(found, dict):
        return ()
    return tuple(sorted((k, str(v)) for k, v in found.items() if str(k).startswith("ce-")))


def rows_by_old_key(body: bytes, headers: str | None) -> dict[str, RowKeys]:
    """Each row of a kept payload (a webhook envelope, a binary-mode one's
    data, an Export API page) under both keys earlier builds gave it."""
    try:
        document = _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError):
        return {}
    if not isinstance(document, dict):
        return {}
    source = document.get("source") if "data" in document else _ce_source(headers)
    data = document.get("data") if "data" in document else document
    rows = data.get("rows") if isinstance(data, dict) else None
    if not isinstance(rows, list):
        return {}
    found: dict[str, RowKeys] = {}
    for row in rows:
        identity = _identity(row) if isinstance(row, dict) else None
        if identity is not None:
            source_text = source if isinstance(source, str) else ""
            found[_smrow_key(row)] = found[_sm_key(source_text, row)] = identity
    return found


def _ce_source(headers: str | None) -> str | None:
    for name, value in cloudevent(headers):
        if name == "ce-source":
            return unquote(value)
    return None


def _rowver(row: dict[str, Any]) -> str:
    rowver = row.get("rowver")
    return "" if rowver is None else str(rowver)


def _smrow_key(row: dict[str, Any]) -> str:
    """Revisions 0004 and 0005: rowver and the InventoryUsage object."""
    material = b"\x1f".join(
        (
            _rowver(row).encode(),
            msgspec.json.encode(_by_value(row.get("InventoryUsage")), order="sorted"),
        )
    )
    return "smrow:" + hashlib.sha256(material).hexdigest()


def _sm_key(source: str, row: dict[str, Any]) -> str:
    """Before revision 0004: webhook source, rowver and the whole row."""
    material = b"\x1f".join(
        (
            source.encode(),
            _rowver(row).encode(),
            msgspec.json.encode(_by_value(row), order="sorted"),
        )
    )
    return "sm:" + hashlib.sha256(material).hexdigest()


def _by_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _by_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_by_value(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return {"#": format(number.normalize(), "f")}
    return value


class _Reason(msgspec.Struct, frozen=True):
    ReasonCode: str | None = None
    Desc: str | None = None
    InQty: Decimal = Decimal(0)
    OutQty: Decimal = Decimal(0)
    InventoryQty: Decimal = Decimal(0)
    Qty: Decimal = Decimal(0)


class _Item(msgspec.Struct, frozen=True):
    ProdNum: str
    SerialNum: str | None = None
    BatchNum: str | None = None
    InQty: Decimal = Decimal(0)
    OutQty: Decimal = Decimal(0)
    InventoryQty: Decimal = Decimal(0)
    InventoryDamagedQty: Decimal = Decimal(0)
    ReportedDamagedQty: Decimal = Decimal(0)
    DispositionReasons: list[_Reason] | None = None


class _Location(msgspec.Struct, frozen=True):
    StorageLocationID: str
    Items: list[_Item] = []


class _Usage(msgspec.Struct, frozen=True):
    ModifiedUTC: str
    RefModule: str | int
    RefObjID: str | int
    UserID: str | None = None
    StorageLocations: list[_Location] = []


def _identity(row: dict[str, Any]) -> RowKeys | None:
    """The row's identity: `smrow2:` and the SHA-256 of its rowver and its
    ledger lines, canonical; None for a row that cannot be read."""
    try:
        usage = msgspec.convert(row.get("InventoryUsage"), _Usage, strict=False)
        moment = datetime.fromisoformat(usage.ModifiedUTC)
    except (msgspec.ValidationError, ValueError, OverflowError, RecursionError):
        return None
    moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    head = [moment.isoformat(), str(usage.RefModule), str(usage.RefObjID), usage.UserID or ""]
    lines = [
        [*head, location.StorageLocationID, *_item(item)]
        for location in usage.StorageLocations
        for item in location.Items
    ]
    rowver = _rowver(row)
    identity = "smrow2:" + hashlib.sha256(msgspec.json.encode([rowver, lines])).hexdigest()
    version = ""
    if rowver and lines:
        material = msgspec.json.encode([rowver, *head])
        version = "smver:" + hashlib.sha256(material).hexdigest()
    return RowKeys(identity=identity, version=version, rowver=rowver)


def _item(item: _Item) -> list[Any]:
    quantities = (
        item.InQty,
        item.OutQty,
        item.InventoryQty,
        item.InventoryDamagedQty,
        item.ReportedDamagedQty,
    )
    reasons = [
        [reason.ReasonCode or "", reason.Desc or "", *map(_number, _amounts(reason))]
        for reason in item.DispositionReasons or ()
        if reason.ReasonCode or reason.Desc or any(_amounts(reason))
    ]
    return [
        item.ProdNum,
        _optional(item.SerialNum),
        _optional(item.BatchNum),
        *map(_number, quantities),
        reasons,
    ]


def _amounts(reason: _Reason) -> tuple[Decimal, ...]:
    return (reason.InQty, reason.OutQty, reason.InventoryQty, reason.Qty)


def _optional(value: str | None) -> str:
    return value if value and value.strip() else ""


def _number(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return "0" if text == "-0" else text
