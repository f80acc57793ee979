"""`invtrack reconcile ofs`: compare invtrack's pools with what OFS reports now."""

from __future__ import annotations

import argparse
import asyncio
import sys
from typing import Any

import msgspec

from adapters.ofs.client import OfsError
from api.http.schemas import RunOut
from api.services.reconciling import Targets, run_reconciliation
from api.settings import Settings
from domain.reconciliation import Reconciliation

EPILOG = """\
OFS is reached as `invtrack ofs-poll` reaches it (INVTRACK_OFS_URL and the
credentials: see `invtrack ofs-poll --help`), with the same backoff.

OFS activity ids are integers: --activity takes only those. A quantity OFS
states as null is reported as missing. One run reads at most
INVTRACK_VENDOR_MAX_PAGES pages (default 10000), each answer at most
INVTRACK_VENDOR_MAX_BYTES bytes within INVTRACK_VENDOR_DEADLINE seconds.

Each run is kept: GET /reconciliations lists them, /metrics counts them.

exit status: 0 no difference; 1 differences found; 2 nothing to compare
(no target, or --all-known on a store that knows no OFS item), a bad
--activity, OFS not configured, or OFS refused or could not answer.
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
    if not (targets or args.all_known):
        return _refused("name --resource, --activity or --all-known")
    not_ids = [activity for activity in targets.activities if not _is_ofs_id(activity)]
    if not_ids:
        return _refused(
            f"--activity {not_ids[0]!r} is not an OFS activity id (OFS activity ids are integers)"
        )
    try:
        run = asyncio.run(run_reconciliation(settings, targets, everything=args.all_known))
    except ValueError as error:
        return _refused(str(error))
    except OfsError as error:
        return _refused(f"cannot read OFS's inventory: {error}")
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


def _refused(message: str) -> int:
    print(f"invtrack: {message}", file=sys.stderr)
    return 2


def _is_ofs_id(value: str) -> bool:
    """An OFS id as its API takes it: a whole number without sign or spaces."""
    return value.isascii() and value.isdigit() and len(value) <= 18


def _count(number: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{number} {noun if number == 1 else plural}"


def _shown(value: str | None) -> str:
    return "missing" if value is None else value
