"""The vendor-format payloads in tests/fixtures, with the pools they should give."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(*parts: str) -> Any:
    """A fixture file, parsed."""
    return json.loads(FIXTURES.joinpath(*parts).read_text())


def fixture_bytes(*parts: str) -> bytes:
    return FIXTURES.joinpath(*parts).read_bytes()
