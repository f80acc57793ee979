"""`invtrack ofs-poll`, and the same poller inside `serve` when configured."""

from __future__ import annotations

import asyncio
import fcntl
import logging
import signal
import sys

from adapters.ofs.client import OfsRejected
from adapters.ofs.poller import OfsPoller, OfsPollerConfig
from adapters.store import EventStore, connect
from api.settings import OfsSettings, Settings
from projections.ingest import Ingestor
from projections.setup import prepare

log = logging.getLogger("invtrack.ofs")


def poller_config(ofs: OfsSettings) -> OfsPollerConfig:
    """The poller's configuration; raises ValueError naming what is missing."""
    if not ofs.url:
        raise ValueError("INVTRACK_OFS_URL is not set")
    return OfsPollerConfig(
        base_url=ofs.url,
        client_id=ofs.client_id,
        instance=ofs.instance,
        client_secret=ofs.client_secret,
        token=ofs.token,
        idle_seconds=ofs.idle_seconds,
    )


def start_poller(
    settings: Settings, store: EventStore, ingestor: Ingestor, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Run the poller in this process if no other worker on this host does.

    One subscription must have one reader, so the worker processes of one
    `serve` elect the poller with a lock file in the data directory. Run
    `invtrack ofs-poll` once per installation when serving from several hosts.
    """
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = (settings.data_dir / "ofs-poll.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        log.info("another worker polls OFS")
        return None
    poller = OfsPoller(poller_config(settings.ofs), store, ingestor.submit)

    async def run() -> None:
        try:
            async with poller:
                await poller.run(stop)
        finally:
            lock.close()

    return asyncio.create_task(run(), name="invtrack-ofs-poll")


async def run_ofs_poll(settings: Settings) -> int:
    """Poll until SIGTERM or SIGINT; the page being committed is finished first."""
    try:
        config = poller_config(settings.ofs)
    except ValueError as error:
        print(f"invtrack: {error}", file=sys.stderr)
        return 2
    database = connect(settings.database_url, pool_size=2)
    store = EventStore(database)
    await database.migrate()
    await prepare(store)
    ingestor = Ingestor(store)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    log.info("polling %s as %s", config.base_url, config.cursor_name)
    try:
        async with OfsPoller(config, store, ingestor.submit) as poller:
            await poller.run(stop)
    except OfsRejected as error:
        log.error("OFS refused the poller: %s; check the credentials and permissions", error)
        return 1
    finally:
        await database.dispose()
    log.info("stopped")
    return 0
