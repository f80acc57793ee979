"""An app per test, on each backend, driven over HTTP (ASGI, lifespan included)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from adapters.auth import AuthConfig, mint
from api.app import create_app
from api.settings import Settings

SECRET = "test-secret-0123456789abcdef0123456789abcdef"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def token(scope: str | None = None, ttl: int = 600) -> str:
    return mint(SECRET, scope=scope, ttl_seconds=ttl)


def reader() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('read')}"}


def sender() -> dict[str, str]:
    return {"x-access-token": token(), "Content-Type": "application/json"}


def relay() -> dict[str, str]:
    return {"Authorization": f"Bearer {token('write')}", "Content-Type": "application/json"}


def fixture(*parts: str) -> Any:
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def settings_for(database_url: str, data_dir: Path, **overrides: Any) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        auth=AuthConfig(secret=SECRET),
        **overrides,
    )


@pytest.fixture
async def client(database_url: str, tmp_path: Path) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(settings_for(database_url, tmp_path))
    async with AsyncTestClient(app=app) as test_client:
        yield test_client
