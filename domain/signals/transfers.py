"""ServiceMobility transfers (RefModule 1003): two usage halves, one per
technician, linked by `RefObjID` (the transfer validation code), arriving in
either order.

- The sender's half is its lines with `OutQty`, the receiver's its lines with
  `InQty`; a transfer's `from` and `to` locations are the locations of those
  lines (normally one each).
- Per item (product, serial, batch): `sent` is the sum of `OutQty`, `received`
  the sum of `InQty`.
- Each line counts once: a line identical to one counted (same location,
  item, quantities, time and user), however often it is delivered, changes
  nothing, so the fold can take redeliveries.
- `first_seen` and `last_seen` are the earliest and latest event times
  (`ModifiedUTC`) of its lines.
- Status, at a time `now`: `paired` when both halves are there and every
  item's sent equals its received; `mismatched` when both are there and some
  item's do not; with one half only, `open` once `now - first_seen` is
  longer than the window (`INVTRACK_TRANSFER_WINDOW`, default 24 h), and
  `pending` (on its way) until then.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Final, Literal

import msgspec

from domain.events import DomainEvent, StockUsageRecorded

TRANSFER: Final = "1003"
DEFAULT_WINDOW: Final = timedelta(hours=24)
Status = Literal["open", "pending", "paired", "mismatched"]
STATUSES: Final[tuple[Status, ...]] = ("open", "mismatched", "pending", "paired")
"""Every status, in the order lists show them: what needs a look first."""


class TransferItem(msgspec.Struct, frozen=True, kw_only=True):
    product: str
    serial: str | None = None
    batch: str | None = None
    sent: Decimal = Decimal(0)
    received: Decimal = Decimal(0)

    @property
    def identity(self) -> tuple[str, str, str]:
        return (self.product, self.serial or "", self.batch or "")


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    """One transfer as its lines so far describe it."""

    code: str
    from_locations: tuple[str, ...] = ()
    to_locations: tuple[str, ...] = ()
    items: tuple[TransferItem, ...] = ()
    first_seen: datetime
    last_seen: datetime
    lines: tuple[str, ...] = ()
    """The identities of the lines counted (`line_identity`), sorted."""

    @property
    def halves(self) -> int:
        return bool(self.from_locations) + bool(self.to_locations)


def line_identity(line: StockUsageRecorded) -> str:
    """What makes a transfer line the same line when it is delivered again."""
    parts = (
        line.ref_object,
        line.location,
        line.product,
        line.serial or "",
        line.batch or "",
        _number(line.quantity_in),
        _number(line.quantity_out),
        line.occurred_at.isoformat(),
        line.user or "",
    )
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:32]


def _number(value: Decimal) -> str:
    return format(value.normalize(), "f")


def apply(transfer: Transfer | None, event: DomainEvent) -> Transfer | None:
    """The transfer after one event; None when the event changes no transfer
    (not a transfer line, or a line already counted)."""
    if not isinstance(event, StockUsageRecorded) or event.ref_module != TRANSFER:
        return None
    identity = line_identity(event)
    if transfer is None:
        transfer = Transfer(
            code=event.ref_object, first_seen=event.occurred_at, last_seen=event.occurred_at
        )
    elif identity in transfer.lines:
        return None
    return Transfer(
        code=transfer.code,
        from_locations=_with(transfer.from_locations, event.location, event.quantity_out),
        to_locations=_with(transfer.to_locations, event.location, event.quantity_in),
        items=_moved(transfer.items, event),
        first_seen=min(transfer.first_seen, event.occurred_at),
        last_seen=max(transfer.last_seen, event.occurred_at),
        lines=tuple(sorted((*transfer.lines, identity))),
    )


def _with(locations: tuple[str, ...], location: str, quantity: Decimal) -> tuple[str, ...]:
    if quantity == 0 or location in locations:
        return locations
    return tuple(sorted((*locations, location)))


def _moved(items: tuple[TransferItem, ...], line: StockUsageRecorded) -> tuple[TransferItem, ...]:
    by_identity = {item.identity: item for item in items}
    identity = (line.product, line.serial or "", line.batch or "")
    item = by_identity.get(identity) or TransferItem(
        product=line.product, serial=line.serial, batch=line.batch
    )
    by_identity[identity] = msgspec.structs.replace(
        item, sent=item.sent + line.quantity_out, received=item.received + line.quantity_in
    )
    return tuple(by_identity[key] for key in sorted(by_identity))


def status(transfer: Transfer, now: datetime, window: timedelta = DEFAULT_WINDOW) -> Status:
    """The transfer's status at `now`."""
    if transfer.from_locations and transfer.to_locations:
        if all(item.sent == item.received for item in transfer.items):
            return "paired"
        return "mismatched"
    if now - transfer.first_seen > window:
        return "open"
    return "pending"


def listed(
    transfers: Iterable[Transfer],
    now: datetime,
    window: timedelta = DEFAULT_WINDOW,
    only: Status | None = None,
) -> list[tuple[Transfer, Status]]:
    """The transfers with their status (only those with status `only`, when
    given): open first, then mismatched, pending and paired; oldest first
    within a status."""
    found = [(transfer, status(transfer, now, window)) for transfer in transfers]
    kept = [entry for entry in found if only is None or entry[1] == only]
    return sorted(
        kept, key=lambda entry: (STATUSES.index(entry[1]), entry[0].first_seen, entry[0].code)
    )


def fold(
    transfers: dict[str, Transfer], events: Iterable[tuple[int, DomainEvent]]
) -> dict[str, Transfer]:
    """Apply events in order to `transfers` (in place, holding at least the
    transfers of their codes that exist); the transfers they changed."""
    changed: dict[str, Transfer] = {}
    for _, event in events:
        if not isinstance(event, StockUsageRecorded):
            continue
        after = apply(transfers.get(event.ref_object), event)
        if after is not None:
            transfers[after.code] = changed[after.code] = after
    return changed


def codes_of(events: Iterable[tuple[int, DomainEvent]]) -> set[str]:
    """The transfers a batch of events reads and may change."""
    return {
        event.ref_object
        for _, event in events
        if isinstance(event, StockUsageRecorded) and event.ref_module == TRANSFER
    }
