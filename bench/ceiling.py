"""The ingest ceiling: invtrack's own HTTP stack with no database behind it.

The app is `create_app` unchanged (routes, middleware, token verification,
translation, metrics) except that its receiver's ingestor answers every
delivery with a receipt at once instead of committing it, and the startup hook
that migrates the database is left out. Served by uvicorn with the options
`invtrack serve` uses, so the only difference from the real server is the
database work.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence

from litestar import Litestar

from adapters.store import Delivery, Receipt
from api import logs
from api.app import Services, create_app
from api.cli.serve import serve_app
from api.services.metrics import MeteredIngestor
from api.settings import from_env


class NoStoreIngestor(MeteredIngestor):
    """Counts deliveries like the real one and commits nothing; never started,
    so `submit` answers through `commit` at once."""

    async def commit(self, deliveries: Sequence[Delivery]) -> list[Receipt]:
        return [_receipt(delivery) for delivery in deliveries]


def _receipt(delivery: Delivery) -> Receipt:
    # A committed delivery's receipt names the position it reached, which the
    # answer's Invtrack-Position header carries: so does this one.
    if delivery.rejected is not None:
        return Receipt(inbox_id=0, quarantined=True, position=1)
    return Receipt(inbox_id=0, appended=len(delivery.facts), position=1)


def ceiling_app() -> Litestar:
    app = create_app(from_env())
    services: Services = app.state["services"]
    services.receiver.ingestor = NoStoreIngestor(services.store)
    app.on_startup.clear()
    return app


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.ceiling")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    settings = from_env()
    logs.configure(settings.log_level, settings.log_format)
    serve_app("bench.ceiling:ceiling_app", args.host, args.port, args.workers)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
