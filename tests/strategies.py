"""Hypothesis strategies for what the two sources send, every one with explicit bounds.

ServiceMobility: InventoryUsage rows (all eight RefModules, serial/batch or
none, decimal quantities with up to four places, several locations and items
per row), documents, and envelopes that split, regroup and redeliver rows.

Oracle Field Service: histories of inventory events for a few inventoryIds (all
ten types, statuses present or absent, absolute quantities, serialized and
non-serialized records, exchanges, custom properties), as domain events and as
the vendor's JSON, grouped into the bodies a relay or the Events API delivers.

Names, ids and times come from small pools on purpose: collisions (the same
stock line, the same event time, the same inventoryId) are where the rules get
interesting.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cache, partial
from typing import Any, Final

import msgspec
from hypothesis import strategies as st

from domain.events import (
    CustomerInventoryCreated,
    CustomerInventoryDeleted,
    CustomerInventoryUpdated,
    Fact,
    InventoryDeinstalled,
    InventoryInstalled,
    InventoryUndoDeinstall,
    InventoryUndoInstall,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsInventory,
    ResourceInventoryCreated,
    ResourceInventoryDeleted,
    ResourceInventoryUpdated,
    to_data,
)

T0: Final = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
"""The start of every generated history."""

STEP: Final = timedelta(minutes=15)
MOMENTS: Final = 16
"""Event times are T0 + k * STEP for k below this: few enough to collide."""

_json: Final = msgspec.json.Encoder(decimal_format="number")


def encode(document: Any) -> bytes:
    """A vendor document as JSON, decimals written as JSON numbers (as the vendors do)."""
    return _json.encode(document)


@cache
def moments() -> st.SearchStrategy[datetime]:
    return st.integers(0, MOMENTS - 1).map(lambda k: T0 + k * STEP)


@cache
def decimals(*, min_value: int, max_value: int, places: int = 4) -> st.SearchStrategy[Decimal]:
    """A decimal in [min_value, max_value] with up to `places` digits after the
    point, written with exactly the digits drawn (`1.50` stays `1.50`)."""
    return st.one_of(
        [
            st.integers(min_value * 10**scale, max_value * 10**scale).map(
                partial(_scaled, scale=scale)
            )
            for scale in range(places + 1)
        ]
    )


def _scaled(units: int, *, scale: int) -> Decimal:
    return Decimal(units).scaleb(-scale)


# --------------------------------------------------------------------------
# ServiceMobility

SM_SOURCE: Final = "5ad09380-8258-4d84-a440-e2d35043ae92"
"""The webhook (configuration) id every generated envelope comes from."""

REF_MODULES: Final = ("1001", "1002", "1003", "1004", "1005", "1006", "1007", "1008")
COUNT_FREE: Final = ("1001", "1002", "1003", "1006", "1007", "1008")
"""RefModules whose lines add and remove stock (no count): their order does not matter."""
COUNTS: Final = ("1004", "1005")
ADJUSTMENTS: Final = ("1006", "1007", "1008")

LOCATIONS: Final = ("VAN-07", "VAN-09", "WH-01")
PRODUCTS: Final = ("CBL-CAT6", "ONT-G240", "FUSE-10A")
SERIALS: Final = ("SN-0001", "SN-0002")
BATCHES: Final = ("B-2026-11", "B-2026-12")
TECHS: Final = ("tech7", "tech9")
ROWVERS: Final = tuple(f"AAAAAAAB9x{digit}=" for digit in "0123456789ABCDEFGHIJKLMNOPQRSTUV")
"""Row versions: the vendor gives every row its own (`sm_histories` keeps them apart)."""

_REF_OBJECTS: Final = {
    "1001": "LOAD",
    "1002": "WO",
    "1003": "XFER",
    "1004": "PI",
    "1005": "PI",
    "1006": "DISP",
    "1007": "AUTO",
    "1008": "ADJ",
}


def sm_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


_SERIAL_NUMBERS: Final = st.sampled_from([*SERIALS, *SERIALS, "", None])
_BATCH_NUMBERS: Final = st.sampled_from([*BATCHES, *BATCHES, "", None])
"""A serial or batch number, or none written as the vendor may: "", null, absent."""
_TRACKING: Final = st.sampled_from(["none", "serial", "batch"])
_OPTIONAL_FIELDS: Final = st.sets(
    st.sampled_from(["InventoryDamagedQty", "ReportedDamagedQty", "DispositionReasons"])
)


@cache
def sm_ledger_items(ref_module: str) -> st.SearchStrategy[dict[str, Any]]:
    """One `Items` entry of an InventoryUsage storage location.

    Serialized stock moves by whole units; other stock by decimals. Adjustments
    may carry negative quantities; a count's InventoryQty is what was counted.
    """
    adjustment = ref_module in ADJUSTMENTS
    units = st.sampled_from([Decimal(0), Decimal(1), Decimal("1.0")] + [Decimal(-1)] * adjustment)
    movement = decimals(min_value=-50 if adjustment else 0, max_value=500)
    reading = (
        decimals(min_value=0, max_value=1000)
        if ref_module in COUNTS
        else decimals(min_value=-100, max_value=1000)
    )
    damaged = st.sampled_from([Decimal(0), Decimal("0.0")]) | decimals(min_value=0, max_value=5)
    reasons = sm_disposition_reasons(ref_module)
    products = st.sampled_from(PRODUCTS)

    @st.composite
    def items(draw: st.DrawFn) -> dict[str, Any]:
        tracking = draw(_TRACKING)
        serial = draw(_SERIAL_NUMBERS) if tracking == "serial" else ""
        batch = draw(_BATCH_NUMBERS) if tracking == "batch" else ""
        moved = units if serial else movement
        item: dict[str, Any] = {
            "ProdNum": draw(products),
            "InQty": draw(moved),
            "OutQty": draw(moved),
            "InventoryQty": draw(reading),
            "InventoryDamagedQty": draw(damaged),
            "ReportedDamagedQty": draw(damaged),
            "DispositionReasons": draw(reasons),
        }
        for field, value in (("SerialNum", serial), ("BatchNum", batch)):
            if value is not None:
                item[field] = value
        # The tolerant reader defaults what is absent; drop a few optional fields.
        for field in draw(_OPTIONAL_FIELDS):
            del item[field]
        return item

    return items()


_EMPTY_REASON: Final = {
    "ReasonCode": "",
    "Desc": "",
    "InQty": Decimal("0.0"),
    "OutQty": Decimal("0.0"),
    "InventoryQty": Decimal("0.0"),
    "Qty": Decimal("0.0"),
}
"""What the vendor sends on lines that have no disposition."""


@cache
def sm_disposition_reasons(ref_module: str) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Disposition reasons: real ones on a disposition adjustment, else none or
    the vendor's empty placeholder."""
    if ref_module != "1006":
        return st.booleans().map(lambda placeholder: [dict(_EMPTY_REASON)] if placeholder else [])
    reason = st.fixed_dictionaries(
        {
            "ReasonCode": st.sampled_from(["DMG", "LOST"]),
            "Desc": st.sampled_from(["damaged in van", ""]),
            "InQty": st.just(Decimal("0.0")),
            "OutQty": decimals(min_value=0, max_value=5),
            "InventoryQty": decimals(min_value=0, max_value=50),
            "Qty": decimals(min_value=0, max_value=5),
        }
    )
    return st.lists(reason, min_size=1, max_size=2)


