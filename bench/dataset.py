"""A stored history to rebuild and query: the generated events of
bench/history.py, loaded into a migrated store through its port
(`Store.load_history`: COPY on PostgreSQL)."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec

from adapters.store import StoredEvent, connect
from bench.history import Loaded

_unpack = msgspec.msgpack.Decoder(list[StoredEvent]).decode


async def load(url: str, count: int, seed: int = 7) -> Loaded:
    """Append `count` generated events to the (migrated) store at `url`.

    A subprocess generates them while the store takes them in, one core each.
    """
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        summary = Path(directory) / "loaded.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.history",
            str(count),
            str(seed),
            str(summary),
            stdout=asyncio.subprocess.PIPE,
        )
        assert process.stdout is not None
        store = connect(url)
        try:
            await store.load_history(_frames(process.stdout))
            if await process.wait() != 0:
                raise RuntimeError("generating the events failed")
        finally:
            await store.close()
            if process.returncode is None:
                process.kill()
                await process.wait()
        generated = msgspec.json.decode(summary.read_bytes(), type=Loaded)
    return msgspec.structs.replace(generated, seconds=time.perf_counter() - started)


async def _frames(stream: asyncio.StreamReader) -> AsyncIterator[list[StoredEvent]]:
    """The generator's frames: a 4-byte length, then a msgpack list of events."""
    while header := await _exactly(stream, 4):
        yield _unpack(await _exactly(stream, int.from_bytes(header, "big")))


async def _exactly(stream: asyncio.StreamReader, size: int) -> bytes:
    try:
        return await stream.readexactly(size)
    except asyncio.IncompleteReadError as error:
        if error.partial:
            raise
        return b""
