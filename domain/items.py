"""A tracked item: an OFS inventory record or a ServiceMobility stock line."""

from __future__ import annotations

import functools
import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

import msgspec

Pool = Literal["resource", "install", "deinstall", "customer"]
Source = Literal["ofs", "servicemobility"]
POOLS: tuple[Pool, ...] = ("resource", "install", "deinstall", "customer")
SOURCES: tuple[Source, ...] = ("ofs", "servicemobility")

_SEPARATOR = "\x1f"
_ITEM_KEY = re.compile(r"ofs--?[0-9]{1,20}|sm-(?:resource|install|deinstall|customer)-[0-9a-f]{24}")


class Item(msgspec.Struct, frozen=True, kw_only=True):
    """Where one item is and who owns it there, after the events applied so far."""

    key: str
    source: Source
    pool: Pool | None
    inventory_id: int | None = None
    inventory_type: str | None = None
    product_number: str | None = None
    serial_number: str | None = None
    batch_number: str | None = None
    quantity: Decimal = Decimal(1)
    resource_id: str | None = None
    activity_id: str | None = None
    customer_number: str | None = None
    exchanged_inventory_id: int | None = None
    properties: dict[str, Any] = msgspec.field(default_factory=dict)
    deleted: bool = False
    position: int = 0
    updated_at: datetime | None = None

    @property
    def negative(self) -> bool:
        """A stock line below zero: lines arrived out of order, or stock is missing."""
        return self.quantity < 0


def ofs_key(inventory_id: int) -> str:
    return f"ofs-{inventory_id}"


def _stock_line_key(
    pool: Pool, owner: str, product: str, serial: str | None, batch: str | None
) -> str:
    digest = hashlib.sha256(_identity_text(pool, owner, product, serial, batch).encode())
    return f"sm-{pool}-{digest.hexdigest()[:24]}"


stock_line_key: Callable[[Pool, str, str, str | None, str | None], str] = functools.lru_cache(
    maxsize=1 << 16
)(_stock_line_key)
"""Stable, URL-safe key of a ServiceMobility stock line from its identity
(docs/vendors.md, "Stock lines"). No serial and an empty serial are the same
line, and so for batches. Remembered: one line's key is asked for many times
while its events are appended and folded."""


def _identity_text(*parts: str | None) -> str:
    """One text per identity. The parts joined by the unit separator U+001F,
    the form keys had from the start, while no part holds that character;
    otherwise a JSON array of them, which writes U+001F as an escape. The
    joined form holds four raw U+001F and the JSON form none, so the two never
    meet, and each alone is one-to-one."""
    texts = [part or "" for part in parts]
    if any(_SEPARATOR in text for text in texts):
        return json.dumps(texts)
    return _SEPARATOR.join(texts)


def is_item_key(text: str) -> bool:
    """Whether `text` has the shape of a key `ofs_key` or `stock_line_key` makes."""
    return _ITEM_KEY.fullmatch(text) is not None
