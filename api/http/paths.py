"""Path parameters that may hold a `/`: storage locations like `WH/01`, work
orders like `WO/5521`, customers like `C/1009`.

A client sends such an id with its slash percent-encoded
(`/resources/WH%2F01/inventories`). The server decodes the path before
routing, which would turn that one segment into two, so `EncodedSlashes`
routes on the raw path instead: each segment is decoded on its own and then
re-encoded for `%` and `/` only, so it stays one segment. `path_text` gives a
parameter taken from such a path its real value back. For a path without `%`
in it, nothing changes.
"""

from __future__ import annotations

from urllib.parse import unquote

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send


def path_text(value: str) -> str:
    """The id a path parameter holds, with encoded `/` and `%` decoded."""
    return unquote(value) if "%" in value else value


def _routable(segment: bytes) -> str:
    decoded = unquote(segment.decode("ascii", "replace"))
    return decoded.replace("%", "%25").replace("/", "%2F")


class EncodedSlashes:
    """Routes every request on its raw path, segment by segment (see above)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        raw = scope.get("raw_path")
        if scope["type"] == ScopeType.HTTP and raw and b"%" in raw:
            path = raw.split(b"?", 1)[0]
            scope["path"] = "/".join(_routable(segment) for segment in path.split(b"/"))
        await self.app(scope, receive, send)