@cache
def sm_usage_rows(
    ref_modules: tuple[str, ...] = REF_MODULES, locations: tuple[str, ...] = LOCATIONS
) -> st.SearchStrategy[dict[str, Any]]:
    """One row of InventoryUsage `data.rows`: several locations, several items each."""
    modules = st.sampled_from(ref_modules)
    # The vendor writes RefModule as a string; an integer is read the same.
    written = {module: st.sampled_from([module, module, int(module)]) for module in ref_modules}
    items = {
        module: st.lists(sm_ledger_items(module), min_size=1, max_size=2) for module in ref_modules
    }
    places = st.lists(st.sampled_from(locations), min_size=1, max_size=2, unique=True)
    numbers = st.integers(1, 3)
    users = st.sampled_from([*TECHS, None])
    rowvers = st.sampled_from(ROWVERS)

    @st.composite
    def rows(draw: st.DrawFn) -> dict[str, Any]:
        module = draw(modules)
        usage: dict[str, Any] = {
            "ModifiedUTC": sm_time(draw(moments())),
            "RefModule": draw(written[module]),
            "RefObjID": f"{_REF_OBJECTS[module]}-{draw(numbers)}",
            "StorageLocations": [
                {"StorageLocationID": location, "Items": draw(items[module])}
                for location in draw(places)
            ],
        }
        user = draw(users)
        if user is not None:
            usage["UserID"] = user
        return {"rowver": draw(rowvers), "InventoryUsage": usage}

    return rows()


