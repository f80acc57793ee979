"""One InventoryUsage row, rendered any way the vendor may write it, is one
row: numbers written otherwise (`100`, `100.0`, `1E+2`), a field at its
default present or left out, an empty serial as `""`, `null` or nothing, the
time in another offset, keys in another order, `RefModule` as a number, by
webhook or by export. Every rendering gives the same lines under the same
keys, and all of them together count once. The same row version with other
ledger lines counts once too (the first), and is a conflict."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.servicemobility import read_envelope, translate
from adapters.servicemobility_export.translate import translate_page
from domain.events import Fact
from tests.strategies import COUNT_FREE, encode, sm_envelope, sm_usage_rows
from tests.unit.test_sm_translate import Receiver, expected_balances

QUANTITIES = ("InQty", "OutQty", "InventoryQty", "InventoryDamagedQty", "ReportedDamagedQty")
REASON_QUANTITIES = ("InQty", "OutQty", "InventoryQty", "Qty")


@st.composite
def number(draw: st.DrawFn, value: Decimal) -> Decimal | int:
    """The same number, written another way."""
    ways: list[Decimal | int] = [value, value.normalize(), value + Decimal("0.000")]
    if value == value.to_integral_value():
        ways.append(int(value))
    return draw(st.sampled_from(ways))


@st.composite
def shuffled(draw: st.DrawFn, document: dict[str, Any]) -> dict[str, Any]:
    keys = draw(st.permutations(list(document)))
    return {key: document[key] for key in keys}


@st.composite
def rendered_reasons(draw: st.DrawFn, reasons: list[dict[str, Any]] | None) -> Any:
    real = [reason for reason in reasons or () if reason != EMPTY_REASON]
    if not real:
        # No disposition: nothing, null, an empty list or the vendor's placeholder.
        return draw(st.sampled_from(["absent", None, [], [dict(EMPTY_REASON)]]))
    out = []
    for reason in real:
        written = dict(reason)
        for field in REASON_QUANTITIES:
            written[field] = draw(number(reason[field]))
        out.append(draw(shuffled(written)))
    return out


EMPTY_REASON: dict[str, Any] = {
    "ReasonCode": "",
    "Desc": "",
    "InQty": Decimal(0),
    "OutQty": Decimal(0),
    "InventoryQty": Decimal(0),
    "Qty": Decimal(0),
}


@st.composite
def rendered_item(draw: st.DrawFn, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"ProdNum": item["ProdNum"]}
    for field in QUANTITIES:
        quantity = Decimal(item.get(field, 0))
        if quantity != 0 or draw(st.booleans()):
            out[field] = draw(number(quantity))
    for field in ("SerialNum", "BatchNum"):
        written = item.get(field) or draw(st.sampled_from(["", None, "absent"]))
        if written != "absent":
            out[field] = written
    reasons = draw(rendered_reasons(item.get("DispositionReasons")))
    if reasons != "absent":
        out["DispositionReasons"] = reasons
    return dict(draw(shuffled(out)))


@st.composite
def rendered_time(draw: st.DrawFn, text: str) -> str:
    moment = datetime.fromisoformat(text)
    offset = timezone(timedelta(hours=draw(st.sampled_from([0, 1, -5]))))
    shifted = moment.astimezone(offset)
    way = draw(st.sampled_from(["Z", "offset", "millis"]))
    if way == "Z" and offset.utcoffset(None) == timedelta(0):
        return shifted.strftime("%Y-%m-%dT%H:%M:%SZ")
    if way == "millis":
        return shifted.isoformat(timespec="milliseconds")
    return shifted.isoformat()


@st.composite
def rendering(draw: st.DrawFn, row: dict[str, Any]) -> dict[str, Any]:
    """The row as another rendering may write it."""
    usage = row["InventoryUsage"]
    module = usage["RefModule"]
    out: dict[str, Any] = {
        "ModifiedUTC": draw(rendered_time(usage["ModifiedUTC"])),
        "RefModule": draw(st.sampled_from([str(module), int(module)])),
        "RefObjID": usage["RefObjID"],
        "StorageLocations": [
            draw(
                shuffled(
                    {
                        "StorageLocationID": location["StorageLocationID"],
                        "Items": [draw(rendered_item(item)) for item in location["Items"]],
                    }
                )
            )
            for location in usage["StorageLocations"]
        ],
    }
    if usage.get("UserID") is not None:
        out["UserID"] = usage["UserID"]
    return draw(shuffled({"rowver": row["rowver"], "InventoryUsage": draw(shuffled(out))}))


def by_webhook(envelope_id: str, row: dict[str, Any]) -> tuple[str, list[Fact]]:
    envelope = sm_envelope(envelope_id, [row])
    return envelope_id, translate(read_envelope(encode(envelope), "InventoryUsage"))


def by_export(page_id: str, row: dict[str, Any]) -> tuple[str, list[Fact]]:
    user = row["InventoryUsage"].get("UserID")
    exported = {**row, "UserID": user} if user else row
    return page_id, translate_page(encode({"rowver": row["rowver"], "rows": [exported]}))


@settings(max_examples=200, deadline=None)
@given(data=st.data())
def test_every_rendering_of_a_row_is_the_same_row(data: st.DataObject) -> None:
    row = data.draw(sm_usage_rows(COUNT_FREE), label="row")
    renderings = data.draw(st.lists(rendering(row), min_size=1, max_size=4), label="renderings")
    receiver = Receiver()
    _, original = by_webhook("original", row)
    for n, rendered in enumerate([row, *renderings]):
        channel = data.draw(st.sampled_from([by_webhook, by_export]), label="channel")
        message_id, facts = channel(f"rendering-{n}", rendered)
        assert [(f.dedupe_key, f.row) for f in facts] == [(f.dedupe_key, f.row) for f in original]
        receiver.receive_facts(message_id, facts)
    assert [fact.dedupe_key for fact in receiver.kept] == [f.dedupe_key for f in original]
    assert receiver.conflicts == set()
    balances = {key: item.quantity for key, item in receiver.items().items()}
    assert balances == expected_balances([row])


def changed(row: dict[str, Any], extra: Decimal) -> dict[str, Any]:
    """The row with one quantity of its first line changed: other ledger content."""
    usage = row["InventoryUsage"]
    first = usage["StorageLocations"][0]
    item = dict(first["Items"][0])
    item["InQty"] = Decimal(item.get("InQty", 0)) + extra
    locations = [{**first, "Items": [item, *first["Items"][1:]]}, *usage["StorageLocations"][1:]]
    return {**row, "InventoryUsage": {**usage, "StorageLocations": locations}}


@settings(max_examples=100, deadline=None)
@given(
    row=sm_usage_rows(COUNT_FREE),
    extra=st.sampled_from([Decimal(1), Decimal("0.5"), Decimal(2)]),
    first_is_original=st.booleans(),
)
def test_a_row_version_with_other_lines_counts_once_and_is_a_conflict(
    row: dict[str, Any], extra: Decimal, first_is_original: bool
) -> None:
    other = changed(row, extra)
    first, second = (row, other) if first_is_original else (other, row)
    receiver = Receiver()
    receiver.receive_facts(*by_webhook("first", first))
    _, refused = by_export("second", second)
    receiver.receive_facts("second", refused)
    receiver.receive_facts(*by_webhook("first-again", first))

    assert refused[0].row is not None
    assert receiver.conflicts == {(row["rowver"], refused[0].row.identity)}
    balances = {key: item.quantity for key, item in receiver.items().items()}
    assert balances == expected_balances([first])
