"""The OFS Core API's inventory reads, faked to the vendor's spec
(shared/vendor/ofs-core-events-and-inventory.openapi.json and the pages it
comes from):

- `GET /rest/ofscCore/v1/resources/{resourceId}/inventories`: the records in
  the resource's pool (status `resource`);
- `GET /rest/ofscCore/v1/activities/{activityId}/customerInventories`,
  `.../installedInventories`, `.../deinstalledInventories`: the activity's
  records with status `customer`, `installed`, `deinstalled`; `activityId` is
  an integer;
- both answer `{"items": [...]}` and page with `offset` (default 0) and
  `limit` (1 to 100; above 100, zero or absent means 100);
- `GET /rest/ofscCore/v1/inventories/{inventoryId}`: one record, 404 if unknown.

The records are what OFS holds now. Tests set them (`put`, `remove`), so they
can differ from what the events said: that is the drift a reconciliation finds.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Final

from tests.fakes.http import Problem

CORE: Final = "/rest/ofscCore/v1"
MAX_PAGE: Final = 100
_RESOURCE: Final = re.compile(rf"{CORE}/resources/([^/]+)/inventories")
_ACTIVITY: Final = re.compile(
    rf"{CORE}/activities/([^/]+)/(customer|installed|deinstalled)Inventories"
)
_RECORD: Final = re.compile(rf"{CORE}/inventories/([^/]+)")
_FIELDS: Final = (
    "inventoryId",
    "status",
    "inventoryType",
    "serialNumber",
    "quantity",
    "resourceId",
    "activityId",
    "exchangedInventoryId",
)


@dataclass
class FakeInventory:
    records: dict[int, dict[str, Any]] = field(default_factory=dict)
    pages: int = 0
    """List pages served."""
    null_quantities: set[int] = field(default_factory=set)
    """Records whose `quantity` is written as `null` (the file allows it: `x-nullable`)."""
    misdirected: dict[int, int] = field(default_factory=dict)
    """`GET /inventories/{a}` answers the record `b` (a broken instance)."""

    def put(self, **record: Any) -> None:
        """Hold this record now (replacing one with its inventoryId)."""
        unknown = set(record) - set(_FIELDS)
        assert not unknown, unknown
        self.records[int(record["inventoryId"])] = record

    def change(self, inventory_id: int, **fields: Any) -> None:
        self.put(**(self.records[inventory_id] | fields))

    def remove(self, inventory_id: int) -> None:
        del self.records[inventory_id]

    def route(self, method: str, path: str, query: dict[str, str]) -> Any:
        """The answer for an inventory path; None when `path` is not one."""
        if match := _RESOURCE.fullmatch(path):
            _get(method)
            owner = match.group(1)
            return self._page(query, lambda r: r.get("resourceId") == owner, "resource")
        if match := _ACTIVITY.fullmatch(path):
            _get(method)
            activity = _integer(match.group(1), "activityId")
            return self._page(query, lambda r: r.get("activityId") == activity, match.group(2))
        if match := _RECORD.fullmatch(path):
            _get(method)
            wanted = _integer(match.group(1), "inventoryId")
            record = self.records.get(self.misdirected.get(wanted, wanted))
            if record is None:
                raise Problem(404, f"Inventory '{match.group(1)}' not found")
            return self._shown(record)
        return None

    def _page(self, query: dict[str, str], owned: Any, status: str) -> dict[str, Any]:
        offset = _integer(query.get("offset", "0"), "offset")
        limit = _integer(query.get("limit", "0"), "limit")
        if offset < 0:
            raise Problem(400, "offset must not be negative")
        if not 1 <= limit <= MAX_PAGE:
            limit = MAX_PAGE
        matching = [
            self._shown(record)
            for _, record in sorted(self.records.items())
            if record.get("status") == status and owned(record)
        ]
        self.pages += 1
        return {"items": matching[offset : offset + limit]}

    def _shown(self, record: dict[str, Any]) -> dict[str, Any]:
        shown = _shown(record)
        if record["inventoryId"] in self.null_quantities:
            shown["quantity"] = None
        return shown


def _shown(record: dict[str, Any]) -> dict[str, Any]:
    """A record as OFS writes it: no activityId for one in a resource's pool."""
    shown = {key: value for key, value in record.items() if value is not None}
    if shown.get("status") == "resource":
        shown.pop("activityId", None)
    return shown


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Problem(400, f"{name} must be an integer") from None


def _get(method: str) -> None:
    if method != "GET":
        raise Problem(405, f"{method} is not allowed here")
