"""Failures on our side, made on purpose: a projection that fails on some events."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import msgspec

from projections.projection import Folded
from tests.harness.live import Live

POISON = b"POISON"


class Failing:
    """A projection that fails while folding any event that mentions POISON,
    after its real work for the other events, as a disk or a bug would."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.name = inner.name
        self.version = inner.version
        self.armed = True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def fold(
        self, slot: Any, rows: Sequence[Any], appended: Sequence[Any], *, fresh: bool, **more: Any
    ) -> Folded:
        # `more`: what a projection folding after the items is given of them.
        folded: Folded = self.inner.fold(slot, rows, appended, fresh=fresh, **more)
        if self.armed and any(POISON in msgspec.json.encode(event) for _, event in appended):
            raise RuntimeError("the projection failed")
        return folded


def arm(live: Live) -> list[Failing]:
    """Make every projection of the app's store fail on POISON."""
    projector = live.services.projector
    failing = [Failing(projection) for projection in projector.projections]
    projector.projections = failing
    return failing
