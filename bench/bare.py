"""The bare app: what any Litestar service taking these webhooks must do, and
nothing more, to measure what invtrack's own stack costs on top of it.

Two routes with the paths and answers of invtrack's: the token is checked the
same way (`VerifiedTokens` over the same `TokenVerifier`: the signature once
per token, then remembered), the body decoded with msgspec into the shape of
the envelope (a ServiceMobility CloudEvents envelope with its rows, an OFS
page with its items), and the answer encoded by Litestar. No middleware,
logging, metrics, translation, admission or problem details. Served by
uvicorn with the options `invtrack serve` uses (`serve_app`), so the two
differ only in the stack.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from typing import Any

import msgspec
from litestar import Litestar, Request, get, post
from litestar.exceptions import NotAuthorizedException

from adapters.auth import InvalidToken, TokenVerifier
from api.app import with_key
from api.cli.serve import serve_app
from api.services.access import VerifiedTokens
from api.settings import from_env


class Envelope(msgspec.Struct):
    id: str
    type: str
    data: dict[str, Any]


class Page(msgspec.Struct):
    items: list[dict[str, Any]]


class Accepted(msgspec.Struct):
    status: str
    id: str
    duplicate: bool
    events: int


class PageAccepted(msgspec.Struct):
    status: str
    received: int
    duplicates: int
    events: int


_envelope = msgspec.json.Decoder(Envelope)
_page = msgspec.json.Decoder(Page)


def bare_app() -> Litestar:
    verifier = VerifiedTokens(TokenVerifier(with_key(from_env()).auth))

    async def check(token: str | None) -> None:
        if not token:
            raise NotAuthorizedException("no token")
        try:
            await verifier.verify_async(token)
        except InvalidToken as error:
            raise NotAuthorizedException(str(error)) from None

    @post(["/servicemobility/{kind:str}", "/servicemobility/{kind:str}/"], status_code=200)
    async def servicemobility(kind: str, request: Request[Any, Any, Any]) -> Accepted:
        await check(request.headers.get("x-access-token"))
        envelope = _envelope.decode(await request.body())
        rows = envelope.data.get("rows") or ()
        return Accepted(status="accepted", id=envelope.id, duplicate=False, events=len(rows))

    @post("/ofs/events", status_code=200)
    async def ofs_events(request: Request[Any, Any, Any]) -> PageAccepted:
        authorization = request.headers.get("authorization") or ""
        await check(authorization.removeprefix("Bearer ") or request.headers.get("x-access-token"))
        page = _page.decode(await request.body())
        count = len(page.items)
        return PageAccepted(status="accepted", received=count, duplicates=0, events=count)

    @get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return Litestar(
        route_handlers=[servicemobility, ofs_events, health],
        openapi_config=None,
        logging_config=None,
        debug=False,
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    serve_app("bench.bare:bare_app", args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
