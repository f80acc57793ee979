"""An Events API page read event by event, so that one bad event costs only
itself: its raw bytes are set aside with the reason, the page's other events
are taken, and the page's `nextPage` marker still moves the cursor.

The page is decoded with its events kept as raw byte slices; a page no
decoder can take (a value nested thousands of levels deep) is split by
`adapters.json_scan` instead. Only a body that is not an Events API page at
all (not a JSON object with `items`, `nextPage` or `found`, or a `nextPage`
that is not a marker) is `NotAPage`. Pure: no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final

import msgspec

from adapters.json_scan import elements, members
from adapters.ofs.translate import MAX_PAGE_MARKER, TranslationError, translate_event
from domain.events import Fact

PAGE_KEYS: Final = frozenset({"items", "nextPage", "found"})


class NotAPage(ValueError):
    """The body is not an Events API page: nothing in it says where to go next.
    `field` names the part of a page-shaped body that is wrong."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.message = message
        self.field = field


@dataclass(frozen=True)
class BadEvent:
    """An event that cannot be taken: where it is in its body, its bytes, why
    (`field` locates the offence, e.g. `items[3].time`)."""

    index: int
    raw: bytes
    field: str
    message: str

    @property
    def reason(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass(frozen=True)
class PageRead:
    """What a page holds: its marker, the facts of its good events, its bad events."""

    next_page: str | None
    facts: list[Fact] = field(default_factory=list)
    bad: list[BadEvent] = field(default_factory=list)

    @property
    def events(self) -> int:
        return len(self.facts) + len(self.bad)


class _Page(msgspec.Struct, frozen=True):
    items: list[msgspec.Raw] | None = None
    nextPage: Any = None  # the vendor's name
    found: Any = None


def read_page(body: bytes) -> PageRead:
    """The page's marker and each of its events, taken or set aside."""
    marker, items = _parts(body)
    return read_events(items, _marker(marker), "items")


def read_pushed(body: bytes) -> PageRead:
    """What a relay pushes, event by event: one event object, an array of
    them, or an Events API page. TranslationError when the body is none of these."""
    try:
        return read_events(_parts(body)[1], None, "items")
    except NotAPage as error:
        if error.field:
            raise TranslationError(error.message, error.field) from None
    try:
        items = msgspec.json.decode(body, type=list[msgspec.Raw])
    except (msgspec.MsgspecError, RecursionError):
        scanned = elements(body)
        if scanned is None:
            return PageRead(next_page=None, facts=[translate_event(body)])
        return read_events(scanned)
    return read_events([bytes(item) for item in items])


def read_events(items: list[bytes], next_page: str | None = None, path: str = "") -> PageRead:
    """Each raw event translated on its own; `path` names where they are (`items`)."""
    page = PageRead(next_page=next_page)
    for index, raw in enumerate(items):
        at = f"{path}[{index}]"
        try:
            page.facts.append(translate_event(raw, at))
        except TranslationError as error:
            page.bad.append(BadEvent(index, raw, error.field, error.message))
    return page


def _parts(body: bytes) -> tuple[Any, list[bytes]]:
    """The marker (as sent) and the raw events of a page."""
    try:
        page = msgspec.json.decode(body, type=_Page)
    except (msgspec.MsgspecError, RecursionError):
        return _scanned(body)
    keys = msgspec.json.decode(body, type=dict[str, msgspec.Raw]).keys()
    if "eventType" in keys or PAGE_KEYS.isdisjoint(keys):
        raise NotAPage("not an Events API page")
    return page.nextPage, [bytes(item) for item in page.items or []]


def _scanned(body: bytes) -> tuple[Any, list[bytes]]:
    found = members(body)
    if found is None or "eventType" in found or PAGE_KEYS.isdisjoint(found):
        raise NotAPage("not an Events API page (not a JSON object with items or nextPage)")
    marker: Any = None
    if "nextPage" in found:
        try:
            marker = msgspec.json.decode(found["nextPage"])
        except (msgspec.MsgspecError, RecursionError):
            raise NotAPage("not a JSON value", "nextPage") from None
    raw_items = found.get("items", b"null")
    items = [] if raw_items == b"null" else elements(raw_items)
    if items is None:
        raise NotAPage("must be an array of events", "items")
    return marker, items


def _marker(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise NotAPage("must be a string", "nextPage")
    if len(value) > MAX_PAGE_MARKER:
        raise NotAPage(f"longer than {MAX_PAGE_MARKER} characters", "nextPage")
    return value
