"""Every request, once it is answered: its id, its access line and its
request metrics (api.services.metrics). Only method, path, status, timing, the
request id and the pid of the process that answered (one of the workers of
`serve --workers N`) are logged, never a header or the query string, so
tokens and secrets never reach a log line."""

from __future__ import annotations

import logging
import os
import re
import time
import uuid

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from api.services.metrics import count_request

access = logging.getLogger("invtrack.access")
_SANE_ID = re.compile(rb"[\w-]{1,64}")


class RequestLogMiddleware:
    """Gives every request an id (the caller's `x-request-id` when sane),
    echoes it in the answer, and logs and counts the request when it ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            method, path = scope["method"], scope["path"]
            fields = {
                "request_id": request_id,
                "method": method,
                "path": path,
                "status": status,
                "pid": os.getpid(),
            }
            ms = round(seconds * 1000, 2)
            access.info("%s %s %s", method, path, status, extra={**fields, "duration_ms": ms})
            count_request(method, scope.get("path_template"), status, seconds)


def _request_id(scope: Scope) -> str:
    headers = scope.get("headers", [])
    sane = (v for n, v in headers if n == b"x-request-id" and _SANE_ID.fullmatch(v))
    return next(sane, b"").decode() or uuid.uuid4().hex
