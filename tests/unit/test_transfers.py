"""Transfers by example: two halves paired by code in either order, lines
delivered again counted once, mismatches, and `open` only after the window."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from domain.events import DomainEvent, StockUsageRecorded
from domain.signals.transfers import (
    DEFAULT_WINDOW,
    Transfer,
    TransferItem,
    apply,
    codes_of,
    fold,
    listed,
    status,
)
from tests.strategies import T0


def line(
    location: str,
    product: str,
    *,
    sent: str = "0",
    received: str = "0",
    minutes: int = 0,
    code: str = "XFER-1",
) -> StockUsageRecorded:
    return StockUsageRecorded(
        occurred_at=T0 + timedelta(minutes=minutes),
        location=location,
        product=product,
        quantity_out=Decimal(sent),
        quantity_in=Decimal(received),
        ref_module="1003",
        ref_object=code,
    )


SENDER = [line("VAN-07", "CBL-CAT6", sent="10"), line("VAN-07", "FUSE-10A", sent="2")]
RECEIVER = [
    line("VAN-09", "CBL-CAT6", received="10.0", minutes=30),
    line("VAN-09", "FUSE-10A", received="2", minutes=30),
]


def folded(lines: list[StockUsageRecorded]) -> Transfer:
    transfers: dict[str, Transfer] = {}
    fold(transfers, list(enumerate(lines, start=1)))
    return transfers["XFER-1"]


def test_two_halves_pair_in_either_order() -> None:
    first = folded(SENDER + RECEIVER)
    assert folded(RECEIVER + SENDER) == first
    assert (first.from_locations, first.to_locations) == (("VAN-07",), ("VAN-09",))
    assert first.items == (
        TransferItem(product="CBL-CAT6", sent=Decimal(10), received=Decimal(10)),
        TransferItem(product="FUSE-10A", sent=Decimal(2), received=Decimal(2)),
    )
    assert (first.first_seen, first.last_seen) == (T0, T0 + timedelta(minutes=30))
    assert status(first, T0 + timedelta(days=9)) == "paired"


@given(order=st.permutations(range(4)), again=st.lists(st.integers(0, 3), max_size=3))
def test_any_order_and_any_redelivery_give_the_same_transfer(
    order: list[int], again: list[int]
) -> None:
    lines = SENDER + RECEIVER
    arrived = [lines[i] for i in order] + [lines[i] for i in again]
    assert folded(arrived) == folded(lines)


def test_a_line_delivered_again_changes_nothing() -> None:
    transfer = folded(SENDER)
    assert apply(transfer, SENDER[0]) is None
    assert apply(transfer, line("VAN-07", "CBL-CAT6", sent="10.00")) is None


def test_sent_and_received_that_differ_are_mismatched() -> None:
    short = folded([*SENDER, line("VAN-09", "CBL-CAT6", received="9"), RECEIVER[1]])
    assert status(short, T0) == "mismatched"
    missing_item = folded([*SENDER, RECEIVER[0]])
    assert status(missing_item, T0) == "mismatched"


def test_one_half_is_open_only_after_the_window() -> None:
    half = folded(SENDER)
    assert status(half, T0 + DEFAULT_WINDOW) == "pending"
    assert status(half, T0 + DEFAULT_WINDOW + timedelta(seconds=1)) == "open"
    assert status(half, T0 + timedelta(hours=2), window=timedelta(hours=1)) == "open"
    assert status(folded(RECEIVER), T0 + timedelta(days=2)) == "open"


def test_lists_show_open_and_mismatched_first_and_filter_by_status() -> None:
    events: list[tuple[int, DomainEvent]] = list(
        enumerate(
            [
                *SENDER,
                *RECEIVER,
                line("VAN-07", "A", sent="1", code="XFER-2", minutes=-60),
                line("VAN-07", "A", sent="1", code="XFER-3", minutes=10),
                line("VAN-09", "A", received="2", code="XFER-3", minutes=20),
                line("VAN-07", "A", sent="1", code="XFER-4", minutes=5),
                StockUsageRecorded(
                    occurred_at=T0,
                    location="VAN-07",
                    product="A",
                    ref_module="1002",
                    ref_object="XFER-1",
                ),
            ],
            start=1,
        )
    )
    assert codes_of(events) == {"XFER-1", "XFER-2", "XFER-3", "XFER-4"}
    transfers: dict[str, Transfer] = {}
    fold(transfers, events)
    now = T0 + timedelta(hours=23, minutes=30)
    assert [(t.code, s) for t, s in listed(transfers.values(), now)] == [
        ("XFER-2", "open"),
        ("XFER-3", "mismatched"),
        ("XFER-4", "pending"),
        ("XFER-1", "paired"),
    ]
    assert [t.code for t, _ in listed(transfers.values(), now, only="paired")] == ["XFER-1"]
