"""Products: the search box (serial numbers, keys, OFS inventory ids and
product codes: ServiceMobility product numbers, OFS inventory types), and a
product's page saying who holds it: each van, each customer, what each
activity installed and removed, with totals, as of the moment it was read."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template

from adapters.store.summaries import Holding
from api.pages.errors import PageNotFound
from api.pages.owners import spelled_in_path
from api.pages.params import text
from api.pages.rendering import render, segment
from api.pages.session import signed_in
from projections.queries import Queries

_KINDS = {"resource": "resources", "customer": "customers"}
_POOL_ORDER = {"resource": 0, "customer": 1, "install": 2, "deinstall": 3}
"""Vans and storage first, then customers, then what activities moved."""


class Holder(msgspec.Struct, frozen=True, kw_only=True):
    """One row of a product's page: who, in which pool, how much."""

    pool: str
    kind_path: str
    holder: str | None
    customer: str | None
    technician: str | None
    lines: int
    units: str
    last_change: datetime | None


class Total(msgspec.Struct, frozen=True, kw_only=True):
    pool: str
    holders: int
    lines: int
    units: str


def _holder(holding: Holding) -> Holder:
    pool = holding.pool or "none"
    if pool == "resource":
        holder = holding.resource_id
    elif pool == "customer":
        holder = holding.customer_number
    else:
        holder = holding.activity_id
    return Holder(
        pool=pool,
        kind_path=_KINDS.get(pool, "activities"),
        holder=holder,
        customer=holding.customer_number if pool in ("install", "deinstall") else None,
        technician=holding.resource_id if pool != "resource" else None,
        lines=holding.lines,
        units=holding.units,
        last_change=holding.last_change,
    )


def _totals(holders: list[Holder]) -> list[Total]:
    totals: dict[str, tuple[int, int, Decimal]] = {}
    for row in holders:
        count, lines, units = totals.get(row.pool, (0, 0, Decimal(0)))
        totals[row.pool] = (count + 1, lines + row.lines, units + Decimal(row.units))
    return [
        Total(pool=pool, holders=count, lines=lines, units=str(units))
        for pool, (count, lines, units) in totals.items()
    ]


class ProductsController(Controller):
    path = "/"
    guards = [signed_in]

    @get("/find", name="find")
    async def find(
        self,
        request: Request[Any, Any, Any],
        queries: NamedDependency[Queries],
        q: Annotated[str | None, QueryParameter()] = None,
    ) -> Template | Redirect:
        """Items by serial number, key or OFS inventory id, and product codes
        holding the text; straight to the one thing found when only one is."""
        wanted = text(q, "q")
        items = await queries.find(wanted) if wanted else []
        products = await queries.products(wanted) if wanted else []
        exact = [code for code in products if wanted and code.casefold() == wanted.casefold()]
        if exact and not items:
            return Redirect(f"/ui/products/{segment(exact[0])}", status_code=303)
        if len(items) == 1 and not products:
            return Redirect(f"/ui/inventories/{segment(items[0].key)}", status_code=303)
        return render(request, "find.html", wanted=wanted, items=items, products=products)

    @get("/products/{code:path}", name="product")
    async def product(
        self,
        request: Request[Any, Any, Any],
        code: FromPath[str],
        queries: NamedDependency[Queries],
    ) -> Template:
        wanted = spelled_in_path(request, "/ui/products/", code, "product")
        head = await queries.store.feed_head()  # before the read: no change is missed
        read_at = datetime.now(UTC)
        holders = sorted(
            (_holder(holding) for holding in await queries.holders(wanted)),
            key=lambda row: (_POOL_ORDER.get(row.pool, 9), row.holder or ""),
        )
        if not holders and wanted not in await queries.products(wanted, limit=1000):
            raise PageNotFound(f"No item has the product number or inventory type {wanted!r}.")
        return render(
            request,
            "product.html",
            code=wanted,
            holders=holders,
            totals=_totals(holders),
            read_at=read_at,
            feed_head=head,
        )
