"""The OFS Core API's required inventories of an activity, faked to the
vendor's spec (shared/vendor/ofs-core-events-and-inventory.openapi.json):

- `GET /rest/ofscCore/v1/activities/{activityId}/requiredInventories`
  answers `{"items": [{"inventoryType", "model", "quantity"}, ...]}`, paged
  with `offset` (default 0) and `limit` (1 to 100; absent means 100), and
  404 for an activity OFS does not know;
- `PUT` of the same path replaces them (`{"items": [...]}`, 204) and `DELETE`
  removes them (204), as the spec describes.

Tests set what OFS holds with `put` (an activity with no lines answers an
empty list) and forget an activity with `forget`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Final

from tests.fakes.http import Problem

CORE: Final = "/rest/ofscCore/v1"
MAX_PAGE: Final = 100
_REQUIRED: Final = re.compile(rf"{CORE}/activities/([^/]+)/requiredInventories")


@dataclass
class FakeRequired:
    activities: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    reads: list[str] = field(default_factory=list)
    """The activities whose required inventories were read, one entry a page."""

    def put(self, activity_id: str | int, *lines: dict[str, Any]) -> None:
        """OFS knows the activity, and it requires `lines`."""
        self.activities[str(activity_id)] = [dict(line) for line in lines]

    def forget(self, activity_id: str | int) -> None:
        del self.activities[str(activity_id)]

    def route(self, method: str, path: str, query: dict[str, str], body: bytes) -> Any:
        """The answer for a required inventories path (None for no body);
        `False` when `path` is not one."""
        match = _REQUIRED.fullmatch(path)
        if match is None:
            return False
        activity_id = match.group(1)
        if activity_id not in self.activities:
            raise Problem(404, f"Activity '{activity_id}' not found")
        if method == "GET":
            self.reads.append(activity_id)
            return self._page(self.activities[activity_id], query)
        if method == "PUT":
            self.activities[activity_id] = _items(body)
            return None
        if method == "DELETE":
            self.activities[activity_id] = []
            return None
        raise Problem(405, f"{method} is not allowed here")

    def _page(self, lines: list[dict[str, Any]], query: dict[str, str]) -> dict[str, Any]:
        offset = _integer(query.get("offset", "0"), "offset")
        limit = _integer(query.get("limit", str(MAX_PAGE)), "limit")
        if offset < 0:
            raise Problem(400, "offset must not be negative")
        if not 1 <= limit <= MAX_PAGE:
            raise Problem(400, f"limit must be between 1 and {MAX_PAGE}")
        return {"items": lines[offset : offset + limit]}


def _items(body: bytes) -> list[dict[str, Any]]:
    try:
        request = json.loads(body)
    except ValueError:
        raise Problem(400, "the request body is not JSON") from None
    items = request.get("items", []) if isinstance(request, dict) else None
    if not isinstance(items, list):
        raise Problem(400, "items must be an array")
    return items


def _integer(value: str, name: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise Problem(400, f"{name} must be an integer") from None
