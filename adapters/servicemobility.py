"""ServiceMobility webhooks: the envelope and its rows, read tolerantly, turned
into ledger lines (InventoryUsage) and documents (the eight other types).

Pure: no I/O, no clock. Vendor field names stop here.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final

import msgspec

from adapters.servicemobility_rows import claim, rowver_text
from domain.events import (
    DispositionReason,
    DocumentRecorded,
    Fact,
    StockRef,
    StockUsageRecorded,
)
from domain.quantities import quantity_problem

TYPES: Final = (
    "Activity",
    "PhysicalInventoryRequest",
    "LoadInventory",
    "InventoryTransfer",
    "InventoryUsage",
    "StockLevelRecommendation",
    "TimeEntry",
    "UserAudit",
    "WorkOrder",
)
"""The nine webhook types ServiceMobility sends."""

LONGEST_ID: Final = 255
"""Identifiers (products, serials, locations, work orders) longer than this are refused."""

DOCUMENT_IDS: Final[dict[str, str]] = {
    "LoadInventory": "LoadNum",
    "InventoryTransfer": "ValidationCode",
    "PhysicalInventoryRequest": "PhysicalInventoryNum",
    "WorkOrder": "WorkOrderNum",
    "Activity": "ActivityID",
}
"""The field that names a document of each type, where the vendor documents one."""


class TranslationError(Exception):
    """The payload cannot be read; `field` says where (a JSON path)."""

    def __init__(self, message: str, field: str = "$") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# ---- the vendor's shapes (tolerant: unknown fields are ignored) ----------


class Envelope(msgspec.Struct, frozen=True):
    id: str
    type: str
    specversion: str | None = None
    source: str | None = None
    subject: str | None = None
    time: str | None = None
    datacontenttype: str | None = None
    action: str | None = None
    data: msgspec.Raw = msgspec.field(default_factory=lambda: msgspec.Raw(b"null"))


class _Reason(msgspec.Struct, frozen=True):
    ReasonCode: str | None = None
    Desc: str | None = None
    InQty: Decimal = Decimal(0)
    OutQty: Decimal = Decimal(0)
    InventoryQty: Decimal = Decimal(0)
    Qty: Decimal = Decimal(0)


class _UsageItem(msgspec.Struct, frozen=True):
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
    Items: list[_UsageItem] = []


class _Usage(msgspec.Struct, frozen=True):
    ModifiedUTC: str
    RefModule: str | int
    RefObjID: str | int
    UserID: str | None = None
    StorageLocations: list[_Location] = []


class _DocumentItem(msgspec.Struct, frozen=True):
    ProdNum: str | None = None
    SerialNum: str | None = None
    BatchNum: str | None = None


class _Document(msgspec.Struct, frozen=True):
    ModifiedUTC: str | None = None
    StorageLocationID: str | None = None
    FromStorageLocation: str | None = None
    ToStorageLocation: str | None = None
    Items: list[_DocumentItem] | None = None


_envelope: Final = msgspec.json.Decoder(Envelope)
_any: Final = msgspec.json.Decoder(Any, float_hook=Decimal)


# ---- reading --------------------------------------------------------------


def read_envelope(body: bytes, path_type: str) -> Envelope:
    """The envelope, checked: JSON object, non-empty `id`, `type` as in the path."""
    try:
        envelope = _envelope.decode(body)
    except msgspec.ValidationError as error:
        raise TranslationError(*_explain(error)) from None
    except msgspec.DecodeError as error:
        raise TranslationError(f"body is not valid JSON: {error}") from None
    if not envelope.id.strip():
        raise TranslationError("`id` must not be empty", "$.id")
    if "\x00" in envelope.id:
        raise TranslationError("`id` must not contain NUL characters", "$.id")
    if len(envelope.id) > 255:
        raise TranslationError("`id` is longer than 255 characters", "$.id")
    if envelope.type != path_type:
        raise TranslationError(
            f"`type` is {envelope.type!r} but the path says {path_type!r}", "$.type"
        )
    return envelope


def translate(envelope: Envelope) -> list[Fact]:
    """Ledger lines for InventoryUsage, one document per row for the other types."""
    data = _decode_data(envelope)
    rows = _rows(envelope, data)
    if envelope.type == "InventoryUsage":
        return usage_facts(rows, "$.data.rows")
    return [_document_row(envelope, row, index) for index, row in enumerate(rows)]


def usage_facts(rows: list[dict[str, Any]], path: str) -> list[Fact]:
    """The ledger lines of InventoryUsage rows, wherever the rows came from (a
    webhook's `data.rows`, an export page's `rows`); `path` is where they sit."""
    return [fact for index, row in enumerate(rows) for fact in _usage_row(row, f"{path}[{index}]")]


def decode_json(body: bytes) -> Any:
    """A vendor body as plain values, every non-integer number an exact Decimal."""
    return _any.decode(body)


def _decode_data(envelope: Envelope) -> dict[str, Any]:
    data = _any.decode(envelope.data)
    if data is None:
        raise TranslationError("`data` is missing", "$.data")
    if not isinstance(data, dict):
        raise TranslationError("`data` must be an object", "$.data")
    return data


def _rows(envelope: Envelope, data: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of `data`; a `data` without rows is one document."""
    if "rows" not in data:
        if envelope.type == "InventoryUsage":
            raise TranslationError("`data.rows` is missing", "$.data.rows")
        return [data]
    rows = data["rows"]
    if not isinstance(rows, list):
        raise TranslationError("`data.rows` must be an array", "$.data.rows")
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TranslationError("a row must be an object", f"$.data.rows[{index}]")
    return rows


