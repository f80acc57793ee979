"""Technicians and storage locations, customers, and activities / work
orders: searchable lists, and what each holds, now or as of a time, with a
CSV of exactly what the page shows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Final, get_args
from urllib.parse import unquote

import msgspec
from litestar import Controller, Request, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from adapters.store import ItemRecord
from adapters.store.queries import ItemFilter, OwnerKind
from api.pages import csvs, params, sorting
from api.pages.rendering import render, segment
from api.pages.session import signed_in
from api.services.dashboard import Dashboard
from domain.items import Pool, Source
from projections.queries import Queries

Query = Annotated[str | None, QueryParameter()]
TypeQuery = Annotated[str | None, QueryParameter(name="inventoryType")]

ACTIVITY_POOLS: Final[tuple[Pool, ...]] = ("install", "deinstall", "customer")
CUSTOMER_POOLS: Final[tuple[Pool, ...]] = ("customer", "install", "deinstall")
"""The pools a customer's or an activity's page shows, one above another."""


class Kind(msgspec.Struct, frozen=True, kw_only=True):
    """One kind of owner and how its pages call it."""

    kind: OwnerKind
    path: str
    title: str
    one: str
    default_pool: Pool | None


RESOURCES: Final = Kind(
    kind="resource",
    path="resources",
    title="Technicians and storage locations",
    one="Technician / storage location",
    default_pool="resource",
)
CUSTOMERS: Final = Kind(
    kind="customer", path="customers", title="Customers", one="Customer", default_pool="customer"
)
ACTIVITIES: Final = Kind(
    kind="activity",
    path="activities",
    title="Activities and work orders",
    one="Activity / work order",
    default_pool=None,
)
KINDS: Final = {kind.path: kind for kind in (RESOURCES, CUSTOMERS, ACTIVITIES)}


class Filters(msgspec.Struct, frozen=True, kw_only=True):
    """The API's list filters, as the page's form sends them."""

    pool: Pool | None
    source: Source | None
    inventory_type: str | None
    at: datetime | None
    limit: int

    @classmethod
    def read(
        cls,
        kind: Kind,
        pool: str | None,
        source: str | None,
        inventory_type: str | None,
        at: str | None,
        limit: str | None,
    ) -> Filters:
        return cls(
            pool=params.pool(pool, kind.default_pool),
            source=params.source(source),
            inventory_type=params.text(inventory_type, "inventoryType"),
            at=params.moment(at, "at"),
            limit=params.limit(limit),
        )

    def where(self, kind: Kind, owner: str, pool: Pool | None) -> ItemFilter:
        return ItemFilter(
            owner_kind=kind.kind,
            owner=owner,
            pools=(pool,) if pool else None,
            source=self.source,
            inventory_type=self.inventory_type,
        )


class Listing(msgspec.Struct, frozen=True, kw_only=True):
    """One page of one pool's items, and the cursor of the next."""

    pool: Pool | None
    items: list[ItemRecord]
    next_cursor: str | None
    cursor_field: str


def owner_in_path(request: Request[Any, Any, Any], kind: Kind, matched: str) -> str:
    """The owner id exactly as the address spells it (see `spelled_in_path`)."""
    return spelled_in_path(request, f"/ui/{kind.path}/", matched, "owner")


def spelled_in_path(request: Request[Any, Any, Any], prefix: str, matched: str, field: str) -> str:
    """The id after `prefix` exactly as the address spells it: taken from the
    raw path, so an id holding `/` (`WH/01`, sent as `WH%2F01`) or ending in
    one stays whole."""
    raw = request.scope.get("raw_path")
    start = prefix.encode()
    if isinstance(raw, bytes) and raw.startswith(start):
        # A slash typed at the end is not part of the id; an encoded one is.
        # Some servers leave the query string on the raw path.
        spelled = raw[len(start) :].split(b"?", 1)[0].decode("latin-1").rstrip("/")
        try:
            value = unquote(spelled, errors="strict")
        except UnicodeDecodeError:
            raise params.BadInput(field, "is not valid UTF-8") from None
    else:
        value = matched.removeprefix("/")
    checked = params.text(value, field, longest=1000)
    if checked is None:
        raise params.BadInput(field, "is empty")
    return value


async def _listing(
    queries: Queries,
    filters: Filters,
    where: ItemFilter,
    cursor: str | None,
    field: str,
    order: sorting.Sorting,
) -> Listing:
    page = await queries.list_items(
        where, after=params.cursor(cursor, field), limit=filters.limit, at=filters.at
    )
    return Listing(
        pool=where.pools[0] if where.pools else None,
        items=sorting.items(page.records, order),
        next_cursor=params.encode_cursor(page.last_key) if page.last_key else None,
        cursor_field=field,
    )


def _csv(kind: Kind, owner: str, filters: Filters, listings: list[Listing]) -> Response[str]:
    when = f"-as-of-{filters.at:%Y%m%dT%H%M%S}" if filters.at else ""
    rows = [row for listing in listings for row in csvs.item_rows(listing.items)]
    return csvs.download(f"{kind.kind}-{owner}{when}", csvs.ITEM_COLUMNS, rows)


