"""Polling OFS: the Events API poller wired to the store, as its own process
(`invtrack ofs-poll`) or inside `serve`."""

from __future__ import annotations

import asyncio
import fcntl
import logging

from adapters.ofs.poller import OfsPoller, OfsPollerConfig
from adapters.store import EventStore
from api.services.group_commit import Ingestor
from api.services.stores import open_store
from api.settings import OfsSettings, Settings
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


async def poll_until_stopped(
    config: OfsPollerConfig, settings: Settings, stop: asyncio.Event
) -> None:
    """Poll with a store of its own until `stop` is set; the page being
    committed is finished first. Raises OfsRejected when OFS refuses us."""
    store = open_store(settings, pool_size=2)
    database = store.database
    try:
        await database.migrate()
        await prepare(store)
        ingestor = Ingestor(store)
        log.info("polling %s as %s", config.base_url, config.cursor_name)
        async with OfsPoller(config, store, ingestor.submit) as poller:
            await poller.run(stop)
    finally:
        await database.dispose()
    log.info("stopped")
