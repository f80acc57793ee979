"""Many waiters share one read of a replica's head."""

from __future__ import annotations

import asyncio

import pytest

from adapters.store.recently import Recently


async def test_waiters_at_once_share_one_read_and_a_later_one_reads_again() -> None:
    reads = 0

    async def read() -> int:
        nonlocal reads
        reads += 1
        await asyncio.sleep(0.01)
        return reads * 10

    recently = Recently(read, seconds=3600)
    assert await asyncio.gather(*(recently.get() for _ in range(50))) == [10] * 50
    assert reads == 1

    fresh = Recently(read, seconds=0)
    assert await fresh.get() == 20
    assert await fresh.get() == 30


async def test_a_failed_read_is_tried_again_by_the_next_caller() -> None:
    answers: list[int | Exception] = [RuntimeError("gone"), 7]

    async def read() -> int:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    recently = Recently(read, seconds=3600)
    with pytest.raises(RuntimeError, match="gone"):
        await recently.get()
    assert await recently.get() == 7
