"""ServiceMobility webhooks in, ledger lines out (docs/vendors.md, "ServiceMobility").

The recorded fixtures give the balances in expected.json; bad input is refused
with the field named; and however rows are split into envelopes, redelivered
and reordered, the balances are those of each distinct ledger line once,
exactly, in decimals.
"""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.servicemobility import TranslationError, read_envelope, translate
from domain.events import DocumentRecorded, Fact, StockUsageRecorded
from domain.fold import fold
from domain.items import Item, stock_line_key
from tests.strategies import (
    COUNT_FREE,
    REF_MODULES,
    encode,
    sm_arrivals,
    sm_envelope,
    sm_histories,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "servicemobility"

Balances = dict[str, Decimal]


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def facts_of(envelope: dict[str, Any]) -> list[Fact]:
    return translate(read_envelope(encode(envelope), envelope["type"]))


class Receiver:
    """What the store does with deliveries: drop a message id seen before,
    then the lines of a row whose version counts with other content (a
    conflict), then every ledger line whose key is known; keep the rest in
    arrival order."""

    def __init__(self) -> None:
        self.envelopes: set[str] = set()
        self.keys: set[str] = set()
        self.versions: dict[str, str] = {}
        self.conflicts: set[tuple[str, str]] = set()
        self.kept: list[Fact] = []

    def receive(self, envelope: dict[str, Any]) -> tuple[bool, int]:
        """(duplicate envelope, number of new ledger lines)."""
        return self.receive_facts(envelope["id"], facts_of(envelope))

    def receive_facts(self, message_id: str, facts: Iterable[Fact]) -> tuple[bool, int]:
        if message_id in self.envelopes:
            return True, 0
        self.envelopes.add(message_id)
        fresh = 0
        for fact in facts:
            if fact.row is not None:
                counted = self.versions.setdefault(fact.row.version, fact.row.identity)
                if counted != fact.row.identity:
                    self.conflicts.add((fact.row.rowver, fact.row.identity))
                    continue
            if fact.dedupe_key not in self.keys:
                self.keys.add(fact.dedupe_key)
                self.kept.append(fact)
                fresh += 1
        return False, fresh

    def receive_all(self, envelopes: Iterable[dict[str, Any]]) -> list[tuple[bool, int]]:
        return [self.receive(envelope) for envelope in envelopes]

    def items(self) -> dict[str, Item]:
        return fold(enumerate((fact.event for fact in self.kept), start=1))


def label(item: Item) -> str:
    """How expected.json names a stock line: ProdNum, or ProdNum/SerialNum."""
    assert item.product_number is not None
    serial = item.serial_number
    return f"{item.product_number}/{serial}" if serial else item.product_number


def pool_of(items: dict[str, Item], pool: str, owner: str) -> dict[str, Decimal]:
    owned = (
        (item.resource_id if pool == "resource" else item.activity_id) == owner
        for item in items.values()
    )
    return {
        label(item): item.quantity
        for item, mine in zip(items.values(), owned, strict=True)
        if mine and item.pool == pool
    }


def decimals(expected: dict[str, str]) -> dict[str, Decimal]:
    return {name: Decimal(quantity) for name, quantity in expected.items()}


def balances(items: dict[str, Item]) -> Balances:
    return {key: item.quantity for key, item in items.items()}


# --------------------------------------------------------------------------
# The recorded fixtures


def test_fixture_load_then_work_order() -> None:
    expected = fixture("expected.json")["01_load_then_work_order.json"]
    receiver = Receiver()
    assert receiver.receive_all(fixture("01_load_then_work_order.json")) == [(False, 2), (False, 2)]
    items = receiver.items()
    assert pool_of(items, "resource", "VAN-07") == decimals(expected["resources/VAN-07"])
    assert pool_of(items, "install", "WO-5521") == decimals(
        expected["activities/WO-5521"]["install"]
    )
    first = receiver.kept[0].event
    assert isinstance(first, StockUsageRecorded)
    assert (first.ref_module, first.ref_object, first.user) == ("1001", "LOAD-311", "tech7")
    assert (first.serial, first.batch) == (None, None)
    assert first.occurred_at.isoformat() == "2026-11-20T07:00:00+00:00"


def test_fixture_redelivery_is_not_counted_twice() -> None:
    expected = fixture("expected.json")["02_redelivery.json"]
    receiver = Receiver()
    # duplicate:false / duplicate:true / duplicate:false but 0 new ledger lines
    assert receiver.receive_all(fixture("02_redelivery.json")) == [
        (False, 1),
        (True, 0),
        (False, 0),
    ]
    assert pool_of(receiver.items(), "resource", "VAN-09") == decimals(expected["resources/VAN-09"])


def test_fixture_transfer_then_count() -> None:
    expected = fixture("expected.json")["03_transfer_then_count.json (after 02)"]
    receiver = Receiver()
    receiver.receive_all(fixture("02_redelivery.json"))
    receiver.receive_all(fixture("03_transfer_then_count.json"))
    items = receiver.items()
    assert pool_of(items, "resource", "VAN-09") == decimals(expected["resources/VAN-09"])
    assert pool_of(items, "resource", "VAN-07") == decimals(expected["resources/VAN-07"])
    assert [item.negative for item in items.values() if item.resource_id == "VAN-07"] == [True]


def test_fixture_load_document_is_kept_and_moves_no_stock() -> None:
    envelope = fixture("04_load_inventory_document.json")
    (fact,) = facts_of(envelope)
    document = fact.event
    assert isinstance(document, DocumentRecorded)
    assert (document.document_type, document.document_id) == ("LoadInventory", "LOAD-311")
    assert [(m.location, m.product, m.serial, m.batch) for m in document.mentions] == [
        ("VAN-07", "CBL-CAT6", None, None)
    ]
    assert document.occurred_at.isoformat() == "2026-11-20T07:00:00+00:00"
    assert fold([(1, document)]) == {}
    assert facts_of(envelope) == [fact]


def test_all_nine_types_are_accepted() -> None:
    row = {"rowver": "r1", "ModifiedUTC": "2026-11-20T07:00:00Z", "Note": "kept"}
    for kind in (
        "Activity",
        "PhysicalInventoryRequest",
        "LoadInventory",
        "InventoryTransfer",
        "StockLevelRecommendation",
        "TimeEntry",
        "UserAudit",
        "WorkOrder",
    ):
        (fact,) = facts_of(sm_envelope(f"id-{kind}", [{"rowver": "r1", kind: row}], kind=kind))
        assert isinstance(fact.event, DocumentRecorded)
        assert fact.event.document_type == kind
        assert fact.event.mentions == ()


# --------------------------------------------------------------------------
# Bad input names the field

USAGE = "$.data.rows[0].InventoryUsage"
ITEM = f"{USAGE}.StorageLocations[0].Items[0]"


def valid() -> dict[str, Any]:
    return copy.deepcopy(fixture("01_load_then_work_order.json")[1])


def item_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        location = envelope["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]
        location["Items"][0][field] = value

    return change


def usage_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        envelope["data"]["rows"][0]["InventoryUsage"][field] = value

    return change


def envelope_field(field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        envelope[field] = value

    return change


def without(*path: str | int) -> Callable[[dict[str, Any]], None]:
    def change(envelope: dict[str, Any]) -> None:
        parent: Any = envelope
        for step in path[:-1]:
            parent = parent[step]
        del parent[path[-1]]

    return change


LOCATION = ("data", "rows", 0, "InventoryUsage", "StorageLocations", 0)

BAD_INPUT: list[tuple[str, Callable[[dict[str, Any]], None], str, str]] = [
    # (case, change, field, a word the message or the field must contain)
    ("quantity not a number", item_field("InQty", "three"), f"{ITEM}.InQty", "decimal"),
    ("quantity a boolean", item_field("OutQty", True), f"{ITEM}.OutQty", "bool"),
    ("quantity null", item_field("InventoryQty", None), f"{ITEM}.InventoryQty", "null"),
    ("quantity an object", item_field("InQty", {"v": 1}), f"{ITEM}.InQty", "object"),
    ("ProdNum a number", item_field("ProdNum", 42), f"{ITEM}.ProdNum", "str"),
    ("SerialNum a number", item_field("SerialNum", 7), f"{ITEM}.SerialNum", "str"),
    ("ProdNum empty", item_field("ProdNum", " "), f"{ITEM}.ProdNum", "ProdNum"),
    ("ProdNum missing", without(*LOCATION, "Items", 0, "ProdNum"), ITEM, "ProdNum"),
    ("NaN as a string", item_field("InQty", "NaN"), f"{ITEM}.InQty", "finite"),
    ("Infinity as a string", item_field("OutQty", "Infinity"), f"{ITEM}.OutQty", "finite"),
    (
        "-Infinity as a string",
        item_field("InventoryQty", "-Infinity"),
        f"{ITEM}.InventoryQty",
        "finite",
    ),
    (
        "sNaN as a string",
        item_field("ReportedDamagedQty", "sNaN"),
        f"{ITEM}.ReportedDamagedQty",
        "finite",
    ),
    ("huge quantity", item_field("InQty", Decimal("1E+12")), f"{ITEM}.InQty", "below"),
    ("huge negative quantity", item_field("OutQty", -(10**30)), f"{ITEM}.OutQty", "below"),
    ("huge exponent", item_field("InQty", Decimal("1E+400")), f"{ITEM}.InQty", "below"),
    (
        "huge quantity in a reason",
        item_field("DispositionReasons", [{"Qty": "1e13"}]),
        f"{ITEM}.DispositionReasons[0].Qty",
        "below",
    ),
    (
        "reason not an object",
        item_field("DispositionReasons", ["DMG"]),
        f"{ITEM}.DispositionReasons[0]",
        "object",
    ),
    (
        "Items not an array",
        usage_field("StorageLocations", [{"StorageLocationID": "V", "Items": {}}]),
        f"{USAGE}.StorageLocations[0].Items",
        "array",
    ),
    (
        "StorageLocationID empty",
        usage_field("StorageLocations", [{"StorageLocationID": "", "Items": []}]),
        f"{USAGE}.StorageLocations[0]",
        "StorageLocationID",
    ),
    (
        "StorageLocationID missing",
        without(*LOCATION, "StorageLocationID"),
        f"{USAGE}.StorageLocations[0]",
        "StorageLocationID",
    ),
    ("RefModule a list", usage_field("RefModule", ["1002"]), f"{USAGE}.RefModule", "str"),
    ("RefObjID empty", usage_field("RefObjID", ""), f"{USAGE}.RefObjID", "RefObjID"),
    (
        "ModifiedUTC not a time",
        usage_field("ModifiedUTC", "yesterday"),
        f"{USAGE}.ModifiedUTC",
        "ISO 8601",
    ),
    (
        "ModifiedUTC missing",
        without("data", "rows", 0, "InventoryUsage", "ModifiedUTC"),
        USAGE,
        "ModifiedUTC",
    ),
    (
        "row without InventoryUsage",
        without("data", "rows", 0, "InventoryUsage"),
        USAGE,
        "InventoryUsage",
    ),
    ("row not an object", envelope_field("data", {"rows": ["row"]}), "$.data.rows[0]", "object"),
    ("rows not an array", envelope_field("data", {"rows": {"0": {}}}), "$.data.rows", "array"),
    ("rows missing", envelope_field("data", {"rowver": "x"}), "$.data.rows", "rows"),
    ("data not an object", envelope_field("data", [1]), "$.data", "object"),
    ("data missing", without("data"), "$.data", "data"),
    ("id empty", envelope_field("id", ""), "$.id", "id"),
    ("id blank", envelope_field("id", "   "), "$.id", "id"),
    ("id a number", envelope_field("id", 17), "$.id", "str"),
    ("id too long", envelope_field("id", "x" * 256), "$.id", "255"),
    ("id missing", without("id"), "$", "id"),
    ("type differs from the path", envelope_field("type", "LoadInventory"), "$.type", "path"),
    ("type missing", without("type"), "$", "type"),
]


@pytest.mark.parametrize(
    ("change", "field", "word"),
    [pytest.param(change, field, word, id=case) for case, change, field, word in BAD_INPUT],
)
def test_bad_input_names_the_field(
    change: Callable[[dict[str, Any]], None], field: str, word: str
) -> None:
    envelope = valid()
    change(envelope)
    with pytest.raises(TranslationError) as raised:
        facts_of_raw(encode(envelope))
    # The error points at the field, or inside it.
    assert raised.value.field.startswith(field)
    assert word.lower() in f"{raised.value.field} {raised.value.message}".lower()


def facts_of_raw(body: bytes, path_type: str = "InventoryUsage") -> list[Fact]:
    return translate(read_envelope(body, path_type))


@pytest.mark.parametrize(
    "body",
    [b"[]", b'"InventoryUsage"', b"42", b"null", b"true", b"", b"{", b'{"id": "a",}'],
)
def test_a_body_that_is_not_an_object_is_refused_as_a_whole(body: bytes) -> None:
    with pytest.raises(TranslationError) as raised:
        facts_of_raw(body)
    assert raised.value.field == "$"


def test_nan_and_infinity_written_as_bare_json_tokens_are_refused() -> None:
    body = encode(valid()).replace(b'"InQty":0.0', b'"InQty":NaN', 1)
    assert b"NaN" in body
    with pytest.raises(TranslationError) as raised:
        facts_of_raw(body)
    assert raised.value.field == "$"


def test_largest_accepted_quantity_is_kept_exactly() -> None:
    envelope = valid()
    item_field("InQty", Decimal("999999999999.9999"))(envelope)
    event = facts_of(envelope)[0].event
    assert isinstance(event, StockUsageRecorded)
    assert event.quantity_in == Decimal("999999999999.9999")


@pytest.mark.parametrize("moment", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
def test_a_time_outside_the_datetime_range_is_refused_with_its_field(moment: str) -> None:
    envelope = valid()
    usage_field("ModifiedUTC", moment)(envelope)
    with pytest.raises(TranslationError) as raised:
        facts_of(envelope)
    assert raised.value.field == f"{USAGE}.ModifiedUTC"


def test_a_quantity_is_never_rounded() -> None:
    """Either refused, naming the field, or kept and summed exactly."""
    envelope = valid()
    precise = Decimal("1.00000000000000000000000000001")
    item_field("InQty", precise)(envelope)
    item_field("OutQty", Decimal(0))(envelope)
    try:
        facts = facts_of(envelope)
    except TranslationError as error:
        refused: TranslationError | None = error
    else:
        refused = None
    if refused is not None:
        assert refused.field == f"{ITEM}.InQty"
        return
    items = fold(enumerate((fact.event for fact in facts), start=1))
    assert items[resource_key("VAN-07", "CBL-CAT6")].quantity == precise


def test_a_row_redelivered_with_numbers_written_differently_is_the_same_row() -> None:
    first = valid()
    again = valid()
    again["id"] = "another-envelope"
    item_field("InQty", Decimal("0"))(again)  # 0.0 in the fixture
    item_field("OutQty", Decimal("3.50"))(again)  # 3.5 in the fixture
    reordered = valid()
    reordered["id"] = "reordered-envelope"
    usage = reordered["data"]["rows"][0]["InventoryUsage"]
    reordered["data"]["rows"][0]["InventoryUsage"] = dict(reversed(list(usage.items())))
    changed = valid()
    changed["id"] = "changed-envelope"
    item_field("OutQty", Decimal("3.6"))(changed)
    receiver = Receiver()
    assert receiver.receive_all([first, again, reordered, changed]) == [
        (False, 2),
        (False, 0),
        (False, 0),
        (False, 0),  # its version with other lines: a conflict, not counted
    ]
    (conflict,) = receiver.conflicts
    assert conflict == (first["data"]["rows"][0]["rowver"], facts_of(changed)[0].dedupe_key[:71])


# --------------------------------------------------------------------------
# Properties: any split, any redelivery, any order; exact decimals


def resource_key(
    location: str, product: str, serial: str | None = None, batch: str | None = None
) -> str:
    return stock_line_key("resource", location, product, serial, batch)


def ledger_lines(rows: Sequence[dict[str, Any]]) -> Iterable[tuple[str, dict[str, Any], str]]:
    """(RefModule, item, location) of every ledger line, read straight from the rows."""
    for row in rows:
        usage = row["InventoryUsage"]
        for location in usage["StorageLocations"]:
            for item in location["Items"]:
                yield str(usage["RefModule"]), item, location["StorageLocationID"]


def expected_balances(rows: Sequence[dict[str, Any]]) -> Balances:
    """The domain rules applied by hand to the vendor's numbers, in row order."""
    expected: defaultdict[str, Decimal] = defaultdict(Decimal)
    for row in rows:
        usage = row["InventoryUsage"]
        for module, item, location in ledger_lines([row]):
            serial, batch = item.get("SerialNum") or None, item.get("BatchNum") or None
            key = resource_key(location, item["ProdNum"], serial, batch)
            if module in ("1004", "1005"):
                expected[key] = item["InventoryQty"]
            else:
                expected[key] += item["InQty"] - item["OutQty"]
            if module == "1002" and item["OutQty"] != 0:
                installed = stock_line_key(
                    "install", str(usage["RefObjID"]), item["ProdNum"], serial, batch
                )
                expected[installed] += item["OutQty"]
    return dict(expected)


def all_at_once(rows: Sequence[dict[str, Any]]) -> dict[str, Item]:
    receiver = Receiver()
    receiver.receive(sm_envelope("everything", rows))
    return receiver.items()


def owners(items: dict[str, Item]) -> dict[str, tuple[object, ...]]:
    """Everything about an item that does not depend on which line came last.

    An install line is keyed by work order, not by location: its `resource_id`
    is the location of the last line applied, so it is left out here.
    """
    return {
        key: (
            item.pool,
            item.resource_id if item.pool == "resource" else None,
            item.activity_id,
            item.product_number,
            item.serial_number,
            item.batch_number,
            item.quantity,
        )
        for key, item in items.items()
    }


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_count_free_rows_in_any_envelopes_and_order_give_the_same_balances(
    data: st.DataObject,
) -> None:
    rows = data.draw(sm_histories(COUNT_FREE), label="rows")
    arrivals = data.draw(sm_arrivals(rows), label="arrivals")
    receiver = Receiver()
    receiver.receive_all(arrivals)
    items = receiver.items()
    reference = all_at_once(rows)
    assert owners(items) == owners(reference)
    assert balances(items) == expected_balances(rows)
    # Each distinct ledger line is kept exactly once.
    assert sorted(fact.dedupe_key for fact in receiver.kept) == sorted(
        fact.dedupe_key for fact in facts_of(sm_envelope("everything", rows))
    )


@settings(max_examples=100, deadline=None)
@given(data=st.data())
def test_rows_with_counts_in_their_order_give_the_same_balances_however_delivered(
    data: st.DataObject,
) -> None:
    rows = data.draw(sm_histories(REF_MODULES), label="rows")
    arrivals = data.draw(sm_arrivals(rows, keep_order=True), label="arrivals")
    receiver = Receiver()
    receiver.receive_all(arrivals)
    items = receiver.items()
    # Every distinct line first arrives in its place, so the fold is the same fold.
    assert items == all_at_once(rows)
    assert balances(items) == expected_balances(rows)


@settings(max_examples=100, deadline=None)
@given(rows=sm_histories(COUNT_FREE, max_size=12))
def test_quantities_stay_exact_decimals(rows: list[dict[str, Any]]) -> None:
    items = all_at_once(rows)
    expected = expected_balances(rows)
    for key, item in items.items():
        assert type(item.quantity) is Decimal
        # Sum of the parts, exactly: no float drift, no rounding.
        assert item.quantity == expected[key]
        exponent = item.quantity.as_tuple().exponent
        assert isinstance(exponent, int)
        assert exponent >= -4
        assert item.negative == (expected[key] < 0)
    # Each line keeps the vendor's numbers digit for digit.
    facts = facts_of(sm_envelope("everything", rows))
    lines = list(ledger_lines(rows))
    assert len(facts) == len(lines)
    for fact, (_, line, _) in zip(facts, lines, strict=True):
        event = fact.event
        assert isinstance(event, StockUsageRecorded)
        assert event.quantity_in.as_tuple() == line["InQty"].as_tuple()
        assert event.quantity_out.as_tuple() == line["OutQty"].as_tuple()
        assert event.reported_quantity.as_tuple() == line["InventoryQty"].as_tuple()


@settings(max_examples=100, deadline=None)
@given(rows=sm_histories(REF_MODULES))
def test_a_rows_line_keys_depend_on_the_row_not_on_its_envelope(
    rows: list[dict[str, Any]],
) -> None:
    together = facts_of(sm_envelope("together", rows))
    apart = [
        fact
        for number, row in enumerate(reversed(rows))
        for fact in facts_of(sm_envelope(f"apart-{number}", [row]))
    ]
    assert sorted(fact.dedupe_key for fact in together) == sorted(fact.dedupe_key for fact in apart)
    assert len({fact.dedupe_key for fact in together}) == len(together)
    # Another webhook configuration sending the same rows sends the same lines.
    elsewhere = sm_envelope("elsewhere", rows, source="another-webhook")
    assert [fact.dedupe_key for fact in facts_of(elsewhere)] == [
        fact.dedupe_key for fact in together
    ]


@settings(max_examples=100, deadline=None)
@given(
    rows=sm_histories(REF_MODULES),
    extra=st.dictionaries(st.sampled_from(["UserID", "src"]), st.text(max_size=8)),
)
def test_a_rows_line_keys_ignore_what_surrounds_its_inventory_usage(
    rows: list[dict[str, Any]], extra: dict[str, str]
) -> None:
    """The export API may write keys beside `InventoryUsage` (a row-level
    `UserID`); the row is the same row."""
    together = facts_of(sm_envelope("together", rows))
    widened = facts_of(sm_envelope("widened", [{**extra, **row} for row in rows]))
    assert [fact.dedupe_key for fact in widened] == [fact.dedupe_key for fact in together]
    assert all(fact.dedupe_key.startswith("smrow2:") for fact in together)


JSON_VALUES: st.SearchStrategy[Any] = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(10**20), 10**20)
    | st.decimals(allow_nan=False, allow_infinity=False, places=6)
    | st.text(max_size=12)
    | st.sampled_from(["", "NaN", "-Infinity", "1e400", "2026-11-20T09:15:00Z", "1002"]),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def paths(document: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """Every place in a JSON document a value sits."""
    found = [prefix] if prefix else []
    if isinstance(document, dict):
        for key, value in document.items():
            found += paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += paths(value, (*prefix, index))
    return found


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_any_damaged_envelope_is_translated_or_refused_with_a_field(data: st.DataObject) -> None:
    rows = data.draw(sm_histories(REF_MODULES, max_size=2), label="rows")
    envelope = copy.deepcopy(sm_envelope("damaged", rows))
    where = data.draw(st.sampled_from(paths(envelope)), label="where")
    parent: Any = envelope
    for step in where[:-1]:
        parent = parent[step]
    if data.draw(st.booleans(), label="delete"):
        del parent[where[-1]]
    else:
        parent[where[-1]] = data.draw(JSON_VALUES, label="value")
    try:
        facts = facts_of_raw(encode(envelope))
    except TranslationError as error:
        refused: TranslationError | None = error
        facts = []
    else:
        refused = None
    if refused is not None:
        assert refused.field.startswith("$")
        assert refused.message
    for fact in facts:
        event = fact.event
        assert isinstance(event, StockUsageRecorded)
        for quantity in (event.quantity_in, event.quantity_out, event.reported_quantity):
            assert quantity.is_finite()
            assert abs(quantity) < Decimal(10) ** 12
