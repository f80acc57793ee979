"""What OFS holds now, read through the Core API's inventory endpoints:

- `GET /rest/ofscCore/v1/resources/{resourceId}/inventories`: a resource's pool;
- `GET /rest/ofscCore/v1/activities/{activityId}/customerInventories`,
  `installedInventories`, `deinstalledInventories`: an activity's pools;
- `GET /rest/ofscCore/v1/inventories/{inventoryId}`: one record.

Lists answer `{"items": [...]}` and page with `offset` and `limit` (at most
100); a page shorter than asked for, or one adding no record not seen, is the
last, and one reader reads at most `max_pages` pages in all (`TooManyPages`):
an endless listing cannot hold a reconciliation. Every request is retried
with the pollers' backoff while OFS is unavailable, and every answer is read
within the size cap and deadline. Records are read tolerantly and renamed to
our vocabulary (`Holding`); a record without `quantity` holds 1 (the domain
rule), one whose `quantity` is `null` states none (reported as missing). A
record read by id must be the record asked for.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any, Final
from urllib.parse import quote

import msgspec

from adapters.ofs.client import NotFound, OfsClient, OfsError, OfsUnavailable
from adapters.pulling import Patience, patiently
from domain.items import ofs_key
from domain.ofs_rules import STATUS_POOLS
from domain.reconciliation import Holding

log = logging.getLogger("invtrack.reconcile")

CORE: Final = "/rest/ofscCore/v1"
PAGE: Final = 100
"""The inventory lists' largest page."""
ACTIVITY_LISTS: Final = ("customerInventories", "installedInventories", "deinstalledInventories")
ATTEMPTS: Final = 8
"""Tries of one request before OFS counts as unreachable."""


class TooManyPages(OfsError):
    """A reconciliation read as many pages as one may (an endless listing?)."""


class _Record(msgspec.Struct, frozen=True, rename="camel"):
    inventory_id: int
    status: str | None = None
    inventory_type: str | None = None
    serial_number: str | None = None
    quantity: Decimal | msgspec.UnsetType | None = msgspec.UNSET
    resource_id: str | None = None
    activity_id: int | str | None = None


class _List(msgspec.Struct, frozen=True):
    items: list[Any] = []


def holding(record: Any) -> tuple[str, Holding]:
    """An OFS inventory record as (item key, holding); OfsUnavailable if unreadable."""
    try:
        read = msgspec.convert(record, _Record, strict=False)
    except msgspec.ValidationError as error:
        raise OfsUnavailable(f"unexpected inventory record from OFS: {error}") from None
    status = read.status
    return ofs_key(read.inventory_id), Holding(
        pool=STATUS_POOLS.get(status, status) if status is not None else None,
        resource_id=read.resource_id,
        activity_id=None if read.activity_id is None else str(read.activity_id),
        # A record without a quantity is one item (domain rule for OFS events
        # too); one that says `null` states none.
        quantity=Decimal(1) if read.quantity is msgspec.UNSET else read.quantity,
        serial_number=read.serial_number or None,
        inventory_type=read.inventory_type,
    )


class InventoryReader:
    """OFS's current inventory of resources, activities and single records."""

    def __init__(
        self,
        client: OfsClient,
        patience: Patience,
        *,
        page: int = PAGE,
        draw: Callable[[], float] = random.random,
    ) -> None:
        self.client = client
        self.patience = patience
        self.page = page
        self.pages = 0
        """Pages (and records) read so far."""
        self._draw = draw

    async def resource(self, resource_id: str) -> dict[str, Holding]:
        """The records in a resource's pool, by item key."""
        return await self._list(f"{CORE}/resources/{quote(resource_id, safe='')}/inventories")

    async def activity(self, activity_id: str) -> dict[str, Holding]:
        """The records in an activity's customer, install and deinstall pools, by item key."""
        found: dict[str, Holding] = {}
        for name in ACTIVITY_LISTS:
            found |= await self._list(f"{CORE}/activities/{quote(activity_id, safe='')}/{name}")
        return found

    async def record(self, inventory_id: int) -> Holding | None:
        """One record wherever it is; None when OFS has no such record."""
        try:
            body = await self._get(f"{CORE}/inventories/{inventory_id}", None)
        except NotFound:
            return None
        key, found = holding(_decode(body, _record))
        if key != ofs_key(inventory_id):
            raise OfsUnavailable(
                f"OFS answered GET /inventories/{inventory_id} with the record {key}"
            )
        return found

    async def _list(self, path: str) -> dict[str, Holding]:
        found: dict[str, Holding] = {}
        offset = 0
        while True:
            body = await self._get(path, {"offset": offset, "limit": self.page})
            items = _decode(body, _list).items
            before = len(found)
            found.update(holding(record) for record in items)
            # A short page is the last; a page adding nothing would repeat forever.
            if len(items) < self.page or len(found) == before:
                return found
            offset += len(items)

    async def _get(self, path: str, params: dict[str, str | int] | None) -> bytes:
        if self.pages >= self.patience.max_pages:
            raise TooManyPages(
                f"read {self.pages} pages from OFS, the most one reconciliation reads "
                "(INVTRACK_VENDOR_MAX_PAGES)"
            )
        self.pages += 1
        return await patiently(
            lambda: self.client.get(path, params),
            self.patience,
            attempts=ATTEMPTS,
            log=log,
            draw=self._draw,
        )


_record: Final = msgspec.json.Decoder(Any, float_hook=Decimal)
_list: Final = msgspec.json.Decoder(_List, float_hook=Decimal)


def _decode(body: bytes, decoder: msgspec.json.Decoder[Any]) -> Any:
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as error:
        raise OfsUnavailable(f"unexpected answer from OFS: {error}") from None
