"""What an OFS required inventories answer says, read without any server:
lines to the vendor's schema, or the reason the requirements are unknown.
Whatever the answer holds, reading it never fails."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from adapters.ofs.required import RequiredAnswer, answer_of, judged
from domain.events import RequiredLine


def page(*items: Any) -> bytes:
    return json.dumps({"items": list(items)}).encode()


def test_lines_to_the_schema_are_read_exactly() -> None:
    answer = answer_of(
        [
            page(
                {"inventoryType": "MODEM", "model": "X1", "quantity": 1, "extra": "ignored"},
                {"inventoryType": "CABLE", "model": "", "quantity": 0.1},
            ),
            page({"inventoryType": "ROUTER", "model": " ", "quantity": 0}),
        ]
    )
    assert answer == RequiredAnswer(
        lines=(
            RequiredLine(inventory_type="MODEM", model="X1", quantity=Decimal(1)),
            RequiredLine(inventory_type="CABLE", model=None, quantity=Decimal("0.1")),
            RequiredLine(inventory_type="ROUTER", model=None, quantity=Decimal(0)),
        )
    )


def test_empty_and_huge_answers_are_unknown() -> None:
    assert answer_of([page()]).unknown == "OFS answered no required inventories"
    assert answer_of([b"{}"]).unknown == "OFS answered no required inventories"
    line = RequiredLine(inventory_type="MODEM", quantity=Decimal(1))
    assert judged([line] * 3, most_lines=2).unknown == "more than 2 required inventory lines"
    assert judged([line] * 2, most_lines=2).lines == (line, line)


def test_a_line_off_the_schema_makes_the_answer_unknown() -> None:
    cases = {
        "items[0].inventoryType must be a non-blank text of at most 255": {
            "inventoryType": "",
            "model": "",
            "quantity": 1,
        },
        "items[0].quantity must be a number": {
            "inventoryType": "MODEM",
            "model": "",
            "quantity": True,
        },
        "items[0].quantity: quantity must be below 1e+12": {
            "inventoryType": "MODEM",
            "model": "",
            "quantity": 1e15,
        },
    }
    for reason, item in cases.items():
        assert answer_of([page(item)]).unknown == f"not to the schema: {reason}"


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=12,
)
LINE = st.fixed_dictionaries(
    {
        "inventoryType": st.sampled_from(["MODEM", "", 7]),
        "model": st.sampled_from(["X1", "", None]),
    },
    optional={
        "quantity": st.one_of(st.integers(-2, 5), st.floats(allow_nan=False), st.text(max_size=2))
    },
)


@given(body=st.one_of(JSON, st.fixed_dictionaries({"items": st.lists(LINE | JSON, max_size=3)})))
def test_any_answer_is_read_without_failing(body: Any) -> None:
    answer = answer_of([json.dumps(body).encode()])
    assert (answer.lines == ()) == (answer.unknown is not None)
    assert all(line.quantity >= 0 and line.inventory_type for line in answer.lines)


@given(raw=st.binary(max_size=40))
def test_any_bytes_are_read_without_failing(raw: bytes) -> None:
    answer = answer_of([raw])
    assert answer.lines or answer.unknown
