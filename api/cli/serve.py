"""`invtrack serve` and `invtrack migrate`."""

from __future__ import annotations

import argparse
import asyncio
import socket
import sys

from api.cli.failures import Failure
from api.settings import Settings


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from api.app import with_key

    can_listen(args.host, args.port)
    with_key(settings)
    asyncio.run(prepare_database(settings))
    serve_app("api.app:app_from_env", args.host, args.port, args.workers, settings)
    return 0


def serve_app(
    factory: str, host: str, port: int, workers: int, settings: Settings | None = None
) -> None:
    """Serve the app the factory (`module:function`) builds, in `workers`
    processes, with the configured timeouts and connection limit (each
    worker accepts through `api.cli.gate`)."""
    settings = settings or Settings()
    import uvicorn

    from api.cli.connections import HeaderDeadline
    from api.services.metrics import multiprocess_dir

    with multiprocess_dir(workers):
        try:
            uvicorn.run(
                factory,
                factory=True,
                host=host,
                port=port,
                workers=workers,
                log_config=None,
                access_log=False,
                server_header=False,
                timeout_graceful_shutdown=30,
                http=HeaderDeadline,
                loop="api.cli.gate:gated_loop",
                timeout_keep_alive=settings.keep_alive_seconds,
                limit_concurrency=settings.max_connections,
            )
        except SystemExit as stop:
            # uvicorn exits when it cannot start (it has logged why).
            if stop.code not in (0, None):
                raise Failure(f"the server could not start on {host}:{port}") from None


def can_listen(host: str, port: int) -> None:
    """Fail with one line, before anything starts, when the address cannot be
    listened on (taken by another server, or not ours to take). Bound as
    uvicorn binds it (SO_REUSEADDR), then let go."""
    where = f"{host}:{port}"
    try:
        addresses = socket.getaddrinfo(
            host or None, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )
    except (socket.gaierror, UnicodeError, OverflowError) as error:
        raise Failure(f"cannot listen on {where}: {_reason(error)}; check --host") from None
    for family, kind, protocol, _, address in addresses:
        with socket.socket(family, kind, protocol) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                probe.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                probe.bind(address)
            except OSError as error:
                raise Failure(
                    f"cannot listen on {where}: {_reason(error)}; stop what listens there "
                    "or choose another --host or --port"
                ) from None


def _reason(error: Exception) -> str:
    reason = getattr(error, "strerror", None) or str(error)
    return reason[:1].lower() + reason[1:]


async def prepare_database(settings: Settings) -> str | None:
    """Migrate the schema and set up the projections; the schema revision."""
    from api.services.stores import open_store
    from projections.setup import prepare

    store = open_store(settings, pool_size=2)
    try:
        await store.migrate()
        for item in await prepare(store):
            print(
                f"projection {item.name} is at version {item.active}, this build wants "
                f"{item.wanted}: run `invtrack rebuild {item.name}`",
                file=sys.stderr,
            )
        return await store.revision()
    finally:
        await store.close()


def migrate(settings: Settings, _: argparse.Namespace) -> int:
    print(f"schema at revision {asyncio.run(prepare_database(settings))}")
    return 0
