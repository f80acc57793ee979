"""A deadline for each request's body: a sender that starts a body and then
sends it a byte at a time gets 408 once INVTRACK_BODY_TIMEOUT seconds have
passed since it was first read, and nothing of it is kept."""

from __future__ import annotations

import asyncio

from litestar.enums import ScopeType
from litestar.exceptions import HTTPException
from litestar.status_codes import HTTP_408_REQUEST_TIMEOUT
from litestar.types import ASGIApp, Receive, ReceiveMessage, Scope, Send


class BodyDeadline:
    def __init__(self, app: ASGIApp, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        loop = asyncio.get_running_loop()
        deadline: float | None = None

        async def receive_in_time() -> ReceiveMessage:
            nonlocal deadline
            deadline = deadline or loop.time() + self.seconds
            try:
                async with asyncio.timeout_at(deadline):
                    message: ReceiveMessage = await receive()
                    return message
            except TimeoutError:
                raise HTTPException(
                    status_code=HTTP_408_REQUEST_TIMEOUT,
                    detail="the request body did not arrive in time; nothing of it was kept",
                ) from None

        await self.app(scope, receive_in_time, send)
