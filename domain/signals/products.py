"""Product identity, one rule for both vendors: what a par level, an on-hand
quantity and a required inventory line are counted by.

- ServiceMobility: the `ProdNum`.
- OFS: the `inventoryType`, or `inventoryType/model` when the item has a
  `model` property (a non-blank text, or an integer written as text) and, for
  a required inventory, when its `model` is not blank.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

from domain.items import Item

MODEL: Final = "model"
"""The OFS property that, when set, is part of an item's product."""


class StockKey(NamedTuple):
    """Where a par level and an on-hand quantity are kept: (resource, product)."""

    resource_id: str
    product: str

    @property
    def subject(self) -> str:
        """The feed subject of a signal about it: `{resourceId}/{product}`."""
        return f"{self.resource_id}/{self.product}"


def product_id(kind: str, model: str | None = None) -> str:
    """The product of a `ProdNum` (no model) or of an OFS type and its model."""
    return f"{kind}/{model}" if model else kind


def model_of(value: Any) -> str | None:
    """A `model` value as text; None when it names no model (absent, blank,
    or not a text or an integer)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip():
        return value
    return None


def item_product(item: Item) -> str | None:
    """The product an item counts as; None when it names none."""
    if item.source == "servicemobility":
        return item.product_number or None
    if not item.inventory_type:
        return None
    return product_id(item.inventory_type, model_of(item.properties.get(MODEL)))
