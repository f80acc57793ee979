"""`invtrack ofs-required`: read OFS required inventories for the activities
scheduled in the next days (or the ones named), once or on a schedule."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from typing import Any

from adapters.ofs.client import OfsRejected
from adapters.pulling import DEFAULT_MAX_WAIT, Unreachable
from api.cli.poll import _seconds, _stop_on_signals
from api.services.required import read_on_schedule, read_required
from api.services.vendors import own_store, poller_config
from api.settings import Settings

log = logging.getLogger("invtrack.ofs.required")

EPILOG = """\
environment:
  INVTRACK_OFS_URL and the OFS credentials, as for `invtrack ofs-poll`
  INVTRACK_OFS_REQUIRED_DAYS      default for --days (2: today and tomorrow)
  INVTRACK_OFS_REQUIRED_EVERY     without --once, the pause between runs (default 1h);
                                  set, `invtrack serve` runs it on that schedule too
  INVTRACK_OFS_RATE               requests a second to the instance, at most (default 10)

An answer that is empty, larger than 1000 lines or INVTRACK_VENDOR_MAX_BYTES,
or not to the schema marks the activity's readiness unknown (not ready); the
run goes on. A read is stored only when it changes what is known.

exit status: 0 done (or stopped); 1 OFS refused the credentials or a request;
2 the configuration is incomplete; 3 OFS could not be read for --max-wait seconds.
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "ofs-required",
        help="read OFS required inventories of the activities scheduled soon",
        description="Read each activity's required inventories through the OFS Core API "
        "(GET /rest/ofscCore/v1/activities/{activityId}/requiredInventories) and store "
        "them as events; parts readiness compares them with the resource's stock.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--days",
        type=_days,
        default=None,
        metavar="N",
        help="the activities scheduled today and in the N-1 days after (default 2)",
    )
    parser.add_argument(
        "--activity",
        action="append",
        default=[],
        metavar="ID",
        help="read this activity (repeatable) instead of the scheduled ones",
    )
    parser.add_argument("--once", action="store_true", help="one run, then stop")
    parser.add_argument(
        "--max-wait",
        type=_seconds,
        default=DEFAULT_MAX_WAIT,
        metavar="SECONDS",
        help="give up (exit 3) when OFS cannot be read for this long "
        f"(default {DEFAULT_MAX_WAIT:g})",
    )
    parser.set_defaults(run=ofs_required)


def _days(text: str) -> int:
    if not (text.isascii() and text.isdigit() and 0 < int(text) <= 60):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of days (1 to 60)")
    return int(text)


def ofs_required(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(
        run_ofs_required(
            settings,
            days=args.days or settings.signals.required_days,
            activities=args.activity,
            once=args.once,
            max_wait=args.max_wait,
        )
    )


async def run_ofs_required(
    settings: Settings,
    *,
    days: int,
    activities: list[str],
    once: bool = True,
    max_wait: float = DEFAULT_MAX_WAIT,
) -> int:
    try:
        config = poller_config(settings, max_wait=max_wait)
    except ValueError as error:
        print(f"invtrack: {error}", file=sys.stderr)
        return 2
    async with own_store(settings) as store:
        if not once:
            every = settings.signals.required_every or 3600.0
            await read_on_schedule(store, config, _stop_on_signals(), every=every, days=days)
            return 0
        try:
            run = await read_required(store, config, days=days, activities=activities)
        except OfsRejected as error:
            log.error("OFS refused the request: %s; check the credentials and permissions", error)
            return 1
        except Unreachable as error:
            print(f"invtrack: {error}; is INVTRACK_OFS_URL right and OFS up?", file=sys.stderr)
            return 3
    print(
        f"read {run.activities} activities: {run.stored} stored, {run.unknown} unknown",
        file=sys.stdout,
    )
    return 0
