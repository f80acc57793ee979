"""Polling the vendors: the OFS Events API poller and the ServiceMobility
Export API pollers wired to the store, each as its own process (`invtrack
ofs-poll`, `invtrack sm-poll`) or inside `serve`."""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any

from adapters.ofs.oauth import GRANTS, OfsCredentials
from adapters.ofs.poller import OfsPoller, OfsPollerConfig
from adapters.servicemobility_export.auth import SmCredentials
from adapters.servicemobility_export.client import Pace
from adapters.servicemobility_export.poller import SOURCES, SmPoller, SmPollerConfig
from adapters.store import Store
from api.services.group_commit import Ingestor
from api.services.stores import open_store
from api.settings import OfsSettings, Settings, SmSettings
from projections.setup import prepare

log = logging.getLogger("invtrack.polling")


# --------------------------------------------------------------------------
# Configuration


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
    """The OFS poller's configuration; raises ValueError naming what is missing."""
    if not ofs.url:
        raise ValueError("INVTRACK_OFS_URL is not set")
    return OfsPollerConfig(
        base_url=ofs.url, credentials=ofs_credentials(ofs), idle_seconds=ofs.idle_seconds
    )


def sm_poller_configs(sm: SmSettings) -> list[SmPollerConfig]:
    """One Export API poller configuration per `src`; raises ValueError naming
    what is missing or wrong."""
    if not sm.url:
        raise ValueError("INVTRACK_SM_URL is not set")
    unknown = [src for src in sm.sources if src not in SOURCES]
    if unknown or not sm.sources:
        raise ValueError(f"INVTRACK_SM_SOURCES must name some of {', '.join(SOURCES)}")
    credentials = SmCredentials(
        token=sm.token,
        username=sm.username,
        password=sm.password,
        customer_id=sm.customer_id,
        customer_code=sm.customer_code,
        login_path=sm.login_path,
    )
    return [
        SmPollerConfig(
            base_url=sm.url,
            credentials=credentials,
            src=src,
            start=sm.start_rowver,
            limit=sm.limit,
            idle_seconds=sm.idle_seconds,
        )
        for src in sm.sources
    ]


# --------------------------------------------------------------------------
# Running


def sm_pollers(
    configs: Sequence[SmPollerConfig],
    store: Store,
    ingestor: Ingestor,
    *,
    start_at: str | None = None,
) -> list[SmPoller]:
    """The pollers of one site's sources, sharing one pace: the rate limit is
    the endpoint's, whichever source asks."""
    pace = Pace()
    return [
        SmPoller(config, store, ingestor.submit, pace=pace, start_at=start_at) for config in configs
    ]


async def run_all(pollers: Sequence[SmPoller], stop: asyncio.Event, *, once: bool) -> None:
    """Run the pollers side by side; when one is refused the others stop too."""
    async with asyncio.TaskGroup() as group:
        for poller in pollers:
            group.create_task(poller.run(stop, once=once))


async def poll_until_stopped(
    config: OfsPollerConfig, settings: Settings, stop: asyncio.Event, *, once: bool = False
) -> None:
    """Poll OFS with a store of its own until `stop` is set (or, with `once`,
    until caught up); the page being committed is finished first. Raises
    OfsRejected when OFS refuses us."""
    async with own_store(settings) as store:
        log.info("polling %s as %s", config.base_url, config.cursor_name)
        async with OfsPoller(config, store, Ingestor(store).submit) as poller:
            await poller.run(stop, once=once)
    log.info("stopped")


async def pull_servicemobility(
    configs: Sequence[SmPollerConfig],
    settings: Settings,
    stop: asyncio.Event,
    *,
    once: bool = False,
    start_at: str | None = None,
) -> None:
    """Pull every configured source with a store of its own until `stop` is
    set (or, with `once`, until each is caught up). Raises SmRejected (in an
    ExceptionGroup) when ServiceMobility refuses us."""
    async with own_store(settings) as store:
        pollers = sm_pollers(configs, store, Ingestor(store), start_at=start_at)
        await run_all(pollers, stop, once=once)


@contextlib.asynccontextmanager
async def own_store(settings: Settings) -> AsyncIterator[Store]:
    """A store of the command's own, migrated, its projections set up."""
    store = open_store(settings, pool_size=2)
    try:
        await store.migrate()
        await prepare(store)
        yield store
    finally:
        await store.close()


# --------------------------------------------------------------------------
# Inside `serve`


def start_poller(
    settings: Settings, store: Store, ingestor: Ingestor, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Run the OFS poller in this process if no other worker on this host does.

    One subscription must have one reader, so the worker processes of one
    `serve` elect the poller with a lock file in the data directory. Run
    `invtrack ofs-poll` once per installation when serving from several hosts.
    """
    poller = OfsPoller(poller_config(settings.ofs), store, ingestor.submit)

    async def run() -> None:
        async with poller:
            await poller.run(stop)

    return _elected(settings, "ofs-poll", run)


def start_sm_poller(
    settings: Settings, store: Store, ingestor: Ingestor, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Run the Export API pollers in this process if no other worker on this
    host does (a lock file elects one, as for OFS)."""
    pollers = sm_pollers(sm_poller_configs(settings.sm), store, ingestor)
    return _elected(settings, "sm-poll", lambda: run_all(pollers, stop, once=False))


def _elected(
    settings: Settings, name: str, run: Callable[[], Coroutine[Any, Any, None]]
) -> asyncio.Task[None] | None:
    """`run()` as a task if this process takes the lock `name`; None if another holds it."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = (settings.data_dir / f"{name}.lock").open("a")
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        log.info("another worker runs %s", name)
        return None

    async def holding() -> None:
        try:
            await run()
        finally:
            lock.close()

    return asyncio.create_task(holding(), name=f"invtrack-{name}")