def row_identity(row: dict[str, Any]) -> bytes:
    """Rows with the same identity are one row, however often they are delivered:
    the same fields with the same values (a number's value, not how it is written)."""
    return msgspec.json.encode(_by_value(row), order="sorted")


def _by_value(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _by_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_by_value(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        return {"number": format(Decimal(value).normalize(), "f")}
    return value


def sm_histories(
    ref_modules: Sequence[str] = REF_MODULES,
    *,
    min_size: int = 1,
    max_size: int = 8,
    locations: Sequence[str] = LOCATIONS,
) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Distinct InventoryUsage rows, in the order they happened, each with a
    row version of its own (as the vendor numbers them)."""
    return st.lists(
        sm_usage_rows(tuple(ref_modules), tuple(locations)),
        min_size=min_size,
        max_size=max_size,
        unique_by=(row_identity, _rowver),
    )


def _rowver(row: dict[str, Any]) -> Any:
    return row["rowver"]


def sm_envelope(
    envelope_id: str,
    rows: Sequence[dict[str, Any]],
    *,
    kind: str = "InventoryUsage",
    source: str = SM_SOURCE,
) -> dict[str, Any]:
    """A Webhook Request Object carrying the rows."""
    return {
        "id": envelope_id,
        "type": kind,
        "specversion": "1.0",
        "source": source,
        "subject": None,
        "time": sm_time(T0 + MOMENTS * STEP),
        "datacontenttype": "application/json",
        "action": "",
        "data": {"rowver": ROWVERS[-1], "rows": list(rows)},
    }


class _Send(msgspec.Struct, frozen=True):
    envelope_id: str
    rows: tuple[int, ...]
    earliest: int
    """The first slot (among first deliveries) it may arrive in when order is kept."""


@st.composite
def sm_arrivals(
    draw: st.DrawFn,
    rows: Sequence[dict[str, Any]],
    *,
    keep_order: bool = False,
    id_prefix: str = "env",
    max_redeliveries: int = 4,
) -> list[dict[str, Any]]:
    """The rows delivered in envelopes, as they arrive.

    The rows are split into envelopes in any way (some envelope may be empty),
    then envelopes are redelivered (same id, same content) and rows are
    redelivered inside new envelopes (new id, a regrouping of rows already
    sent, a row possibly twice). With `keep_order` every row first arrives in
    the given order and a redelivery arrives only after what it repeats;
    otherwise arrival is any permutation.
    """
    count = len(rows)
    order = list(range(count)) if keep_order else draw(st.permutations(range(count)))
    cuts = sorted(draw(st.sets(st.integers(1, max(count - 1, 1)), max_size=max(count - 1, 0))))
    groups = [tuple(order[a:b]) for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    if draw(st.booleans()):
        groups.insert(draw(st.integers(0, len(groups))), ())
    firsts = [_Send(f"{id_prefix}-{k}", group, k) for k, group in enumerate(groups)]
    slot_of = {row: k for k, group in enumerate(groups) for row in group}
    extras: list[_Send] = []
    for n in range(draw(st.integers(0, max_redeliveries))):
        if count == 0 or draw(st.booleans()):
            first = draw(st.sampled_from(firsts))
            extras.append(msgspec.structs.replace(first, earliest=first.earliest + 1))
        else:
            regrouped = tuple(draw(st.lists(st.sampled_from(range(count)), min_size=1, max_size=3)))
            earliest = 1 + max(slot_of[row] for row in regrouped)
            extras.append(_Send(f"{id_prefix}-again-{n}", regrouped, earliest))
    if keep_order:
        placed = [(k, 0, send) for k, send in enumerate(firsts)]
        for send in extras:
            slot = draw(st.integers(send.earliest, len(firsts)))
            placed.append((slot, 1, send))
        # Sorting by (slot, kind) puts an extra before the first delivery of its slot.
        arrival = [send for _, _, send in sorted(placed, key=lambda entry: entry[:2])]
    else:
        arrival = list(draw(st.permutations(firsts + extras)))
    return [sm_envelope(send.envelope_id, [rows[i] for i in send.rows]) for send in arrival]


def _document_items(quantity_fields: Sequence[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    item = st.fixed_dictionaries(
        {
            "ProdNum": st.sampled_from(PRODUCTS),
            "SerialNum": st.sampled_from(["", *SERIALS]),
            "BatchNum": st.sampled_from(["", *BATCHES]),
            **{field: decimals(min_value=0, max_value=200) for field in quantity_fields},
        }
    )
    return st.lists(item, min_size=1, max_size=3)


@st.composite
def sm_documents(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    """A document row (load, transfer or count request) and its webhook type.

    Documents describe movements the ledger already reports: never a balance.
    """
    kind = draw(st.sampled_from(["LoadInventory", "InventoryTransfer", "PhysicalInventoryRequest"]))
    number = draw(st.integers(1, 3))
    modified = sm_time(draw(moments()))
    location = draw(st.sampled_from(LOCATIONS))
    body: dict[str, Any]
    if kind == "LoadInventory":
        body = {
            "LoadNum": f"LOAD-{number}",
            "LoadType": "1001",
            "StorageLocationID": location,
            "Status": "1002",
            "ModifiedUTC": modified,
            "Items": draw(_document_items(["Qty", "OriginalQty"])),
        }
    elif kind == "InventoryTransfer":
        body = {
            "FromStorageLocation": location,
            "ToStorageLocation": draw(st.sampled_from(LOCATIONS)),
            "TransferTech": draw(st.sampled_from(TECHS)),
            "TransferUTC": modified,
            "ValidationCode": f"XFER-{number}",
            "ModifiedUTC": modified,
            "Items": draw(_document_items(["Qty"])),
        }
    else:
        body = {
            "PhysicalInventoryNum": f"PI-{number}",
            "InventoryRequestType": "1",
            "StorageLocationID": location,
            "ModifiedUTC": modified,
            "Items": draw(_document_items(["ExpectedQty", "Qty"])),
        }
    return kind, {"rowver": draw(st.sampled_from(ROWVERS)), kind: body}


# --------------------------------------------------------------------------
# Oracle Field Service

OFS_TIME: Final = "%Y-%m-%d %H:%M:%S"
RESOURCES: Final = ("TECH_017", "TECH_018", "BUCKET_3")
ACTIVITY_IDS: Final = (4225599, 4225600, 4225601)
CUSTOMERS: Final = ("C-1009", "C-1010")
INVENTORY_TYPES: Final = ("MODEM", "ROUTER", "CABLE")
USERS: Final = ("jsmith", "dispatcher1")
STATUSES: Final = ("resource", "customer", "installed", "deinstalled", "provider")
PROPERTY_NAMES: Final = ("XA_CONDITION", "XA_NOTE", "XA_LEVEL")
INVENTORY_IDS: Final = (21250001, 21258547, 21259000, 21259001, 21259002, 21259003)

OFS_EVENT_TYPES: Final[tuple[type[OfsInventory], ...]] = (
    ResourceInventoryCreated,
    ResourceInventoryUpdated,
    ResourceInventoryDeleted,
    CustomerInventoryCreated,
    CustomerInventoryUpdated,
    CustomerInventoryDeleted,
    InventoryInstalled,
    InventoryDeinstalled,
    InventoryUndoInstall,
    InventoryUndoDeinstall,
)
OFS_DELETES: Final = (ResourceInventoryDeleted, CustomerInventoryDeleted)
OFS_NOT_DELETES: Final = tuple(kind for kind in OFS_EVENT_TYPES if kind not in OFS_DELETES)

NATURAL_STATUS: Final[dict[type[OfsInventory], str | None]] = {
    ResourceInventoryCreated: "resource",
    ResourceInventoryUpdated: None,
    ResourceInventoryDeleted: "resource",
    CustomerInventoryCreated: "customer",
    CustomerInventoryUpdated: None,
    CustomerInventoryDeleted: "customer",
    InventoryInstalled: "installed",
    InventoryDeinstalled: "deinstalled",
    InventoryUndoInstall: "resource",
    InventoryUndoDeinstall: "customer",
}
"""The status OFS itself writes on each event type (None: it keeps the record's)."""


class OfsProfile(msgspec.Struct, frozen=True, kw_only=True):
    """What stays the same across one inventory record's events."""

    inventory_id: int
    serialized: bool
    serial_number: str | None
    inventory_type: str


@cache
def ofs_profiles(inventory_id: int) -> st.SearchStrategy[OfsProfile]:
    return st.builds(
        _profile,
        inventory_id=st.just(inventory_id),
        serialized=st.booleans(),
        inventory_type=st.sampled_from(INVENTORY_TYPES),
    )


def _profile(*, inventory_id: int, serialized: bool, inventory_type: str) -> OfsProfile:
    return OfsProfile(
        inventory_id=inventory_id,
        serialized=serialized,
        serial_number=f"SN-{inventory_id}" if serialized else None,
        inventory_type=inventory_type,
    )


@cache
def ofs_properties() -> st.SearchStrategy[dict[str, Any]]:
    """Custom properties (JSON scalars, as a stored event gives them back)."""
    return st.sampled_from([{}, {}]) | st.dictionaries(
        st.sampled_from(PROPERTY_NAMES),
        st.one_of(
            st.text(alphabet="abcdefgh -", max_size=8),
            st.integers(-1000, 1000),
            st.floats(-1000, 1000, allow_nan=False),
            st.booleans(),
        ),
        min_size=1,
        max_size=2,
    )


def _maybe(values: Sequence[Any]) -> st.SearchStrategy[Any]:
    return st.sampled_from([None, *values])


@cache
def _status(kind: type[OfsInventory]) -> st.SearchStrategy[str | None]:
    natural = NATURAL_STATUS[kind]
    usual = [natural] * 3 if natural else []
    return st.sampled_from([None, None, *usual, *STATUSES])


@cache
def _activities() -> st.SearchStrategy[OfsActivity | None]:
    return st.none() | st.builds(
        OfsActivity,
        activity_id=_maybe(ACTIVITY_IDS),
        resource_id=_maybe(RESOURCES),
        customer_number=_maybe(CUSTOMERS),
        appt_number=_maybe(["WO-88123"]),
        date=_maybe(["2026-11-20"]),
    )


@cache
def _by_whom() -> st.SearchStrategy[tuple[str | None, str | None]]:
    """(user, applicationId): a user, an application, or the system itself."""
    return st.sampled_from(
        [(user, None) for user in USERS] + [(None, "ofs-mobility"), (None, None)]
    )


@cache
def ofs_events(
    profile: OfsProfile,
    others: tuple[int, ...] = (),
    kinds: tuple[type[OfsInventory], ...] = OFS_EVENT_TYPES,
) -> st.SearchStrategy[OfsInventory]:
    """One OFS inventory event for the record `profile` describes.

    Quantities are absolute: a serialized record carries 1 or none, another
    record any decimal or none. Installs and deinstalls may be one side of an
    exchange with one of `others`.
    """
    quantity: st.SearchStrategy[Decimal | None]
    if profile.serialized:
        quantity = st.sampled_from([None, Decimal(1)])
    else:
        quantity = st.none() | decimals(min_value=0, max_value=100)
    serial = st.sampled_from([None, profile.serial_number])
    inventory_type = _maybe([profile.inventory_type])
    return st.one_of(
        [
            _ofs_events_of_kind(
                kind, profile.inventory_id, others, quantity, serial, inventory_type
            )
            for kind in kinds
        ]
    )


def _ofs_events_of_kind(
    kind: type[OfsInventory],
    inventory_id: int,
    others: tuple[int, ...],
    quantity: st.SearchStrategy[Decimal | None],
    serial: st.SearchStrategy[str | None],
    inventory_type: st.SearchStrategy[str | None],
) -> st.SearchStrategy[OfsInventory]:
    exchanges = kind in (InventoryInstalled, InventoryDeinstalled) and bool(others)
    exchanged_with: st.SearchStrategy[int | None] = (
        st.none() | st.sampled_from(others) if exchanges else st.none()
    )

    def event(
        changes: OfsChanges, by_whom: tuple[str | None, str | None], **fields: Any
    ) -> OfsInventory:
        user, application_id = by_whom
        built: OfsInventory = kind(
            inventory_id=inventory_id,
            changes=changes,
            user=user,
            application_id=application_id,
            # `exchanged: true` marks one side of an exchange.
            exchanged=changes.exchanged_inventory_id is not None,
            **fields,
        )
        return built

    return st.builds(
        event,
        occurred_at=moments(),
        details=st.builds(
            OfsDetails,
            status=_status(kind),
            inventory_type=inventory_type,
            serial_number=serial,
            quantity=quantity,
            properties=ofs_properties(),
        ),
        changes=st.builds(
            OfsChanges,
            status=_status(kind),
            inventory_type=inventory_type,
            serial_number=serial,
            quantity=quantity,
            exchanged_inventory_id=exchanged_with,
            resource_id=_maybe(RESOURCES),
            activity_id=_maybe(ACTIVITY_IDS),
            properties=ofs_properties(),
        ),
        activity=_activities(),
        by_whom=_by_whom(),
    )


@st.composite
def ofs_histories(
    draw: st.DrawFn,
    *,
    min_size: int = 1,
    max_size: int = 20,
    max_records: int = 4,
    kinds: Sequence[type[OfsInventory]] = OFS_EVENT_TYPES,
    inventory_ids: Sequence[int] = INVENTORY_IDS,
) -> list[OfsInventory]:
    """OFS events for a few inventoryIds, in the order they arrive.

    No order is imposed: a record's first event may be any type (an unknown
    record), deletes may be followed by updates, undos may come without the
    install they undo.
    """
    # The sizes first, each drawn as a number: lists drawn with a random
    # length mostly stay short, and few records and events find little.
    records = draw(st.integers(1, min(max_records, len(inventory_ids))))
    ids = draw(
        st.lists(st.sampled_from(inventory_ids), min_size=records, max_size=records, unique=True)
    )
    profiles = [draw(ofs_profiles(inventory_id)) for inventory_id in ids]
    strategies = [
        ofs_events(profile, tuple(i for i in ids if i != profile.inventory_id), tuple(kinds))
        for profile in profiles
    ]
    size = draw(st.integers(min_size, max_size))
    return [draw(strategies[draw(st.integers(0, records - 1))]) for _ in range(size)]


def ofs_fact(event: OfsInventory) -> Fact:
    """A domain event as a fact, keyed like the OFS reader keys the vendor's JSON:
    a hash of its canonical form."""
    canonical = msgspec.json.encode(to_data(event), order="sorted")
    return Fact(event=event, dedupe_key="ofs:" + hashlib.sha256(canonical).hexdigest())


def ofs_vendor_event(event: OfsInventory) -> dict[str, Any]:
    """The event as OFS writes it (docs/vendors.md, "Oracle Field Service"): only
    the fields that are set."""
    raw: dict[str, Any] = {
        "eventType": str(event.__struct_config__.tag).removeprefix("ofs."),
        "time": event.occurred_at.astimezone(UTC).strftime(OFS_TIME),
    }
    if event.user is not None:
        raw["user"] = event.user
    if event.application_id is not None:
        raw["applicationId"] = event.application_id
    if event.activity is not None:
        activity = event.activity
        raw["activityDetails"] = _present(
            activityId=activity.activity_id,
            resourceId=activity.resource_id,
            date=activity.date,
            apptNumber=activity.appt_number,
            customerNumber=activity.customer_number,
        )
    details, changes = event.details, event.changes
    raw["inventoryDetails"] = {
        "inventoryId": event.inventory_id,
        **_present(
            status=details.status,
            inventoryType=details.inventory_type,
            serialNumber=details.serial_number,
            quantity=details.quantity,
        ),
        **details.properties,
    }
    raw["inventoryChanges"] = {
        "inventoryId": event.inventory_id,
        **_present(
            status=changes.status,
            inventoryType=changes.inventory_type,
            serialNumber=changes.serial_number,
            quantity=changes.quantity,
            exchangedInventoryId=changes.exchanged_inventory_id,
            resourceId=changes.resource_id,
            activityId=changes.activity_id,
        ),
        **changes.properties,
    }
    if event.exchanged:
        raw["exchanged"] = True
    return raw


def _present(**fields: Any) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not None}


@st.composite
def ofs_bodies(
    draw: st.DrawFn, raw_events: Sequence[dict[str, Any]], *, max_resends: int = 3
) -> list[bytes]:
    """The events as a relay or the poller delivers them: consecutive events
    grouped into single objects, arrays and Events API pages; some bodies sent
    again byte for byte, some events again inside overlapping pages."""
    count = len(raw_events)
    if count == 0:
        return []
    cuts = sorted(draw(st.sets(st.integers(1, max(count - 1, 1)), max_size=max(count - 1, 0))))
    groups = [list(raw_events[a:b]) for a, b in zip([0, *cuts], [*cuts, count], strict=True)]
    bodies: list[bytes] = []
    for number, group in enumerate(groups):
        forms = ["object", "array", "page"] if len(group) == 1 else ["array", "page"]
        form = draw(st.sampled_from(forms))
        if form == "object":
            bodies.append(encode(group[0]))
        elif form == "array":
            bodies.append(encode(group))
        else:
            bodies.append(
                encode({"found": True, "nextPage": f"1700000000000-{number}", "items": group})
            )
    for _ in range(draw(st.integers(0, max_resends))):
        if draw(st.booleans()):
            bodies.append(draw(st.sampled_from(bodies)))
        else:
            start = draw(st.integers(0, count - 1))
            overlap = list(raw_events[start : start + draw(st.integers(1, 3))])
            bodies.append(encode({"found": True, "nextPage": "lastRequested", "items": overlap}))
    return bodies
