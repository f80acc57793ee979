"""Stock signal routes: par levels (set by hand with admin), low stock, a
van's restock pick list (JSON or CSV), count variance, transfers and parts
readiness. The work is `api.services.signals` and `projections.signal_reads`."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, date, datetime
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, get, put
from litestar.di import NamedDependency, Provide
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import FromPath, QueryParameter

from adapters.auth import Claims
from api.http.openapi import READER, READER_PROBLEMS, ParLevelsOperation, problems
from api.http.problems import FieldError, Problem
from api.http.security import provide_admin, provide_reader
from api.http.signal_schemas import (
    LowStockList,
    ParLevelList,
    ReadinessList,
    ReadinessOut,
    RestockList,
    TransferList,
    VarianceOut,
    low_stock_out,
    readiness_out,
    restock_out,
    transfer_out,
    variance_out,
)
from api.pages import csvs
from api.services.signals import Signals, check_resource

Limit = Annotated[int, QueryParameter(ge=1, le=1000, description="page size, at most 1000")]
Cursor = Annotated[str | None, QueryParameter(description="`nextCursor` of the previous page")]
Resource = Annotated[str | None, QueryParameter(name="resourceId", description="one resource")]
Product = Annotated[str | None, QueryParameter(description="one product")]
From = Annotated[
    str | None,
    QueryParameter(name="from", description="ISO 8601, included (UTC when no offset)"),
]
To = Annotated[
    str | None,
    QueryParameter(name="to", description="ISO 8601, left out (UTC when no offset)"),
]
Day = Annotated[str, QueryParameter(name="date", description="YYYY-MM-DD")]
TransferStatus = Literal["open", "pending", "paired", "mismatched"]
RESTOCK_CSV = ("product", "onHand", "target", "load")
_ADMIN = (400, 401, 403, 500, 503)


def provide_signals(request: Request[Any, Any, Any]) -> Signals:
    signals: Signals = request.app.state["services"].signals
    return signals


class SignalController(Controller):
    tags = ["signals"]
    security = READER
    dependencies = {
        "reader": Provide(provide_reader),
        "signals": Provide(provide_signals, sync_to_thread=False),
    }

    @get(
        "/low-stock",
        operation_id="listLowStock",
        summary="Every (resource, product) below its par level's min, largest shortfall first",
        responses={200: ResponseSpec(LowStockList), **problems(*READER_PROBLEMS)},
    )
    async def low_stock(
        self,
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
        resource_id: Resource = None,
        product: Product = None,
        limit: Limit = 100,
        cursor: Cursor = None,
    ) -> LowStockList:
        page = await signals.reads.low_stock(
            resource_id=resource_id, product=product, after=low_stock_after(cursor), limit=limit
        )
        return LowStockList(
            items=[low_stock_out(entry) for entry in page.entries],
            next_cursor=None if page.last is None else low_stock_cursor(page.last),
        )

    @get(
        "/resources/{resource_id:str}/restock",
        operation_id="getRestock",
        summary="The pick list that brings a van to its targets (Accept: text/csv for CSV)",
        responses={200: ResponseSpec(RestockList), **problems(*READER_PROBLEMS)},
    )
    async def restock(
        self,
        request: Request[Any, Any, Any],
        resource_id: FromPath[str],
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
    ) -> Any:
        check_resource(resource_id)
        lines = [restock_out(line) for line in await signals.reads.restock(resource_id)]
        if "text/csv" in request.headers.get("accept", ""):
            rows = [[csvs.cell(value) for value in msgspec.structs.astuple(x)] for x in lines]
            return csvs.download(f"restock-{resource_id}", RESTOCK_CSV, rows)
        return RestockList(resource_id=resource_id, items=lines)

    @get(
        "/resources/{resource_id:str}/par-levels",
        operation_id="getParLevels",
        summary="A resource's par levels, where each came from and what is on hand",
        responses={200: ResponseSpec(ParLevelList), **problems(*READER_PROBLEMS)},
    )
    async def par_levels(
        self,
        resource_id: FromPath[str],
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
    ) -> ParLevelList:
        check_resource(resource_id)
        return await signals.par_levels(resource_id)

    @get(
        "/counts/variance",
        operation_id="getCountVariance",
        summary="Counts against expected per (resource, product), and shrinkage per resource",
        responses={200: ResponseSpec(VarianceOut), **problems(*READER_PROBLEMS)},
    )
    async def variance(
        self,
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
        start: From = None,
        end: To = None,
        resource_id: Resource = None,
    ) -> VarianceOut:
        first, last = _moment(start, "from"), _moment(end, "to")
        if first is not None and last is not None and last < first:
            raise _bad("to", "must not be before `from`")
        report = await signals.reads.variance(start=first, end=last, resource_id=resource_id)
        return variance_out(report, first, last)

    @get(
        "/transfers",
        operation_id="listTransfers",
        summary="ServiceMobility transfers paired from their halves; open and mismatched first",
        responses={200: ResponseSpec(TransferList), **problems(*READER_PROBLEMS)},
    )
    async def transfers(
        self,
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
        status: Annotated[TransferStatus | None, QueryParameter(description="one status")] = None,
    ) -> TransferList:
        found = await signals.reads.transfers(datetime.now(UTC), signals.window, status)
        return TransferList(items=[transfer_out(t, s) for t, s in found])

    @get(
        "/activities/{activity_id:str}/readiness",
        operation_id="getActivityReadiness",
        summary="An OFS activity's required inventories against what its resource holds",
        responses={200: ResponseSpec(ReadinessOut), **problems(*READER_PROBLEMS, 404)},
    )
    async def readiness(
        self,
        activity_id: FromPath[str],
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
    ) -> ReadinessOut:
        found = await signals.reads.readiness(activity_id)
        if found is None:
            raise Problem(404, "Not Found", f"no activity {activity_id[:100]!r} is known")
        return readiness_out(found)

    @get(
        "/readiness",
        operation_id="listNotReady",
        summary="The activities scheduled on a date that are not ready, with what is missing",
        responses={200: ResponseSpec(ReadinessList), **problems(*READER_PROBLEMS)},
    )
    async def not_ready(
        self,
        signals: NamedDependency[Signals],
        reader: NamedDependency[Claims],
        day: Day,
        resource_id: Resource = None,
    ) -> ReadinessList:
        try:
            text = date.fromisoformat(day.strip()).isoformat()
        except ValueError:
            raise _bad("date", f"{day[:40]!r} is not a date like 2026-11-22") from None
        found = await signals.reads.not_ready_on(text, resource_id)
        return ReadinessList(date=text, items=[readiness_out(each) for each in found])

    @put(
        "/resources/{resource_id:str}/par-levels",
        operation_id="setParLevels",
        operation_class=ParLevelsOperation,
        summary="Set par levels by hand (admin): each product named is replaced, as an event",
        responses={200: ResponseSpec(ParLevelList), **problems(*_ADMIN)},
        dependencies={"admin": Provide(provide_admin)},
    )
    async def set_par_levels(
        self,
        request: Request[Any, Any, Any],
        resource_id: FromPath[str],
        signals: NamedDependency[Signals],
        admin: NamedDependency[Claims],
    ) -> ParLevelList:
        body = await request.body()
        return await signals.set_par_levels(resource_id, body, admin.subject)


def low_stock_cursor(last: tuple[float, str, str]) -> str:
    text = msgspec.json.encode(list(last))
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def low_stock_after(cursor: str | None) -> tuple[float, str, str] | None:
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        rank, resource, product = msgspec.json.decode(raw, type=tuple[float, str, str])
    except (binascii.Error, ValueError, msgspec.DecodeError, msgspec.ValidationError):
        raise _bad("cursor", "the cursor is not one this API gave out") from None
    return rank, resource, product


def _moment(text: str | None, field: str) -> datetime | None:
    """An ISO 8601 time (UTC when no offset); a 400 naming `field` otherwise."""
    if text is None or not text.strip():
        return None
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise _bad(field, f"{text[:40]!r} is not a time like 2026-11-21T00:00:00Z") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _bad(field: str, message: str) -> Problem:
    return Problem(400, "Bad Request", message, errors=[FieldError(field=field, message=message)])
