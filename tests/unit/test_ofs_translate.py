"""The OFS tolerant reader, on the recorded vendor pages and on generated events."""

from __future__ import annotations

import hashlib
import json
import random
import re
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.ofs.translate import TranslationError, page_next, translate
from domain.events import (
    OFS_INVENTORY_EVENTS,
    CustomerInventoryUpdated,
    InventoryDeinstalled,
    InventoryInstalled,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsEventRecorded,
    OfsInventoryEvent,
    ResourceInventoryCreated,
    ResourceInventoryDeleted,
)

OFS_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "ofs"
PAGE_01 = (OFS_FIXTURES / "01_exchange_and_non_serialized_install.page.json").read_bytes()
PAGE_02 = (OFS_FIXTURES / "02_undo_update_delete.page.json").read_bytes()
T = "2026-11-20 09:31:07"
_exact = msgspec.json.Encoder(decimal_format="number")
_canonical = msgspec.json.Encoder(decimal_format="number", order="sorted")


def encode(value: Any) -> bytes:
    """JSON with Decimal written as a number, exactly."""
    return _exact.encode(value)


def event(event_type: str = "inventoryInstalled", **fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "eventType": event_type,
        "time": T,
        "inventoryChanges": {"inventoryId": 21258547},
    }
    return base | fields


# --------------------------------------------------------------------------
# The recorded pages


def test_page_01_translates_to_its_nine_events_in_order() -> None:
    facts = translate(PAGE_01)
    items = json.loads(PAGE_01)["items"]
    assert [type(f.event) for f in facts] == [
        OFS_INVENTORY_EVENTS[item["eventType"]] for item in items
    ]
    assert [f.event.occurred_at for f in facts] == [
        datetime.strptime(item["time"], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC) for item in items
    ]
    assert len({f.dedupe_key for f in facts}) == 9


def test_the_exchange_install_is_read_completely() -> None:
    installed = translate(PAGE_01)[4].event
    assert installed == InventoryInstalled(
        occurred_at=datetime(2026, 11, 20, 9, 31, 7, tzinfo=UTC),
        inventory_id=21258547,
        details=OfsDetails(status="installed", inventory_type="MODEM", serial_number="SN-0001"),
        changes=OfsChanges(
            status="installed",
            exchanged_inventory_id=21250001,
            resource_id="TECH_017",
            activity_id=4225599,
        ),
        activity=OfsActivity(
            activity_id=4225599,
            resource_id="TECH_017",
            customer_number="C-1009",
            appt_number="WO-88123",
            date="2026-11-20",
        ),
        user="jsmith",
        exchanged=True,
    )
    deinstalled = translate(PAGE_01)[3].event
    assert isinstance(deinstalled, InventoryDeinstalled)
    assert deinstalled.exchanged
    assert deinstalled.changes.exchanged_inventory_id == 21258547


def test_non_serialized_quantities_are_exact_decimals() -> None:
    quantities = [
        f.event.changes.quantity
        for f in translate(PAGE_01)
        if isinstance(f.event, OfsInventoryEvent)
    ]
    assert quantities == [None, Decimal(50), None, None, None, Decimal(10), 40, 15, 35]
    created = translate(PAGE_01)[0].event
    assert isinstance(created, ResourceInventoryCreated)
    assert created.activity is None
    assert created.user == "dispatcher1"


def test_page_02_keeps_custom_properties_and_deletes() -> None:
    facts = translate(PAGE_02)
    updated, deleted = facts[2].event, facts[3].event
    assert isinstance(updated, CustomerInventoryUpdated)
    assert updated.changes.properties == {"XA_CONDITION": "damaged"}
    assert isinstance(deleted, ResourceInventoryDeleted)
    assert deleted.inventory_id == 21259000


def test_a_page_an_array_and_single_events_give_the_same_facts() -> None:
    page = json.loads(PAGE_02)
    from_array = translate(encode(page["items"]))
    from_each = [fact for item in page["items"] for fact in translate(encode(item))]
    assert translate(PAGE_02) == from_array == from_each


def test_the_next_page_marker_is_read_from_a_page() -> None:
    assert page_next(PAGE_01) == "1700000000000-42"
    assert page_next(b'{"found": false, "items": []}') is None
    assert translate(b'{"found": false, "nextPage": "x", "items": []}') == []
    assert translate(b'{"found": false, "nextPage": "x"}') == []
    assert translate(b"[]") == []


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"[]", ""),
        (encode(event()), ""),
        (b'{"nextPage": 7}', "nextPage"),
        (encode({"nextPage": "x" * 49}), "nextPage"),
        (b"nope", ""),
    ],
)
def test_page_next_rejects_what_is_not_a_page(body: bytes, field: str) -> None:
    with pytest.raises(TranslationError) as error:
        page_next(body)
    assert error.value.field == field


