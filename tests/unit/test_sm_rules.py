"""ServiceMobility stock rules, one RefModule at a time (docs/vendors.md, "ServiceMobility").

Resource pool: balance += InQty - OutQty; counts (1004, 1005) set the balance
to InventoryQty and record expected and variance; a work order's OutQty also
lands in the work order's install pool; a balance may go negative and is
flagged, never rejected.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from domain.events import DispositionReason, DomainEvent, StockUsageRecorded
from domain.fold import annotate, apply, touched_keys
from domain.items import Item, stock_line_key

T0 = datetime(2026, 11, 20, 7, 0, tzinfo=UTC)


def line(
    ref_module: str,
    ref_object: str,
    *,
    location: str = "VAN-07",
    product: str = "CBL-CAT6",
    serial: str | None = None,
    batch: str | None = None,
    quantity_in: str = "0",
    quantity_out: str = "0",
    counted: str = "0",
    minutes: int = 0,
    reasons: tuple[DispositionReason, ...] = (),
) -> StockUsageRecorded:
    return StockUsageRecorded(
        occurred_at=T0 + timedelta(minutes=minutes),
        location=location,
        product=product,
        serial=serial,
        batch=batch,
        quantity_in=Decimal(quantity_in),
        quantity_out=Decimal(quantity_out),
        reported_quantity=Decimal(counted),
        ref_module=ref_module,
        ref_object=ref_object,
        user="tech7",
        disposition_reasons=reasons,
    )


def record(
    lines: Sequence[StockUsageRecorded],
) -> tuple[dict[str, Item], list[DomainEvent]]:
    """The lines as the live projection records them: annotated against the
    state so far, then applied; returns the items and the events as stored."""
    items: dict[str, Item] = {}
    stored: list[DomainEvent] = []
    for position, fresh in enumerate(lines, start=1):
        event = annotate(items, fresh)
        for item in apply(items, event, position):
            items[item.key] = item
        stored.append(event)
    return items, stored


def stock(
    items: dict[str, Item],
    location: str = "VAN-07",
    product: str = "CBL-CAT6",
    serial: str | None = None,
    batch: str | None = None,
) -> Item:
    return items[stock_line_key("resource", location, product, serial, batch)]


def installed(
    items: dict[str, Item],
    work_order: str,
    product: str = "CBL-CAT6",
    serial: str | None = None,
    batch: str | None = None,
) -> Item:
    return items[stock_line_key("install", work_order, product, serial, batch)]


def install_keys(items: dict[str, Item]) -> set[str]:
    return {key for key, item in items.items() if item.pool == "install"}


def test_1001_inventory_load_adds_to_the_storage_location() -> None:
    items, _ = record(
        [
            line("1001", "LOAD-311", quantity_in="100", counted="100"),
            line("1001", "LOAD-311", product="ONT-G240", serial="ONT-99812", quantity_in="1"),
            line("1001", "LOAD-312", quantity_in="0.25", minutes=5),
        ]
    )
    cable = stock(items)
    assert cable.quantity == Decimal("100.25")
    assert (cable.pool, cable.resource_id, cable.source) == (
        "resource",
        "VAN-07",
        "servicemobility",
    )
    assert (cable.product_number, cable.serial_number, cable.batch_number) == (
        "CBL-CAT6",
        None,
        None,
    )
    assert cable.updated_at == T0 + timedelta(minutes=5)
    modem = stock(items, product="ONT-G240", serial="ONT-99812")
    assert (modem.quantity, modem.serial_number) == (Decimal(1), "ONT-99812")
    assert install_keys(items) == set()


def test_1002_work_order_out_goes_to_the_install_pool_and_in_stays_on_the_location() -> None:
    out = line("1002", "WO-5521", quantity_out="3.5", counted="96.5", minutes=10)
    assert touched_keys(out) == (
        stock_line_key("resource", "VAN-07", "CBL-CAT6", None, None),
        stock_line_key("install", "WO-5521", "CBL-CAT6", None, None),
    )
    items, _ = record(
        [
            line("1001", "LOAD-311", quantity_in="100"),
            out,
            line("1002", "WO-5521", product="ONT-G240", serial="ONT-99812", quantity_out="1"),
            # A return on the same work order: back on the van, the install pool keeps its 3.5.
            line("1002", "WO-5521", quantity_in="0.5", minutes=20),
            line("1002", "WO-5522", quantity_out="1.25", minutes=30),
        ]
    )
    assert stock(items).quantity == Decimal("95.75")
    cable = installed(items, "WO-5521")
    assert (cable.pool, cable.quantity) == ("install", Decimal("3.5"))
    assert (cable.activity_id, cable.resource_id) == ("WO-5521", "VAN-07")
    assert installed(items, "WO-5522").quantity == Decimal("1.25")
    modem = installed(items, "WO-5521", "ONT-G240", "ONT-99812")
    assert modem.quantity == Decimal(1)
    assert stock(items, product="ONT-G240", serial="ONT-99812").quantity == Decimal(-1)
    assert len(install_keys(items)) == 3


def test_1002_work_order_with_only_in_quantity_touches_no_install_pool() -> None:
    returned = line("1002", "WO-5521", quantity_in="2")
    assert touched_keys(returned) == (stock_line_key("resource", "VAN-07", "CBL-CAT6", None, None),)
    items, _ = record([returned])
    assert stock(items).quantity == Decimal(2)
    assert install_keys(items) == set()


def test_1003_transfer_moves_stock_between_locations_in_either_order() -> None:
    sent = line("1003", "XFER-7731", quantity_out="5", counted="-5", minutes=59)
    received = line("1003", "XFER-7731", location="VAN-09", quantity_in="5", counted="17")
    for lines in ([sent, received], [received, sent]):
        items, _ = record(lines)
        # InventoryQty on a transfer is the device's reading, not a count.
        assert stock(items).quantity == Decimal(-5)
        assert stock(items).negative
        assert stock(items, "VAN-09").quantity == Decimal(5)
        assert not stock(items, "VAN-09").negative
        assert install_keys(items) == set()


def test_1004_full_count_sets_the_balance_and_records_the_variance() -> None:
    items, stored = record(
        [
            line("1008", "VAN-09", location="VAN-09", product="FUSE-10A", quantity_in="12"),
            line("1003", "XFER-7731", location="VAN-09", product="FUSE-10A", quantity_in="5"),
            line("1004", "PI-2201", location="VAN-09", product="FUSE-10A", counted="16"),
        ]
    )
    assert stock(items, "VAN-09", "FUSE-10A").quantity == Decimal(16)
    count = stored[-1]
    assert isinstance(count, StockUsageRecorded)
    assert (count.expected, count.variance) == (Decimal(17), Decimal(-1))
    # Lines that are not counts carry neither.
    assert all(
        isinstance(event, StockUsageRecorded) and event.expected is None and event.variance is None
        for event in stored[:-1]
    )


def test_1004_count_ignores_in_and_out_and_resets_a_negative_balance() -> None:
    items, stored = record(
        [
            line("1003", "XFER-1", quantity_out="7.125"),
            line("1004", "PI-1", quantity_in="3", quantity_out="1", counted="2.5"),
            line("1001", "LOAD-1", quantity_in="1"),
        ]
    )
    count = stored[1]
    assert isinstance(count, StockUsageRecorded)
    assert (count.expected, count.variance) == (Decimal("-7.125"), Decimal("9.625"))
    assert stock(items).quantity == Decimal("3.5")


def test_1005_partial_count_of_an_unknown_line_expects_zero() -> None:
    items, stored = record(
        [
            line("1001", "LOAD-1", quantity_in="4"),
            line("1005", "PI-9", product="SPLICE-KIT", batch="B-7", counted="3.75"),
        ]
    )
    count = stored[-1]
    assert isinstance(count, StockUsageRecorded)
    assert (count.expected, count.variance) == (Decimal(0), Decimal("3.75"))
    assert stock(items, product="SPLICE-KIT", batch="B-7").quantity == Decimal("3.75")
    # A partial count leaves the lines it did not count alone.
    assert stock(items).quantity == Decimal(4)


def test_1006_disposition_adjustment_moves_in_and_out_only() -> None:
    reasons = (
        DispositionReason(
            reason_code="DMG", description="damaged", quantity_out=Decimal(2), quantity=Decimal(2)
        ),
    )
    items, stored = record(
        [
            line("1001", "LOAD-1", quantity_in="10"),
            line("1006", "DISP-1", quantity_out="2", counted="8", reasons=reasons),
        ]
    )
    assert stock(items).quantity == Decimal(8)
    disposition = stored[-1]
    assert isinstance(disposition, StockUsageRecorded)
    assert disposition.disposition_reasons == reasons
    assert install_keys(items) == set()


def test_1007_automatic_adjustment_adds_and_removes_decimals_exactly() -> None:
    items, _ = record(
        [
            line("1007", "AUTO-1", quantity_in="0.1"),
            line("1007", "AUTO-2", quantity_in="0.2"),
            line("1007", "AUTO-3", quantity_out="0.3"),
            line("1007", "AUTO-4", quantity_in="-0.0001"),
        ]
    )
    assert stock(items).quantity == Decimal("-0.0001")
    assert stock(items).negative


def test_1008_manual_adjustment_may_go_negative_and_back() -> None:
    items, _ = record(
        [
            line("1008", "ADJ-1", quantity_in="5"),
            line("1008", "ADJ-2", quantity_out="12"),
        ]
    )
    assert stock(items).quantity == Decimal(-7)
    assert stock(items).negative
    items, _ = record(
        [
            line("1008", "ADJ-1", quantity_in="5"),
            line("1008", "ADJ-2", quantity_out="12"),
            line("1008", "ADJ-3", quantity_in="7"),
        ]
    )
    assert stock(items).quantity == Decimal(0)
    assert not stock(items).negative


def test_stock_line_identity_is_location_product_serial_and_batch() -> None:
    items, _ = record(
        [
            line("1001", "LOAD-1", quantity_in="1"),
            line("1001", "LOAD-1", quantity_in="2", batch="B-1"),
            line("1001", "LOAD-1", quantity_in="4", serial="S-1"),
            line("1001", "LOAD-1", quantity_in="8", location="VAN-09"),
        ]
    )
    assert [item.quantity for item in items.values()] == [Decimal(n) for n in (1, 2, 4, 8)]
    assert len({item.key for item in items.values()}) == 4
