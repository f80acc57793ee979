"""The vendors as configured: the OFS poller's and the ServiceMobility
pollers' configurations from the settings, each checked at start (a URL that
cannot be used, missing or mixed credentials, a bad source list are a
ValueError naming the variable), and the store a command of its own uses."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from adapters.ofs.oauth import GRANTS, OfsCredentials
from adapters.ofs.poller import OfsPollerConfig
from adapters.servicemobility_export.auth import SmCredentials
from adapters.servicemobility_export.poller import SOURCES, SmPollerConfig
from adapters.store import Reader, Replicated, Store
from adapters.vendor_http import usable_url
from api.services.stores import open_reads, open_store
from api.settings import OfsSettings, Settings, SmSettings, VendorLimits
from projections.setup import prepare


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


def poller_config(settings: Settings, *, max_wait: float | None = None) -> OfsPollerConfig:
    """The OFS poller's configuration; raises ValueError naming what is missing
    or cannot be used."""
    ofs = settings.ofs
    if not ofs.url:
        raise ValueError("INVTRACK_OFS_URL is not set")
    return OfsPollerConfig(
        base_url=usable_url(ofs.url, "INVTRACK_OFS_URL"),
        credentials=ofs_credentials(ofs),
        idle_seconds=ofs.idle_seconds,
        rate=ofs.rate,
        **_bounds(settings.vendor, max_wait),
    )


def sm_poller_configs(settings: Settings, *, max_wait: float | None = None) -> list[SmPollerConfig]:
    """One Export API poller configuration per `src`; raises ValueError naming
    what is missing or wrong."""
    sm = settings.sm
    if not sm.url:
        raise ValueError("INVTRACK_SM_URL is not set")
    url = usable_url(sm.url, "INVTRACK_SM_URL")
    unknown = [src for src in sm.sources if src not in SOURCES]
    if unknown or not sm.sources:
        raise ValueError(f"INVTRACK_SM_SOURCES must name some of {', '.join(SOURCES)}")
    credentials = sm_credentials(sm)
    return [
        SmPollerConfig(
            base_url=url,
            credentials=credentials,
            src=src,
            start=sm.start_rowver,
            limit=sm.limit,
            idle_seconds=sm.idle_seconds,
            **_bounds(settings.vendor, max_wait),
        )
        for src in sm.sources
    ]


def sm_credentials(sm: SmSettings) -> SmCredentials:
    return SmCredentials(
        token=sm.token,
        username=sm.username,
        password=sm.password,
        customer_id=sm.customer_id,
        customer_code=sm.customer_code,
        login_path=sm.login_path,
    )


def _bounds(vendor: VendorLimits, max_wait: float | None) -> dict[str, Any]:
    bounds: dict[str, Any] = {
        "max_bytes": vendor.max_bytes,
        "deadline": vendor.deadline,
        "max_pages": vendor.max_pages,
    }
    if max_wait is not None:
        bounds["max_wait"] = max_wait
    return bounds


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


@contextlib.asynccontextmanager
async def own_reads(settings: Settings, store: Store) -> AsyncIterator[Reader]:
    """What the command reads from: the read replica when one is configured
    (closed after), else `store`."""
    reads = open_reads(settings, store)
    try:
        yield reads
    finally:
        if isinstance(reads, Replicated):
            await reads.close()
