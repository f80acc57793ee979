"""A generated history: a realistic mix of ServiceMobility stock lines and
documents and OFS inventory events over a few thousand items, loaded into a
store for bench/dataset.py (`python -m bench.history COUNT SEED SUMMARY URL`:
a process of its own, which the measured processes that follow never carry
the memory of), through the store's port.

The events are the domain's own (built with its event classes, stored as
`to_data` gives them), in store order from position 1, with the stream ids,
versions, dedupe keys and routing (the keys of the items each touches) the
store would give them. Counts carry the expected balance and variance the
live path records. The same seed gives the same history.
"""

from __future__ import annotations

import asyncio
import random
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from adapters.store import StoredEvent, connect
from bench.bodies import PRODUCTS
from domain.events import (
    SCHEMA_VERSION,
    CustomerInventoryCreated,
    CustomerInventoryDeleted,
    CustomerInventoryUpdated,
    DocumentRecorded,
    DomainEvent,
    InventoryDeinstalled,
    InventoryInstalled,
    InventoryUndoDeinstall,
    InventoryUndoInstall,
    OfsActivity,
    OfsChanges,
    OfsDetails,
    OfsEventRecorded,
    OfsInventory,
    ResourceInventoryCreated,
    ResourceInventoryDeleted,
    ResourceInventoryUpdated,
    StockRef,
    StockUsageRecorded,
    event_type,
    to_data,
)
from domain.fold import touched_keys
from domain.items import ofs_key, stock_line_key
from domain.sm_rules import install_key

TECHNICIANS: Final = 200
OFS_ITEMS: Final = 3_000
WORK_ORDERS_PER_TECHNICIAN: Final = 8
CUSTOMERS: Final = 1_500
CHUNK: Final = 20_000

USAGE_MODULES: Final = ("1001", "1002", "1003", "1004", "1008")
USAGE_WEIGHTS: Final = (15, 50, 10, 10, 15)
OFS_TYPES: Final = ("MODEM", "CABLE", "ONT", "STB")
ZERO: Final = Decimal(0)
LOADS: Final = tuple(Decimal(n) for n in (5, 10, 20, 50))
USES: Final = tuple(Decimal(n) for n in ("1", "1", "2", "3", "0.5"))
SMALL: Final = tuple(Decimal(n) for n in range(1, 6))
WEBHOOK: Final = "5ad09380-8258-4d84-a440-e2d35043ae92"


class Loaded(msgspec.Struct, frozen=True, kw_only=True):
    """What was stored, and the ids queries can ask about."""

    events: int
    seconds: float
    resources: list[str]
    item_keys: list[str]
    mix: dict[str, int]


