"""A consumer of the change feed, as the tests follow it: entries folded into
the items they describe, and what `GET /inventories/{key}` answers."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import msgspec

from adapters.store import ItemRecord


def fold_entries(
    entries: Iterable[dict[str, Any]], start: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Items by key after the entries (deleted ones dropped), from `start`."""
    items = dict(start or {})
    for entry in entries:
        if not entry["type"].startswith("invtrack.item."):
            continue
        data = {name: value for name, value in entry["data"].items() if name != "change"}
        if entry["type"] == "invtrack.item.deleted":
            items.pop(entry["subject"], None)
        else:
            items[entry["subject"]] = data
    return items


def item_json(record: ItemRecord) -> dict[str, Any]:
    answer: dict[str, Any] = msgspec.json.decode(msgspec.json.encode(record))
    return answer


def assert_in_order_once(entries: list[dict[str, Any]]) -> None:
    """Positions strictly increase, and each id comes once."""
    positions = [entry["position"] for entry in entries]
    assert positions == sorted(set(positions)), "out of order or repeated"
    assert len({entry["id"] for entry in entries}) == len(entries)