async def _owners(
    request: Request[Any, Any, Any],
    dashboard: Dashboard,
    kind: Kind,
    q: str | None,
    cursor: str | None,
) -> Template | Redirect:
    wanted = params.text(request.query_params.get("id"), "id", longest=1000)
    if wanted is not None:
        return Redirect(f"/ui/{kind.path}/{segment(wanted)}", status_code=303)
    search = params.text(q, "q")
    page = await dashboard.owners(
        kind.kind, search=search, after=params.cursor(cursor), limit=params.DEFAULT_PAGE
    )
    return render(
        request,
        "owners.html",
        kind=kind,
        search=search,
        owners=page.owners,
        next_cursor=params.encode_cursor(page.next_after) if page.next_after else None,
    )


def _order(request: Request[Any, Any, Any]) -> sorting.Sorting:
    """The order the table's headers ask for: by product unless told."""
    query = request.query_params
    return sorting.read(query.get("sort"), query.get("order"), sorting.ITEM_COLUMNS, "product")


async def _unknown(
    request: Request[Any, Any, Any], queries: Queries, kind: Kind, owner: str
) -> Template | None:
    """The page for an owner no stored event ever named (a 404), or None."""
    if await queries.seen(kind.kind, owner):
        return None
    return render(request, "unknown.html", status_code=404, kind=kind, owner=owner)


async def _holdings(
    request: Request[Any, Any, Any],
    queries: Queries,
    owner: str,
    filters: Filters,
    cursor: str | None,
    download: bool,
) -> Template | Response[str]:
    order = _order(request)
    head = await queries.store.feed_head()  # before the read: no change is missed
    where = filters.where(RESOURCES, owner, filters.pool)
    listing = await _listing(queries, filters, where, cursor, "cursor", order)
    if not listing.items and cursor is None:
        unknown = await _unknown(request, queries, RESOURCES, owner)
        if unknown is not None:
            return unknown
    if download:
        return _csv(RESOURCES, owner, filters, [listing])
    pools = [*get_args(Pool), "all"]
    return render(
        request,
        "owner.html",
        kind=RESOURCES,
        owner=owner,
        filters=filters,
        listing=listing,
        pools=pools,
        sorting=order,
        feed_head=head,
    )


async def _stacked(
    request: Request[Any, Any, Any],
    queries: Queries,
    kind: Kind,
    pools: tuple[Pool, ...],
    owner: str,
    filters: Filters,
    download: bool,
) -> Template | Response[str]:
    """Pools one above another, each paged on its own (the cursor parameter
    is named after the pool)."""
    order = _order(request)
    head = await queries.store.feed_head()  # before the read: no change is missed
    query = request.query_params
    listings = [
        await _listing(
            queries, filters, filters.where(kind, owner, pool), query.get(pool), pool, order
        )
        for pool in pools
    ]
    if not any(listing.items for listing in listings) and not any(map(query.get, pools)):
        unknown = await _unknown(request, queries, kind, owner)
        if unknown is not None:
            return unknown
    if download:
        return _csv(kind, owner, filters, listings)
    return render(
        request,
        "activity.html",
        kind=kind,
        owner=owner,
        filters=filters,
        listings=listings,
        sorting=order,
        feed_head=head,
    )


def _kind(request: Request[Any, Any, Any]) -> Kind:
    """The kind of owner the page's address names (`/ui/customers/...`)."""
    return KINDS[request.scope["path_template"].split("/")[2]]


class OwnersController(Controller):
    path = "/"
    guards = [signed_in]

    @get(["/customers", "/activities"])
    async def owners(
        self,
        request: Request[Any, Any, Any],
        dashboard: NamedDependency[Dashboard],
        q: Query = None,
        cursor: Query = None,
    ) -> Template | Redirect:
        return await _owners(request, dashboard, _kind(request), q, cursor)

    @get("/resources/{owner:path}", name="resource")
    async def holdings(
        self,
        request: Request[Any, Any, Any],
        owner: FromPath[str],
        queries: NamedDependency[Queries],
        pool: Query = None,
        source: Query = None,
        inventory_type: TypeQuery = None,
        at: Query = None,
        limit: Query = None,
        cursor: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        """A technician's items, one pool at a time."""
        filters = Filters.read(RESOURCES, pool, source, inventory_type, at, limit)
        who = owner_in_path(request, RESOURCES, owner)
        return await _holdings(request, queries, who, filters, cursor, format == "csv")

    @get(["/customers/{owner:path}", "/activities/{owner:path}"], name="pools")
    async def pools(
        self,
        request: Request[Any, Any, Any],
        owner: FromPath[str],
        queries: NamedDependency[Queries],
        source: Query = None,
        inventory_type: TypeQuery = None,
        at: Query = None,
        limit: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        """A customer's pool and what was installed and removed there; an
        activity's install, deinstall and customer pools."""
        kind = _kind(request)
        filters = Filters.read(kind, None, source, inventory_type, at, limit)
        who = owner_in_path(request, kind, owner)
        pools = CUSTOMER_POOLS if kind is CUSTOMERS else ACTIVITY_POOLS
        return await _stacked(request, queries, kind, pools, who, filters, format == "csv")
