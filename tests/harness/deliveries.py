"""Deliveries to send: InventoryUsage envelopes, documents, OFS events, and
posting them where they go."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import httpx

from tests.harness.tokens import relay, sender


@dataclass(frozen=True)
class Line:
    """One item of a storage location in an InventoryUsage row."""

    location: str
    product: str
    quantity_in: str = "0"
    quantity_out: str = "0"
    counted: str = "0"


@dataclass(frozen=True)
class UsageRow:
    """One InventoryUsage row: why stock moved (RefModule, RefObjID) and its lines."""

    rowver: str
    lines: tuple[Line, ...]
    ref_module: str = "1008"
    ref_object: str | None = None
    modified: str = "2026-11-20T09:15:00Z"

    def as_json(self) -> dict[str, Any]:
        locations = dict.fromkeys(line.location for line in self.lines)
        return {
            "rowver": self.rowver,
            "InventoryUsage": {
                "UserID": "tech",
                "ModifiedUTC": self.modified,
                "RefModule": self.ref_module,
                "RefObjID": self.ref_object or self.lines[0].location,
                "StorageLocations": [
                    {
                        "StorageLocationID": location,
                        "Items": [
                            {
                                "ProdNum": line.product,
                                "SerialNum": "",
                                "BatchNum": "",
                                "InQty": float(line.quantity_in),
                                "OutQty": float(line.quantity_out),
                                "InventoryQty": float(line.counted),
                                "InventoryDamagedQty": 0.0,
                                "ReportedDamagedQty": 0.0,
                                "DispositionReasons": [],
                            }
                            for line in self.lines
                            if line.location == location
                        ],
                    }
                    for location in locations
                ],
            },
        }


def usage_envelope(envelope_id: str, rows: Sequence[UsageRow]) -> dict[str, Any]:
    """An InventoryUsage envelope holding the rows."""
    return {
        "id": envelope_id,
        "type": "InventoryUsage",
        "specversion": "1.0",
        "source": "webhook-reliability",
        "subject": None,
        "time": "2026-11-20T09:20:00.000Z",
        "datacontenttype": "application/json",
        "action": "",
        "data": {"rowver": "AAAA", "rows": [row.as_json() for row in rows]},
    }


def document_envelope(kind: str, envelope_id: str, *, location: str = "VAN-1") -> dict[str, Any]:
    """An envelope of one of the eight other types: one row, one document (par
    levels for a StockLevelRecommendation)."""
    return {
        "id": envelope_id,
        "type": kind,
        "specversion": "1.0",
        "source": "webhook-reliability",
        "subject": None,
        "time": "2026-11-20T09:20:00.000Z",
        "datacontenttype": "application/json",
        "action": "",
        "data": {
            "rowver": "AAAA",
            "rows": [
                {
                    "rowver": f"{envelope_id}-row",
                    kind: {
                        "DocumentNum": f"{kind}-{envelope_id}",
                        "ModifiedUTC": "2026-11-20T09:10:00Z",
                        "StorageLocationID": location,
                        "Items": [_document_item(kind)],
                    },
                }
            ],
        },
    }


def _document_item(kind: str) -> dict[str, Any]:
    item: dict[str, Any] = {"ProdNum": "P-1", "SerialNum": "", "BatchNum": "", "Qty": 1}
    if kind == "StockLevelRecommendation":
        item["RecQty"] = 2  # what makes a recommendation usable
    return item


def envelope_for(kind: str, envelope_id: str) -> dict[str, Any]:
    """A valid envelope of any of the nine types that makes exactly one event."""
    if kind == "InventoryUsage":
        return usage_envelope(
            envelope_id, [UsageRow(f"{envelope_id}-row", (Line("VAN-1", "P-1", "2"),))]
        )
    return document_envelope(kind, envelope_id)


def ofs_event(
    inventory_id: int,
    event_type: str,
    time_text: str,
    **changes: Any,
) -> dict[str, Any]:
    """An OFS inventory event; `changes` go into `inventoryChanges`."""
    return {
        "eventType": event_type,
        "time": time_text,
        "user": "jsmith",
        "activityDetails": {
            "activityId": 4225599,
            "resourceId": "TECH_017",
            "date": "2026-11-20",
            "customerNumber": "C-1009",
        },
        "inventoryDetails": {"inventoryId": inventory_id, "inventoryType": "MODEM"},
        "inventoryChanges": {"inventoryId": inventory_id, **changes},
    }


async def post_json(
    client: httpx.AsyncClient, path: str, body: dict[str, Any] | list[Any]
) -> httpx.Response:
    headers = relay() if path == "/ofs/events" else sender()
    return await client.post(path, content=json.dumps(body).encode(), headers=headers)


def path_of(delivery: dict[str, Any] | list[Any]) -> str:
    """Where a delivery goes: its webhook, or the OFS relay route for a list of events."""
    if isinstance(delivery, dict) and "type" in delivery and "id" in delivery:
        return f"/servicemobility/{delivery['type']}/"
    return "/ofs/events"
