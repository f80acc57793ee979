"""Harnesses for the reliability tests, also used by the e2e fault tests.

- `live_app`: an app served in-process over real ASGI (lifespan included) in
  the test's own event loop, so requests really run concurrently and the test
  can look into the same store.
- `Server`: `invtrack serve` as a real subprocess on a free port, with its own
  environment, killed or stopped on demand.
- `Proxy`: a TCP proxy between a server and PostgreSQL that can cut the
  database off (close every connection and refuse new ones) and restore it.
- Envelopes and OFS events to deliver, and readers of what the store holds.

Tests marked `soak` are too slow for CI: they run only with INVTRACK_SOAK=1
(`make soak`).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from litestar import Litestar
from sqlalchemy.engine import make_url

from adapters.auth import mint
from adapters.store import EventStore, StoredEvent, connect
from adapters.store.records import InboxRecord
from api.app import Services, create_app
from api.schemas import ItemOut
from api.settings import Settings
from domain.events import from_data
from domain.fold import fold
from domain.items import Item
from tests.conftest import pg_database_url
from tests.e2e.conftest import SECRET

SOAK = os.environ.get("INVTRACK_SOAK") == "1"
soak_only = pytest.mark.skipif(not SOAK, reason="soak test: set INVTRACK_SOAK=1 (make soak)")

START_TIMEOUT = 60.0
"""Seconds a server may take to migrate and answer /health."""


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "soak: too slow for CI; runs only with INVTRACK_SOAK=1 (make soak)"
    )


# ---- tokens -----------------------------------------------------------------


def sender_headers() -> dict[str, str]:
    return {"x-access-token": mint(SECRET, scope=None, ttl_seconds=3600)}


def reader_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, scope='read', ttl_seconds=3600)}"}


def relay_headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {mint(SECRET, scope='write', ttl_seconds=3600)}"}


# ---- deliveries ---------------------------------------------------------------


@dataclass(frozen=True)
class Line:
    """One item of a storage location in an InventoryUsage row."""

    location: str
    product: str
    quantity_in: str = "0"
    quantity_out: str = "0"
    counted: str = "0"


@dataclass(frozen=True)
class UsageRow:
    """One InventoryUsage row: why stock moved (RefModule, RefObjID) and its lines."""

    rowver: str
    lines: tuple[Line, ...]
    ref_module: str = "1008"
    ref_object: str | None = None
    modified: str = "2026-11-20T09:15:00Z"

    def as_json(self) -> dict[str, Any]:
        locations = dict.fromkeys(line.location for line in self.lines)
        return {
            "rowver": self.rowver,
            "InventoryUsage": {
                "UserID": "tech",
                "ModifiedUTC": self.modified,
                "RefModule": self.ref_module,
                "RefObjID": self.ref_object or self.lines[0].location,
                "StorageLocations": [
                    {
                        "StorageLocationID": location,
                        "Items": [
                            {
                                "ProdNum": line.product,
                                "SerialNum": "",
                                "BatchNum": "",
                                "InQty": float(line.quantity_in),
                                "OutQty": float(line.quantity_out),
                                "InventoryQty": float(line.counted),
                                "InventoryDamagedQty": 0.0,
                                "ReportedDamagedQty": 0.0,
                                "DispositionReasons": [],
                            }
                            for line in self.lines
                            if line.location == location
                        ],
                    }
                    for location in locations
                ],
            },
        }


def usage_envelope(envelope_id: str, rows: Sequence[UsageRow]) -> dict[str, Any]:
    """An InventoryUsage envelope holding the rows."""
    return {
        "id": envelope_id,
        "type": "InventoryUsage",
        "specversion": "1.0",
        "source": "webhook-reliability",
        "subject": None,
        "time": "2026-11-20T09:20:00.000Z",
        "datacontenttype": "application/json",
        "action": "",
        "data": {"rowver": "AAAA", "rows": [row.as_json() for row in rows]},
    }


def document_envelope(kind: str, envelope_id: str, *, location: str = "VAN-1") -> dict[str, Any]:
    """An envelope of one of the eight document types: one row, one document."""
    return {
        "id": envelope_id,
        "type": kind,
        "specversion": "1.0",
        "source": "webhook-reliability",
        "subject": None,
        "time": "2026-11-20T09:20:00.000Z",
        "datacontenttype": "application/json",
        "action": "",
        "data": {
            "rowver": "AAAA",
            "rows": [
                {
                    "rowver": f"{envelope_id}-row",
                    kind: {
                        "DocumentNum": f"{kind}-{envelope_id}",
                        "ModifiedUTC": "2026-11-20T09:10:00Z",
                        "StorageLocationID": location,
                        "Items": [{"ProdNum": "P-1", "SerialNum": "", "BatchNum": "", "Qty": 1}],
                    },
                }
            ],
        },
    }


def envelope_for(kind: str, envelope_id: str) -> dict[str, Any]:
    """A valid envelope of any of the nine types that makes exactly one event."""
    if kind == "InventoryUsage":
        return usage_envelope(
            envelope_id, [UsageRow(f"{envelope_id}-row", (Line("VAN-1", "P-1", "2"),))]
        )
    return document_envelope(kind, envelope_id)


def ofs_event(
    inventory_id: int,
    event_type: str,
    time_text: str,
    **changes: Any,
) -> dict[str, Any]:
    """An OFS inventory event; `changes` go into `inventoryChanges`."""
    return {
        "eventType": event_type,
        "time": time_text,
        "user": "jsmith",
        "activityDetails": {
            "activityId": 4225599,
            "resourceId": "TECH_017",
            "date": "2026-11-20",
            "customerNumber": "C-1009",
        },
        "inventoryDetails": {"inventoryId": inventory_id, "inventoryType": "MODEM"},
        "inventoryChanges": {"inventoryId": inventory_id, **changes},
    }


# ---- reading the store ---------------------------------------------------------


async def all_events(store: EventStore) -> list[StoredEvent]:
    events: list[StoredEvent] = []
    while batch := await store.read_all(after=events[-1].position if events else 0, limit=1000):
        events.extend(batch)
    return events


async def all_inbox(store: EventStore) -> list[InboxRecord]:
    rows: list[InboxRecord] = []
    for status in ("accepted", "quarantined", "duplicate"):
        after = 0
        while batch := await store.inbox_entries(status, after=after, limit=500):
            rows.extend(batch)
            after = batch[-1].id
    return sorted(rows, key=lambda row: row.id)


# ---- the app in-process ----------------------------------------------------------


@dataclass
class Live:
    """An app answering over ASGI in the test's event loop."""

    app: Litestar
    client: httpx.AsyncClient
    services: Services

    @property
    def store(self) -> EventStore:
        return self.services.store