# --------------------------------------------------------------------------
# Every event type


@pytest.mark.parametrize("event_type", sorted(OFS_INVENTORY_EVENTS))
def test_every_inventory_event_type_maps_to_its_class(event_type: str) -> None:
    (fact,) = translate(encode(event(event_type)))
    assert type(fact.event) is OFS_INVENTORY_EVENTS[event_type]
    assert isinstance(fact.event, OfsInventoryEvent)
    assert fact.event.inventory_id == 21258547


def test_other_event_types_are_kept_raw_and_not_projected() -> None:
    raw = {
        "eventType": "activityCompleted",
        "time": "2026-11-20 11:00:00",
        "user": "jsmith",
        "activityDetails": {"activityId": 4225599, "travelKm": 12.5, "date": None},
    }
    (fact,) = translate(encode(raw))
    assert fact.event == OfsEventRecorded(
        occurred_at=datetime(2026, 11, 20, 11, 0, tzinfo=UTC),
        event_type="activityCompleted",
        body=raw,
    )
    # `ofs:` and the SHA-256 of the event's JSON with sorted keys, no spaces,
    # numbers as written.
    canonical = (
        b'{"activityDetails":{"activityId":4225599,"date":null,"travelKm":12.5},'
        b'"eventType":"activityCompleted","time":"2026-11-20 11:00:00","user":"jsmith"}'
    )
    assert fact.dedupe_key == "ofs:" + hashlib.sha256(canonical).hexdigest()


def test_details_custom_properties_and_optional_fields() -> None:
    (fact,) = translate(
        encode(
            event(
                "customerInventoryCreated",
                applicationId="relay-app",
                exchanged="",
                activityDetails={"activityId": 7, "date": None, "XA_EXTRA": 1},
                inventoryDetails={
                    "inventoryId": 21258547,
                    "quantity": Decimal("2.500"),
                    "XA_COLOR": "red",
                    "XA_WEIGHT": Decimal("1.25"),
                    "inventoryType": None,
                },
            )
        )
    )
    created = fact.event
    assert isinstance(created, OfsInventoryEvent)
    assert created.user is None
    assert created.application_id == "relay-app"
    assert not created.exchanged
    assert created.activity == OfsActivity(activity_id=7)
    assert created.details == OfsDetails(
        quantity=Decimal("2.500"), properties={"XA_COLOR": "red", "XA_WEIGHT": 1.25}
    )


@pytest.mark.parametrize(
    ("value", "expected"),
    [(True, True), ("true", True), (False, False), ("", False), (None, False), ("false", False)],
)
def test_exchanged_is_true_only_when_said_so(value: Any, expected: bool) -> None:
    (fact,) = translate(encode(event(exchanged=value)))
    assert isinstance(fact.event, OfsInventoryEvent)
    assert fact.event.exchanged is expected


def test_the_id_may_come_from_the_details_alone() -> None:
    raw = event(inventoryChanges={"quantity": 3}, inventoryDetails={"inventoryId": 99})
    (fact,) = translate(encode(raw))
    assert isinstance(fact.event, OfsInventoryEvent)
    assert fact.event.inventory_id == 99


# --------------------------------------------------------------------------
# Bad input names the field


def at(path: str, value: Any) -> tuple[bytes, str]:
    """An event with `value` at the dotted `path`, and that path."""
    raw = json.loads(json.dumps(event(activityDetails={"activityId": 1})))
    *parents, last = path.split(".")
    target = raw
    for key in parents:
        target = target.setdefault(key, {})
    target[last] = value
    return encode(raw), path


def _without(key: str) -> dict[str, Any]:
    raw = event()
    del raw[key]
    return raw


