"""The security headers of every answer under /ui: pages, redirects, error
pages (whoever made them: a handler, the router's 404 or 405, an exception
handler) and static files alike.

Pages load only invtrack's own script and style, may not be framed, are
never sniffed as another type, and are not stored by the browser or a proxy;
static files that are found keep their own caching.
"""

from __future__ import annotations

from typing import Final

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

POLICY: Final = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
"""An injected script or style would not run even if a value escaped its escaping."""

HEADERS: Final = (
    (b"content-security-policy", POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
)
STATIC: Final = "/ui/static/"


def under_ui(path: str) -> bool:
    return path == "/ui" or path.startswith("/ui/")


class DashboardHeaders:
    """Sets the headers on every HTTP answer whose path is under /ui."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == ScopeType.HTTP else ""
        if not under_ui(path):
            await self.app(scope, receive, send)
            return
        static = path.startswith(STATIC)

        async def answer(message: Message) -> None:
            if message["type"] == "http.response.start":
                cached = static and message["status"] in (200, 304)
                message["headers"] = _secured(message.get("headers", []), cached)
            await send(message)

        await self.app(scope, receive, answer)


def _secured(headers: object, cached: bool) -> list[tuple[bytes, bytes]]:
    mine = {name for name, _ in HEADERS} | ({b"cache-control"} if not cached else set())
    kept = [
        (bytes(name), bytes(value))
        for name, value in headers  # type: ignore[attr-defined]
        if bytes(name).lower() not in mine
    ]
    kept.extend(HEADERS)
    if not cached:
        kept.append((b"cache-control", b"no-store"))
    return kept