@contextlib.asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[Live]:
    app = create_app(settings)
    services: Services = app.state["services"]
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        # Entered and left in one task, as an ASGI server does.
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(lifespan())
    starting = asyncio.create_task(started.wait())
    await asyncio.wait({running, starting}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        starting.cancel()
        await running  # raises what failed the startup
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Live(app=app, client=client, services=services)
    finally:
        stop.set()
        await running


# ---- `invtrack serve` as a subprocess ----------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _invtrack() -> list[str]:
    script = Path(sys.executable).with_name("invtrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


@dataclass
class Server:
    """One `invtrack serve` process. Its stderr (the log) goes to a file."""

    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("INVTRACK_")}
        env.update(
            INVTRACK_DATABASE_URL=self.database_url,
            INVTRACK_JWT_SECRET=SECRET,
            INVTRACK_DATA_DIR=str(self.workdir / "data"),
            INVTRACK_LOG_FORMAT="json",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        """Start on a free port and wait for /health; a new port if the old one was taken."""
        for _ in range(3):
            self.starts += 1
            self.port = free_port()
            self.workdir.mkdir(parents=True, exist_ok=True)
            with self.log_path.open("wb") as log:
                self.process = subprocess.Popen(
                    [*_invtrack(), "serve", "--host", "127.0.0.1", "--port", str(self.port)],
                    cwd=self.workdir,
                    env=self.environment(),
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_healthy():
                return
        raise RuntimeError(f"invtrack serve did not start:\n{self.log()[-4000:]}")

    def _wait_healthy(self) -> bool:
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return True
            time.sleep(0.1)
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, connections dropped."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it does not stop in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return "".join(
            (self.workdir / f"server-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (self.workdir / f"server-{n}.log").exists()
        )


@pytest.fixture
def pg_databases() -> Iterator[Callable[[], str]]:
    """A factory of throwaway PostgreSQL databases, all dropped at the end."""
    made: list[Iterator[str]] = []

    def make() -> str:
        database = pg_database_url()
        url = next(database)
        made.append(database)
        return url

    try:
        yield make
    finally:
        for database in reversed(made):
            next(database, None)


@pytest.fixture
def servers(pg_databases: Callable[[], str], tmp_path: Path) -> Iterator[Callable[..., Server]]:
    """A factory of started servers; every one is killed before its database is dropped."""
    started: list[Server] = []

    def start(database_url: str, name: str = "server", **extra_env: str) -> Server:
        server = Server(database_url=database_url, workdir=tmp_path / name, extra_env=extra_env)
        started.append(server)
        server.start()
        return server

    try:
        yield start
    finally:
        for server in started:
            server.kill()


# ---- a TCP proxy that can cut PostgreSQL off ----------------------------------------


class Proxy:
    """Forwards 127.0.0.1:`port` to the target. `cut()` drops every connection
    and refuses new ones until `restore()`."""

    def __init__(self, target_host: str, target_port: int) -> None:
        self.target = (target_host, target_port)
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._links.update((client, upstream))
        for reader, writer in ((client_reader, upstream), (upstream_reader, client)):
            task = asyncio.create_task(self._pump(reader, writer))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._links.discard(writer)
            writer.transport.abort()


def pg_target(database_url: str) -> tuple[str, int]:
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 5432


def through(database_url: str, port: int) -> str:
    """The database URL with host and port replaced by the proxy's."""
    url = make_url(database_url).set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)


# ---- what a server answers -----------------------------------------------------------


async def post_json(
    client: httpx.AsyncClient, path: str, body: dict[str, Any] | list[Any]
) -> httpx.Response:
    headers = relay_headers() if path == "/ofs/events" else sender_headers()
    return await client.post(path, content=json.dumps(body).encode(), headers=headers)


def path_of(delivery: dict[str, Any] | list[Any]) -> str:
    """Where a delivery goes: its webhook, or the OFS relay route for a list of events."""
    if isinstance(delivery, dict) and "type" in delivery and "id" in delivery:
        return f"/servicemobility/{delivery['type']}/"
    return "/ofs/events"


async def listed(client: httpx.AsyncClient, path: str) -> list[dict[str, Any]]:
    """Every item of a list route, page by page."""
    items: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        params = {"limit": "1000", **({"cursor": cursor} if cursor else {})}
        response = await client.get(path, params=params, headers=reader_headers())
        assert response.status_code == 200, response.text
        page = response.json()
        items.extend(page["items"])
        cursor = page["nextCursor"]
        if cursor is None:
            return items


async def replayed_items(database_url: str) -> dict[str, Item]:
    """The items a replay makes: the store's events, folded in store order."""
    database = connect(database_url)
    try:
        events = await all_events(EventStore(database))
    finally:
        await database.dispose()
    return fold((event.position, from_data(event.data)) for event in events)


def as_answered(item: Item) -> dict[str, Any]:
    """An item exactly as the query API writes it."""
    answer: dict[str, Any] = json.loads(msgspec.json.encode(ItemOut.of(item)))
    return answer


async def assert_projection_is_the_replay(database_url: str, server_url: str) -> int:
    """Every item the fold of the store makes is what the server answers for it,
    and the list routes hold exactly the undeleted ones. Returns the item count."""
    items = await replayed_items(database_url)
    async with httpx.AsyncClient(base_url=server_url, timeout=60) as client:
        mismatches = []
        for key, item in items.items():
            response = await client.get(f"/inventories/{key}", headers=reader_headers())
            assert response.status_code == 200, response.text
            if response.json() != as_answered(item):
                mismatches.append((as_answered(item), response.json()))
        assert not mismatches, mismatches[:3]
        owners = {
            ("resources", item.resource_id)
            for item in items.values()
            if item.pool == "resource" and item.resource_id and not item.deleted
        }
        for kind, owner in sorted(owners):
            answered = await listed(client, f"/{kind}/{owner}/inventories")
            expected = [
                as_answered(item)
                for key, item in sorted(items.items())
                if item.pool == "resource" and item.resource_id == owner and not item.deleted
            ]
            assert answered == expected, owner
    return len(items)
