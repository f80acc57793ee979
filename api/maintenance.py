"""Operator commands: `invtrack rebuild`, `invtrack replay-quarantine`, `invtrack status`.

Each `run_*` opens the database named by the settings, does its work while the
service may keep running, prints what it did and returns the exit code.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters import servicemobility
from adapters.store import EventStore, connect
from adapters.store.records import InboxRecord, InboxStatus
from adapters.store.schema import inbox
from api.settings import Settings
from domain.events import Fact
from projections.live import LiveProjector
from projections.rebuild import Progress as ProgressCallback
from projections.rebuild import RebuildBusy, Rebuilt, rebuild
from projections.status import Status, status

# --------------------------------------------------------------------------
# rebuild


async def run_rebuild(settings: Settings, names: Sequence[str]) -> int:
    """Rebuild the named projections (all when none is named) and switch to them."""
    database = connect(settings.database_url, pool_size=4)
    started = time.monotonic()
    try:
        await database.migrate()
        store = EventStore(database)
        with _progress_bar() as progress, collecting_less():
            done = await rebuild(store, list(names), progress)
    except KeyError as error:
        print(f"invtrack: {error.args[0]}", file=sys.stderr)
        return 2
    except RebuildBusy as error:
        print(f"invtrack: {error}; try again when it has finished", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        print("invtrack: rebuild interrupted; run it again to resume", file=sys.stderr)
        raise
    finally:
        await database.dispose()
    print(_rebuilt(done, time.monotonic() - started))
    return 0


def _rebuilt(done: Sequence[Rebuilt], seconds: float) -> str:
    lines = [
        f"{item.name}: {item.previous or 'nothing'} -> {item.slot} at position {item.position}"
        for item in done
    ]
    events = max((item.events for item in done), default=0)
    rate = f" ({events / seconds:,.0f} events/s)" if seconds > 0 and events else ""
    lines.append(f"rebuilt {len(done)} projection(s): {events:,} events in {seconds:.1f} s{rate}")
    return "\n".join(lines)


@contextmanager
def collecting_less() -> Iterator[None]:
    """Fewer garbage collections while the block runs, for a process that does
    nothing else: a rebuild makes millions of short-lived objects, and every
    full collection would walk all the long-lived ones again."""
    threshold = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(50_000, *threshold[1:])
    try:
        yield
    finally:
        gc.set_threshold(*threshold)
        gc.unfreeze()


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback | None]:
    """A progress bar on the terminal; nothing when stderr is not a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("rebuilding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        _RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("rebuild", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


# --------------------------------------------------------------------------
# replay-quarantine

Outcome = Literal["accepted", "duplicate", "quarantined", "skipped"]

OFS_KINDS = ("events", "events-api")
"""Inbox kinds of OFS payloads: pushed to /ofs/events, and polled pages."""


class Replayed(msgspec.Struct, kw_only=True):
    """What a replay of the quarantine did."""

    tried: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    events: int = 0
    reasons: dict[int, str] = msgspec.field(default_factory=dict)
    """Inbox id -> why a payload is still quarantined."""


class _Translated(msgspec.Struct, frozen=True, kw_only=True):
    facts: tuple[Fact, ...]
    message_id: str | None
    metadata: dict[str, Any]


async def replay_quarantine(store: EventStore, projector: LiveProjector | None = None) -> Replayed:
    """Translate every quarantined payload again, as the receivers do.

    A payload that now translates has its events appended (those whose dedupe
    key is stored already are skipped, so a replay never appends twice) and
    becomes `accepted`, or `duplicate` when a payload with its message id was
    accepted already; one that still fails stays quarantined with the new
    reason. Each payload commits alone.
    """
    projector = projector or LiveProjector()
    result = Replayed()
    after = 0
    while page := await store.inbox_entries("quarantined", after=after, limit=100):
        for record in page:
            outcome, events, reason = await _replay(store, projector, record)
            after = record.id
            if outcome == "skipped":
                continue
            result.tried += 1
            result.events += events
            if outcome == "accepted":
                result.accepted += 1
            elif outcome == "duplicate":
                result.duplicates += 1
            else:
                result.quarantined += 1
                result.reasons[record.id] = reason or ""
    return result


async def _replay(
    store: EventStore, projector: LiveProjector, record: InboxRecord
) -> tuple[Outcome, int, str | None]:
    translated = _translate(record)
    async with store.writing() as writer:
        conn = writer.conn
        # Under the append lock: another replay may have settled it meanwhile.
        current = await conn.scalar(select(inbox.c.status).where(inbox.c.id == record.id))
        if current != "quarantined":
            return "skipped", 0, None
        if isinstance(translated, str):
            await writer.settle(record.id, "quarantined", translated)
            return "quarantined", 0, translated
        message_id = translated.message_id
        if message_id is not None:
            accepted = await conn.scalar(
                select(inbox.c.id).where(
                    inbox.c.source == record.source,
                    inbox.c.message_id == message_id,
                    inbox.c.status == "accepted",
                )
            )
            if accepted is not None:
                await _settle(conn, record.id, "duplicate", message_id, f"accepted as {accepted}")
                return "duplicate", 0, None
        stored = await projector.record(
            writer, translated.facts, inbox_id=record.id, metadata=translated.metadata
        )
        await _settle(conn, record.id, "accepted", message_id, None)
        return "accepted", len(stored), None


async def _settle(
    conn: AsyncConnection,
    inbox_id: int,
    status: InboxStatus,
    message_id: str | None,
    reason: str | None,
) -> None:
    """Give a kept payload its status, with the message id its translation found."""
    await conn.execute(
        update(inbox)
        .where(inbox.c.id == inbox_id)
        .values(status=status, message_id=message_id, reason=reason)
    )


def _translate(record: InboxRecord) -> _Translated | str:
    """The payload's facts as its receiver would find them, or why not."""
    problem = _content_type_problem(record.content_type)
    if problem is not None:
        return problem
    if record.source == "servicemobility":
        return _servicemobility(record)
    if record.source == "ofs" and record.kind in OFS_KINDS:
        return _ofs(record)
    return f"no translator for {record.source} {record.kind} payloads"


def _content_type_problem(content_type: str | None) -> str | None:
    from api.receivers import JSON_TYPES

    kind = (content_type or "").split(";")[0].strip().lower()
    if kind and kind not in JSON_TYPES and not kind.endswith("+json"):
        return f"content type {kind}"
    return None


def _servicemobility(record: InboxRecord) -> _Translated | str:
    if record.kind not in servicemobility.TYPES:
        return f"unknown webhook type {record.kind!r}"
    try:
        envelope = servicemobility.read_envelope(record.body, record.kind)
        facts = servicemobility.translate(envelope)
    except servicemobility.TranslationError as error:
        return f"{error.field}: {error.message}"
    metadata = {
        "source": "servicemobility",
        "messageId": envelope.id,
        "sender": record.sender,
        "webhook": envelope.source,
    }
    return _Translated(facts=tuple(facts), message_id=envelope.id, metadata=metadata)


def _ofs(record: InboxRecord) -> _Translated | str:
    # Imported here: the OFS reader is only needed when there is OFS quarantine.
    from adapters.ofs import TranslationError, translate

    try:
        facts = translate(record.body)
    except TranslationError as error:
        return f"{error.field}: {error.message}"
    message_id = record.message_id or "sha256:" + hashlib.sha256(record.body).hexdigest()
    metadata = {"source": "ofs", "messageId": message_id, "sender": record.sender}
    return _Translated(facts=tuple(facts), message_id=message_id, metadata=metadata)


async def run_replay_quarantine(settings: Settings) -> int:
    """Replay the quarantine and print what happened to it."""
    database = connect(settings.database_url, pool_size=2)
    try:
        await database.migrate()
        result = await replay_quarantine(EventStore(database))
    finally:
        await database.dispose()
    print(
        f"replayed {result.tried} quarantined payload(s): {result.accepted} accepted "
        f"({result.events} event(s) appended), {result.duplicates} duplicate(s), "
        f"{result.quarantined} still quarantined"
    )
    for inbox_id, reason in result.reasons.items():
        print(f"  payload {inbox_id}: {reason}")
    return 0


# --------------------------------------------------------------------------
# status


async def run_status(settings: Settings, as_json: bool = False) -> int:
    """Print counts, positions, projection versions and lag, and the inbox."""
    database = connect(settings.database_url, pool_size=2)
    try:
        report = await status(EventStore(database))
    finally:
        await database.dispose()
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