def _usage_row(row: dict[str, Any], where: str) -> list[Fact]:
    path = f"{where}.InventoryUsage"
    if "InventoryUsage" not in row:
        raise TranslationError("the row has no `InventoryUsage` object", path)
    try:
        usage = msgspec.convert(row["InventoryUsage"], _Usage, strict=False)
    except msgspec.ValidationError as error:
        raise TranslationError(*_explain(error, path)) from None
    occurred_at = _parse_time(usage.ModifiedUTC, f"{path}.ModifiedUTC")
    ref_module = _identifier(str(usage.RefModule), f"{path}.RefModule")
    ref_object = _identifier(str(usage.RefObjID), f"{path}.RefObjID")
    lines: list[tuple[str, StockUsageRecorded]] = []
    for i, location in enumerate(usage.StorageLocations):
        where = f"{path}.StorageLocations[{i}]"
        location_id = _identifier(location.StorageLocationID, f"{where}.StorageLocationID")
        for j, item in enumerate(location.Items):
            at = f"{where}.Items[{j}]"
            event = StockUsageRecorded(
                occurred_at=occurred_at,
                location=location_id,
                product=_identifier(item.ProdNum, f"{at}.ProdNum"),
                serial=_optional_identifier(item.SerialNum, f"{at}.SerialNum"),
                batch=_optional_identifier(item.BatchNum, f"{at}.BatchNum"),
                quantity_in=_quantity(item.InQty, f"{at}.InQty"),
                quantity_out=_quantity(item.OutQty, f"{at}.OutQty"),
                reported_quantity=_quantity(item.InventoryQty, f"{at}.InventoryQty"),
                damaged_quantity=_quantity(item.InventoryDamagedQty, f"{at}.InventoryDamagedQty"),
                reported_damaged_quantity=_quantity(
                    item.ReportedDamagedQty, f"{at}.ReportedDamagedQty"
                ),
                ref_module=ref_module,
                ref_object=ref_object,
                user=usage.UserID or None,
                disposition_reasons=tuple(
                    _reason(reason, f"{at}.DispositionReasons[{k}]")
                    for k, reason in enumerate(item.DispositionReasons or ())
                ),
            )
            lines.append((f"{i}:{j}", event))
    identity, row_claim = claim(rowver_text(row.get("rowver")), [event for _, event in lines])
    return [
        Fact(event=event, dedupe_key=f"{identity}:{place}", row=row_claim) for place, event in lines
    ]


