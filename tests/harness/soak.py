"""Tests too slow for CI run only with INVTRACK_SOAK=1 (`make soak`)."""

from __future__ import annotations

import os

import pytest

SOAK = os.environ.get("INVTRACK_SOAK") == "1"
soak_only = pytest.mark.skipif(not SOAK, reason="soak test: set INVTRACK_SOAK=1 (make soak)")
