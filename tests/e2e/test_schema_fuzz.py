"""Schemathesis against the service's own OpenAPI document (/schema), in
process over ASGI: generated requests, valid and invalid, to every operation
never get a 500, and every answer fits the document where it documents one.

The CI run is bounded; tests/reliability/test_soak.py runs many more examples.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
)

from api.app import create_app
from tests.harness.live import settings_for
from tests.harness.tokens import token

CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def auth_headers() -> dict[str, str]:
    admin = token("admin", ttl=3600)
    return {"Authorization": f"Bearer {admin}", "x-access-token": admin}


@contextmanager
def served_schema(data_dir: Path) -> Iterator[Any]:
    """The OpenAPI document of a fresh app, loaded by schemathesis over ASGI."""
    app = create_app(settings_for(f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}", data_dir))
    loaded = schemathesis.openapi.from_asgi("/schema/openapi.json", app)
    try:
        yield loaded
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def schema(tmp_path: Path) -> Iterator[Any]:
    with served_schema(tmp_path) as loaded:
        yield loaded


def fuzz(schema: Any, examples: int) -> None:
    headers = auth_headers()
    strategy = st.one_of(
        schema.as_strategy(GenerationMode.POSITIVE, headers=headers),
        schema.as_strategy(GenerationMode.NEGATIVE, headers=headers),
        schema.as_strategy(GenerationMode.POSITIVE),
    )

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("INVTRACK_SOAK"),
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call()
        case.validate_response(response, checks=CHECKS)

    run()


def test_generated_requests_never_fail_and_fit_the_schema(schema: Any) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/servicemobility/{kind}"),
        ("POST", "/ofs/events"),
        ("GET", "/resources/{resource_id}/inventories"),
        ("GET", "/inventories/{key}/history"),
    }
    fuzz(schema, examples=400)
