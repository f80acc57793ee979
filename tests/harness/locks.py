"""The store's append lock held from outside a server, as a long write or a
stuck connection of another process would: through the store's own
maintenance transaction, on any backend."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Iterator

from adapters.store import connect

HOLD_TIMEOUT = 60.0


@contextlib.asynccontextmanager
async def append_lock_held(database_url: str) -> AsyncIterator[None]:
    """Hold the append lock in this event loop until the block ends."""
    store = connect(database_url)
    try:
        async with store.maintaining(locked=True, wait=HOLD_TIMEOUT):
            yield
    finally:
        await store.close()


@contextlib.contextmanager
def appends_held(database_url: str) -> Iterator[None]:
    """Hold the append lock from a thread of its own (for callers with no
    event loop to spare, such as a browser driver's) until the block ends."""
    held, release = threading.Event(), threading.Event()
    failed: list[BaseException] = []

    async def hold() -> None:
        async with append_lock_held(database_url):
            held.set()
            await asyncio.to_thread(release.wait)

    def run() -> None:
        try:
            asyncio.run(hold())
        except BaseException as error:  # told to the caller below
            failed.append(error)
            held.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    if not held.wait(HOLD_TIMEOUT) or failed:
        release.set()
        raise RuntimeError(f"the append lock could not be taken: {failed}")
    try:
        yield
    finally:
        release.set()
        thread.join(HOLD_TIMEOUT)
