"""The stock signal pages: low stock (fleet-wide or of one van, with
shortfall bars), a van's restock pick list (printable), shrinkage per
technician over time, transfers, and readiness of a day's activities; each
list downloadable as CSV (`?format=csv`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Final, get_args

from litestar import Controller, Request, Response, get
from litestar.params import QueryParameter
from litestar.response import Template

from api.pages import csvs, params
from api.pages.rendering import render
from api.pages.session import signed_in
from api.pages.signals_charts import charts, shortfall_bar
from api.routes.signals import low_stock_after, low_stock_cursor
from api.services.signals import Signals
from domain.quantities import decimal_text
from domain.signals.readiness import Readiness
from domain.signals.restock import LowStock
from domain.signals.transfers import STATUSES, Status, Transfer
from domain.signals.variance import CountLine, variance_report

Query = Annotated[str | None, QueryParameter()]
Resource = Annotated[str | None, QueryParameter(name="resourceId")]
LOW_COLUMNS: Final = ("resourceId", "product", "onHand", "min", "target", "shortfall", "since")
RESTOCK_COLUMNS: Final = ("product", "onHand", "target", "load")
TRANSFER_COLUMNS: Final = (
    "code",
    "status",
    "from",
    "to",
    "product",
    "serialNumber",
    "batchNumber",
    "sent",
    "received",
    "firstSeen",
    "lastSeen",
)
READINESS_COLUMNS: Final = (
    "activityId",
    "resourceId",
    "date",
    "status",
    "reason",
    "inventoryType",
    "model",
    "required",
    "available",
    "missing",
)
SHRINKAGE_COLUMNS: Final = ("resourceId", "date", "lost")
DEFAULT_DAYS: Final = 30


def _signals(request: Request[Any, Any, Any]) -> Signals:
    signals: Signals = request.app.state["services"].signals
    return signals


def _utc(moment: datetime | None) -> str:
    return "" if moment is None else moment.isoformat().replace("+00:00", "Z")


def _day(value: str | None, field: str, default: date) -> date:
    found = params.moment(value, field)
    return default if found is None else found.date()


class SignalPages(Controller):
    path = "/"
    guards = [signed_in]

    @get("/low-stock", name="low-stock")
    async def low_stock(
        self,
        request: Request[Any, Any, Any],
        resource_id: Resource = None,
        product: Query = None,
        cursor: Query = None,
        limit: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        resource = params.text(resource_id, "resourceId")
        wanted = params.text(product, "product")
        try:
            after = low_stock_after(params.text(cursor, "cursor"))
        except Exception:
            raise params.BadInput("cursor", "is not one this page gave out") from None
        page = await _signals(request).reads.low_stock(
            resource_id=resource, product=wanted, after=after, limit=params.limit(limit)
        )
        if format == "csv":
            return csvs.download(
                f"low-stock-{resource or 'all'}", LOW_COLUMNS, _low_rows(page.entries)
            )
        lines = [
            (entry, shortfall_bar(entry.on_hand, entry.min, entry.target)) for entry in page.entries
        ]
        return render(
            request,
            "signals_low_stock.html",
            section="low-stock",
            tab="low-stock",
            resource=resource,
            product=wanted,
            lines=lines,
            next_cursor=None if page.last is None else low_stock_cursor(page.last),
        )

    @get("/restock", name="restock")
    async def restock(
        self,
        request: Request[Any, Any, Any],
        resource_id: Resource = None,
        format: Query = None,
    ) -> Template | Response[str]:
        resource = params.text(resource_id, "resourceId")
        lines = [] if resource is None else await _signals(request).reads.restock(resource)
        if format == "csv" and resource is not None:
            rows = [
                [
                    csvs.cell(x.product),
                    decimal_text(x.on_hand),
                    decimal_text(x.target),
                    decimal_text(x.load),
                ]
                for x in lines
            ]
            return csvs.download(f"restock-{resource}", RESTOCK_COLUMNS, rows)
        return render(
            request,
            "signals_restock.html",
            section="low-stock",
            tab="restock",
            resource=resource,
            lines=lines,
            total=decimal_text(sum((x.load for x in lines), Decimal(0))),
            printed=datetime.now(UTC),
        )

    @get("/shrinkage", name="shrinkage")
    async def shrinkage(
        self,
        request: Request[Any, Any, Any],
        resource_id: Resource = None,
        since: Query = None,
        until: Query = None,
        format: Query = None,
    ) -> Template | Response[str]:
        resource = params.text(resource_id, "resourceId")
        today = datetime.now(UTC).date()
        last = _day(until, "until", today)
        first = _day(since, "since", last - timedelta(days=DEFAULT_DAYS - 1))
        if first > last:
            raise params.BadInput("since", "must not be after `until`")
        if (last - first).days > 366:
            raise params.BadInput("since", "the period may be a year at most")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
        found = await _signals(request).reads.count_lines(
            start=start, end=end, resource_id=resource
        )
        lost = daily_shrinkage(found)
        if format == "csv":
            rows = [
                [csvs.cell(owner), day.isoformat(), decimal_text(units)]
                for owner, per_day in sorted(lost.items())
                for day, units in sorted(per_day.items())
            ]
            return csvs.download(f"shrinkage-{resource or 'all'}", SHRINKAGE_COLUMNS, rows)
        return render(
            request,
            "signals_shrinkage.html",
            section="low-stock",
            tab="shrinkage",
            resource=resource,
            first=first,
            last=last,
            charts=charts(lost, first, last),
            counts=len(found),
        )

    @get("/transfers", name="transfers")
    async def transfers(
        self, request: Request[Any, Any, Any], status: Query = None, format: Query = None
    ) -> Template | Response[str]:
        only = _status(status)
        signals = _signals(request)
        found = await signals.reads.transfers(datetime.now(UTC), signals.window, only)
        if format == "csv":
            return csvs.download(
                f"transfers-{only or 'all'}", TRANSFER_COLUMNS, _transfer_rows(found)
            )
        return render(
            request,
            "signals_transfers.html",
            section="low-stock",
            tab="transfers",
            status=only,
            statuses=STATUSES,
            transfers=found,
            window=decimal_text(Decimal(signals.settings.transfer_window) / 3600),
        )

    @get("/readiness", name="readiness")
    async def readiness(
        self,
        request: Request[Any, Any, Any],
        day: Annotated[str | None, QueryParameter(name="date")] = None,
        resource_id: Resource = None,
        format: Query = None,
    ) -> Template | Response[str]:
        when = _day(day, "date", datetime.now(UTC).date() + timedelta(days=1))
        resource = params.text(resource_id, "resourceId")
        found = await _signals(request).reads.not_ready_on(when.isoformat(), resource)
        if format == "csv":
            return csvs.download(
                f"readiness-{when.isoformat()}", READINESS_COLUMNS, _ready_rows(found)
            )
        return render(
            request,
            "signals_readiness.html",
            section="low-stock",
            tab="readiness",
            day=when,
            resource=resource,
            activities=found,
        )


def _status(value: str | None) -> Status | None:
    text = params.text(value, "status")
    if text is None:
        return None
    if text not in get_args(Status):
        raise params.BadInput("status", f"must be one of {', '.join(STATUSES)}")
    return text  # type: ignore[return-value]


def daily_shrinkage(lines: Sequence[CountLine]) -> dict[str, dict[date, Decimal]]:
    """Units lost per technician per day (UTC): each day's shrinkage."""
    by_day: dict[date, list[CountLine]] = {}
    for line in lines:
        by_day.setdefault(line.occurred_at.astimezone(UTC).date(), []).append(line)
    lost: dict[str, dict[date, Decimal]] = {}
    for day, found in by_day.items():
        for entry in variance_report(found).resources:
            lost.setdefault(entry.resource_id, {})[day] = entry.shrinkage
    return lost


