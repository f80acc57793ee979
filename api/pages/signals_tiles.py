"""The stock signals' tiles on the overview (`api.pages.tiles`): vans below
min, activities not ready for tomorrow, transfers open or mismatched, and
the units lost in counts over the last week. Each is left out while its
signal has nothing to go on (no par level set, no activity known for
tomorrow, no transfer, no count in the week)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Final

from adapters.store.signal_queries import ActivitiesOnQuery, ParSummaryQuery, TransfersQuery
from api.pages.signals_pages import daily_shrinkage
from api.pages.tiles import Context, Tile, needs_action, plural
from domain.quantities import decimal_text
from projections.signal_reads import SignalReads

SHRINKAGE_DAYS: Final = 7


def units(value: Decimal) -> int | Decimal:
    """A quantity for a tile's count: whole units as an int."""
    value = value.normalize()
    return int(value) if value == value.to_integral_value() else value


@needs_action(20)
async def vans_below_min(context: Context) -> Tile | None:
    summaries = await context.store.fetch(ParSummaryQuery())
    if not summaries:
        return None
    below = [each for each in summaries if each.below]
    shortfall = Decimal(str(round(sum(each.shortfall for each in below), 6)))
    return Tile(
        name="below-min",
        title="Vans below min",
        count=len(below),
        href="/ui/low-stock",
        note=f"{decimal_text(shortfall)} {plural(shortfall, 'unit', 'units')} short in all",
        warn=True,
    )


@needs_action(30)
async def not_ready_tomorrow(context: Context) -> Tile | None:
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).date().isoformat()
    if not await context.store.fetch(ActivitiesOnQuery(date=tomorrow, limit=1)):
        return None
    found = await SignalReads(context.store).not_ready_on(tomorrow)
    unknown = sum(1 for entry in found if entry.status == "unknown")
    return Tile(
        name="readiness",
        title="Not ready for tomorrow",
        count=len(found),
        href=f"/ui/readiness?date={tomorrow}",
        note=f"activities on {tomorrow}, {unknown} of them unknown",
        warn=True,
    )


@needs_action(40)
async def transfers_open_or_mismatched(context: Context) -> Tile | None:
    if not await context.store.fetch(TransfersQuery(limit=1)):
        return None
    reads = SignalReads(context.store)
    now = datetime.now(UTC)
    window = timedelta(seconds=context.signal_settings.transfer_window)
    opened = await reads.transfers(now, window, "open")
    mismatched = await reads.transfers(now, window, "mismatched")
    return Tile(
        name="transfers",
        title="Transfers open or mismatched",
        count=len(opened) + len(mismatched),
        href="/ui/transfers",
        note=f"{len(opened)} open, {len(mismatched)} mismatched",
        warn=True,
    )


@needs_action(50)
async def shrinkage_last_week(context: Context) -> Tile | None:
    last = datetime.now(UTC).date()
    first = last - timedelta(days=SHRINKAGE_DAYS - 1)
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    lines = await SignalReads(context.store).count_lines(
        start=start, end=start + timedelta(days=SHRINKAGE_DAYS)
    )
    if not lines:
        return None
    lost = daily_shrinkage(lines)
    total = sum((each for per_day in lost.values() for each in per_day.values()), Decimal(0))
    losing = sum(1 for per_day in lost.values() if any(per_day.values()))
    return Tile(
        name="shrinkage",
        title="Shrinkage last week",
        count=units(total),
        href=f"/ui/shrinkage?since={first.isoformat()}&until={last.isoformat()}",
        note=f"units lost in {len(lines)} counted {plural(len(lines), 'line', 'lines')}, "
        f"by {losing} {plural(losing, 'technician', 'technicians')}",
        warn=True,
    )
