"""`invtrack ofs-poll` and `invtrack sm-poll`: pull from the vendors until
SIGTERM or SIGINT, or with `--once` until caught up."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from adapters.ofs.client import OfsRejected
from adapters.pulling import DEFAULT_MAX_WAIT, Unreachable
from adapters.servicemobility_export.client import SmRejected
from api.services.polling import poll_until_stopped, pull_servicemobility
from api.services.vendors import poller_config, sm_poller_configs
from api.settings import Settings

log = logging.getLogger("invtrack.polling")

OFS_EPILOG = """\
environment:
  INVTRACK_OFS_URL                the instance's base URL (required)
  INVTRACK_OFS_AUTH               basic, bearer, client_credentials or jwt
                                  (default: bearer with INVTRACK_OFS_TOKEN, else basic)
  INVTRACK_OFS_CLIENT_ID, INVTRACK_OFS_INSTANCE
                                  the application and the instance name
  INVTRACK_OFS_CLIENT_SECRET      for basic and client_credentials
  INVTRACK_OFS_TOKEN              a fixed access token, for bearer
  INVTRACK_OFS_PRIVATE_KEY_FILE   PEM RSA key signing the assertions, for jwt
  INVTRACK_OFS_USER               OFS login the assertion names (default: the application)
  INVTRACK_OFS_IDLE_SECONDS       pause once caught up (default 10)
  INVTRACK_OFS_RATE               requests a second to the instance, at most (default 10)
  INVTRACK_OFS_GAP_DAYS           after a subscription gap, reconcile what changed in
                                  this many days before it (default 3)
  INVTRACK_VENDOR_MAX_BYTES       largest answer read (default 33554432)
  INVTRACK_VENDOR_DEADLINE        longest one exchange may take, in seconds (default 120)
  INVTRACK_VENDOR_MAX_PAGES       most pages one --once run reads (default 10000)

Caught up also when nextPage does not move or comes back to a page this run
has read. A subscription OFS dropped is replaced and the gap recorded.

exit status: 0 stopped or caught up; 1 OFS refused the credentials or a
request; 2 the configuration is incomplete or cannot be used (a URL that is
not http(s)); 3 with --once, OFS could not be read for --max-wait seconds.
"""

SM_EPILOG = """\
environment:
  INVTRACK_SM_URL                 the site's base URL (required)
  INVTRACK_SM_TOKEN               a JWT issued for invtrack (sent in x-access-token)
  INVTRACK_SM_USERNAME, INVTRACK_SM_PASSWORD
                                  exchanged for a JWT at INVTRACK_SM_LOGIN_PATH
  INVTRACK_SM_LOGIN_PATH          the login endpoint (default /createjwt)
  INVTRACK_SM_CUSTOMER_ID, INVTRACK_SM_CUSTOMER_CODE
                                  legacy credentials, sent as URI parameters
  INVTRACK_SM_SOURCES             src values to pull, comma-separated, each with
                                  its own cursor: mob, sch, api (default mob)
  INVTRACK_SM_START_ROWVER        where the first pull starts (default 0)
  INVTRACK_SM_LIMIT               rows asked for per page (default 100)
  INVTRACK_SM_IDLE_SECONDS        pause once caught up (default 60)
  INVTRACK_VENDOR_MAX_BYTES       largest answer read (default 33554432)
  INVTRACK_VENDOR_DEADLINE        longest one exchange may take, in seconds (default 120)
  INVTRACK_VENDOR_MAX_PAGES       most pages one --once run reads per source (default 10000)

Exactly one kind of credentials is set. At most 15 requests a second go out.
Caught up also when the rowver does not move or comes back to one this run
has read.

