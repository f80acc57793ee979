"""`invtrack`: serve, migrate, token, rebuild, ofs-poll, replay-quarantine, status."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence

from api import logs
from api.settings import Settings, SettingsError, from_env


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        settings = from_env()
    except SettingsError as error:
        print(f"invtrack: {error}", file=sys.stderr)
        return 2
    logs.configure(settings.log_level, settings.log_format)
    try:
        code: int = args.run(settings, args)
    except KeyboardInterrupt:
        return 130
    return code


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    from api.app import with_key

    with_key(settings)
    asyncio.run(_prepare_database(settings))
    serve_app("api.app:app_from_env", args.host, args.port, args.workers)
    return 0


def serve_app(factory: str, host: str, port: int, workers: int) -> None:
    """Serve the app the factory (`module:function`) builds, in `workers` processes."""
    import uvicorn

    from api.metrics import multiprocess_dir

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
        )


async def _prepare_database(settings: Settings) -> str | None:
    """Migrate the schema and set up the projections; the schema revision."""
    from adapters.store import EventStore, connect
    from projections.setup import prepare

    database = connect(settings.database_url)
    try:
        await database.migrate()
        for item in await prepare(EventStore(database)):
            print(
                f"projection {item.name} is at version {item.active}, this build wants "
                f"{item.wanted}: run `invtrack rebuild {item.name}`",
                file=sys.stderr,
            )
        return await database.current_revision()
    finally:
        await database.dispose()


def _migrate(settings: Settings, _: argparse.Namespace) -> int:
    print(f"schema at revision {asyncio.run(_prepare_database(settings))}")
    return 0


def _token(settings: Settings, args: argparse.Namespace) -> int:
    from adapters.auth import mint
    from api.app import with_key

    if (settings.auth.public_key or settings.auth.jwks_url) and not settings.auth.secret:
        print(
            "invtrack: tokens are verified with a public key; mint them with the "
            "matching private key, not with invtrack",
            file=sys.stderr,
        )
        return 2
    secret = with_key(settings).auth.secret
    assert secret is not None
    print(mint(secret, scope=args.scope, ttl_seconds=args.ttl))
    return 0


def _rebuild(settings: Settings, args: argparse.Namespace) -> int:
    from api.maintenance import run_rebuild

    return asyncio.run(run_rebuild(settings, list(args.projections)))


def _replay(settings: Settings, _: argparse.Namespace) -> int:
    from api.maintenance import run_replay_quarantine

    return asyncio.run(run_replay_quarantine(settings))


def _status(settings: Settings, args: argparse.Namespace) -> int:
    from api.maintenance import run_status

    return asyncio.run(run_status(settings, as_json=args.json))


def _ofs_poll(settings: Settings, _: argparse.Namespace) -> int:
    from api.ofs_poll import run_ofs_poll

    return asyncio.run(run_ofs_poll(settings))


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invtrack", description="Event-sourced inventory state tracker for field service."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve = commands.add_parser("serve", help="migrate if needed, then serve HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1, help="worker processes")
    serve.set_defaults(run=_serve)

    commands.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        run=_migrate
    )

    token = commands.add_parser("token", help="print a signed JWT for the configured key")
    token.add_argument("--scope", choices=["read", "write", "admin"], default=None)
    token.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token.set_defaults(run=_token)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild projections from the event store without stopping the service"
    )
    rebuild.add_argument("projections", nargs="*", metavar="PROJECTION")
    rebuild.set_defaults(run=_rebuild)

    commands.add_parser(
        "ofs-poll", help="pull OFS events through the Events API until stopped"
    ).set_defaults(run=_ofs_poll)
    commands.add_parser("replay-quarantine", help="retry quarantined payloads").set_defaults(
        run=_replay
    )

    status = commands.add_parser(
        "status", help="counts, positions, projection versions and lag, quarantined payloads"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=_status)
    return parser


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