def _document_row(envelope: Envelope, row: dict[str, Any], index: int) -> Fact:
    path = f"$.data.rows[{index}]"
    body = row.get(envelope.type, row)
    if not isinstance(body, dict):
        raise TranslationError(f"`{envelope.type}` must be an object", f"{path}.{envelope.type}")
    try:
        document = msgspec.convert(body, _Document, strict=False)
    except msgspec.ValidationError as error:
        raise TranslationError(*_explain(error, f"{path}.{envelope.type}")) from None
    key = _row_key(envelope, row)
    if document.ModifiedUTC:
        occurred_at = _parse_time(document.ModifiedUTC, f"{path}.{envelope.type}.ModifiedUTC")
    else:
        occurred_at = _parse_time(envelope.time, "$.time")
    id_field = DOCUMENT_IDS.get(envelope.type)
    named = body.get(id_field) if id_field else None
    document_id = (
        _identifier(str(named), f"{path}.{envelope.type}.{id_field}")
        if named not in (None, "")
        else f"row-{key[3:27]}"
    )
    return Fact(
        event=DocumentRecorded(
            occurred_at=occurred_at,
            document_type=envelope.type,
            document_id=document_id,
            mentions=_mentions(document),
            body=msgspec.to_builtins(row),
        ),
        dedupe_key=key,
    )


def _mentions(document: _Document) -> tuple[StockRef, ...]:
    locations = [
        location
        for location in (
            document.StorageLocationID,
            document.FromStorageLocation,
            document.ToStorageLocation,
        )
        if location
    ]
    return tuple(
        StockRef(
            location=location,
            product=item.ProdNum,
            serial=item.SerialNum or None,
            batch=item.BatchNum or None,
        )
        for location in locations
        for item in document.Items or ()
        if item.ProdNum
        and all(
            len(value or "") <= LONGEST_ID
            for value in (location, item.ProdNum, item.SerialNum, item.BatchNum)
        )
    )


def _reason(reason: _Reason, path: str) -> DispositionReason:
    return DispositionReason(
        reason_code=reason.ReasonCode or "",
        description=reason.Desc or "",
        quantity_in=_quantity(reason.InQty, f"{path}.InQty"),
        quantity_out=_quantity(reason.OutQty, f"{path}.OutQty"),
        inventory_quantity=_quantity(reason.InventoryQty, f"{path}.InventoryQty"),
        quantity=_quantity(reason.Qty, f"{path}.Qty"),
    )


def _row_key(envelope: Envelope, row: dict[str, Any]) -> str:
    """A document row's identity: webhook source, row version and canonical
    content, so a row redelivered inside a new envelope is recognised."""
    canonical = msgspec.json.encode(_canonical(row), order="sorted")
    rowver = row.get("rowver")
    material = b"\x1f".join(
        (
            (envelope.source or "").encode(),
            str(rowver if rowver is not None else "").encode(),
            canonical,
        )
    )
    return "sm:" + hashlib.sha256(material).hexdigest()


def _identifier(value: str, path: str) -> str:
    """A required identifier, as given."""
    name = path.rsplit(".", 1)[-1]
    if not value.strip():
        raise TranslationError(f"`{name}` must not be empty", path)
    if "\x00" in value:
        raise TranslationError(f"`{name}` must not contain NUL characters", path)
    if len(value) > LONGEST_ID:
        raise TranslationError(f"`{name}` must be at most {LONGEST_ID} characters", path)
    return value


def _optional_identifier(value: str | None, path: str) -> str | None:
    """An optional identifier; an empty string means none."""
    return _identifier(value, path) if value and value.strip() else None


def _canonical(value: Any) -> Any:
    """The row with every number written one way (1, 1.0 and 1.00 alike), so a
    row re-serialised by the sender is still recognised."""
    if isinstance(value, dict):
        return {key: _canonical(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_canonical(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return {"#": format(number.normalize(), "f")}
    return value


def _quantity(value: Decimal, path: str) -> Decimal:
    problem = quantity_problem(value)
    if problem is not None:
        raise TranslationError(problem, path)
    return value


def _parse_time(value: str | None, path: str) -> datetime:
    if not value:
        raise TranslationError("time is missing", path)
    try:
        parsed = datetime.fromisoformat(value)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):
        raise TranslationError(f"{value[:40]!r} is not an ISO 8601 time in range", path) from None


def _explain(error: msgspec.ValidationError, prefix: str = "$") -> tuple[str, str]:
    """msgspec's message split into what is wrong and where (`... - at `$.x``)."""
    text = str(error)
    message, _, where = text.partition(" - at `")
    field = where.rstrip("`") or "$"
    if prefix != "$" and field.startswith("$"):
        field = prefix + field[1:]
    return message, field
