"""Replaying the quarantine: payloads kept because they could not be read,
read again (after a translator was fixed) and appended exactly once."""

from __future__ import annotations

from typing import Literal

import msgspec

from adapters.store import Delivery, InboxEntry, InboxRecord, Receipt, Store
from api.services.payloads import Translated, Unreadable, read_kept

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


async def replay_quarantine(store: Store) -> Replayed:
    """Read every quarantined payload again, as the receivers do.

    A payload that now reads has its events appended (those whose dedupe key
    is stored already are skipped, so a replay never appends twice) and
    becomes `accepted`, or `duplicate` when a payload with its message id was
    accepted already; one that still fails stays quarantined with the new
    reason. Each payload commits alone.
    """
    result = Replayed()
    after = 0
    while page := await store.inbox_entries("quarantined", after=after, limit=100):
        for record in page:
            outcome, events, reason = await replay_one(store, record)
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


async def replay_one(store: Store, record: InboxRecord) -> tuple[Outcome, int, str | None]:
    """Replay one quarantined payload: what became of it, the events appended,
    and why it is still quarantined. Settled under the append lock, so two
    replays of one payload settle it once."""
    translated = _read(record)
    entry = InboxEntry(
        source=record.source,
        kind=record.kind,
        body=b"",
        received_at=record.received_at,
        message_id=record.message_id,
    )
    if isinstance(translated, str):
        delivery = Delivery(inbox=entry, rejected=translated, replaying=record.id)
    else:
        delivery = Delivery(
            inbox=msgspec.structs.replace(entry, message_id=translated.message_id),
            facts=translated.facts,
            metadata=translated.metadata,
            replaying=record.id,
        )
    (receipt,) = await store.commit([delivery])
    return _outcome(receipt, translated)


def _outcome(receipt: Receipt, translated: Translated | str) -> tuple[Outcome, int, str | None]:
    if not receipt.settled:
        return "skipped", 0, None
    if receipt.quarantined:
        return "quarantined", 0, translated if isinstance(translated, str) else None
    if receipt.duplicate:
        return "duplicate", 0, None
    return "accepted", receipt.appended, None


def _read(record: InboxRecord) -> Translated | str:
    """The payload's facts as its receiver would find them, or why not."""
    try:
        translated = read_kept(
            record.source,
            record.kind,
            record.body,
            record.content_type,
            record.sender,
            record.headers,
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


async def replay_kept(store: Store, inbox_id: int) -> tuple[Outcome, int, str | None] | None:
    """Replay one kept payload by its inbox id, as `replay_one` does; None when
    no payload has that id. One that is not quarantined is `skipped`."""
    record = await store.inbox_entry(inbox_id)
    if record is None:
        return None
    return await replay_one(store, record)
