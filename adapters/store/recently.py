"""A number read at most once in a while, however many ask for it at once:
many readers waiting for a replica to catch up share one read of its head."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable


class Recently:
    """`read()`'s answer, read again only when the last is older than
    `seconds` (one read at a time; the others wait for it)."""

    def __init__(self, read: Callable[[], Awaitable[int]], seconds: float) -> None:
        self._read = read
        self._seconds = seconds
        self._value = 0
        self._at = -seconds
        self._reading = asyncio.Lock()

    async def get(self) -> int:
        if time.monotonic() - self._at < self._seconds:
            return self._value
        async with self._reading:
            if time.monotonic() - self._at >= self._seconds:
                self._value = await self._read()
                self._at = time.monotonic()
        return self._value
