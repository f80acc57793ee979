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
from api.pages import csvs, params
from api.pages.rendering import render, segment
from api.pages.session import signed_in
from api.services.dashboard import Dashboard
from domain.items import Pool, Source
from projections.queries import Queries

Query = Annotated[str | None, QueryParameter()]
TypeQuery = Annotated[str | None, QueryParameter(name="inventoryType")]

ACTIVITY_POOLS: Final[tuple[Pool, ...]] = ("install", "deinstall", "customer")


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
    """The owner id exactly as the address spells it: taken from the raw path,
    so an id holding `/` (`WH/01`, sent as `WH%2F01`) or ending in one stays
    whole."""
    raw = request.scope.get("raw_path")
    prefix = f"/ui/{kind.path}/".encode()
    if isinstance(raw, bytes) and raw.startswith(prefix):
        # A slash typed at the end is not part of the id; an encoded one is.
        # Some servers leave the query string on the raw path.
        spelled = raw[len(prefix) :].split(b"?", 1)[0].decode("latin-1").rstrip("/")
        try:
            owner = unquote(spelled, errors="strict")
        except UnicodeDecodeError:
            raise params.BadInput("owner", "is not valid UTF-8") from None
    else:
        owner = matched.removeprefix("/")
    checked = params.text(owner, "owner", longest=1000)
    if checked is None:
        raise params.BadInput("owner", "is empty")
    return owner


async def _listing(
    queries: Queries, filters: Filters, where: ItemFilter, cursor: str | None, field: str
) -> Listing:
    page = await queries.list_items(
        where, after=params.cursor(cursor, field), limit=filters.limit, at=filters.at
    )
    return Listing(
        pool=where.pools[0] if where.pools else None,
        items=page.records,
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


async def _holdings(
    request: Request[Any, Any, Any],
    queries: Queries,
    kind: Kind,
    owner: str,
    filters: Filters,
    cursor: str | None,
    download: bool,
) -> Template | Response[str]:
    listing = await _listing(
        queries, filters, filters.where(kind, owner, filters.pool), cursor, "cursor"
    )
    if download:
        return _csv(kind, owner, filters, [listing])
    pools = [*get_args(Pool), "all"]
    return render(
        request, "owner.html", kind=kind, owner=owner, filters=filters, listing=listing, pools=pools
    )


def _kind(request: Request[Any, Any, Any]) -> Kind:
    """The kind of owner the page's address names (`/ui/customers/...`)."""
    return KINDS[request.scope["path_template"].split("/")[2]]


class OwnersController(Controller):
    path = "/"
    guards = [signed_in]

    @get(["/resources", "/customers", "/activities"])
    async def owners(
        self,
        request: Request[Any, Any, Any],
        dashboard: NamedDependency[Dashboard],
        q: Query = None,
        cursor: Query = None,
    ) -> Template | Redirect:
        return await _owners(request, dashboard, _kind(request), q, cursor)

    @get(["/resources/{owner:path}", "/customers/{owner:path}"])
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
        """A technician's or a customer's items, one pool at a time."""
        kind = _kind(request)
        filters = Filters.read(kind, pool, source, inventory_type, at, limit)
        who = owner_in_path(request, kind, owner)
        return await _holdings(request, queries, kind, who, filters, cursor, format == "csv")

    @get("/activities/{owner:path}", name="activity")
    async def activity(
        self,
        request: Request[Any, Any, Any],
        owner: FromPath[str],
        queries: NamedDependency[Queries],
        source: Query = None,
        inventory_type: TypeQuery = None,
        at: Query = None,
        limit: Query = None,
        install: Query = None,
        deinstall: Query = None,
        customer: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        """The install, deinstall and customer pools side by side, each paged
        on its own (the cursor parameter is named after the pool)."""
        filters = Filters.read(ACTIVITIES, None, source, inventory_type, at, limit)
        who = owner_in_path(request, ACTIVITIES, owner)
        cursors = {"install": install, "deinstall": deinstall, "customer": customer}
        listings = [
            await _listing(
                queries, filters, filters.where(ACTIVITIES, who, pool), cursors[pool], pool
            )
            for pool in ACTIVITY_POOLS
        ]
        if format == "csv":
            return _csv(ACTIVITIES, who, filters, listings)
        return render(
            request, "activity.html", kind=ACTIVITIES, owner=who, filters=filters, listings=listings
        )
