"""A real `invtrack serve` per backend and module, and Debian's Chromium
driven by Playwright, one browser per module.

Chromium comes from the `chromium` package (`.ci/run` installs it). Without
it these tests are skipped on a workstation and fail when `CI` is set.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import cast

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

from tests.harness.dashboard import in_thread, off_loop, quarantine_readable, send_all
from tests.harness.databases import pg_database_url
from tests.harness.server import Server

CHROMIUM = os.environ.get("INVTRACK_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium tries to reach the network on its own.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"


@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    """The driver, per module: its event loop runs in this thread while it is
    open, which the asyncio tests of other modules could not run beside."""
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        message = f"Chromium is not installed at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the browser tests must run)")
        pytest.skip(message)
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    chromium = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def backend(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database URL per backend, for the module's server."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('sqlite') / 'invtrack.db'}"
        return
    database = cast(Generator[str, None, None], pg_database_url())
    try:
        yield off_loop(next, database)
    finally:
        off_loop(database.close)


@pytest.fixture(scope="module")
def server(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server holding the dashboard's test data (see tests.harness.dashboard)."""
    running = Server(backend, tmp_path_factory.mktemp("server"))
    running.start()
    try:
        send_all(running.url)
        in_thread(quarantine_readable(backend))
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser: Browser, server: Server) -> Iterator[Page]:
    """A fresh browser context (no cookies) at desktop width."""
    context = browser.new_context(
        base_url=server.url, viewport={"width": 1280, "height": 900}, accept_downloads=True
    )
    context.set_default_timeout(15_000)
    tab = context.new_page()
    try:
        yield tab
    finally:
        context.close()
