"""Everything a run measured, as written to latest.json."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec

from bench.history import Loaded
from bench.ingest import Run
from bench.machine import Machine
from bench.plan import Plan
from bench.queries import Measured
from bench.rebuild import Pass
from bench.signals import SignalFigures


class Target(msgspec.Struct, frozen=True, kw_only=True):
    name: str
    figure: str
    """What was measured."""
    against: str
    """What it is compared with: the ceiling, the baseline."""
    wanted: str
    met: bool
    goal: str = ""
    """The goal beyond the target and whether it was reached, if there is one."""


class Results(msgspec.Struct, kw_only=True):
    started: datetime
    quick: bool
    machine: Machine
    plan: Plan
    dataset: Loaded | None = None
    small_dataset: Loaded | None = None
    """The smaller store of the growth check."""
    ingest: list[Run] = msgspec.field(default_factory=list)
    rebuild: list[Pass] = msgspec.field(default_factory=list)
    queries: list[Measured] = msgspec.field(default_factory=list)
    dead_rows_after_rebuild: dict[str, int] = msgspec.field(default_factory=dict)
    load_average: dict[str, list[float]] = msgspec.field(default_factory=dict)
    """The machine's 1, 5 and 15 minute load averages at the start, before each
    part and at the end."""
    part_seconds: dict[str, float] = msgspec.field(default_factory=dict)
    errors: dict[str, str] = msgspec.field(default_factory=dict)
    feed: dict[str, Any] = msgspec.field(default_factory=dict)
    """The change feed's figures (bench.feed.FeedFigures)."""
    signals: SignalFigures | None = None
    """The stock signals' figures (bench.signals)."""
    targets: list[Target] = msgspec.field(default_factory=list)


def now() -> datetime:
    return datetime.now(UTC)
