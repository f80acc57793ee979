"""Run numbers, and the ids a load run puts in its requests.

Every ingest run sends only new payloads: an envelope id, a row version or an
OFS inventory id seen by the store before would make a request a duplicate,
and a duplicate is answered 200 without being stored. So each run gets a run
number of its own and every id a request carries is built from (run number,
load-generator thread or client, request or event counter), with fixed widths:

- the run number is the whole seconds since 2020-01-01 UTC when the run
  starts, and at least one more than the previous run of this process: runs
  last a second or more, so no two runs against a store share one, whatever
  process started them;
- ServiceMobility: envelope id `{run}-{thread}-{n}`, row version
  `{run}-{thread}-{n}-{i}` (the row's identity is its row version and content);
- OFS: inventory id `run * 10**10 + thread * 10**8 + k`, k counting the
  thread's events from 1: with run < 9 * 10**8 (until 2048), thread < 100 and
  k < 10**8, two different triples never give the same id, and every id fits
  a signed 64-bit integer (the projection's column).

bench/wrk/servicemobility.lua and bench/wrk/ofs.lua build the same ids from
the run number they are given (as text, since Lua numbers are doubles);
bench/bodies.py builds them for the Python load generator.
"""

from __future__ import annotations

import time
from typing import Final

RUN_EPOCH: Final = 1_577_836_800
"""2020-01-01T00:00:00Z."""
RUN_LIMIT: Final = 900_000_000
THREAD_LIMIT: Final = 100
EVENT_LIMIT: Final = 100_000_000


class RunNumbers:
    """Hands out run numbers: the time in seconds, strictly increasing."""

    def __init__(self) -> None:
        self.last = 0

    def next(self, now: float | None = None) -> int:
        seconds = int((time.time() if now is None else now) - RUN_EPOCH)
        self.last = max(self.last + 1, seconds)
        if not 0 < self.last < RUN_LIMIT:
            raise ValueError(f"run number {self.last} is outside the id space")
        return self.last


def envelope_id(run: int, thread: int, n: int) -> str:
    return f"{run}-{thread}-{n}"


def rowver(run: int, thread: int, n: int, i: int) -> str:
    return f"{run}-{thread}-{n}-{i}"


def ofs_inventory_id(run: int, thread: int, k: int) -> int:
    if not (0 < run < RUN_LIMIT and 0 <= thread < THREAD_LIMIT and 0 < k < EVENT_LIMIT):
        raise ValueError(f"({run}, {thread}, {k}) is outside the OFS id space")
    return run * THREAD_LIMIT * EVENT_LIMIT + thread * EVENT_LIMIT + k
