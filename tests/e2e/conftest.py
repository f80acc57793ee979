"""An app per test, on each backend, driven over HTTP (ASGI, lifespan included)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from api.app import create_app
from tests.harness.live import settings_for


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings_for(database_url, tmp_path))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