BAD: list[tuple[bytes, str, str]] = [
    (b"{not json", "", "not JSON"),
    (b'{"quantity": NaN}', "", "not JSON"),
    (b'{"quantity": Infinity}', "", "not JSON"),
    (b"42", "", "must be an OFS event"),
    (b'"inventoryInstalled"', "", "must be an OFS event"),
    (b"[1]", "[0]", "must be an object"),
    (b'{"items": {}}', "items", "must be an array"),
    (encode({"items": [{"time": T}]}), "items[0].eventType", "is required"),
    (encode(_without("eventType")), "eventType", "is required"),
    (encode(event(eventType=5)), "eventType", "must be a string"),
    (encode(event(eventType="")), "eventType", "is required"),
    (encode(_without("time")), "time", "is required"),
    (encode(event(time="2026-11-20T09:31:07Z")), "time", "YYYY-MM-DD HH:MM:SS"),
    (encode(event(time="2026-13-20 09:31:07")), "time", "YYYY-MM-DD HH:MM:SS"),
    (encode(event(time="2026-11-20 09:31")), "time", "YYYY-MM-DD HH:MM:SS"),
    (encode(event(time=1763631067)), "time", "YYYY-MM-DD HH:MM:SS"),
    (encode(_without("inventoryChanges")), "inventoryChanges.inventoryId", "integer inventoryId"),
    (*at("inventoryChanges.inventoryId", "21258547"), "integer"),
    (*at("inventoryChanges.inventoryId", Decimal("1.5")), "integer"),
    (*at("inventoryChanges.inventoryId", True), "integer"),
    (*at("inventoryChanges.inventoryId", 2**64), "out of range"),
    (at("inventoryDetails.inventoryId", 5)[0], "inventoryChanges.inventoryId", "differs"),
    (*at("inventoryChanges.quantity", "5"), "must be a number"),
    (*at("inventoryChanges.quantity", True), "must be a number"),
    (*at("inventoryChanges.quantity", [1]), "must be a number"),
    (*at("inventoryDetails.quantity", "1"), "must be a number"),
    (*at("inventoryChanges.status", 1), "must be a string"),
    (*at("inventoryChanges.activityId", "A-1"), "integer"),
    (*at("inventoryChanges.exchangedInventoryId", 1.0), "integer"),
    (encode(event(inventoryChanges=[])), "inventoryChanges", "must be an object"),
    (*at("activityDetails.activityId", "A1"), "integer"),
    (*at("activityDetails.date", 20261120), "must be a string"),
    (*at("activityDetails.customerNumber", 1009), "must be a string"),
    (encode(event(activityDetails="4225599")), "activityDetails", "must be an object"),
    (encode(event(user=7)), "user", "must be a string"),
    (encode(event(applicationId=False)), "applicationId", "must be a string"),
    (encode(event(exchanged="yes")), "exchanged", "true, false or empty"),
    (encode(event(exchanged=1)), "exchanged", "true, false or empty"),
    (encode(event(exchanged=0)), "exchanged", "true, false or empty"),
    (encode({"items": [event(), event(), event(time="yesterday")]}), "items[2].time", "YYYY"),
    (b"[%s,%s]" % (encode(event()), at("inventoryChanges.quantity", "1")[0]),
     "[1].inventoryChanges.quantity", "number"),
    (encode({"eventType": "activityCreated", "time": "now"}), "time", "YYYY-MM-DD HH:MM:SS"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "field", "message"), BAD)
def test_bad_input_is_rejected_naming_the_field(body: bytes, field: str, message: str) -> None:
    with pytest.raises(TranslationError) as error:
        translate(body)
    assert error.value.field == field
    assert message in error.value.message
    assert str(error.value) == (f"{field}: {error.value.message}" if field else error.value.message)


# --------------------------------------------------------------------------
# Properties

times = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31)).map(
    lambda moment: moment.strftime("%Y-%m-%d %H:%M:%S")
)
ids = st.integers(min_value=1, max_value=2**53)
names = st.text(st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs")), max_size=12)
quantities = st.decimals(
    min_value=Decimal("-999999999999"),
    max_value=Decimal("999999999999"),
    places=4,
    allow_nan=False,
    allow_infinity=False,
)
changes = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["resource", "customer", "installed", "deinstalled"]),
        "inventoryType": names,
        "serialNumber": names,
        "quantity": quantities,
        "exchangedInventoryId": ids,
        "resourceId": names,
        "activityId": ids,
        "XA_NOTE": names,
        "XA_COUNT": st.integers(min_value=-1000, max_value=1000),
    },
)
details = st.fixed_dictionaries(
    {},
    optional={
        "status": st.sampled_from(["resource", "customer", "installed", "deinstalled"]),
        "inventoryType": names,
        "serialNumber": names,
        "quantity": quantities,
        "XA_COLOR": names,
    },
)
activities = st.fixed_dictionaries(
    {},
    optional={
        "activityId": ids,
        "resourceId": names,
        "customerNumber": names,
        "apptNumber": names,
        "date": st.one_of(st.none(), st.just("2026-11-20")),
    },
)


def _inventory_event(
    event_type: str,
    time: str,
    inventory_id: int,
    changes: dict[str, Any],
    details: dict[str, Any],
    activity: dict[str, Any] | None,
    user: str | None,
    exchanged: bool | None,
) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "eventType": event_type,
        "time": time,
        "inventoryChanges": {"inventoryId": inventory_id, **changes},
        "inventoryDetails": {"inventoryId": inventory_id, **details},
    }
    if activity is not None:
        raw["activityDetails"] = activity
    if user is not None:
        raw["user"] = user
    if exchanged is not None:
        raw["exchanged"] = exchanged
    return raw


