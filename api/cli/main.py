"""`invtrack`: serve, migrate, token, rebuild, ofs-poll, sm-poll, reconcile,
replay-quarantine, status."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Sequence
from importlib.metadata import version
from typing import NoReturn

from api import logs
from api.cli import poll, reconcile, required, usage
from api.cli.failures import database_url, explain, require_store
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
        if args.run is not token:
            database_url(settings.database_url)
        if args.run not in (token, serve, migrate):
            asyncio.run(require_store(settings.database_url))
        code: int = args.run(settings, args)
    except KeyboardInterrupt:
        return 130
    except Exception as error:
        if args.debug:
            raise
        print(f"invtrack: {explain(error, settings.database_url)}", file=sys.stderr)
        return 1
    return code


class _Parser(argparse.ArgumentParser):
    """A mistaken command line is one line naming what is wrong, and exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see `{self.prog} --help`)\n")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="invtrack", description="Event-sourced inventory state tracker for field service."
    )
    parser.add_argument("--version", action="version", version=f"invtrack {version('invtrack')}")
    parser.add_argument("--debug", action="store_true", help="show the traceback of a failure")
    # Also accepted after the command, without overriding one given before it.
    common = _Parser(add_help=False)
    common.add_argument(
        "--debug", action="store_true", default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )
    commands = parser.add_subparsers(required=True, metavar="COMMAND")

    def command(name: str, summary: str, epilog: str) -> argparse.ArgumentParser:
        return commands.add_parser(
            name,
            help=summary,
            description=summary,
            epilog=epilog,
            parents=[common],
            formatter_class=argparse.RawDescriptionHelpFormatter,
        )

    serve_parser = command("serve", "migrate if needed, then serve HTTP", usage.SERVE)
    serve_parser.add_argument("--host", default="127.0.0.1", help="default 127.0.0.1")
    serve_parser.add_argument("--port", type=_port, default=8000, help="default 8000")
    serve_parser.add_argument(
        "--workers", type=_at_least_one, default=1, metavar="N", help="processes (default 1)"
    )
    serve_parser.set_defaults(run=serve)

    command("migrate", "create or upgrade the database schema", usage.MIGRATE).set_defaults(
        run=migrate
    )

    token_parser = command("token", "print a signed JWT for the configured key", usage.TOKEN)
    token_parser.add_argument(
        "--scope",
        choices=["read", "write", "admin"],
        default=None,
        help="default: no scope (a webhook sender's token)",
    )
    token_parser.add_argument(
        "--ttl",
        type=_seconds,
        default=3600,
        metavar="SECONDS",
        help="lifetime in seconds, 1 or more (default 3600)",
    )
    token_parser.set_defaults(run=token)

    rebuild = command(
        "rebuild",
        "rebuild projections from the event store without stopping the service",
        usage.REBUILD,
    )
    rebuild.add_argument("projections", nargs="*", metavar="PROJECTION")
    rebuild.set_defaults(run=rebuild_command)

    poll.register(commands)
    required.register(commands)
    reconcile.register(commands)
    command("replay-quarantine", "retry quarantined payloads", usage.REPLAY).set_defaults(
        run=replay_command
    )

    status = command(
        "status",
        "counts, positions, projection versions and lag, quarantined payloads "
        "(each with the times it came), row conflicts, pullers failing and OFS subscription gaps",
        usage.STATUS,
    )
    status.add_argument("--json", action="store_true", help="print JSON (default: tables)")
    status.set_defaults(run=status_command)
    return parser


def _whole(text: str, what: str) -> int:
    """A whole number of 1 or more."""
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not {what} (1 or more)")
    return number


def _at_least_one(text: str) -> int:
    return _whole(text, "a number of processes")


def _seconds(text: str) -> int:
    return _whole(text, "a number of seconds")


def _port(text: str) -> int:
    port = _whole(text, "a TCP port")
    if port > 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (1 to 65535)")
    return port
