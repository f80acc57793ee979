"""Quantities: exact decimals, within bounds that keep running balances exact."""

from __future__ import annotations

from decimal import Decimal
from typing import Final

LARGEST: Final = Decimal(10) ** 12
"""Quantities this large or larger are taken for corrupt input, not stock."""

MOST_PLACES: Final = 10
"""Decimal places a quantity may have: with at most 12 integer digits, sums stay
well inside the 28 significant digits of the default decimal context."""


def decimal_places(value: Decimal) -> int:
    """Places after the point, not counting trailing zeros (3.50 has 1)."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    zeros = 0
    for digit in reversed(digits):
        if digit:
            break
        zeros += 1
    return max(0, -exponent - zeros)


def quantity_problem(value: Decimal) -> str | None:
    """Why a quantity cannot be accepted, or None when it can."""
    if not value.is_finite():
        return "quantity must be a finite number"
    if abs(value) >= LARGEST:
        return f"quantity must be below {LARGEST:.0e}"
    if decimal_places(value) > MOST_PLACES:
        return f"quantity must have at most {MOST_PLACES} decimal places"
    return None


def decimal_text(value: Decimal) -> str:
    """A quantity as an exact decimal string without needless zeros: 96.5, 12, -5."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "") else text