class _History:
    """Generates the events in store order, keeping what the next ones depend on."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)  # noqa: S311  # test data, not secrets
        self.seed = seed
        self.n = 0
        self.moment = datetime(2026, 1, 1, 6, tzinfo=UTC)
        self.balances: dict[tuple[int, str], Decimal] = {}
        self.pools: dict[int, str | None] = {}
        self.versions: dict[str, int] = {}
        self.mix: dict[str, int] = {}
        self.keys: set[str] = set()
        self.metadata: dict[str, Any] = {}
        self.left_in_delivery = 0
        self.recorded_at = datetime.now(UTC)
        self.resource_keys: dict[tuple[int, str], str] = {}
        self.stream = ""
        modules = [m for m, w in zip(USAGE_MODULES, USAGE_WEIGHTS, strict=True) for _ in range(w)]
        self.modules = tuple(modules)

    def below(self, n: int) -> int:
        return int(self.rng.random() * n)

    def events(self, count: int) -> Iterator[StoredEvent]:
        rng = self.rng
        for _ in range(count):
            self.n += 1
            self.moment += timedelta(seconds=1 + self.below(49))
            pick = rng.random()
            event: DomainEvent
            if pick < 0.55:
                event, dedupe = self._usage(), f"sm:{self._digest()}:0:0"
                source = "servicemobility"
            elif pick < 0.60:
                event, dedupe = self._document(), f"sm:{self._digest()}"
                source = "servicemobility"
            elif pick < 0.98:
                event, dedupe = self._ofs(), f"ofs:{self._digest()}"
                source = "ofs"
            else:
                event, dedupe = self._ofs_other(), f"ofs:{self._digest()}"
                source = "ofs"
            kind = event_type(event)
            self.mix[kind] = self.mix.get(kind, 0) + 1
            stream = self.stream
            version = self.versions.get(stream, 0) + 1
            self.versions[stream] = version
            yield StoredEvent(
                position=self.n,
                stream_id=stream,
                version=version,
                type=kind,
                schema_version=SCHEMA_VERSION,
                data=to_data(event),
                metadata=self._metadata(source),
                occurred_at=event.occurred_at,
                recorded_at=self.recorded_at,
                dedupe_key=dedupe,
                routing=touched_keys(event),
            )

    def _digest(self) -> str:
        """64 hex digits, like the sha256 digests real keys carry, unique per event."""
        return f"{self.seed:08x}{self.n:056x}"

    def _resource_key(self, technician: int, product: str) -> str:
        key = self.resource_keys.get((technician, product))
        if key is None:
            key = stock_line_key("resource", f"TECH_{technician:03d}", product, None, None)
            self.resource_keys[(technician, product)] = key
        return key

    def _metadata(self, source: str) -> dict[str, Any]:
        """Consecutive events share a delivery, as they do when received."""
        if self.left_in_delivery <= 0 or self.metadata.get("source") != source:
            self.left_in_delivery = self.rng.randrange(1, 40)
            message = self._digest()
            fields: dict[str, Any] = (
                {
                    "source": source,
                    "messageId": f"{message[:8]}-{message[8:12]}-{message[12:16]}-{message[16:28]}",
                    "sender": None,
                    "webhook": WEBHOOK,
                }
                if source == "servicemobility"
                else {"source": source, "messageId": f"sha256:{message}", "sender": "ofs-relay"}
            )
            self.metadata = fields
        self.left_in_delivery -= 1
        return self.metadata

    def _usage(self) -> StockUsageRecorded:
        rng = self.rng
        below = self.below
        technician = below(TECHNICIANS)
        product = PRODUCTS[below(len(PRODUCTS))]
        module = self.modules[below(len(self.modules))]
        balance = self.balances.get((technician, product), ZERO)
        quantity_in = quantity_out = ZERO
        expected = variance = None
        if module == "1001":
            quantity_in = LOADS[below(len(LOADS))]
            reference = f"LOAD-{technician:03d}-{self.n % 997}"
        elif module == "1002":
            quantity_out = USES[below(len(USES))]
            reference = f"WO-{technician:03d}-{below(WORK_ORDERS_PER_TECHNICIAN)}"
        elif module == "1003":
            if rng.random() < 0.5:
                quantity_in = SMALL[below(len(SMALL))]
            else:
                quantity_out = SMALL[below(len(SMALL))]
            reference = f"XFER-{self.n % 9973}"
        elif module == "1004":
            reference = f"PI-{technician:03d}-{self.n % 101}"
        else:
            quantity_in = SMALL[below(2)] - 1
            quantity_out = 1 - quantity_in
            reference = f"ADJ-{technician:03d}"
        if module == "1004":
            counted = max(balance + below(4) - 2, ZERO)
            expected, variance, balance = balance, counted - balance, counted
        else:
            balance = balance + quantity_in - quantity_out
        self.balances[(technician, product)] = balance
        line = StockUsageRecorded(
            occurred_at=self.moment,
            location=f"TECH_{technician:03d}",
            product=product,
            quantity_in=quantity_in,
            quantity_out=quantity_out,
            reported_quantity=balance,
            ref_module=module,
            ref_object=reference,
            user=f"tech{technician}",
            expected=expected,
            variance=variance,
        )
        self.stream = self._resource_key(technician, product)
        if len(self.keys) < 20_000:
            self.keys.add(self.stream)
            if module == "1002":
                self.keys.add(install_key(line))
        return line

    def _document(self) -> DocumentRecorded:
        rng = self.rng
        technician = rng.randrange(TECHNICIANS)
        location = f"TECH_{technician:03d}"
        products = rng.sample(PRODUCTS, rng.randrange(1, 4))
        kind = rng.choice(("LoadInventory", "WorkOrder", "InventoryTransfer"))
        number = f"{kind[:4].upper()}-{self.n}"
        body = {
            "rowver": f"AAAAAAA{self.n:08d}=",
            kind: {
                "ModifiedUTC": self.moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "StorageLocationID": location,
                "Status": "1002",
                "Description": "Weekly restock" if kind == "LoadInventory" else "Job",
                "Items": [
                    {"ProdNum": product, "SerialNum": "", "BatchNum": "", "Qty": 10.0}
                    for product in products
                ],
            },
        }
        self.stream = f"sm-{kind}-{number}"
        return DocumentRecorded(
            occurred_at=self.moment,
            document_type=kind,
            document_id=number,
            mentions=tuple(StockRef(location=location, product=p) for p in products),
            body=body,
        )

    def _ofs(self) -> OfsInventory:
        rng = self.rng
        index = self.below(OFS_ITEMS)
        inventory_id = 21_000_000 + index
        technician = index % TECHNICIANS
        resource = f"TECH_{technician:03d}"
        kind_of = OFS_TYPES[index % len(OFS_TYPES)]
        serial = f"SN-{inventory_id}"
        pool = self.pools.get(index)
        roll = rng.random()
        cls: type[OfsInventory]
        if pool is None:
            cls, status = (
                (ResourceInventoryCreated, "resource")
                if roll < 0.9
                else (CustomerInventoryCreated, "customer")
            )
        elif pool == "resource":
            if roll < 0.45:
                cls, status = InventoryInstalled, "installed"
            elif roll < 0.95:
                cls, status = ResourceInventoryUpdated, "resource"
            else:
                cls, status = ResourceInventoryDeleted, "resource"
        elif pool == "installed":
            cls, status = (
                (InventoryUndoInstall, "resource")
                if roll < 0.3
                else (InventoryDeinstalled, "deinstalled")
            )
        elif pool == "deinstalled":
            cls, status = (
                (ResourceInventoryDeleted, "deinstalled")
                if roll < 0.5
                else (InventoryUndoDeinstall, "customer")
            )
        elif roll < 0.5:
            cls, status = InventoryDeinstalled, "deinstalled"
        elif roll < 0.8:
            cls, status = CustomerInventoryUpdated, "customer"
        else:
            cls, status = CustomerInventoryDeleted, "customer"
        deleted = cls in (ResourceInventoryDeleted, CustomerInventoryDeleted)
        self.pools[index] = None if deleted else status
        activity = None
        if status != "resource" or cls is InventoryUndoInstall:
            job = self.n % 50_000
            activity = OfsActivity(
                activity_id=4_000_000 + job,
                resource_id=resource,
                customer_number=f"C-{index % CUSTOMERS}",
                appt_number=f"WO-{job}",
                date=self.moment.date().isoformat(),
            )
        quantity = Decimal(rng.randrange(1, 4)) if cls is ResourceInventoryUpdated else None
        self.stream = ofs_key(inventory_id)
        self.keys.add(self.stream)
        return cls(
            occurred_at=self.moment,
            inventory_id=inventory_id,
            details=OfsDetails(status=status, inventory_type=kind_of, serial_number=serial),
            changes=OfsChanges(
                status=status,
                inventory_type=kind_of if pool is None else None,
                serial_number=serial if pool is None else None,
                quantity=quantity,
                resource_id=resource,
                activity_id=activity.activity_id if activity else None,
            ),
            activity=activity,
            user=f"tech{technician}",
        )

    def _ofs_other(self) -> OfsEventRecorded:
        kind = ("activityStarted", "activityCompleted", "activityMoved")[self.below(3)]
        self.stream = f"ofs-events-{kind}"
        return OfsEventRecorded(
            occurred_at=self.moment,
            event_type=kind,
            body={
                "eventType": kind,
                "time": self.moment.strftime("%Y-%m-%d %H:%M:%S"),
                "user": "dispatcher1",
                "activityDetails": {"activityId": 4_000_000 + self.n % 50_000},
            },
        )


async def _load(history: _History, count: int, url: str) -> None:
    async def batches() -> AsyncIterator[list[StoredEvent]]:
        for start in range(0, count, CHUNK):
            yield list(history.events(min(CHUNK, count - start)))

    store = connect(url)
    try:
        await store.load_history(batches())
    finally:
        await store.close()


def generate(count: int, seed: int, summary: Path, url: str) -> None:
    """Load `count` events into the (migrated, empty) store at `url`, then
    write what they hold to `summary`."""
    history = _History(seed)
    asyncio.run(_load(history, count, url))
    keys = sorted(history.keys)
    summary.write_bytes(
        msgspec.json.encode(
            Loaded(
                events=count,
                seconds=0.0,
                resources=[f"TECH_{technician:03d}" for technician in range(TECHNICIANS)],
                item_keys=random.Random(seed).sample(keys, min(1_000, len(keys))),  # noqa: S311
                mix=dict(sorted(history.mix.items())),
            )
        )
    )


if __name__ == "__main__":
    generate(int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3]), sys.argv[4])
