"""A bound on the connections each `invtrack serve` worker accepts.

uvicorn's `limit_concurrency` answers 503 once a request's headers are in:
connections that say nothing are accepted all the same, each holding a file
descriptor until the header deadline closes it, so a flood of them uses up
the process's descriptors (then accept() fails, and so does whatever else
needs one: the database, /health). Here each worker's event loop accepts
through a gate instead: at most N connections are open at once, and the
next waits in the kernel's listen backlog (which holds no descriptor of
ours) until one closes, within the header timeout at the latest.

N is INVTRACK_MAX_CONNECTIONS, lowered (with a warning) to what the soft
limit of open files (`ulimit -n`) leaves after RESERVED descriptors for the
database pool, log and metrics files and outgoing calls. uvicorn is given
the loop as `--loop api.cli.gate:gated_loop`; only plain TCP listeners are
gated (it serves no TLS or Unix socket here).
"""

from __future__ import annotations

import asyncio
import logging
import resource
import socket
from collections.abc import Callable
from functools import cache
from typing import Any, Final

from api.settings import from_env

log = logging.getLogger("invtrack.serve")

RESERVED: Final = 64
"""Descriptors kept for everything but client connections, beside two per
pooled database connection."""
RETRY_SECONDS: Final = 0.1
"""Pause after accept() itself failed (the system is out of descriptors)."""


def connection_bound(max_connections: int, pool_size: int, open_files: int) -> int:
    """Connections a worker may hold: the configured most, within the
    descriptors the open-files limit leaves (at least 1)."""
    spare = open_files - RESERVED - 2 * pool_size
    return max(1, min(max_connections, spare))


@cache
def _bound() -> int:
    # Read in each worker process, which builds its own loop.
    settings = from_env()
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    open_files = soft if soft != resource.RLIM_INFINITY else 1 << 20
    bound = connection_bound(settings.max_connections, settings.pool_size, open_files)
    if bound < settings.max_connections:
        log.warning(
            "the open files limit (ulimit -n) is %d: accepting at most %d connections per worker, "
            "not INVTRACK_MAX_CONNECTIONS=%d; raise the limit to at least %d",
            soft,
            bound,
            settings.max_connections,
            settings.max_connections + RESERVED + 2 * settings.pool_size,
        )
    return bound


class Gate:
    """Accepts from one listening socket while fewer than `bound` of the
    connections it accepted are open; what uvicorn sees as its server."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        factory: Callable[[], asyncio.Protocol],
        sock: socket.socket,
        bound: int,
    ) -> None:
        self.loop = loop
        self.factory = factory
        self.sock = sock
        self.sockets = [sock]
        self.slots = asyncio.Semaphore(bound)
        sock.setblocking(False)
        self.task = loop.create_task(self._serve(), name="invtrack-accept")

    async def _serve(self) -> None:
        while True:
            await self.slots.acquire()
            try:
                conn, _ = await self.loop.sock_accept(self.sock)
            except OSError as error:
                self.slots.release()
                log.error("accepting a connection failed: %s", error)
                await asyncio.sleep(RETRY_SECONDS)
                continue
            await self._open(conn)

    async def _open(self, conn: socket.socket) -> None:
        protocol = self.factory()
        lost = protocol.connection_lost
        released = False

        def connection_lost(exc: Exception | None) -> None:
            nonlocal released
            try:
                lost(exc)
            finally:
                if not released:
                    released = True
                    self.slots.release()

        protocol.connection_lost = connection_lost  # type: ignore[method-assign]
        try:
            await self.loop.connect_accepted_socket(lambda: protocol, conn)
        except OSError:
            conn.close()
            if not released:
                released = True
                self.slots.release()

    def close(self) -> None:
        self.task.cancel()
        self.sock.close()

    async def wait_closed(self) -> None:
        await asyncio.gather(self.task, return_exceptions=True)

    def is_serving(self) -> bool:
        return not self.task.done()


class _Gated:
    """Makes an event loop's TCP servers gated ones."""

    async def create_server(  # type: ignore[no-untyped-def]
        self, protocol_factory, host=None, port=None, *, sock=None, ssl=None, backlog=100, **rest
    ) -> Any:
        loop: Any = super()
        if ssl is not None or rest.get("family") == socket.AF_UNIX:
            return await loop.create_server(
                protocol_factory, host, port, sock=sock, ssl=ssl, backlog=backlog, **rest
            )
        if sock is None:
            sock = socket.create_server((host or "0.0.0.0", port or 0), backlog=backlog)  # noqa: S104
        sock.listen(backlog)  # a socket bound for several workers is not listening yet
        gated_loop = self if isinstance(self, asyncio.AbstractEventLoop) else None
        assert gated_loop is not None
        return Gate(gated_loop, protocol_factory, sock, _bound())


def _loop_class() -> type[asyncio.AbstractEventLoop]:
    try:
        import uvloop
    except ImportError:  # pragma: no cover  # uvicorn[standard] brings it
        return type("GatedLoop", (_Gated, asyncio.SelectorEventLoop), {})
    return type("GatedLoop", (_Gated, uvloop.Loop), {})


def gated_loop() -> asyncio.AbstractEventLoop:
    """A new event loop whose TCP servers accept through a `Gate` (uvloop
    when installed, as uvicorn would pick)."""
    return _loop_class()()
