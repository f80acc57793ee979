"""OFS events in, domain facts out: the tolerant reader (domain.md, part 2). Pure.

Accepted bodies: one OFS event object, a JSON array of them, or a whole Events
API page `{"found", "nextPage", "items"}`. Every event becomes one `Fact`:

- the ten inventory event types become their domain event, with the vendor's
  field names renamed here and nowhere else;
- any other `eventType` becomes `OfsEventRecorded`, kept with its raw object
  and never projected.

Tolerant where the meaning is unambiguous: unknown keys are ignored (or, inside
`inventoryChanges` / `inventoryDetails`, kept as custom properties) and `null`
reads as absent. Strict where guessing would corrupt state: a known field of
the wrong type, an event without `eventType` or a valid `time`, an inventory
event without an integer `inventoryId`. Numbers are read exactly (no float),
so a quantity of `0.1` stays `Decimal("0.1")`.

OFS events carry no id. An event's dedupe key is therefore a hash of its
canonical JSON (sorted keys, no whitespace, numbers as written), so the same
event read twice, pushed and polled, or reordered by a relay is stored once;
two genuinely identical events collapse into one, which is harmless because
OFS states are absolute.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Final, cast

import msgspec

from domain.events import (
    OFS_INVENTORY_EVENTS,
    DomainEvent,
    Fact,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsEventRecorded,
    OfsInventory,
)
from domain.quantities import quantity_problem

TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
"""OFS event times: `YYYY-MM-DD HH:MM:SS`, always UTC."""

MAX_PAGE_MARKER: Final = 48
"""The vendor's bound on a `nextPage` marker."""

CHANGES_FIELDS: Final = frozenset(
    {
        "inventoryId",
        "status",
        "inventoryType",
        "serialNumber",
        "quantity",
        "exchangedInventoryId",
        "resourceId",
        "activityId",
    }
)
"""Standard `inventoryChanges` fields; any other key is a custom property."""

DETAILS_FIELDS: Final = frozenset(
    {"inventoryId", "status", "inventoryType", "serialNumber", "quantity"}
)
"""Standard `inventoryDetails` fields; any other key is a custom property."""

_PAGE_KEYS: Final = frozenset({"items", "nextPage", "found"})
_TIME_PATTERN: Final = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}")
_INT64: Final = range(-(2**63), 2**63)
# JSON numbers decode to int or Decimal, never float, so nothing is rounded.
_decoder: Final = msgspec.json.Decoder(float_hook=Decimal)
_canonical: Final = msgspec.json.Encoder(order="sorted", decimal_format="number")


class TranslationError(ValueError):
    """The body cannot be read as OFS events.

    `field` locates the offence in the body, e.g. `items[3].time`; it is `""`
    when the body as a whole is wrong (not JSON, not an event, array or page).
    """

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


def translate(body: bytes) -> list[Fact]:
    """The facts in an OFS event, array of events or Events API page, in order."""
    return [_fact(raw, path) for raw, path in _raw_events(_parse(body))]


def translate_event(raw: bytes, path: str = "") -> Fact:
    """The fact of one raw event object; `path` names where it is in its body."""
    try:
        document = _decoder.decode(raw)
    except msgspec.DecodeError as error:
        raise TranslationError(f"not JSON: {error}", path) from None
    except RecursionError:
        raise TranslationError("nested too deeply to be read", path) from None
    try:
        return _fact(document, path)
    except RecursionError:
        raise TranslationError("nested too deeply to be read", path) from None
    except OverflowError:
        raise TranslationError("a number is out of range", path) from None


def page_next(body: bytes) -> str | None:
    """The `nextPage` marker of an Events API page, None when it has none.

    Raises TranslationError when the body is not a page or the marker is not a
    string of at most 48 characters.
    """
    document = _parse(body)
    if not _is_page(document):
        raise TranslationError("not an Events API page")
    marker = document.get("nextPage")
    if marker is None:
        return None
    if not isinstance(marker, str):
        raise TranslationError("must be a string", "nextPage")
    if len(marker) > MAX_PAGE_MARKER:
        raise TranslationError(f"longer than {MAX_PAGE_MARKER} characters", "nextPage")
    return marker


