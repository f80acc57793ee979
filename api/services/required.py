"""Reading OFS required inventories into the store (`invtrack ofs-required`,
or on a schedule inside `serve`): for the activities invtrack knows that are
scheduled today and in the following days (or the ones named), each answer
is stored as a `RequiredInventoriesRecorded` event when it changes what is
known. An answer that cannot be used marks the activity unknown and the run
goes on; OFS refusing the credentials (OfsRejected) or staying unreachable
(Unreachable) stops it."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta

import httpx
import msgspec

from adapters.ofs.client import OfsRejected
from adapters.ofs.poller import OfsPollerConfig, ofs_client
from adapters.ofs.required import RequiredReader, required_fact
from adapters.pulling import Unreachable, brief
from adapters.store import NewEvent, Store
from adapters.store.signal_queries import ActivitiesOnQuery, ActivityQuery
from api.services.polling import _elected as elected
from api.services.vendors import poller_config
from api.settings import Settings
from domain.events import RequiredInventoriesRecorded, event_type
from domain.fold import stream_of
from domain.signals.readiness import Activity, is_news
from projections.signal_rows import activity_of

log = logging.getLogger("invtrack.ofs.required")


class RequiredRun(msgspec.Struct, kw_only=True):
    """What one run did."""

    activities: int = 0
    """Activities read."""
    stored: int = 0
    """Reads that changed what was known, stored as events."""
    unknown: int = 0
    """Activities whose answer could not be used."""


async def scheduled_activities(store: Store, today: date, days: int) -> list[str]:
    """The activities invtrack knows scheduled today and in the `days - 1` days after."""
    found: list[str] = []
    for offset in range(max(days, 1)):
        day = (today + timedelta(days=offset)).isoformat()
        found += [
            activity_of(data).activity_id for data in await store.fetch(ActivitiesOnQuery(date=day))
        ]
    return list(dict.fromkeys(found))


async def read_required(
    store: Store,
    config: OfsPollerConfig,
    *,
    days: int = 2,
    activities: Sequence[str] = (),
    now: datetime | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
) -> RequiredRun:
    """One run over the named activities, or those scheduled in the next `days`."""
    moment = now or datetime.now(UTC)
    wanted = list(activities) or await scheduled_activities(store, moment.date(), days)
    run = RequiredRun()
    client = ofs_client(config, transport)
    try:
        reader = RequiredReader(client, config)
        for activity_id in wanted:
            known = await _known(store, activity_id)
            answer = await reader.read(activity_id)
            fact = required_fact(
                activity_id,
                answer,
                at=moment,
                resource_id=None if known is None else known.resource_id,
                date=None if known is None else known.date,
            )
            run.activities += 1
            if answer.unknown is not None:
                run.unknown += 1
                log.warning(
                    "the required inventories of %s are unknown: %s", activity_id, answer.unknown
                )
            assert isinstance(fact.event, RequiredInventoriesRecorded)
            if is_news(known, fact.event):
                await _store(store, fact.event, fact.dedupe_key)
                run.stored += 1
    finally:
        await client.aclose()
    return run


async def _known(store: Store, activity_id: str) -> Activity | None:
    data = await store.fetch(ActivityQuery(activity_id=activity_id))
    return None if data is None else activity_of(data)


async def _store(store: Store, event: RequiredInventoriesRecorded, dedupe_key: str) -> None:
    await store.append(
        [
            NewEvent(
                stream_id=stream_of(event),
                type=event_type(event),
                data=event,
                occurred_at=event.occurred_at,
                dedupe_key=dedupe_key,
                metadata={"source": "ofs"},
            )
        ]
    )


async def read_on_schedule(
    store: Store,
    config: OfsPollerConfig,
    stop: asyncio.Event,
    *,
    every: float,
    days: int,
    transport: httpx.AsyncBaseTransport | None = None,
) -> None:
    """A run every `every` seconds until `stop` is set; a run that fails is
    logged and the next one tries again."""
    while not stop.is_set():
        try:
            run = await read_required(store, config, days=days, transport=transport)
            log.info(
                "read the required inventories of %d activities (%d stored, %d unknown)",
                run.activities,
                run.stored,
                run.unknown,
            )
        except (OfsRejected, Unreachable) as error:
            log.error("reading the OFS required inventories failed: %s", brief(error))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=every)


def start_required(
    settings: Settings, store: Store, stop: asyncio.Event
) -> asyncio.Task[None] | None:
    """Read required inventories every INVTRACK_OFS_REQUIRED_EVERY in this
    process, if no other worker on this host does (a lock file elects one)."""
    every = settings.signals.required_every
    assert every is not None
    config = poller_config(settings)
    days = settings.signals.required_days
    return elected(
        settings,
        "ofs-required",
        lambda: read_on_schedule(store, config, stop, every=every, days=days),
    )
