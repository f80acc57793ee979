"""`invtrack reconcile ofs`: compare invtrack's pools with what OFS reports now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from adapters.ofs.client import OfsRejected, OfsUnavailable
from api.http.schemas import RunOut
from api.services.reconciling import Targets, run_reconciliation
from api.settings import Settings
from domain.reconciliation import Reconciliation

EPILOG = """\
OFS is reached as `invtrack ofs-poll` reaches it (INVTRACK_OFS_URL and the
credentials: see `invtrack ofs-poll --help`), with the same backoff.

Each run is kept: GET /reconciliations lists them, /metrics counts them.

exit status: 0 no difference; 1 differences found; 2 nothing to compare,
OFS not configured, or OFS refused or could not answer.
"""


def register(commands: Any) -> None:
    """The `reconcile` subcommand and its vendors."""
    parser = commands.add_parser(
        "reconcile", help="compare invtrack's pools with what a vendor reports now"
    )
    vendors = parser.add_subparsers(required=True, metavar="VENDOR")
    ofs = vendors.add_parser(
        "ofs",
        help="compare with OFS's current inventory",
        description="Read OFS's current inventory of the resources and activities named and "
        "compare it item by item with invtrack's pools: items missing on either side, and "
        "differing pool, owner, quantity, serial number or type. Reports; never changes stock.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ofs.add_argument(
        "--resource", action="append", default=[], metavar="ID", help="a resource's pool"
    )
    ofs.add_argument(
        "--activity",
        action="append",
        default=[],
        metavar="ID",
        help="an activity's customer, install and deinstall pools",
    )
    ofs.add_argument(
        "--all-known",
        action="store_true",
        help="every resource and activity invtrack has known an OFS item at",
    )
    ofs.add_argument("--json", action="store_true", help="print the run as JSON")
    ofs.set_defaults(run=reconcile_ofs)


def reconcile_ofs(settings: Settings, args: argparse.Namespace) -> int:
    targets = Targets(resources=tuple(args.resource), activities=tuple(args.activity))
    if not (targets.resources or targets.activities or args.all_known):
        print("invtrack: name --resource, --activity or --all-known", file=sys.stderr)
        return 2
    try:
        run = asyncio.run(run_reconciliation(settings, targets, everything=args.all_known))
    except ValueError as error:
        print(f"invtrack: {error}", file=sys.stderr)
        return 2
    except (OfsRejected, OfsUnavailable) as error:
        print(f"invtrack: cannot read OFS's inventory: {error}", file=sys.stderr)
        return 2
    if args.json:
        sys.stdout.write(msgspec.json.encode(RunOut.of(run)).decode() + "\n")
    else:
        sys.stdout.write(report(run))
    return 1 if run.drifts else 0


def report(run: Reconciliation) -> str:
    """The run for people: what was compared, then each difference."""
    what = f"{_count(len(run.resources), 'resource')}, {_count(len(run.activities), 'activity')}"
    lines = [
        f"reconciliation {run.id} with OFS at {run.finished_at:%Y-%m-%dT%H:%M:%SZ}: "
        f"{what}, {_count(run.compared, 'item')} compared"
    ]
    if not run.drifts:
        lines.append("no differences")
    else:
        lines.append(f"{_count(run.drifted, 'item')} differ:")
        width = max(len(drift.key) for drift in run.drifts)
        lines += [
            f"  {drift.key:<{width}}  {drift.field:<13}  ours {_shown(drift.ours):<12}  "
            f"theirs {_shown(drift.theirs)}"
            for drift in run.drifts
        ]
    return "\n".join(lines) + "\n"


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def _shown(value: str | None) -> str:
    return "-" if value is None else value