def format_time(moment: datetime) -> str:
    """A UTC time the way OFS writes it (for `since` and the poller's cursor)."""
    return moment.astimezone(UTC).strftime(TIME_FORMAT)


def parse_time(value: str) -> datetime:
    """An OFS `YYYY-MM-DD HH:MM:SS` time as an aware UTC datetime; ValueError if not one."""
    if not _TIME_PATTERN.fullmatch(value):
        raise ValueError(f"not an OFS time: {value!r}")
    return datetime.strptime(value, TIME_FORMAT).replace(tzinfo=UTC)


LONGEST_TEXT = 255
"""Identifiers and names longer than this are refused (custom properties are not
identifiers and are not limited here)."""


def dedupe_key(raw_event: dict[str, Any]) -> str:
    """`ofs:` + sha256 of the event's canonical JSON (sorted keys, exact numbers)."""
    return "ofs:" + hashlib.sha256(_canonical.encode(raw_event)).hexdigest()


# --------------------------------------------------------------------------
# The body


def _parse(body: bytes) -> Any:
    try:
        return _decoder.decode(body)
    except msgspec.DecodeError as error:
        raise TranslationError(f"not JSON: {error}") from None


def _is_page(document: Any) -> bool:
    return (
        isinstance(document, dict)
        and "eventType" not in document
        and not _PAGE_KEYS.isdisjoint(document)
    )


def _raw_events(document: Any) -> Iterator[tuple[Any, str]]:
    """Each event object of the body with its path, in order."""
    if isinstance(document, list):
        for index, raw in enumerate(document):
            yield raw, f"[{index}]"
    elif _is_page(document):
        items = document.get("items")
        if items is None:
            return
        if not isinstance(items, list):
            raise TranslationError("must be an array of events", "items")
        for index, raw in enumerate(items):
            yield raw, f"items[{index}]"
    elif isinstance(document, dict):
        yield document, ""
    else:
        raise TranslationError("must be an OFS event, an array of events or an Events API page")


# --------------------------------------------------------------------------
# One event


def _fact(raw: Any, path: str) -> Fact:
    event = _Object(raw, path)
    return Fact(event=_event(event), dedupe_key=dedupe_key(event.data))


def _event(event: _Object) -> DomainEvent:
    kind = event.text("eventType")
    if not kind:
        raise TranslationError("is required", event.at("eventType"))
    occurred_at = _occurred_at(event)
    cls = OFS_INVENTORY_EVENTS.get(kind)
    if cls is None:
        return OfsEventRecorded(occurred_at=occurred_at, event_type=kind, body=_plain(event.data))
    changes, details = event.child("inventoryChanges"), event.child("inventoryDetails")
    inventory_event = cls(
        occurred_at=occurred_at,
        inventory_id=_inventory_id(event, changes, details),
        details=_details(details),
        changes=_changes(changes),
        activity=_activity(event.child("activityDetails")),
        user=event.text("user"),
        application_id=event.text("applicationId"),
        exchanged=_exchanged(event),
    )
    # Every class in OFS_INVENTORY_EVENTS is a member of the OfsInventory union.
    return cast(OfsInventory, inventory_event)


def _occurred_at(event: _Object) -> datetime:
    value = event.data.get("time")
    if value is None:
        raise TranslationError("is required", event.at("time"))
    if not isinstance(value, str):
        raise TranslationError('must be a "YYYY-MM-DD HH:MM:SS" string (UTC)', event.at("time"))
    try:
        return parse_time(value)
    except ValueError:
        raise TranslationError(
            f'must be a "YYYY-MM-DD HH:MM:SS" time (UTC), not {value!r}', event.at("time")
        ) from None


