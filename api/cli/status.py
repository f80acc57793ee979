"""`invtrack status`: counts, positions, projection versions and lag, the inbox."""

from __future__ import annotations

import argparse
import asyncio
from typing import Literal

import msgspec
from rich.console import Console
from rich.table import Table

from api.cli.failures import existing_sqlite_file, not_migrated
from api.services.stores import open_store
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
    finally:
        await store.close()
    if as_json:
        print(msgspec.json.format(msgspec.json.encode(report), indent=2).decode())
    else:
        _print_status(report, Console())
    return 0


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
    counts = ", ".join(f"{name} {count:,}" for name, count in sorted(report.inbox.items()))
    console.print(f"inbox: {counts or 'empty'}")
    if report.quarantined:
        quarantined = Table(title="quarantined payloads (oldest first)", title_justify="left")
        for column in ("id", "source", "kind", "received", "reason"):
            quarantined.add_column(column)
        for entry in report.quarantined:
            quarantined.add_row(
                str(entry.id),
                entry.source,
                entry.kind,
                entry.received_at.isoformat(timespec="seconds"),
                entry.reason or "",
            )
        console.print(quarantined)
