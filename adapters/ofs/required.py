"""An OFS activity's required inventories
(`GET /rest/ofscCore/v1/activities/{activityId}/requiredInventories`), read
and turned into a `RequiredInventoriesRecorded` event.

OFS answers `{"items": [{"inventoryType", "model", "quantity"}, ...]}` and
pages with `offset` and `limit` (at most 100); a page shorter than asked for
is the last. The answer is held to the vendor's schema: every line needs a
non-blank `inventoryType`, a `model` text (blank: no model) and a numeric,
finite, non-negative `quantity`; other fields are ignored. An answer that
cannot be used marks the activity's requirements unknown (so it is not
ready), with the reason, and the run goes on:

- empty (no line at all), or OFS does not know the activity (404) or refuses
  the request for it (400, 422);
- huge: more than `most_lines` lines in all, or a page over the size cap
  (`INVTRACK_VENDOR_MAX_BYTES`);
- not to the schema: not JSON, not an object, `items` not an array, or a line
  as above.

While OFS is unavailable (429, 5xx, timeouts) a read is retried with the
pollers' backoff; if it stays unavailable, or refuses the credentials, the
error goes up and nothing is recorded (what was known stays).
"""

from __future__ import annotations

import hashlib
import logging
import random
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any, Final, NamedTuple

import msgspec

from adapters.ofs.client import (
    REQUIRED_PAGE,
    NotFound,
    OfsAnswerTooLarge,
    OfsClient,
    OfsRejected,
)
from adapters.pulling import Patience, patiently
from domain.events import Fact, RequiredInventoriesRecorded, RequiredLine
from domain.quantities import quantity_problem
from domain.signals.products import model_of

log = logging.getLogger("invtrack.ofs.required")

MOST_LINES: Final = 1000
"""Required inventory lines of one activity beyond which the answer is taken as corrupt."""
ATTEMPTS: Final = 8
"""Tries of one request before OFS counts as unreachable."""
ACTIVITY_REFUSALS: Final = frozenset({400, 404, 422})
"""Statuses that refuse one activity (not the credentials): its requirements are unknown."""

_decoder: Final = msgspec.json.Decoder(Any, float_hook=Decimal)


class RequiredAnswer(NamedTuple):
    """What OFS said of an activity: its lines, or why they are unknown."""

    lines: tuple[RequiredLine, ...] = ()
    unknown: str | None = None


class _Unusable(Exception):
    """The answer cannot be used; the message says why."""


def read_page(body: bytes) -> list[RequiredLine]:
    """The lines of one answer page; _Unusable when it is not to the schema."""
    try:
        return _lines(body)
    except _Unusable as error:
        raise _Unusable(f"not to the schema: {error}") from None


def _lines(body: bytes) -> list[RequiredLine]:
    try:
        page = _decoder.decode(body)
    except (msgspec.DecodeError, RecursionError) as error:
        raise _Unusable(f"the answer is not JSON: {str(error)[:120]}") from None
    if not isinstance(page, dict):
        raise _Unusable("the answer is not an object")
    items = page.get("items", [])
    if not isinstance(items, list):
        raise _Unusable("`items` is not an array")
    return [_line(item, f"items[{index}]") for index, item in enumerate(items)]


def _line(item: Any, where: str) -> RequiredLine:
    if not isinstance(item, dict):
        raise _Unusable(f"{where} is not an object")
    kind = item.get("inventoryType")
    if not isinstance(kind, str) or not kind.strip() or len(kind) > 255:
        raise _Unusable(f"{where}.inventoryType must be a non-blank text of at most 255")
    model = item.get("model")
    if not isinstance(model, str) or len(model) > 255:
        raise _Unusable(f"{where}.model must be a text of at most 255")
    return RequiredLine(inventory_type=kind, model=model_of(model), quantity=_quantity(item, where))


def _quantity(item: dict[str, Any], where: str) -> Decimal:
    quantity = item.get("quantity")
    if isinstance(quantity, bool) or not isinstance(quantity, int | Decimal):
        raise _Unusable(f"{where}.quantity must be a number")
    value = Decimal(quantity)
    problem = quantity_problem(value)
    if problem is not None:
        raise _Unusable(f"{where}.quantity: {problem}")
    if value < 0:
        raise _Unusable(f"{where}.quantity must not be negative")
    return value


def answer_of(pages: list[bytes], most_lines: int = MOST_LINES) -> RequiredAnswer:
    """The answer the pages of one activity make (pure)."""
    lines: list[RequiredLine] = []
    try:
        for body in pages:
            lines += read_page(body)
    except _Unusable as error:
        return RequiredAnswer(unknown=str(error))
    return judged(lines, most_lines)


def judged(lines: list[RequiredLine], most_lines: int = MOST_LINES) -> RequiredAnswer:
    """All the lines read: unknown when there are none or too many."""
    if not lines:
        return RequiredAnswer(unknown="OFS answered no required inventories")
    if len(lines) > most_lines:
        return RequiredAnswer(unknown=f"more than {most_lines} required inventory lines")
    return RequiredAnswer(lines=tuple(lines))


def required_fact(
    activity_id: str,
    answer: RequiredAnswer,
    *,
    at: datetime,
    resource_id: str | None = None,
    date: str | None = None,
) -> Fact:
    """The event recording a read at `at`, keyed by the activity, the time and
    what was read (the same read submitted twice is stored once)."""
    event = RequiredInventoriesRecorded(
        occurred_at=at,
        activity_id=activity_id,
        resource_id=resource_id,
        date=date,
        lines=answer.lines,
        unknown=answer.unknown,
    )
    content = msgspec.json.encode(event, order="sorted")
    return Fact(event=event, dedupe_key="ofsreq:" + hashlib.sha256(content).hexdigest())


class RequiredReader:
    """Reads activities' required inventories through one OFS client."""

    def __init__(
        self,
        client: OfsClient,
        patience: Patience,
        *,
        page: int = REQUIRED_PAGE,
        most_lines: int = MOST_LINES,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.patience = patience
        self.page = page
        self.most_lines = most_lines
        self._draw = draw

    async def read(self, activity_id: str) -> RequiredAnswer:
        """What OFS says of one activity now (unknown, with the reason, when
        the answer cannot be used)."""
        lines: list[RequiredLine] = []
        while True:
            try:
                page = read_page(await self._page(activity_id, len(lines)))
            except _Unusable as error:
                return RequiredAnswer(unknown=str(error))
            lines += page
            # A short page is the last; past the bound the answer is unusable anyway.
            if len(page) < self.page or len(lines) > self.most_lines:
                return judged(lines, self.most_lines)

    async def _page(self, activity_id: str, offset: int) -> bytes:
        async def call() -> bytes:
            try:
                return await self.client.required_inventories(
                    activity_id, offset=offset, limit=self.page
                )
            except OfsAnswerTooLarge as error:
                raise _Unusable(f"the answer is too large: {error}") from None
            except NotFound:
                raise _Unusable("OFS does not know the activity (404)") from None
            except OfsRejected as error:
                if error.status in ACTIVITY_REFUSALS:
                    raise _Unusable(f"OFS refused the request: {error}") from None
                raise

        return await patiently(call, self.patience, attempts=ATTEMPTS, log=log, draw=self._draw)
