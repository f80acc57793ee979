"""ServiceMobility StockLevelRecommendation webhooks in, par levels out: the
usable items count, the others are reported with where and why, a payload of
which nothing is usable is refused (and so quarantined), and a
recommendation stored as a document by an earlier build sets the same par
levels as the event it is translated into now."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from adapters.servicemobility import TranslationError, read_envelope, translate, translate_report
from adapters.servicemobility_fields import Translation, row_key
from domain.events import (
    DocumentRecorded,
    ParLevelsRecommended,
    RecommendedLevel,
    SkippedLine,
    from_data,
    to_data,
)
from domain.signals.par_levels import levels_set_by, recommendation_of
from tests.signal_strategies import RESOURCES, recommendation_items, stored_document
from tests.strategies import SM_SOURCE, T0, encode, moments, sm_envelope, sm_time

KIND = "StockLevelRecommendation"
ROW = "$.data.rows[0].StockLevelRecommendation"


def envelope(*documents: dict[str, Any], time: str = "2026-11-20T05:00:00Z") -> dict[str, Any]:
    rows = [{"rowver": f"rv-{n}", KIND: document} for n, document in enumerate(documents)]
    return {**sm_envelope("rec-1", rows, kind=KIND), "time": time}


def report(body: dict[str, Any]) -> Translation:
    return translate_report(read_envelope(encode(body), KIND))


def recommendation(**fields: Any) -> dict[str, Any]:
    return {
        "ID": "REC-7",
        "StorageLocationID": "VAN-07",
        "Status": "1",
        "DueDate": "2026-11-21",
        "Description": "weekly",
        "TechCreated": "tech7",
        "Items": [{"ProdNum": "CBL-CAT6", "Qty": 40, "RecQty": 100, "ProdAttrs": []}],
    } | fields


def test_a_recommendation_sets_targets_for_its_location() -> None:
    body = envelope(
        recommendation(
            Items=[
                {"ProdNum": "CBL-CAT6", "Qty": 40, "RecQty": 100},
                {"ProdNum": "ONT-G240", "Qty": 1, "RecQty": Decimal("2.5")},
            ]
        )
    )
    translation = report(body)
    (fact,) = translation.facts
    event = fact.event
    assert isinstance(event, ParLevelsRecommended)
    assert (event.recommendation_id, event.location) == ("REC-7", "VAN-07")
    assert event.levels == (
        RecommendedLevel(product="CBL-CAT6", target=Decimal(100)),
        RecommendedLevel(product="ONT-G240", target=Decimal("2.5")),
    )
    assert event.occurred_at.isoformat() == "2026-11-20T05:00:00+00:00"
    assert event.body[KIND]["ID"] == "REC-7"
    assert translation.skipped == ()
    # The same row as the document it was stored as before: a redelivery is a duplicate.
    assert fact.dedupe_key == row_key(SM_SOURCE, body["data"]["rows"][0])
    assert from_data(to_data(event)) == event


def test_unusable_items_are_reported_and_the_others_count() -> None:
    items = [
        {"ProdNum": "CBL-CAT6", "RecQty": 10},
        {"ProdNum": "", "RecQty": 5},
        {"RecQty": 5},
        {"ProdNum": 42, "RecQty": 5},
        {"ProdNum": "FUSE-10A", "RecQty": -1},
        {"ProdNum": "FUSE-10A", "RecQty": "lots"},
        {"ProdNum": "FUSE-10A"},
        {"ProdNum": "FUSE-10A", "RecQty": True},
        {"ProdNum": "FUSE-10A", "RecQty": Decimal("1e40")},
        "not an item",
        {"ProdNum": "ONT-G240", "RecQty": "3"},
    ]
    translation = report(envelope(recommendation(Items=items)))
    (fact,) = translation.facts
    assert isinstance(fact.event, ParLevelsRecommended)
    assert [(level.product, level.target) for level in fact.event.levels] == [
        ("CBL-CAT6", Decimal(10)),
        ("ONT-G240", Decimal(3)),
    ]
    assert translation.skipped == (
        SkippedLine(
            field=f"{ROW}.Items[1].ProdNum", reason="unknown product: `ProdNum` must not be blank"
        ),
        SkippedLine(
            field=f"{ROW}.Items[2].ProdNum", reason="unknown product: `ProdNum` is missing"
        ),
        SkippedLine(
            field=f"{ROW}.Items[3].ProdNum", reason="unknown product: `ProdNum` must be a text"
        ),
        SkippedLine(field=f"{ROW}.Items[4].RecQty", reason="`RecQty` must not be negative, not -1"),
        SkippedLine(field=f"{ROW}.Items[5].RecQty", reason="`RecQty` must be a number, not 'lots'"),
        SkippedLine(field=f"{ROW}.Items[6].RecQty", reason="`RecQty` is missing"),
        SkippedLine(field=f"{ROW}.Items[7].RecQty", reason="`RecQty` must be a number"),
        SkippedLine(
            field=f"{ROW}.Items[8].RecQty", reason="`RecQty`: quantity must be below 1e+12"
        ),
        SkippedLine(field=f"{ROW}.Items[9]", reason="an item must be an object"),
    )
    assert fact.event.skipped == translation.skipped
    assert translate(read_envelope(encode(envelope(recommendation(Items=items))), KIND))


def test_a_product_named_twice_takes_the_later_target() -> None:
    items = [{"ProdNum": "CBL-CAT6", "RecQty": 10}, {"ProdNum": "CBL-CAT6", "RecQty": 4}]
    (fact,) = report(envelope(recommendation(Items=items))).facts
    assert isinstance(fact.event, ParLevelsRecommended)
    assert fact.event.levels == (RecommendedLevel(product="CBL-CAT6", target=Decimal(4)),)


@pytest.mark.parametrize(
    ("document", "field", "reason"),
    [
        (
            recommendation(StorageLocationID=None),
            f"{ROW}.StorageLocationID",
            "`StorageLocationID` is missing: no item is usable",
        ),
        (
            recommendation(StorageLocationID="  "),
            f"{ROW}.StorageLocationID",
            "`StorageLocationID` must not be blank: no item is usable",
        ),
        (
            recommendation(Items=[{"ProdNum": "CBL-CAT6", "RecQty": -3}]),
            f"{ROW}.Items[0].RecQty",
            "`RecQty` must not be negative, not -3",
        ),
        (recommendation(Items="none"), f"{ROW}.Items", "`Items` must be an array"),
    ],
)
def test_a_recommendation_with_nothing_usable_is_refused(
    document: dict[str, Any], field: str, reason: str
) -> None:
    body = envelope({key: value for key, value in document.items() if value is not None})
    translation = report(body)
    assert translation.facts == []
    assert not translation.usable
    assert translation.skipped[0] == SkippedLine(field=field, reason=reason)
    with pytest.raises(TranslationError) as refused:
        translate(read_envelope(encode(body), KIND))
    assert refused.value.field == field
    assert reason in refused.value.message


def test_only_the_unusable_row_of_an_envelope_is_left_out() -> None:
    body = envelope(recommendation(), recommendation(StorageLocationID=""))
    translation = report(body)
    assert len(translation.facts) == 1
    assert translation.usable
    assert translation.skipped == (
        SkippedLine(
            field="$.data.rows[1].StockLevelRecommendation.StorageLocationID",
            reason="`StorageLocationID` must not be blank: no item is usable",
        ),
    )


def test_a_recommendation_without_items_sets_nothing_and_is_kept() -> None:
    (fact,) = report(envelope(recommendation(Items=[]))).facts
    assert isinstance(fact.event, ParLevelsRecommended)
    assert fact.event.levels == ()
    assert levels_set_by(fact.event, 1) == []


def test_a_recommendation_without_an_id_is_named_by_its_row() -> None:
    document = recommendation()
    del document["ID"]
    body = envelope(document, time=sm_time(T0))
    (fact,) = report(body).facts
    assert isinstance(fact.event, ParLevelsRecommended)
    assert fact.event.recommendation_id == f"row-{fact.dedupe_key[3:27]}"


def test_other_documents_set_no_par_levels() -> None:
    load = DocumentRecorded(
        occurred_at=T0,
        document_type="LoadInventory",
        document_id="LOAD-1",
        body={
            "LoadInventory": {
                "StorageLocationID": "VAN-07",
                "Items": [{"ProdNum": "P", "RecQty": 1}],
            }
        },
    )
    assert recommendation_of(load) is None
    assert levels_set_by(load, 1) == []


@given(
    data=st.data(),
    location=st.sampled_from([*RESOURCES, "", None]),
    moment=moments(),
)
def test_astored_document_and_the_new_event_set_the_same_par_levels(
    data: st.DataObject, location: str | None, moment: Any
) -> None:
    items, usable = data.draw(recommendation_items(location))
    document: dict[str, Any] = {"ID": "REC-1", "Items": items}
    if location is not None:
        document["StorageLocationID"] = location
    row = {"rowver": "rv-1", KIND: document}
    body = {**sm_envelope("rec", [row], kind=KIND), "time": sm_time(moment)}
    translation = translate_report(read_envelope(encode(body), KIND))
    new = [levels_set_by(from_data(to_data(fact.event)), 7) for fact in translation.facts]
    stored = from_data(to_data(stored_document(row, moment)))
    old = levels_set_by(stored, 7)
    assert (new[0] if new else []) == old
    expected = dict(usable)
    assert {key.product: level.target for key, level in old} == (expected if location else {})
    assert all(key.resource_id == location for key, _ in old)
    # Nothing usable: no event now, and the stored document sets nothing.
    assert bool(translation.facts) == bool(location and (usable or not items))
