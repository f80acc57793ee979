"""`invtrack serve` and `invtrack migrate`."""

from __future__ import annotations

import argparse
import asyncio
import sys

from api.settings import Settings


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from api.app import with_key

    with_key(settings)
    asyncio.run(prepare_database(settings))
    serve_app("api.app:app_from_env", args.host, args.port, args.workers, settings)
    return 0


def serve_app(
    factory: str, host: str, port: int, workers: int, settings: Settings | None = None
) -> None:
    """Serve the app the factory (`module:function`) builds, in `workers`
    processes, with the configured timeouts and connection limit."""
    settings = settings or Settings()
    import uvicorn

    from api.cli.connections import HeaderDeadline
    from api.services.metrics import multiprocess_dir

    with multiprocess_dir(workers):
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
            timeout_keep_alive=settings.keep_alive_seconds,
            limit_concurrency=settings.max_connections,
        )


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