inventory_events = st.builds(
    _inventory_event,
    event_type=st.sampled_from(sorted(OFS_INVENTORY_EVENTS)),
    time=times,
    inventory_id=ids,
    changes=changes,
    details=details,
    activity=st.one_of(st.none(), activities),
    user=st.one_of(st.none(), names),
    exchanged=st.one_of(st.none(), st.booleans()),
)
other_events = st.builds(
    lambda event_type, time, body: {"eventType": event_type, "time": time, **body},
    event_type=st.sampled_from(["activityCreated", "routeUpdated", "userUpdated"]),
    time=times,
    body=st.fixed_dictionaries({}, optional={"user": names, "distance": quantities}),
)
ofs_events = st.one_of(inventory_events, other_events)


def render(value: Any, rng: random.Random, indent: str = "") -> str:
    """JSON text with keys in a random order, random whitespace and exact numbers."""
    gap = rng.choice(["", " ", "\n" + indent + "  "])
    if isinstance(value, dict):
        keys = list(value)
        rng.shuffle(keys)
        members = [
            f"{gap}{json.dumps(k)}{gap}:{render(value[k], rng, indent + '  ')}" for k in keys
        ]
        return "{" + ",".join(members) + gap + "}"
    if isinstance(value, list):
        return "[" + ",".join(gap + render(item, rng, indent) for item in value) + gap + "]"
    if isinstance(value, Decimal):
        return str(value)
    return json.dumps(value)


@given(raw=ofs_events, seed=st.integers(min_value=0, max_value=2**32))
def test_the_dedupe_key_ignores_key_order_and_whitespace(raw: dict[str, Any], seed: int) -> None:
    shuffled = render(raw, random.Random(seed)).encode()
    (fact,) = translate(encode(raw))
    (again,) = translate(shuffled)
    assert again.dedupe_key == fact.dedupe_key
    assert again == fact
    assert re.fullmatch(r"ofs:[0-9a-f]{64}", fact.dedupe_key)


@given(raw=inventory_events, other=inventory_events)
def test_different_events_have_different_keys(raw: dict[str, Any], other: dict[str, Any]) -> None:
    (fact,) = translate(encode(raw))
    (other_fact,) = translate(encode(other))
    same = _canonical.encode(raw) == _canonical.encode(other)
    assert (fact.dedupe_key == other_fact.dedupe_key) == same


@given(raw=inventory_events)
def test_quantities_and_ids_are_read_exactly(raw: dict[str, Any]) -> None:
    (fact,) = translate(encode(raw))
    translated = fact.event
    assert isinstance(translated, OfsInventoryEvent)
    assert type(translated) is OFS_INVENTORY_EVENTS[raw["eventType"]]
    assert translated.inventory_id == raw["inventoryChanges"]["inventoryId"]
    assert translated.changes.quantity == raw["inventoryChanges"].get("quantity")
    assert translated.details.quantity == raw["inventoryDetails"].get("quantity")
    assert translated.occurred_at.strftime("%Y-%m-%d %H:%M:%S") == raw["time"]
    assert translated.occurred_at.tzinfo is UTC
    assert translated.exchanged is bool(raw.get("exchanged"))
    custom = {k: v for k, v in raw["inventoryChanges"].items() if k.startswith("XA_")}
    assert translated.changes.properties == custom


@given(items=st.lists(ofs_events, max_size=8), marker=st.text(max_size=48))
def test_a_page_is_the_concatenation_of_its_items(items: list[dict[str, Any]], marker: str) -> None:
    page = encode({"found": bool(items), "nextPage": marker, "items": items})
    assert translate(page) == [fact for item in items for fact in translate(encode(item))]
    assert translate(page) == translate(encode(items))
    assert page_next(page) == marker


json_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(min_value=-(2**70), max_value=2**70),
        quantities,
        names,
        times,
        st.sampled_from(sorted(OFS_INVENTORY_EVENTS)),
    ),
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(
            st.sampled_from(
                ["eventType", "time", "items", "inventoryChanges", "inventoryDetails",
                 "inventoryId", "quantity", "activityDetails", "exchanged", "user", "x"]
            ),
            children,
            max_size=6,
        ),
    ),
    max_leaves=20,
)  # fmt: skip


@given(value=json_values)
def test_any_json_translates_or_fails_with_a_translation_error(value: Any) -> None:
    try:
        facts = translate(encode(value))
    except TranslationError:
        return
    assert all(fact.dedupe_key.startswith("ofs:") for fact in facts)
