"""Waiting for the change feed to move, in one process.

A commit of this process moves the known head at once (`advance`); commits
of other processes reach it through the backend's `follow` (PostgreSQL
`LISTEN`, a cheap read of the head a few times a second on SQLite), which
runs only once someone waits. No waiter polls.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable


class FeedWatch:
    """The feed's head as this process knows it."""

    def __init__(self, follow: Callable[[FeedWatch], None]) -> None:
        self.head = 0
        self.waiting = 0
        """How many wait now."""
        self._follow = follow
        self._past: dict[int, tuple[asyncio.Event, int]] = {}
        """For each position waited past: what is set once the head passes
        it, and how many wait for that."""

    def advance(self, head: int) -> None:
        """The feed reached `head`: wake whoever waits for less (and only them:
        a reader whose position is ahead of the head sleeps on)."""
        if head > self.head:
            self.head = head
            for after in [after for after in self._past if after < head]:
                self._past.pop(after)[0].set()

    async def wait(self, after: int, seconds: float) -> int:
        """Wait until the head is past `after`, at most `seconds` seconds;
        the head known then."""
        if self.head > after or seconds <= 0:
            return self.head
        self.waiting += 1
        moved, count = self._past.get(after, (asyncio.Event(), 0))
        self._past[after] = (moved, count + 1)
        try:
            self._follow(self)
            await asyncio.wait_for(moved.wait(), seconds)
        except TimeoutError:
            pass
        finally:
            self.waiting -= 1
            self._leave(after, moved)
        return self.head

    def _leave(self, after: int, moved: asyncio.Event) -> None:
        """One waiter for `after` is done: forget the position when it was the last."""
        found = self._past.get(after)
        if found is not None and found[0] is moved:
            if found[1] <= 1:
                del self._past[after]
            else:
                self._past[after] = (moved, found[1] - 1)
