"""`invtrack`: serve, migrate, token, rebuild, ofs-poll, sm-poll, reconcile,
replay-quarantine, status."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from api import logs
from api.cli import poll, reconcile
from api.cli.rebuild import rebuild_command
from api.cli.replay import replay_command
from api.cli.serve import migrate, serve
from api.cli.status import status_command
from api.cli.token import token
from api.settings import SettingsError, from_env


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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="invtrack", description="Event-sourced inventory state tracker for field service."
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    serve_parser = commands.add_parser("serve", help="migrate if needed, then serve HTTP")
    serve_parser.add_argument("--host", default="127.0.0.1")
    serve_parser.add_argument("--port", type=int, default=8000)
    serve_parser.add_argument("--workers", type=int, default=1, help="worker processes")
    serve_parser.set_defaults(run=serve)

    commands.add_parser("migrate", help="create or upgrade the database schema").set_defaults(
        run=migrate
    )

    token_parser = commands.add_parser("token", help="print a signed JWT for the configured key")
    token_parser.add_argument("--scope", choices=["read", "write", "admin"], default=None)
    token_parser.add_argument("--ttl", type=int, default=3600, help="lifetime in seconds")
    token_parser.set_defaults(run=token)

    rebuild = commands.add_parser(
        "rebuild", help="rebuild projections from the event store without stopping the service"
    )
    rebuild.add_argument("projections", nargs="*", metavar="PROJECTION")
    rebuild.set_defaults(run=rebuild_command)

    poll.register(commands)
    reconcile.register(commands)
    commands.add_parser("replay-quarantine", help="retry quarantined payloads").set_defaults(
        run=replay_command
    )

    status = commands.add_parser(
        "status", help="counts, positions, projection versions and lag, quarantined payloads"
    )
    status.add_argument("--json", action="store_true", help="print JSON")
    status.set_defaults(run=status_command)
    return parser
