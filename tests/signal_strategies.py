"""Hypothesis strategies for the stock signals: histories that interleave
ServiceMobility usage (counts and transfers included), OFS inventory events
(some items with a `model`), stock level recommendations (as the webhook
translates them now and as earlier builds stored them), par levels set by
hand, and OFS required inventories.

Every happening carries what it means for par levels, written down by the
strategy from what it drew (`Happening.levels`), so the oracle never reads a
recommendation through the code under test. Resources, products and times
come from small pools so that they collide.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any, Final

import msgspec
from hypothesis import strategies as st

from adapters.servicemobility import read_envelope, translate_report
from adapters.servicemobility_fields import row_key
from domain.events import (
    DocumentRecorded,
    DomainEvent,
    ManualLevel,
    OfsChanges,
    OfsDetails,
    OfsInventory,
    ParLevelsSet,
    RequiredInventoriesRecorded,
    RequiredLine,
    ResourceInventoryCreated,
    StockUsageRecorded,
)
from tests.strategies import (
    ACTIVITY_IDS,
    REF_MODULES,
    SM_SOURCE,
    decimals,
    encode,
    moments,
    ofs_histories,
    sm_envelope,
    sm_histories,
    sm_time,
)

SM_LOCATIONS: Final = ("VAN-07", "VAN-09")
OFS_RESOURCES: Final = ("TECH_017", "TECH_018")
RESOURCES: Final = SM_LOCATIONS + OFS_RESOURCES
SM_PRODUCTS: Final = ("CBL-CAT6", "ONT-G240", "FUSE-10A")
OFS_TYPES: Final = ("MODEM", "ROUTER", "CABLE")
MODELS: Final = ("X1", "X2")
OFS_PRODUCTS: Final = (*OFS_TYPES, *(f"{kind}/{model}" for kind in OFS_TYPES for model in MODELS))
PRODUCTS: Final = (*SM_PRODUCTS, *OFS_PRODUCTS)
DATES: Final = ("2026-11-20", "2026-11-21")
TRANSFER_CODES: Final = ("XFER-1", "XFER-2", "XFER-3")

Level = tuple[str, str, Decimal, Decimal, str]
"""(resource, product, min, target, origin) a happening sets."""


def products_at(resource: str | None) -> st.SearchStrategy[str]:
    """Mostly the products the resource's vendor names (so that par levels
    meet stock), sometimes any."""
    own = SM_PRODUCTS if resource in SM_LOCATIONS else OFS_PRODUCTS
    return st.sampled_from(own) | st.sampled_from(own) | st.sampled_from(PRODUCTS)


class Happening(msgspec.Struct, frozen=True, kw_only=True):
    """An event to store, and the par levels it sets, in order."""

    event: DomainEvent
    levels: tuple[Level, ...] = ()


def _plain(event: DomainEvent) -> Happening:
    return Happening(event=event)


# --------------------------------------------------------------------------
# ServiceMobility usage, counts and transfers


def _usage_events(rows: list[dict[str, Any]]) -> list[DomainEvent]:
    body = encode(sm_envelope("rows", rows))
    return [fact.event for fact in translate_report(read_envelope(body, "InventoryUsage")).facts]


@st.composite
def usage(draw: st.DrawFn) -> list[Happening]:
    """Usage rows of the ServiceMobility locations, every RefModule."""
    rows = draw(sm_histories(REF_MODULES, min_size=0, max_size=4, locations=SM_LOCATIONS))
    return [_plain(event) for event in _usage_events(rows)]


@st.composite
def stock_moves(draw: st.DrawFn) -> list[Happening]:
    """Small loads and uses of one product at one location: stock that goes
    below a par level and comes back."""
    location = draw(st.sampled_from(SM_LOCATIONS))
    product = draw(st.sampled_from(SM_PRODUCTS))
    moves = []
    for _ in range(draw(st.integers(1, 6))):
        load = draw(st.booleans())
        quantity = draw(decimals(min_value=1, max_value=8, places=0))
        moves.append(
            StockUsageRecorded(
                occurred_at=draw(moments()),
                location=location,
                product=product,
                quantity_in=quantity if load else Decimal(0),
                quantity_out=Decimal(0) if load else quantity,
                ref_module="1001" if load else "1002",
                ref_object="LOAD-1" if load else "WO-1",
                user="tech7",
            )
        )
    happenings = [_plain(move) for move in moves]
    if draw(st.booleans()):
        target = draw(decimals(min_value=1, max_value=10, places=0))
        level = ManualLevel(product=product, target=target, min=target - 1)
        event = ParLevelsSet(occurred_at=draw(moments()), resource_id=location, levels=(level,))
        meaning = ((location, product, target - 1, target, "manual"),)
        happenings.append(Happening(event=event, levels=meaning))
    return happenings


@st.composite
def transfer_halves(draw: st.DrawFn) -> list[Happening]:
    """One transfer's halves: the sender's lines (OutQty) and the receiver's
    (InQty), sometimes with other quantities, sometimes one half only, and
    sometimes a line delivered twice."""
    code = draw(st.sampled_from(TRANSFER_CODES))
    sender, receiver = draw(st.permutations(SM_LOCATIONS))
    products = draw(st.lists(st.sampled_from(SM_PRODUCTS), min_size=1, max_size=2, unique=True))
    sent = [draw(decimals(min_value=1, max_value=20, places=1)) for _ in products]
    received = [draw(st.sampled_from([quantity, quantity, quantity + 1])) for quantity in sent]
    halves = draw(st.sampled_from(["both", "both", "sender", "receiver"]))
    lines: list[StockUsageRecorded] = []
    for sending, location, quantities in ((True, sender, sent), (False, receiver, received)):
        if halves in ("both", "sender" if sending else "receiver"):
            moment = draw(moments())
            lines += [
                StockUsageRecorded(
                    occurred_at=moment,
                    location=location,
                    product=product,
                    quantity_out=quantity if sending else Decimal(0),
                    quantity_in=Decimal(0) if sending else quantity,
                    ref_module="1003",
                    ref_object=code,
                    user="tech7" if sending else "tech9",
                )
                for product, quantity in zip(products, quantities, strict=True)
            ]
    again = draw(st.lists(st.sampled_from(lines), max_size=1))
    return [_plain(line) for line in lines + again]


# --------------------------------------------------------------------------
# OFS inventory events, some with a model


@st.composite
def ofs_items(draw: st.DrawFn) -> list[Happening]:
    events = draw(ofs_histories(min_size=0, max_size=8, max_records=3))
    return [_plain(_with_model(draw, event)) for event in events]


def _with_model(draw: st.DrawFn, event: OfsInventory) -> OfsInventory:
    choice = draw(st.sampled_from(["keep", "keep", "model", "blank", "number"]))
    if choice == "keep":
        return event
    value: Any = {"model": draw(st.sampled_from(MODELS)), "blank": " ", "number": 7}[choice]
    where = draw(st.sampled_from(["changes", "details"]))
    part = getattr(event, where)
    changed = msgspec.structs.replace(part, properties={**part.properties, "model": value})
    return msgspec.structs.replace(event, **{where: changed})


# --------------------------------------------------------------------------
# Par levels: recommendations and levels set by hand


_BAD_QUANTITIES: Final = ("-1", "abc", None, True, "NaN", "1e40", "")
"""RecQty values a recommendation item may carry that are not usable."""


@st.composite
def recommendation_items(
    draw: st.DrawFn, location: str | None
) -> tuple[list[dict[str, Any]], list[tuple[str, Decimal]]]:
    """Recommendation items, some unusable, and the (product, target) the
    usable ones set, in order."""
    items: list[dict[str, Any]] = []
    usable: list[tuple[str, Decimal]] = []
    for _ in range(draw(st.integers(0, 4))):
        product = draw(products_at(location))
        target = draw(decimals(min_value=0, max_value=15, places=1))
        flaw = draw(st.sampled_from(["none", "none", "none", "product", "quantity", "text"]))
        item: dict[str, Any] = {"ProdNum": product, "Qty": 1, "RecQty": target}
        if flaw == "product":
            item["ProdNum"] = draw(st.sampled_from(["", "  ", None, 42]))
        elif flaw == "quantity":
            bad = draw(st.sampled_from(_BAD_QUANTITIES))
            item["RecQty"] = Decimal(bad) if bad in ("-1", "1e40") else bad
        elif flaw == "text":
            item["RecQty"] = str(target)  # a number written as text is read
            usable.append((product, target))
        else:
            usable.append((product, target))
        items.append(item)
    return items, usable


@st.composite
def recommendations(draw: st.DrawFn) -> list[Happening]:
    """One StockLevelRecommendation row, stored as the webhook translates it
    now or as an earlier build stored it (a document): the same par levels."""
    number = draw(st.integers(1, 99))
    location = draw(st.sampled_from([*RESOURCES, *RESOURCES, None, ""]))
    items, usable = draw(recommendation_items(location))
    moment = draw(moments())
    document: dict[str, Any] = {"ID": f"REC-{number}", "Status": "1", "Items": items}
    if location is not None:
        document["StorageLocationID"] = location
    row = {"rowver": f"rv-{number}", "StockLevelRecommendation": document}
    kept = {product: target for product, target in usable}
    levels: tuple[Level, ...] = (
        tuple((location, p, t, t, "recommendation") for p, t in kept.items()) if location else ()
    )
    if draw(st.booleans()):
        return [Happening(event=stored_document(row, moment), levels=levels)]
    envelope = {**sm_envelope(f"rec-{number}", [row], kind="StockLevelRecommendation")}
    envelope["time"] = sm_time(moment)
    translation = translate_report(read_envelope(encode(envelope), "StockLevelRecommendation"))
    return [Happening(event=fact.event, levels=levels) for fact in translation.facts]


def stored_document(row: dict[str, Any], moment: datetime) -> DocumentRecorded:
    """The row as builds before par levels stored it: a document with the row
    as body (numbers other than integers kept as text)."""
    body = msgspec.to_builtins(row)
    return DocumentRecorded(
        occurred_at=moment,
        document_type="StockLevelRecommendation",
        document_id=f"row-{row_key(SM_SOURCE, row)[3:27]}",
        body=body,
    )


@st.composite
def manual_levels(draw: st.DrawFn) -> list[Happening]:
    resource = draw(st.sampled_from(RESOURCES))
    products = draw(st.lists(products_at(resource), min_size=1, max_size=3, unique=True))
    levels: list[ManualLevel] = []
    for product in products:
        target = draw(decimals(min_value=0, max_value=15, places=1))
        minimum = draw(st.none() | decimals(min_value=0, max_value=15, places=1))
        if minimum is not None and minimum > target:
            minimum, target = target, minimum
        levels.append(ManualLevel(product=product, target=target, min=minimum))
    event = ParLevelsSet(
        occurred_at=draw(moments()), resource_id=resource, levels=tuple(levels), user="ops"
    )
    meaning = tuple(
        (
            resource,
            level.product,
            level.target if level.min is None else level.min,
            level.target,
            "manual",
        )
        for level in levels
    )
    return [Happening(event=event, levels=meaning)]


# --------------------------------------------------------------------------
# Required inventories


@st.composite
def required_inventories(draw: st.DrawFn) -> list[Happening]:
    lines = draw(
        st.lists(
            st.builds(
                RequiredLine,
                inventory_type=st.sampled_from(OFS_TYPES),
                model=st.sampled_from([None, *MODELS]),
                quantity=decimals(min_value=0, max_value=6, places=0),
            ),
            min_size=1,
            max_size=3,
        )
    )
    unknown = draw(st.sampled_from([None, None, None, "OFS answered no required inventories"]))
    resource = draw(st.sampled_from([None, *OFS_RESOURCES]))
    event = RequiredInventoriesRecorded(
        occurred_at=draw(moments()),
        activity_id=str(draw(st.sampled_from(ACTIVITY_IDS))),
        resource_id=resource,
        date=draw(st.sampled_from([None, *DATES])),
        lines=() if unknown else tuple(lines),
        unknown=unknown,
    )
    happenings = [_plain(event)]
    if resource is not None and draw(st.booleans()):
        # The van holds (about) what the activity needs.
        for line in lines:
            properties = {"model": line.model} if line.model else {}
            happenings.append(
                _plain(
                    ResourceInventoryCreated(
                        occurred_at=draw(moments()),
                        inventory_id=draw(st.integers(31_000_000, 31_000_020)),
                        details=OfsDetails(
                            inventory_type=line.inventory_type,
                            quantity=line.quantity + draw(st.sampled_from([0, 0, 1, -1])),
                            properties=properties,
                        ),
                        changes=OfsChanges(status="resource", resource_id=resource),
                    )
                )
            )
    return happenings


# --------------------------------------------------------------------------
# Histories


_PARTS: Final = {
    "usage": usage(),
    "moves": stock_moves(),
    "transfer": transfer_halves(),
    "ofs": ofs_items(),
    "recommendation": recommendations(),
    "manual": manual_levels(),
    "required": required_inventories(),
}


@st.composite
def signal_histories(
    draw: st.DrawFn, *, max_parts: int = 10, parts: Sequence[str] = tuple(_PARTS)
) -> list[Happening]:
    """Happenings of every kind, interleaved in any order (arrival order is
    not event time order)."""
    happenings: list[Happening] = []
    for _ in range(draw(st.integers(1, max_parts))):
        happenings += draw(_PARTS[draw(st.sampled_from(list(parts)))])
    order = draw(st.permutations(range(len(happenings))))
    return [happenings[index] for index in order]


@st.composite
def batch_cuts(draw: st.DrawFn, size: int) -> list[int]:
    """Where a history of `size` events is split into batches (sorted, inside)."""
    if size < 2:
        return []
    return sorted(draw(st.sets(st.integers(1, size - 1), max_size=size - 1)))
