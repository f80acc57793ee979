"""Reading one's own writes across a read replica.

Every successful write answer (POST, PUT, PATCH, DELETE) carries
`Invtrack-Position`: the store's last event position once the write
committed. A request sent with `Invtrack-Min-Position: P` is answered from
data that shows at least P: the read replica once it shows P (waiting up to
two seconds), else the primary. A value that is not a whole number from 0 on
is refused with 400.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Final

import msgspec
from litestar.enums import ScopeType
from litestar.types import (
    ASGIApp,
    HTTPResponseBodyEvent,
    HTTPResponseStartEvent,
    Message,
    Receive,
    Scope,
    Send,
)

from adapters.store import Reader, reading_after
from api.http.problems import PROBLEM_JSON, ProblemBody
from api.services import written

log = logging.getLogger("invtrack.api")

MIN_POSITION: Final = b"invtrack-min-position"
POSITION: Final = b"invtrack-position"
WRITES: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_MAX_DIGITS: Final = 18


def wanted_position(raw: bytes) -> int | None:
    """The position a request asks for; None when the value is not one."""
    text = raw.decode("latin-1").strip()
    if not text.isascii() or not text.isdigit() or len(text) > _MAX_DIGITS:
        return None
    return int(text)


class Positions:
    """Around the app: `Invtrack-Min-Position` on the way in,
    `Invtrack-Position` on write answers."""

    def __init__(self, app: ASGIApp, primary: Reader) -> None:
        self.app = app
        self.primary = primary

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        raw = next((v for n, v in scope.get("headers", []) if n == MIN_POSITION), None)
        position = None if raw is None else wanted_position(raw)
        if raw is not None and position is None:
            await _refuse(send, raw)
            return
        reading = contextlib.nullcontext() if position is None else reading_after(position)
        with reading, written.noting() as noted:
            if scope.get("method") not in WRITES:
                await self.app(scope, receive, send)
                return

            async def send_position(message: Message) -> None:
                if message["type"] == "http.response.start" and 200 <= message["status"] < 400:
                    at = noted.position or await self._head()
                    if at is not None:
                        headers = [*message.get("headers", []), (POSITION, str(at).encode())]
                        message = {**message, "headers": headers}
                await send(message)

            await self.app(scope, receive, send_position)

    async def _head(self) -> int | None:
        """The primary's last position, read after the write committed."""
        try:
            return await self.primary.head()
        except Exception:  # the answer goes out without the header
            log.warning("the write's position could not be read: answered without it")
            return None


async def _refuse(send: Send, raw: bytes) -> None:
    shown = raw.decode("latin-1")[:40]
    body = msgspec.json.encode(
        ProblemBody(
            type="https://invtrack.dev/problems/bad-request",
            title="Bad Request",
            status=400,
            detail=f"Invtrack-Min-Position must be a position (a whole number from 0), "
            f"not {shown!r}",
        )
    )
    start: HTTPResponseStartEvent = {
        "type": "http.response.start",
        "status": 400,
        "headers": [
            (b"content-type", PROBLEM_JSON.encode()),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    await send(start)
    end: HTTPResponseBodyEvent = {"type": "http.response.body", "body": body, "more_body": False}
    await send(end)
