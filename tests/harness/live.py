"""The app served in-process over real ASGI (lifespan included) in the test's
own event loop, so requests really run concurrently and the test can look
into the same store."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from litestar import Litestar

from adapters.auth import AuthConfig
from adapters.store import Store
from api.app import Services, create_app
from api.settings import Settings
from tests.harness.tokens import SECRET


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        auth=AuthConfig(secret=SECRET),
        **overrides,
    )


@dataclass
class Live:
    """An app answering over ASGI in the test's event loop."""

    app: Litestar
    client: httpx.AsyncClient
    services: Services

    @property
    def store(self) -> Store:
        return self.services.store


@contextlib.asynccontextmanager
async def live_app(settings: Settings) -> AsyncIterator[Live]:
    app = create_app(settings)
    services: Services = app.state["services"]
    started, stop = asyncio.Event(), asyncio.Event()

    async def lifespan() -> None:
        # Entered and left in one task, as an ASGI server does.
        async with app.lifespan():
            started.set()
            await stop.wait()

    running = asyncio.create_task(lifespan())
    starting = asyncio.create_task(started.wait())
    await asyncio.wait({running, starting}, return_when=asyncio.FIRST_COMPLETED)
    if not started.is_set():
        starting.cancel()
        await running  # raises what failed the startup
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield Live(app=app, client=client, services=services)
    finally:
        stop.set()
        await running
