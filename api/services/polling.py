"""Polling OFS: the Events API poller wired to the store, as its own process
(`invtrack ofs-poll`) or inside `serve`."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from pathlib import Path

from adapters.ofs.oauth import GRANTS, OfsCredentials
from adapters.ofs.poller import OfsPoller, OfsPollerConfig
from adapters.store import EventStore, connect
from api.services.group_commit import Ingestor
from api.settings import OfsSettings, Settings
from projections.setup import prepare

log = logging.getLogger("invtrack.ofs")


def ofs_credentials(ofs: OfsSettings) -> OfsCredentials:
    """The OFS credentials configured; raises ValueError naming what is wrong."""
    if ofs.auth is not None and ofs.auth not in GRANTS:
        raise ValueError(f"INVTRACK_OFS_AUTH must be one of {', '.join(GRANTS)}, not {ofs.auth!r}")
    private_key = None
    if ofs.private_key_file is not None:
        try:
            private_key = Path(ofs.private_key_file).read_text()
        except OSError as error:
            raise ValueError(
                f"INVTRACK_OFS_PRIVATE_KEY_FILE cannot be read: {error.strerror}"
            ) from None
    return OfsCredentials(
        client_id=ofs.client_id,
        instance=ofs.instance,
        client_secret=ofs.client_secret,
        token=ofs.token,
        private_key=private_key,
        user=ofs.user,
        grant=ofs.auth,
    )


def poller_config(ofs: OfsSettings) -> OfsPollerConfig:
    """The poller's configuration; raises ValueError naming what is missing."""
    if not ofs.url:
        raise ValueError("INVTRACK_OFS_URL is not set")
    return OfsPollerConfig(
        base_url=ofs.url, credentials=ofs_credentials(ofs), idle_seconds=ofs.idle_seconds
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
    database = connect(settings.database_url, pool_size=2)
    store = EventStore(database)
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
