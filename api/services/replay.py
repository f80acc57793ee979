"""Replaying the quarantine: payloads kept because they could not be read,
read again (after a translator was fixed) and appended exactly once."""

from __future__ import annotations

from typing import Literal

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from adapters.store import EventStore
from adapters.store.records import InboxRecord, InboxStatus
from adapters.store.schema import inbox
from api.services.payloads import Translated, Unreadable, read_kept
from projections.live import LiveProjector

Outcome = Literal["accepted", "duplicate", "quarantined", "skipped"]


class Replayed(msgspec.Struct, kw_only=True):
    """What a replay of the quarantine did."""

    tried: int = 0
    accepted: int = 0
    duplicates: int = 0
    quarantined: int = 0
    events: int = 0
    reasons: dict[int, str] = msgspec.field(default_factory=dict)
    """Inbox id -> why a payload is still quarantined."""


async def replay_quarantine(store: EventStore, projector: LiveProjector | None = None) -> Replayed:
    """Read every quarantined payload again, as the receivers do.

    A payload that now reads has its events appended (those whose dedupe key
    is stored already are skipped, so a replay never appends twice) and
    becomes `accepted`, or `duplicate` when a payload with its message id was
    accepted already; one that still fails stays quarantined with the new
    reason. Each payload commits alone.
    """
    projector = projector or LiveProjector()
    result = Replayed()
    after = 0
    while page := await store.inbox_entries("quarantined", after=after, limit=100):
        for record in page:
            outcome, events, reason = await replay_one(store, projector, record)
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


async def replay_one(
    store: EventStore, projector: LiveProjector, record: InboxRecord
) -> tuple[Outcome, int, str | None]:
    """Replay one quarantined payload: what became of it, the events appended,
    and why it is still quarantined."""
    translated = _read(record)
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


def _read(record: InboxRecord) -> Translated | str:
    """The payload's facts as its receiver would find them, or why not."""
    try:
        translated = read_kept(
            record.source, record.kind, record.body, record.content_type, record.sender
        )
    except Unreadable as error:
        return error.reason
    if record.source == "ofs" and record.message_id:
        # A polled page is kept under the id it was received with.
        translated = msgspec.structs.replace(
            translated,
            message_id=record.message_id,
            metadata={**translated.metadata, "messageId": record.message_id},
        )
    return translated


async def replay_kept(
    store: EventStore, inbox_id: int, projector: LiveProjector | None = None
) -> tuple[Outcome, int, str | None] | None:
    """Replay one kept payload by its inbox id, as `replay_one` does; None when
    no payload has that id. One that is not quarantined is `skipped`."""
    record = await store.inbox_entry(inbox_id)
    if record is None:
        return None
    return await replay_one(store, projector or LiveProjector(), record)
