"""Query routes: what a technician carries, what is at a customer, what an
activity installed and removed, and one item now, as of a time, and over time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import Example
from litestar.params import FromPath, QueryParameter

from adapters.auth import Claims
from adapters.store import ItemRecord
from adapters.store.queries import ItemFilter, OwnerKind
from api.http import cursors
from api.http.openapi import READER, READER_PROBLEMS, problems
from api.http.paths import path_text
from api.http.problems import FieldError, Problem
from api.http.schemas import HistoryEntry, HistoryPage, ItemList
from api.http.security import provide_reader
from domain.items import Pool, Source
from projections.queries import Queries

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size, at most 1000")]
Cursor = Annotated[str | None, QueryParameter(description="`nextCursor` of the previous page")]
At = Annotated[
    datetime | None,
    QueryParameter(description="ISO 8601; the state as of that event time (UTC when no offset)"),
]
PoolParam = Annotated[Pool | None, QueryParameter(description="one pool")]
SourceParam = Annotated[Source | None, QueryParameter(description="`ofs` or `servicemobility`")]
TypeParam = Annotated[str | None, QueryParameter(name="inventoryType", description="OFS type")]

ITEM_EXAMPLE = {
    "key": "ofs-21258547",
    "source": "ofs",
    "pool": "install",
    "inventoryId": 21258547,
    "inventoryType": "MODEM",
    "productNumber": None,
    "serialNumber": "SN-0001",
    "batchNumber": None,
    "quantity": "1",
    "resourceId": "TECH_017",
    "activityId": "4225599",
    "customerNumber": "C-1009",
    "exchangedInventoryId": 21250001,
    "properties": {},
    "updatedAt": "2026-11-20T09:31:07Z",
    "position": 42,
    "deleted": False,
    "negative": False,
}
_LIST = {
    200: ResponseSpec(
        data_container=ItemList,
        description="one page of items, ordered by key",
        examples=[Example(summary="one page", value={"items": [ITEM_EXAMPLE], "nextCursor": None})],
    ),
    **problems(*READER_PROBLEMS),
}
_LIST_404 = {**_LIST, **problems(404)}


class InventoryController(Controller):
    tags = ["queries"]
    security = READER
    dependencies = {"reader": Provide(provide_reader)}

    @get(
        "/resources/{resource_id:str}/inventories",
        operation_id="listResourceInventories",
        summary="A technician's (or storage location's) stock",
        responses=_LIST_404,
    )
    async def resource(
        self,
        resource_id: FromPath[str],
        queries: NamedDependency[Queries],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
        pool: PoolParam = "resource",
        source: SourceParam = None,
        inventory_type: TypeParam = None,
        at: At = None,
    ) -> ItemList:
        return await _list(
            queries, "resource", resource_id, pool, source, inventory_type, cursor, limit, at
        )

    @get(
        "/customers/{customer_number:str}/inventories",
        operation_id="listCustomerInventories",
        summary="What is at the customer",
        responses=_LIST_404,
    )
    async def customer(
        self,
        customer_number: FromPath[str],
        queries: NamedDependency[Queries],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
        pool: PoolParam = "customer",
        source: SourceParam = None,
        inventory_type: TypeParam = None,
        at: At = None,
    ) -> ItemList:
        return await _list(
            queries, "customer", customer_number, pool, source, inventory_type, cursor, limit, at
        )

    @get(
        "/activities/{activity_id:str}/inventories",
        operation_id="listActivityInventories",
        summary="Customer, install and deinstall pools of one activity or work order",
        responses=_LIST_404,
    )
    async def activity(
        self,
        activity_id: FromPath[str],
        queries: NamedDependency[Queries],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
        pool: PoolParam = None,
        source: SourceParam = None,
        inventory_type: TypeParam = None,
        at: At = None,
    ) -> ItemList:
        return await _list(
            queries, "activity", activity_id, pool, source, inventory_type, cursor, limit, at
        )

    @get(
        "/inventories/{key:str}",
        operation_id="getInventory",
        summary="One item (404 if unknown)",
        responses={
            200: ResponseSpec(
                ItemRecord,
                description="the item; deleted ones have pool null",
                examples=[Example(summary="installed modem", value=ITEM_EXAMPLE)],
            ),
            **problems(*READER_PROBLEMS, 404),
        },
    )
    async def item(
        self,
        key: FromPath[str],
        queries: NamedDependency[Queries],
        reader: NamedDependency[Claims],
        at: At = None,
    ) -> ItemRecord:
        key = _text(key, "key")
        item = await queries.item(key, _utc(at))
        if item is None:
            raise Problem(404, "Not Found", f"no item with key {key!r}")
        return item

    @get(
        "/inventories/{key:str}/history",
        operation_id="getInventoryHistory",
        summary="Every event that touched an item",
        responses={
            200: ResponseSpec(
                HistoryPage,
                description="oldest first",
                examples=[
                    Example(
                        summary="installed",
                        value={
                            "items": [
                                {
                                    "position": 42,
                                    "type": "ofs.inventoryInstalled",
                                    "occurredAt": "2026-11-20T09:31:07Z",
                                    "recordedAt": "2026-11-20T09:31:09Z",
                                    "source": "ofs",
                                    "messageId": "sha256:…",
                                    "inboxId": 7,
                                    "data": {
                                        "type": "ofs.inventoryInstalled",
                                        "inventory_id": 21258547,
                                    },
                                }
                            ],
                            "nextCursor": None,
                        },
                    )
                ],
            ),
            **problems(*READER_PROBLEMS, 404),
        },
    )
    async def history(
        self,
        key: FromPath[str],
        queries: NamedDependency[Queries],
        reader: NamedDependency[Claims],
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> HistoryPage:
        after = cursors.position_after(cursor)
        key = _text(key, "key")
        events = await queries.history(key, after=after, limit=limit + 1)
        if events is None:
            raise Problem(404, "Not Found", f"no item with key {key!r}")
        more = len(events) > limit
        events = events[:limit]
        next_cursor = cursors.encode(events[-1].position) if more else None
        return HistoryPage(items=[HistoryEntry.of(e) for e in events], next_cursor=next_cursor)


async def _list(
    queries: NamedDependency[Queries],
    kind: OwnerKind,
    owner: str,
    pool: Pool | None,
    source: Source | None,
    inventory_type: str | None,
    cursor: str | None,
    limit: int,
    at: datetime | None,
) -> ItemList:
    where = ItemFilter(
        owner_kind=kind,
        owner=_text(owner, kind),
        pools=(pool,) if pool else None,
        source=source,
        inventory_type=inventory_type,
    )
    after = cursors.item_key_after(cursor)
    page = await queries.list_items(where, after=after, limit=limit, at=_utc(at))
    if not page.records and after is None and not await queries.seen(kind, where.owner):
        raise Problem(404, "Not Found", f"no {kind} {where.owner!r} was ever seen")
    return ItemList(
        items=page.records,
        next_cursor=cursors.encode(page.last_key) if page.last_key else None,
    )


def _utc(at: datetime | None) -> datetime | None:
    if at is None:
        return None
    try:
        return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    except OverflowError:
        raise Problem(
            400,
            "Bad Request",
            "`at` is out of range once taken to UTC",
            errors=[FieldError(field="at", message="out of range")],
        ) from None


def _text(value: str, name: str) -> str:
    """A path parameter as the store can compare it, with encoded slashes
    decoded (api.http.paths): identifiers never hold NUL."""
    value = path_text(value)
    if "\x00" in value:
        raise Problem(
            400,
            "Bad Request",
            f"`{name}` may not contain NUL characters",
            errors=[FieldError(field=name, message="contains NUL")],
        )
    return value
