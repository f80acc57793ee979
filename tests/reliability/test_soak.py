"""Long runs for `make soak` (INVTRACK_SOAK=1): schemathesis with many more
examples than the CI run in tests/e2e/test_schema_fuzz.py."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.test_schema_fuzz import fuzz, served_schema
from tests.harness.soak import soak_only


@pytest.mark.soak
@pytest.mark.timeout(3600)
@soak_only
def test_many_generated_requests_never_fail_and_fit_the_schema(tmp_path: Path) -> None:
    with served_schema(tmp_path) as schema:
        fuzz(schema, examples=20_000)
