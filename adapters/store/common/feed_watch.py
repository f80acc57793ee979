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
        self._moved = asyncio.Event()

    def advance(self, head: int) -> None:
        """The feed reached `head`: wake whoever waits for less."""
        if head > self.head:
            self.head = head
            moved, self._moved = self._moved, asyncio.Event()
            moved.set()

    async def wait(self, after: int, seconds: float) -> int:
        """Wait until the head is past `after`, at most `seconds` seconds;
        the head known then."""
        if self.head > after or seconds <= 0:
            return self.head
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        self.waiting += 1
        try:
            self._follow(self)
            while self.head <= after:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    break
                moved = self._moved
                try:
                    await asyncio.wait_for(moved.wait(), remaining)
                except TimeoutError:
                    break
        finally:
            self.waiting -= 1
        return self.head