def _low_rows(entries: Sequence[LowStock]) -> list[list[str]]:
    return [
        [
            csvs.cell(e.resource_id),
            csvs.cell(e.product),
            decimal_text(e.on_hand),
            decimal_text(e.min),
            decimal_text(e.target),
            decimal_text(e.shortfall),
            _utc(e.since),
        ]
        for e in entries
    ]


def _transfer_rows(found: Sequence[tuple[Transfer, Status]]) -> list[list[str]]:
    return [
        [
            csvs.cell(transfer.code),
            status,
            csvs.cell(" ".join(transfer.from_locations)),
            csvs.cell(" ".join(transfer.to_locations)),
            csvs.cell(item.product),
            csvs.cell(item.serial),
            csvs.cell(item.batch),
            decimal_text(item.sent),
            decimal_text(item.received),
            _utc(transfer.first_seen),
            _utc(transfer.last_seen),
        ]
        for transfer, status in found
        for item in transfer.items
    ]


def _ready_rows(found: Sequence[Readiness]) -> list[list[str]]:
    rows: list[list[str]] = []
    for entry in found:
        head = [
            csvs.cell(entry.activity_id),
            csvs.cell(entry.resource_id),
            csvs.cell(entry.date),
            entry.status,
            csvs.cell(entry.reason),
        ]
        missing = [line for line in entry.lines if line.missing > 0]
        if not missing:
            rows.append([*head, "", "", "", "", ""])
        for line in missing:
            rows.append(
                [
                    *head,
                    csvs.cell(line.inventory_type),
                    csvs.cell(line.model),
                    decimal_text(line.required),
                    decimal_text(line.available),
                    decimal_text(line.missing),
                ]
            )
    return rows
