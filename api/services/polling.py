"""Polling the vendors: the OFS Events API poller and the ServiceMobility
Export API pollers wired to the store, each as its own process (`invtrack
ofs-poll`, `invtrack sm-poll`) or inside `serve`."""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

import httpx

from adapters.ofs.poller import OfsPoller, OfsPollerConfig, OnGap
from adapters.pulling import brief
from adapters.servicemobility_export.client import Pace
from adapters.servicemobility_export.poller import SmPoller, SmPollerConfig
from adapters.store import Store
from api.services.group_commit import Ingestor
from api.services.reconciling import reconcile_after_gap
from api.services.vendors import own_store, poller_config, sm_poller_configs
from api.settings import Settings
from domain.events import OfsSubscriptionGap

log = logging.getLogger("invtrack.polling")


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
        gaps = reconciling_gaps(store, config, settings.ofs.gap_days)
        async with OfsPoller(config, store, Ingestor(store).submit, on_gap=gaps) as poller:
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


def reconciling_gaps(
    store: Store,
    config: OfsPollerConfig,
    days: float,
    transport: httpx.AsyncBaseTransport | None = None,
) -> OnGap:
    """After a subscription gap, reconcile what changed in the `days` before it;
    a reconciliation that fails is logged, polling goes on."""

    async def reconcile(gap: OfsSubscriptionGap) -> None:
        try:
            await reconcile_after_gap(store, config, gap, days=days, transport=transport)
        except Exception as error:
            log.error(
                "could not reconcile after the OFS subscription gap (%s): "
                "run `invtrack reconcile ofs --all-known`",
                brief(error),
            )

    return reconcile


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
    config = poller_config(settings)
    gaps = reconciling_gaps(store, config, settings.ofs.gap_days)
    poller = OfsPoller(config, store, ingestor.submit, on_gap=gaps)

    async def run() -> None:
        async with poller:
            await poller.run(stop)

    return _elected(settings, "ofs-poll", run)


def start_sm_poller(
    settings: Settings, store: Store, ingestor: Ingestor, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Run the Export API pollers in this process if no other worker on this
    host does (a lock file elects one, as for OFS)."""
    pollers = sm_pollers(sm_poller_configs(settings), store, ingestor)
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
