"""Par levels set by hand are checked before they become an event: each
problem names its field (`items[i].min`, `items[i].target`, `items[i].product`)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.events import ManualLevel
from domain.signals.par_levels import FieldProblem, manual_level_problems


def level(product: str = "CBL-CAT6", target: str = "10", minimum: str | None = None) -> ManualLevel:
    return ManualLevel(
        product=product, target=Decimal(target), min=None if minimum is None else Decimal(minimum)
    )


def test_good_levels_have_no_problem() -> None:
    assert (
        manual_level_problems([level(), level("MODEM/X1", "0", "0"), level("A", "5", "2.5")]) == []
    )


@pytest.mark.parametrize(
    ("levels", "problem"),
    [
        (
            [level(minimum="11")],
            FieldProblem(field="items[0].min", message="min (11) must not be above target (10)"),
        ),
        (
            [level(target="-1")],
            FieldProblem(field="items[0].target", message="must not be negative, not -1"),
        ),
        (
            [level(), level("B", minimum="-2")],
            FieldProblem(field="items[1].min", message="must not be negative, not -2"),
        ),
        ([level(product=" ")], FieldProblem(field="items[0].product", message="must not be blank")),
        (
            [level(), level()],
            FieldProblem(field="items[1].product", message="'CBL-CAT6' is named twice"),
        ),
        (
            [level(target="NaN")],
            FieldProblem(field="items[0].target", message="quantity must be a finite number"),
        ),
        (
            [level(target="1.00000000001")],
            FieldProblem(
                field="items[0].target", message="quantity must have at most 10 decimal places"
            ),
        ),
        (
            [level(product="P" * 256)],
            FieldProblem(
                field="items[0].product", message="must be at most 255 characters, without NUL"
            ),
        ),
        ([], FieldProblem(field="items", message="must hold at least one par level")),
    ],
)
def test_each_problem_names_its_field(levels: list[ManualLevel], problem: FieldProblem) -> None:
    assert manual_level_problems(levels) == [problem]
