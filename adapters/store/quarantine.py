"""Quarantined payloads in a batch: one copy per content.

A payload that cannot be read is kept with the reason. Received again with
the same body (by its SHA-256), from the same source as the same kind, with
the same content type and CloudEvents headers (what a replay reads beside the
body), it is not kept again: the kept copy's count goes up and its last
received time moves. A replay of the kept copy then stands for every time it
came.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Final

from adapters.store.records import InboxEntry
from adapters.store.rows import Lookup, Row, TableWrite
from adapters.store.schema import inbox

LOOKUP_COLUMNS: Final = (
    "id",
    "source",
    "kind",
    "sha256",
    "status",
    "content_type",
    "headers",
    "received_count",
)
COUNTED: Final = ("id", "received_count", "last_received_at")

Content = tuple[str, str, str, str, tuple[tuple[str, str], ...]]
"""What makes two quarantined payloads one: source, kind, SHA-256 of the
body, content type and CloudEvents headers."""


def body_sha256(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def content(
    source: str, kind: str, sha256: str, content_type: str | None, headers: Mapping[str, str]
) -> Content:
    cloudevent = tuple(sorted((k, v) for k, v in headers.items() if k.startswith("ce-")))
    return (source, kind, sha256, content_type or "", cloudevent)


def content_of(entry: InboxEntry, sha256: str) -> Content:
    return content(entry.source, entry.kind, sha256, entry.content_type, entry.headers)


def lookup(digests: Sequence[str]) -> Lookup:
    """The payloads kept with these body digests."""
    return Lookup(inbox, "sha256", LOOKUP_COLUMNS, digests)


class Quarantine:
    """The quarantined payloads a batch may repeat, and the counts it raises."""

    def __init__(self, found: Sequence[Row]) -> None:
        self.kept: dict[Content, tuple[int, int]] = {}
        """Content -> (inbox id, times received)."""
        for inbox_id, source, kind, sha256, status, content_type, headers, count in found:
            if status == "quarantined":
                key = content(source, kind, sha256, content_type, json.loads(headers))
                self.kept[key] = (int(inbox_id), int(count))
        self.stored = {inbox_id for inbox_id, _ in self.kept.values()}
        self.counts: dict[int, tuple[int, datetime]] = {}
        """Inbox id -> (times received, last received) of the copies it repeats."""

    def repeat(self, key: Content, received_at: datetime) -> int | None:
        """The inbox id of the copy this payload repeats, its count raised;
        None when it is new."""
        kept = self.kept.get(key)
        if kept is None:
            return None
        inbox_id, count = kept
        self.kept[key] = (inbox_id, count + 1)
        self.counts[inbox_id] = (count + 1, received_at)
        return inbox_id

    def keep(self, key: Content, inbox_id: int) -> None:
        """A new copy, kept in this batch."""
        self.kept[key] = (inbox_id, 1)

    def forget(self, inbox_id: int) -> None:
        """The copy left quarantine (a replay settled it): its content, when
        it comes again, is kept anew."""
        self.kept = {key: kept for key, kept in self.kept.items() if kept[0] != inbox_id}

    def new_counts(self) -> dict[int, tuple[int, datetime]]:
        """Counts of copies kept in this batch and repeated in it."""
        return {i: counted for i, counted in self.counts.items() if i not in self.stored}

    def writes(self) -> list[TableWrite]:
        """The raised counts of copies stored before this batch."""
        rows = [
            (inbox_id, count, last)
            for inbox_id, (count, last) in self.counts.items()
            if inbox_id in self.stored
        ]
        return [TableWrite(inbox, COUNTED, rows, mode="update")]
