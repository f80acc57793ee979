"""Stores as earlier builds wrote them, for the upgrade tests: the inbox and
the events written row by row at an old schema revision (through the store's
maintenance transactions, naming only the columns that revision has), with
the keys those builds gave, and no projections (`prepare` builds them from
the history once the store is upgraded, as `serve` does)."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import msgspec

from adapters import servicemobility
from adapters.store import Store, TableWrite
from adapters.store.schema import EVENT_COLUMNS, events, inbox, streams
from domain.events import Fact
from domain.fold import stream_of
from tests.harness.tables import execute
from tests.strategies import encode

AT = datetime(2026, 11, 20, 9, 20, tzinfo=UTC)
OLD_INBOX = (
    "id",
    "source",
    "kind",
    "message_id",
    "content_type",
    "headers",
    "body",
    "sender",
    "received_at",
    "status",
    "reason",
)
"""The inbox's columns before revision 0006."""
OLD_EVENTS = tuple(name for name in EVENT_COLUMNS if name != "routing")
"""The events' columns before revision 0012."""


def by_value(value: Any) -> Any:
    """A row's numbers by value, as earlier builds compared them."""
    if isinstance(value, dict):
        return {key: by_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [by_value(item) for item in value]
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        number = Decimal(value)
        if number.is_finite():
            return {"#": format(number.normalize(), "f")}
    return value


def _hashed(*parts: bytes) -> str:
    return hashlib.sha256(b"\x1f".join(parts)).hexdigest()


def key_before_0004(source: str | None, row: dict[str, Any]) -> str:
    """Revision 0002's builds: webhook source, rowver and the whole row."""
    rowver = row.get("rowver")
    return "sm:" + _hashed(
        (source or "").encode(),
        str(rowver if rowver is not None else "").encode(),
        msgspec.json.encode(by_value(row), order="sorted"),
    )


def key_before_0006(row: dict[str, Any]) -> str:
    """Revisions 0004 and 0005's builds: rowver and the InventoryUsage object."""
    rowver = row.get("rowver")
    return "smrow:" + _hashed(
        str(rowver if rowver is not None else "").encode(),
        msgspec.json.encode(by_value(row.get("InventoryUsage")), order="sorted"),
    )


def vendor_rows(document: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of an envelope or an export page, read as the translator reads them."""
    decoded = servicemobility.decode_json(encode(document))
    rows: list[dict[str, Any]] = (decoded.get("data") or decoded)["rows"]
    return rows


def old_facts(document: dict[str, Any], era: str) -> list[Fact]:
    """The ledger lines of an envelope (or export page), keyed as the builds of
    `era` (`0002` or `0005`) keyed them."""
    rows = vendor_rows(document)
    facts = servicemobility.usage_facts(rows, "$.rows")
    old = [
        key_before_0004(document.get("source"), row) if era == "0002" else key_before_0006(row)
        for row in rows
        for location in row["InventoryUsage"]["StorageLocations"]
        for _ in location["Items"]
    ]
    return [
        Fact(event=fact.event, dedupe_key=f"{prefix}:{fact.dedupe_key.split(':', 2)[2]}")
        for fact, prefix in zip(facts, old, strict=True)
    ]


class OldStore:
    """Writes payloads and their lines as an earlier build did: a line whose
    key is stored is skipped, every payload is kept."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.inbox_id = 0
        self.position = 0
        self.keys: set[str] = set()
        self.versions: dict[str, int] = {}

    async def accept(
        self, document: dict[str, Any], facts: list[Fact], *, kind: str = "InventoryUsage"
    ) -> int:
        message_id = document.get("id") or "sha256:" + hashlib.sha256(encode(document)).hexdigest()
        inbox_id = await self._keep(encode(document), kind, "accepted", message_id, None)
        rows = []
        for fact in facts:
            if fact.dedupe_key in self.keys:
                continue
            self.keys.add(fact.dedupe_key)
            rows.append(self._event(fact, inbox_id, message_id))
        await self._write(
            TableWrite(events, OLD_EVENTS, rows),
            TableWrite(streams, ("stream_id", "version"), list(self.versions.items()), "upsert"),
        )
        return inbox_id

    async def quarantine(self, body: bytes, reason: str, *, kind: str = "InventoryUsage") -> int:
        return await self._keep(body, kind, "quarantined", None, reason)

    async def _keep(
        self, body: bytes, kind: str, status: str, message_id: str | None, reason: str | None
    ) -> int:
        self.inbox_id += 1
        row = (
            self.inbox_id,
            "servicemobility",
            kind,
            message_id,
            "application/json",
            "{}",
            body,
            "old-build",
            AT.replace(minute=self.inbox_id % 60),
            status,
            reason,
        )
        await self._write(TableWrite(inbox, OLD_INBOX, [row]))
        return self.inbox_id

    async def _write(self, *writes: TableWrite) -> None:
        async with self.store.maintaining(locked=True) as maintenance:
            await maintenance.write(writes)

    def _event(self, fact: Fact, inbox_id: int, message_id: str) -> tuple[Any, ...]:
        self.position += 1
        stream = stream_of(fact.event)
        self.versions[stream] = self.versions.get(stream, 0) + 1
        return (
            self.position,
            stream,
            self.versions[stream],
            "sm.StockUsageRecorded",
            1,
            msgspec.json.encode(fact.event).decode(),
            msgspec.json.encode({"messageId": message_id}).decode(),
            fact.event.occurred_at,
            AT,
            fact.dedupe_key,
            inbox_id,
        )


async def _alter_events(store: Store, change: str) -> None:
    await execute(store, f"ALTER TABLE events {change}")


@asynccontextmanager
async def routing_of_this_build(store: Store) -> AsyncIterator[None]:
    """This build writing a store migrated to an earlier revision (before
    0012), as the builds of that revision wrote it: the routing column this
    build writes and reads is there while the block runs, and gone after it,
    with what it held. The store then holds its events as those builds
    stored them, and upgrading it adds the column empty."""
    await _alter_events(store, "ADD COLUMN routing TEXT")
    yield
    await _alter_events(store, "DROP COLUMN routing")
