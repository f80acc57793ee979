"""Comparing an item as invtrack holds it with the vendor's (domain.reconciliation),
and reading OFS's inventory records (adapters.ofs.inventory)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.ofs.inventory import holding
from domain.reconciliation import Drift, Holding, differences

POOLS = ("resource", "install", "deinstall", "customer")
RESOURCES = ("TECH_017", "TECH_099")
ACTIVITIES = ("4225599", "4225600")

holdings = st.builds(
    Holding,
    pool=st.sampled_from(POOLS),
    resource_id=st.sampled_from([*RESOURCES, None]),
    activity_id=st.sampled_from([*ACTIVITIES, None]),
    quantity=st.decimals(min_value=0, max_value=100, places=2),
    serial_number=st.sampled_from(["SN-1", "SN-2", None]),
    inventory_type=st.sampled_from(["MODEM", "CABLE", None]),
)


@settings(max_examples=200)
@given(ours=holdings, theirs=holdings)
def test_differences_name_each_differing_field_once_from_both_sides(
    ours: Holding, theirs: Holding
) -> None:
    found = differences("ofs-1", ours, theirs)
    mirrored = differences("ofs-1", theirs, ours)
    assert [(d.field, d.ours, d.theirs) for d in found] == [
        (d.field, d.theirs, d.ours) for d in mirrored
    ]
    assert len({d.field for d in found}) == len(found)
    assert differences("ofs-1", ours, ours) == []
    if not found:
        assert ours.pool == theirs.pool
        assert ours.quantity == theirs.quantity
        assert ours.serial_number == theirs.serial_number
        assert ours.inventory_type == theirs.inventory_type


@settings(max_examples=100)
@given(ours=holdings)
def test_an_item_on_one_side_only_is_present_against_absent(ours: Holding) -> None:
    assert differences("ofs-1", ours, None) == [
        Drift(key="ofs-1", field="item", ours="present", theirs="absent")
    ]
    assert differences("ofs-1", None, ours) == [
        Drift(key="ofs-1", field="item", ours="absent", theirs="present")
    ]
    assert differences("ofs-1", None, None) == []


def test_the_owner_compared_is_the_one_the_pools_are_held_by() -> None:
    installed = Holding(pool="install", resource_id="TECH_017", activity_id="4225599")
    # The technician an activity is assigned to is not part of the install pool's identity.
    assert differences("k", installed, Holding(pool="install", activity_id="4225599")) == []
    assert differences("k", installed, Holding(pool="install", activity_id="4225600")) == [
        Drift(key="k", field="activityId", ours="4225599", theirs="4225600")
    ]
    carried = Holding(pool="resource", resource_id="TECH_099")
    assert differences("k", installed, carried) == [
        Drift(key="k", field="pool", ours="install", theirs="resource"),
        Drift(key="k", field="resourceId", ours="TECH_017", theirs="TECH_099"),
        Drift(key="k", field="activityId", ours="4225599", theirs=None),
    ]


def test_quantities_compare_by_value() -> None:
    ours = Holding(pool="resource", quantity=Decimal("15"))
    assert differences("k", ours, Holding(pool="resource", quantity=Decimal("15.00"))) == []
    assert differences("k", ours, Holding(pool="resource", quantity=Decimal("1.5E+1"))) == []
    assert differences("k", ours, Holding(pool="resource", quantity=Decimal("12.50"))) == [
        Drift(key="k", field="quantity", ours="15", theirs="12.5")
    ]


records = st.fixed_dictionaries(
    {"inventoryId": st.integers(1, 2**53)},
    optional={
        "status": st.sampled_from(["resource", "customer", "installed", "deinstalled"]),
        "inventoryType": st.sampled_from(["MODEM", "CABLE"]),
        "serialNumber": st.sampled_from(["SN-1", ""]),
        "quantity": st.decimals(min_value=0, max_value=1000, places=3),
        "resourceId": st.sampled_from(RESOURCES),
        "activityId": st.integers(1, 10**9),
        "exchangedInventoryId": st.integers(1, 10**9),
        "XA_CUSTOM": st.text(max_size=5),
    },
)


@settings(max_examples=200)
@given(record=records)
def test_an_ofs_record_is_renamed_to_our_vocabulary(record: dict[str, Any]) -> None:
    key, held = holding(record)
    assert key == f"ofs-{record['inventoryId']}"
    pools = {"resource": "resource", "customer": "customer"}
    pools |= {"installed": "install", "deinstalled": "deinstall"}
    assert held.pool == (pools[record["status"]] if "status" in record else None)
    assert held.quantity == record.get("quantity", Decimal(1))
    assert held.activity_id == (str(record["activityId"]) if "activityId" in record else None)
    assert held.serial_number == (record.get("serialNumber") or None)
