"""What a reader backed by a streaming replica reports of it (`/ready`,
`/metrics`): its state, its lag, and the reads the primary answered instead."""

from __future__ import annotations

from typing import Literal, Protocol, runtime_checkable

import msgspec

ReplicaState = Literal["following", "lagging", "down", "promoted"]


class ReplicaStatus(msgspec.Struct, frozen=True, kw_only=True):
    """The replica as last checked."""

    state: ReplicaState
    lag_seconds: float | None
    """How long ago the oldest event it lacks was recorded (0 when it lacks
    none); None when it could not be asked."""
    head: int | None
    """The last event position it shows."""
    fallbacks: dict[str, int]
    """Reads answered by the primary instead, by reason, since start."""
    reason: str | None = None
    """Why it is not read, in words."""


@runtime_checkable
class Replicated(Protocol):
    """A reader backed by a replica: what /ready and /metrics report of it."""

    async def replica_status(self) -> ReplicaStatus: ...

    async def close(self) -> None:
        """Close the replica's connections (the primary is closed on its own)."""
        ...
