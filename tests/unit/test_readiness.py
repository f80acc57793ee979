"""Parts readiness by example: what is known of an activity, its required
lines against its resource's stock, and `unknown` until the requirements are
known."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import msgspec

from domain.events import (
    DomainEvent,
    InventoryInstalled,
    OfsActivity,
    RequiredInventoriesRecorded,
    RequiredLine,
    ResourceInventoryCreated,
)
from domain.signals.products import StockKey
from domain.signals.readiness import (
    NOT_READ,
    Activity,
    ReadinessLine,
    fold,
    is_news,
    needed,
    not_ready_on,
    readiness,
)
from tests.strategies import T0

ACTIVITY = "4225599"


def stock(**held: str) -> Callable[[StockKey], Decimal]:
    """TECH_017's on-hand quantities (`MODEM_X1` for `MODEM/X1`)."""
    quantities = {
        StockKey("TECH_017", name.replace("_", "/")): Decimal(q) for name, q in held.items()
    }
    return lambda key: quantities.get(key, Decimal(0))


def required(*lines: tuple[str, str | None, str], **fields: object) -> RequiredInventoriesRecorded:
    return RequiredInventoriesRecorded(
        occurred_at=T0,
        activity_id=ACTIVITY,
        lines=tuple(
            RequiredLine(inventory_type=kind, model=model, quantity=Decimal(quantity))
            for kind, model, quantity in lines
        ),
        **fields,  # type: ignore[arg-type]
    )


def known(*events: DomainEvent) -> dict[str, Activity]:
    activities: dict[str, Activity] = {}
    fold(activities, list(enumerate(events, start=1)))
    return activities


def test_an_activity_learns_its_resource_and_date_from_ofs_events() -> None:
    details = OfsActivity(activity_id=4225599, resource_id="TECH_017", date="2026-11-20")
    installed = InventoryInstalled(occurred_at=T0, inventory_id=1, activity=details)
    unnamed = ResourceInventoryCreated(occurred_at=T0, inventory_id=2, activity=OfsActivity())
    activities = known(installed, unnamed, required(("MODEM", None, "1")))
    assert activities == {
        ACTIVITY: Activity(
            activity_id=ACTIVITY,
            resource_id="TECH_017",
            date="2026-11-20",
            lines=(RequiredLine(inventory_type="MODEM", quantity=Decimal(1)),),
            read_at=T0,
        )
    }
    assert needed(activities[ACTIVITY]) == [StockKey("TECH_017", "MODEM")]


def test_ready_when_nothing_is_missing() -> None:
    (activity,) = known(
        required(("MODEM", "X1", "1"), ("CABLE", None, "2"), resource_id="TECH_017")
    ).values()
    ready = readiness(activity, stock(MODEM_X1="1", CABLE="5"))
    assert (ready.ready, ready.status, ready.reason) == (True, "ready", None)
    short = readiness(activity, stock(MODEM="3", CABLE="-4"))
    assert (short.ready, short.status) == (False, "missing")
    assert short.lines == (
        ReadinessLine(
            inventory_type="MODEM",
            model="X1",
            product="MODEM/X1",
            required=Decimal(1),
            available=Decimal(0),
            missing=Decimal(1),
        ),
        ReadinessLine(
            inventory_type="CABLE",
            model=None,
            product="CABLE",
            required=Decimal(2),
            available=Decimal(0),
            missing=Decimal(2),
        ),
    )


def test_lines_of_one_product_are_one_line() -> None:
    (activity,) = known(
        required(("CABLE", None, "2"), ("CABLE", "", "3"), resource_id="TECH_017")
    ).values()
    (line,) = readiness(activity, stock(CABLE="4")).lines
    assert (line.product, line.required, line.available, line.missing) == (
        "CABLE",
        Decimal(5),
        Decimal(4),
        Decimal(1),
    )


def test_unknown_until_the_requirements_are_known() -> None:
    details = OfsActivity(activity_id=4225599, resource_id="TECH_017", date="2026-11-20")
    (never,) = known(InventoryInstalled(occurred_at=T0, inventory_id=1, activity=details)).values()
    assert (readiness(never, stock()).status, readiness(never, stock()).reason) == (
        "unknown",
        NOT_READ,
    )
    (bad,) = known(
        required(("MODEM", None, "1")),
        required(unknown="OFS answered no required inventories"),
    ).values()
    verdict = readiness(bad, stock(MODEM="9"))
    assert (verdict.ready, verdict.status, verdict.reason, verdict.lines) == (
        False,
        "unknown",
        "OFS answered no required inventories",
        (),
    )


def test_without_a_resource_nothing_is_available() -> None:
    (activity,) = known(required(("MODEM", None, "1"))).values()
    verdict = readiness(activity, stock(MODEM="1"))
    assert (verdict.status, verdict.reason) == ("missing", "no resource is assigned")


def test_the_days_list_holds_the_activities_not_ready() -> None:
    activities = [
        Activity(activity_id="1", resource_id="TECH_017", date="2026-11-20", lines=()),
        Activity(
            activity_id="2",
            resource_id="TECH_017",
            date="2026-11-20",
            lines=(RequiredLine(inventory_type="MODEM", quantity=Decimal(2)),),
        ),
        Activity(activity_id="3", resource_id="TECH_018", date="2026-11-20"),
        Activity(activity_id="4", resource_id="TECH_017", date="2026-11-21"),
    ]
    day = not_ready_on(activities, stock(MODEM="1"), "2026-11-20")
    assert [(r.activity_id, r.status) for r in day] == [("2", "missing"), ("3", "unknown")]
    mine = not_ready_on(activities, stock(), "2026-11-20", resource_id="TECH_018")
    assert [r.activity_id for r in mine] == ["3"]


def test_only_a_read_that_changes_what_is_known_is_news() -> None:
    first = required(("MODEM", None, "1"), resource_id="TECH_017")
    (activity,) = known(first).values()
    assert is_news(None, first)
    later = T0.replace(hour=9)
    assert not is_news(activity, msgspec.structs.replace(first, occurred_at=later))
    assert not is_news(activity, msgspec.structs.replace(first, resource_id=None))
    assert is_news(activity, required(("MODEM", None, "2")))
    assert is_news(activity, required(unknown="OFS answered no required inventories"))
    assert is_news(activity, msgspec.structs.replace(first, date="2026-11-21"))