def _inventory_id(event: _Object, changes: _Object | None, details: _Object | None) -> int:
    """The record's id, from `inventoryChanges`, else `inventoryDetails`; both must agree."""
    found = [
        (value, part.at("inventoryId"))
        for part in (changes, details)
        if part is not None and (value := part.integer("inventoryId")) is not None
    ]
    if not found:
        raise TranslationError(
            "an inventory event needs an integer inventoryId",
            event.at("inventoryChanges.inventoryId"),
        )
    if len(found) == 2 and found[0][0] != found[1][0]:
        raise TranslationError(
            f"{found[0][0]} differs from {found[1][1]} {found[1][0]}", found[0][1]
        )
    return found[0][0]


def _changes(changes: _Object | None) -> OfsChanges:
    if changes is None:
        return OfsChanges()
    return OfsChanges(
        status=changes.text("status"),
        inventory_type=changes.text("inventoryType"),
        serial_number=changes.text("serialNumber"),
        quantity=changes.number("quantity"),
        exchanged_inventory_id=changes.integer("exchangedInventoryId"),
        resource_id=changes.text("resourceId"),
        activity_id=changes.integer("activityId"),
        properties=changes.others(CHANGES_FIELDS),
    )


def _details(details: _Object | None) -> OfsDetails:
    if details is None:
        return OfsDetails()
    return OfsDetails(
        status=details.text("status"),
        inventory_type=details.text("inventoryType"),
        serial_number=details.text("serialNumber"),
        quantity=details.number("quantity"),
        properties=details.others(DETAILS_FIELDS),
    )


def _activity(activity: _Object | None) -> OfsActivity | None:
    if activity is None:
        return None
    return OfsActivity(
        activity_id=activity.integer("activityId"),
        resource_id=activity.text("resourceId"),
        customer_number=activity.text("customerNumber"),
        appt_number=activity.text("apptNumber"),
        date=activity.text("date"),
    )


def _exchanged(event: _Object) -> bool:
    """`exchanged: true` marks one side of an exchange; absent, empty or false: not."""
    value = event.data.get("exchanged")
    if value is None or value is False or value in ("", "false"):
        return False
    if value is True or value == "true":
        return True
    raise TranslationError("must be true, false or empty", event.at("exchanged"))


class _Object:
    """One JSON object of the body, read field by field; errors name the field.

    `null` reads as absent for every field.
    """

    def __init__(self, value: Any, path: str) -> None:
        if not isinstance(value, dict):
            raise TranslationError("must be an object", path)
        self.data: dict[str, Any] = value
        self.path = path

    def at(self, key: str) -> str:
        return f"{self.path}.{key}" if self.path else key

    def text(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise TranslationError("must be a string", self.at(key))
        if len(value) > LONGEST_TEXT:
            raise TranslationError(f"must be at most {LONGEST_TEXT} characters", self.at(key))
        if "\x00" in value:
            raise TranslationError("must not contain NUL characters", self.at(key))
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        # bool is an int subclass; `true` is not an id.
        if isinstance(value, bool) or not isinstance(value, int):
            raise TranslationError("must be an integer", self.at(key))
        if value not in _INT64:
            raise TranslationError("is out of range", self.at(key))
        return value

    def number(self, key: str) -> Decimal | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            raise TranslationError("must be a number", self.at(key))
        number = Decimal(value)
        problem = quantity_problem(number)
        if problem is not None:
            raise TranslationError(problem.removeprefix("quantity "), self.at(key))
        return number

    def child(self, key: str) -> _Object | None:
        value = self.data.get(key)
        return None if value is None else _Object(value, self.at(key))

    def others(self, known: frozenset[str]) -> dict[str, Any]:
        """The keys that are not standard fields: custom properties."""
        return {key: _plain(value) for key, value in self.data.items() if key not in known}


def _plain(value: Any) -> Any:
    """A decoded JSON value with plain JSON types, for bodies and custom properties.

    Stored events encode Decimal as a string; a float keeps a non-integral
    number a number. The raw payload in the inbox stays the exact record.
    """
    if isinstance(value, Decimal):
        as_float = float(value)
        return as_float if math.isfinite(as_float) else str(value)
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
