"""How long `invtrack serve` waits for a client, and for how many.

uvicorn closes a kept-alive connection that stays idle (`--timeout-keep-alive`)
and answers 503 beyond a number of connections (`--limit-concurrency`), but
it waits for a request's headers forever: a client that connects and says
nothing, or sends its headers a byte at a time, holds a connection and a file
descriptor for good. `HeaderDeadline` closes a connection whose request
headers are not complete within INVTRACK_HEADER_TIMEOUT seconds of its
start. The body has its own deadline (api.http.timeouts).
"""

from __future__ import annotations

import asyncio
from functools import cache

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from api.settings import from_env


@cache
def _header_timeout() -> float:
    # Read in each worker process, which imports this class on its own.
    return float(from_env().header_timeout_seconds)


class HeaderDeadline(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for each request's headers."""

    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start_deadline()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._start_deadline()

    def on_headers_complete(self) -> None:
        self._stop_deadline()
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_deadline()
        super().connection_lost(exc)

    def _start_deadline(self) -> None:
        self._stop_deadline()
        self._deadline = self.loop.call_later(_header_timeout(), self._too_slow)

    def _stop_deadline(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            self.transport.close()