exit status: 0 stopped or caught up; 1 ServiceMobility refused the
credentials or a request; 2 the configuration is incomplete or cannot be used
(a URL that is not http(s)); 3 with --once, the site could not be read for
--max-wait seconds.
"""


def register(commands: Any) -> None:
    """The `ofs-poll` and `sm-poll` subcommands."""
    ofs = commands.add_parser(
        "ofs-poll",
        help="pull OFS events through the Events API until stopped",
        description="Pull OFS inventory events through the Events API until SIGTERM or "
        "SIGINT; each page commits with its cursor.",
        epilog=OFS_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ofs.add_argument("--once", action="store_true", help="stop when OFS has nothing newer")
    _max_wait(ofs, "OFS")
    ofs.set_defaults(run=ofs_poll)
    sm = commands.add_parser(
        "sm-poll",
        help="pull ServiceMobility InventoryUsage through the Export API",
        description="Pull ServiceMobility InventoryUsage rows through the Export API until "
        "SIGTERM or SIGINT; each page commits with its rowver cursor. A row that "
        "also came by webhook counts once.",
        epilog=SM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sm.add_argument("--once", action="store_true", help="stop when every source has nothing newer")
    sm.add_argument(
        "--from",
        dest="start_at",
        metavar="ROWVER",
        help="read again from this rowver instead of the saved cursor (re-extraction); "
        "rows already stored change nothing",
    )
    _max_wait(sm, "the site")
    sm.set_defaults(run=sm_poll)


def _max_wait(parser: Any, vendor: str) -> None:
    parser.add_argument(
        "--max-wait",
        type=_seconds,
        default=DEFAULT_MAX_WAIT,
        metavar="SECONDS",
        help=f"with --once, give up (exit 3) when {vendor} cannot be read for this long "
        f"(default {DEFAULT_MAX_WAIT:g})",
    )


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {value!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number of seconds: {value!r}")
    return seconds


def ofs_poll(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_ofs_poll(settings, once=args.once, max_wait=args.max_wait))


def sm_poll(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(
        run_sm_poll(settings, once=args.once, start_at=args.start_at, max_wait=args.max_wait)
    )


async def run_ofs_poll(
    settings: Settings, *, once: bool = False, max_wait: float = DEFAULT_MAX_WAIT
) -> int:
    try:
        config = poller_config(settings, max_wait=max_wait)
    except ValueError as error:
        return _misconfigured(error)
    try:
        await poll_until_stopped(config, settings, _stop_on_signals(), once=once)
    except OfsRejected as error:
        log.error("OFS refused the poller: %s; check the credentials and permissions", error)
        return 1
    except Unreachable as error:
        return _unreachable(error, "INVTRACK_OFS_URL")
    return 0


async def run_sm_poll(
    settings: Settings,
    *,
    once: bool = False,
    start_at: str | None = None,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> int:
    try:
        configs = sm_poller_configs(settings, max_wait=max_wait)
    except ValueError as error:
        return _misconfigured(error)
    try:
        await pull_servicemobility(
            configs, settings, _stop_on_signals(), once=once, start_at=start_at
        )
    except ExceptionGroup as group:
        return _sm_failed(group)
    return 0


def _sm_failed(group: ExceptionGroup[Exception]) -> int:
    refused = group.subgroup(SmRejected)
    if refused is not None:
        log.error(
            "ServiceMobility refused the poller: %s; check the credentials and permissions",
            refused.exceptions[0],
        )
        return 1
    unreachable = group.subgroup(Unreachable)
    if unreachable is not None:
        first = unreachable.exceptions[0]
        assert isinstance(first, Unreachable)
        return _unreachable(first, "INVTRACK_SM_URL")
    raise group


def _unreachable(error: Unreachable, variable: str) -> int:
    print(f"invtrack: {error}; is {variable} right and the site up?", file=sys.stderr)
    return 3


def _misconfigured(error: ValueError) -> int:
    print(f"invtrack: {error}", file=sys.stderr)
    return 2


def _stop_on_signals() -> asyncio.Event:
    """An event SIGTERM and SIGINT set: the page being committed is finished first."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    return stop
