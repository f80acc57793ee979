"""Receiving deliveries: authenticate, keep the raw payload, translate, commit.

The HTTP routes only hand over the request; this is where a delivery becomes
an answer. A payload that cannot be translated is kept in quarantine, so
nothing an authenticated sender sent is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Final

import msgspec

from adapters import servicemobility
from adapters.auth import Claims
from adapters.ofs.pages import BadEvent
from adapters.store import Delivery, InboxEntry, Receipt
from api.services import written
from api.services.access import Verifier, authenticate, require, require_sender
from api.services.group_commit import LARGE, Ingestor
from api.services.payloads import (
    CLOUDEVENT_ATTRIBUTES,
    Translated,
    Unreadable,
    check_content_type,
    content_id,
    ofs_message_id,
    read_ofs_pushed,
    read_servicemobility,
)

KEPT_HEADERS: Final = (
    "content-type",
    "content-length",
    "user-agent",
    "x-request-id",
    *(f"ce-{name}" for name in CLOUDEVENT_ATTRIBUTES),
)
"""Headers kept with a raw payload: with a binary-mode CloudEvent they hold
its envelope. Never the token headers."""

LONGEST_TEXT: Final = 255
"""Width of the inbox's short text columns (content type, sender)."""


class UnknownKind(Exception):
    """A ServiceMobility webhook type that does not exist."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"unknown webhook type {kind!r}")
        self.kind = kind


class Accepted(msgspec.Struct, frozen=True, kw_only=True):
    """A delivery committed: how many facts it held, how many were new, and
    the events of it that were quarantined on their own (OFS)."""

    message_id: str
    duplicate: bool
    facts: int
    appended: int
    set_aside: tuple[BadEvent, ...] = ()


Body = Callable[[], Awaitable[bytes]]
"""Reads a request's body (once the sender is known)."""


class Receiver:
    """Takes deliveries in: the sender's token first, then the body, then its
    facts, then the commit.

    Large payloads (an OFS page of a thousand events) are taken in a few at a
    time and read off the event loop: memory stays bounded however many
    arrive together, and small deliveries and `/health` keep answering while
    they are read."""

    def __init__(self, ingestor: Ingestor, verifier: Verifier, *, large_at_once: int = 4) -> None:
        self.ingestor = ingestor
        self.verifier = verifier
        self._large = asyncio.Semaphore(large_at_once)

    async def servicemobility(self, kind: str, body: Body, headers: Mapping[str, str]) -> Accepted:
        """A webhook: any verified token without a scope, or one holding write."""
        claims = await authenticate(
            self.verifier, headers.get("x-access-token"), title="Invalid Logon"
        )
        require_sender(claims)
        if kind not in servicemobility.TYPES:
            raise UnknownKind(kind)
        async with self._admitted(headers):
            raw = await body()
            entry = _entry("servicemobility", kind, raw, headers, claims)
            translated = await self._read(
                entry, lambda: read_servicemobility(kind, raw, entry.sender, headers)
            )
            return await self._commit(entry, translated)

    async def ofs(self, body: Body, headers: Mapping[str, str]) -> Accepted:
        """OFS events pushed by a relay: its token needs the write scope. An
        event that cannot be taken is quarantined on its own (its bytes, the
        reason) and the others are committed; a body none of whose events can
        be taken is quarantined whole."""
        token = _bearer(headers.get("authorization")) or headers.get("x-access-token")
        claims = await authenticate(self.verifier, token)
        require(claims, "write", "pushing OFS events")
        async with self._admitted(headers):
            raw = await body()
            entry = msgspec.structs.replace(
                _entry("ofs", "events", raw, headers, claims), message_id=ofs_message_id(raw)
            )
            bad: list[BadEvent] = []

            def read() -> Translated:
                translated, bad[:] = read_ofs_pushed(raw, entry.sender)
                return translated

            translated = await self._read(entry, read)
            for event in bad:
                await self.ingestor.submit(_set_aside(entry, event))
            accepted = await self._commit(entry, translated)
            return msgspec.structs.replace(accepted, set_aside=tuple(bad))

    @contextlib.asynccontextmanager
    async def _admitted(self, headers: Mapping[str, str]) -> AsyncIterator[None]:
        """A large body (or one of unknown length) waits for its turn."""
        length = headers.get("content-length", "")
        if length.isdigit() and int(length) <= LARGE:
            yield
            return
        async with self._large:
            yield

    async def _read(self, entry: InboxEntry, read: Callable[[], Translated]) -> Translated:
        """The payload's facts; a payload that cannot be read is kept in
        quarantine with the reason before the error goes up."""
        try:
            check_content_type(entry.content_type)
            if len(entry.body) > LARGE:
                return await asyncio.to_thread(read)
            return read()
        except Unreadable as error:
            await self.ingestor.submit(Delivery(inbox=entry, rejected=error.reason))
            raise

    async def _commit(self, entry: InboxEntry, translated: Translated) -> Accepted:
        delivery = Delivery(
            inbox=msgspec.structs.replace(entry, message_id=translated.message_id),
            facts=translated.facts,
            metadata=translated.metadata,
        )
        receipt: Receipt = await self.ingestor.submit(delivery)
        written.note(receipt.position)
        return Accepted(
            message_id=translated.message_id,
            duplicate=receipt.duplicate,
            facts=len(translated.facts),
            appended=receipt.appended,
        )


def _set_aside(entry: InboxEntry, event: BadEvent) -> Delivery:
    """One bad event of a pushed body, quarantined on its own with the reason."""
    kept = msgspec.structs.replace(
        entry,
        body=event.raw,
        message_id=content_id(event.raw),
        headers={"content-type": entry.headers.get("content-type", "application/json")},
    )
    return Delivery(inbox=kept, rejected=f"{event.reason} (an event of {entry.message_id})")


def _entry(
    source: str, kind: str, body: bytes, headers: Mapping[str, str], claims: Claims
) -> InboxEntry:
    return InboxEntry(
        source=source,
        kind=kind,
        body=body,
        received_at=datetime.now(UTC),
        content_type=_column_text(headers.get("content-type")),
        headers={name: headers[name] for name in KEPT_HEADERS if name in headers},
        sender=_column_text(claims.subject),
    )


def _column_text(value: str | None) -> str | None:
    """A header or claim as a short text column holds it: at most LONGEST_TEXT
    characters of valid Unicode without NUL. The headers are kept in full."""
    if value is None:
        return None
    cleaned = value.encode("utf-8", "replace").decode("utf-8").replace("\x00", "\ufffd")
    return cleaned[:LONGEST_TEXT]


def _bearer(value: str | None) -> str | None:
    if value and value[:7].lower() == "bearer ":
        return value[7:].strip()
    return None
