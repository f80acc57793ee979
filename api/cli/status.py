"""`invtrack status`: counts, positions, projection versions and lag, the
inbox, the pullers' health and the OFS subscription gaps."""

from __future__ import annotations

import argparse
import asyncio
from typing import Literal

import msgspec
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from api.cli.failures import existing_sqlite_file, not_migrated
from api.services.stores import open_store
from api.services.vendor_health import VendorHealth, vendor_health
from api.settings import Settings
from projections.status import Status, status


def status_command(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_status(settings, as_json=args.json))


async def run_status(settings: Settings, as_json: bool = False) -> int:
    """Print counts, positions, projection versions and lag, and the inbox."""
    existing_sqlite_file(settings.database_url)
    store = open_store(settings, pool_size=2)
    try:
        if await store.revision() is None:
            raise not_migrated(settings.database_url)
        report = await status(store)
        vendors = await vendor_health(store)
    finally:
        await store.close()
    if as_json:
        document = msgspec.to_builtins(report) | {"vendors": msgspec.to_builtins(vendors)}
        print(msgspec.json.format(msgspec.json.encode(document), indent=2).decode())
    else:
        console = Console()
        _print_status(report, console)
        _print_vendors(vendors, console)
    return 0


def _print_vendors(vendors: VendorHealth, console: Console) -> None:
    """The pullers that fail, and the OFS subscription gaps."""
    for puller in vendors.pullers:
        if puller.failing_since is None:
            console.print(f"{puller.source} puller {puller.name}: reading", markup=False)
        else:
            console.print(
                f"{puller.source} puller {puller.name}: failing since "
                f"{puller.failing_since.isoformat(timespec='seconds')}: {puller.last_error}",
                markup=False,
            )
    if not vendors.subscription_gaps:
        return
    gaps = Table(
        title=f"OFS subscription gaps: {vendors.subscription_gaps:,} (newest first; "
        "events in between may be missing, a reconciliation ran after each)",
        title_justify="left",
    )
    for column in ("from", "to", "poller", "subscription"):
        gaps.add_column(column)
    for gap in vendors.recent_gaps:
        gaps.add_row(
            gap.since.isoformat(timespec="seconds") if gap.since else "the start",
            gap.until.isoformat(timespec="seconds"),
            escape(gap.poller),
            escape(f"{gap.expired_subscription} -> {gap.subscription}"),
        )
    console.print(gaps)


def _print_status(report: Status, console: Console) -> None:
    console.print(f"events: {report.events:,}   head position: {report.head:,}")
    projections = Table(title="projections", title_justify="left")
    for column in ("name", "version", "build", "state", "position", "lag", "note"):
        justify: Literal["left", "right"] = "right" if column in ("position", "lag") else "left"
        projections.add_column(column, justify=justify)
    for projection in report.projections:
        for slot in projection.slots:
            if slot.state == "retired":
                continue
            note = ""
            if slot.state == "active" and projection.stale:
                note = f"stale: this build wants version {projection.wanted}"
            projections.add_row(
                projection.name,
                str(slot.version),
                str(slot.generation),
                slot.state,
                f"{slot.position:,}",
                "" if slot.lag is None else f"{slot.lag:,}",
                note,
            )
        if projection.active is None:
            projections.add_row(projection.name, "", "", "none active", "", "", "stale")
    console.print(projections)
    console.print(f"inbox: {_inbox(report)}")
    if report.quarantined:
        console.print(_quarantined(report))
    console.print(f"row conflicts: {report.conflict_count:,}")
    if report.conflicts:
        console.print(_conflicts(report))


def _inbox(report: Status) -> str:
    counts = [
        f"{name} {count:,}"
        + (
            f" (received {report.quarantine_received:,} times)"
            if name == "quarantined" and report.quarantine_received != count
            else ""
        )
        for name, count in sorted(report.inbox.items())
    ]
    return ", ".join(counts) or "empty"


def _quarantined(report: Status) -> Table:
    table = Table(title="quarantined payloads (oldest first)", title_justify="left")
    for column in ("id", "source", "kind", "received", "times", "last", "reason"):
        table.add_column(column, justify="right" if column == "times" else "left")
    for entry in report.quarantined:
        last = entry.last_received_at
        table.add_row(
            str(entry.id),
            entry.source,
            entry.kind,
            entry.received_at.isoformat(timespec="seconds"),
            f"{entry.received_count:,}",
            last.isoformat(timespec="seconds") if last else "",
            entry.reason or "",
        )
    return table


def _conflicts(report: Status) -> Table:
    table = Table(
        title="row conflicts, newest first: the row of the counted payload counts, "
        "the refused one does not",
        title_justify="left",
    )
    for column in ("id", "rowver", "counted payload", "refused payload", "detected", "note"):
        table.add_column(column)
    for conflict in report.conflicts:
        table.add_row(
            str(conflict.id),
            conflict.rowver,
            str(conflict.counted_payload or ""),
            str(conflict.refused_payload or ""),
            conflict.detected_at.isoformat(timespec="seconds"),
            "both counted before the upgrade" if conflict.both_counted else "",
        )
    return table
