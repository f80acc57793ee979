"""What a run measures, and for how long: the full run and `--quick`."""

from __future__ import annotations

from typing import Final

import msgspec

from bench.ingest import Case, Group

PARTS: Final = ("rebuild", "queries", "growth", "ingest", "feed", "signals", "sqlite")
"""In the order they run; `--only` picks among them."""

MAIN_CONNECTIONS: Final = 32
"""The 1-row setting the ingest targets are stated for (`wrk -t1 -c32`)."""
BASELINE_CONNECTIONS: Final = 64
"""The setting of the baseline run: the 20-row and 50-event workloads and a
second 1-row line are measured with it, so the ratios compare like with like."""

ONE_ROW: Final = Case("sm-1", MAIN_CONNECTIONS)
ONE_ROW_64: Final = Case("sm-1", BASELINE_CONNECTIONS)
BATCHED: Final = (Case("sm-20", BASELINE_CONNECTIONS), Case("ofs-50", BASELINE_CONNECTIONS))


def _postgres(workers: int, *cases: Case) -> Group:
    return Group(part="ingest", backend="postgresql", store="history", workers=workers, cases=cases)


def _sqlite(*cases: Case) -> Group:
    return Group(part="sqlite", backend="sqlite", store="fresh", workers=1, cases=cases)


GROWTH_SMALL: Final = Group(
    part="growth",
    backend="postgresql",
    store="small",
    workers=1,
    cases=(ONE_ROW,),
    with_ceiling=False,
)
"""1-row ingest on a store of the first tenth of the history..."""
GROWTH_LARGE: Final = msgspec.structs.replace(GROWTH_SMALL, store="history")
"""...and right after it on the whole history."""


class Plan(msgspec.Struct, frozen=True, kw_only=True):
    events: int
    """Events in the stored history (PostgreSQL)."""
    small_events: int
    """Events in the smaller store the growth check compares with."""
    seconds: float
    """Each measured ingest run."""
    warmup: float
    query_seconds: float
    query_workers: tuple[int, ...]
    postgres: tuple[Group, ...]
    sqlite: Group
    signal_resources: int = 5_000
    """Resources with par levels for 200 products each (part `signals`)."""


FULL: Final = Plan(
    events=1_000_000,
    small_events=100_000,
    seconds=15,
    warmup=3,
    query_seconds=12,
    query_workers=(1, 2),
    postgres=(_postgres(1, ONE_ROW, ONE_ROW_64, *BATCHED), _postgres(2, ONE_ROW, *BATCHED)),
    sqlite=_sqlite(ONE_ROW, *BATCHED),
)
QUICK: Final = Plan(
    events=100_000,
    small_events=10_000,
    seconds=4,
    warmup=1,
    query_seconds=4,
    query_workers=(1,),
    postgres=(_postgres(1, ONE_ROW, ONE_ROW_64, *BATCHED),),
    sqlite=_sqlite(ONE_ROW),
    signal_resources=500,
)
