"""A stored history to rebuild and query: the generated events of
bench/history.py, loaded into a migrated store through its port
(`Store.load_history`: COPY on PostgreSQL) by a process of its own."""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from pathlib import Path

import msgspec

from bench.history import Loaded


async def load(url: str, count: int, seed: int = 7) -> Loaded:
    """Append `count` generated events to the (migrated) store at `url`."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as directory:
        summary = Path(directory) / "loaded.json"
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.history", str(count), str(seed), str(summary), url
        )
        if await process.wait() != 0:
            raise RuntimeError("generating and loading the events failed")
        generated = msgspec.json.decode(summary.read_bytes(), type=Loaded)
    return msgspec.structs.replace(generated, seconds=time.perf_counter() - started)
