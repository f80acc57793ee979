"""axe-core, run inside Chromium on the page as it is (the copy that the
`axe-playwright-python` package ships, so no network is needed). The script
is evaluated through the driver, which the page's Content-Security-Policy
does not govern, so the page keeps its strict policy while it is checked."""

from __future__ import annotations

from typing import Any, Final

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page

GRAVE: Final = ("serious", "critical")

_AXE = Axe()


def grave_violations(page: Page) -> list[str]:
    """`rule: target` for every serious or critical violation axe finds."""
    results: dict[str, Any] = _AXE.run(page).response
    return [
        f"{violation['id']} ({violation['impact']}): {node['target']}"
        for violation in results["violations"]
        if violation["impact"] in GRAVE
        for node in violation["nodes"]
    ]
