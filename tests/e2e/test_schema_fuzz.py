"""Schemathesis against the service's own OpenAPI document (/schema), in
process over ASGI: generated requests, valid and invalid, to every operation
never get a 500, and every answer fits the document where it documents one.

Run on SQLite and on PostgreSQL (NUL characters, collation and text limits
differ), with a seed new to every run and printed with the test's output:
INVTRACK_FUZZ_SEED=<seed> replays a failure. The CI run is bounded;
tests/reliability/test_soak.py runs many more examples.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, seed, settings
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


SEED_VARIABLE = "INVTRACK_FUZZ_SEED"


def fuzz_seed() -> int:
    """INVTRACK_FUZZ_SEED when set (to replay a run), else a new one."""
    given_seed = os.environ.get(SEED_VARIABLE)
    return int(given_seed) if given_seed else secrets.randbits(64)


@contextmanager
def served_schema(data_dir: Path, database_url: str | None = None) -> Iterator[Any]:
    """The OpenAPI document of a fresh app (on SQLite unless `database_url`
    names another store), loaded by schemathesis over ASGI."""
    url = database_url or f"sqlite+aiosqlite:///{data_dir / 'fuzz.db'}"
    app = create_app(settings_for(url, data_dir))
    # The event stream never ends (an ASGI call waits for the whole answer),
    # and a long poll would wait out its timeout: both are tested on their own
    # (tests/e2e/test_feed.py); push subscriptions would send to the addresses
    # generated.
    loaded = (
        schemathesis.openapi.from_asgi("/schema/openapi.json", app)
        .exclude(path="/feed/stream")
        .exclude(operation_id="readFeed")
        .exclude(tag="subscriptions")
    )
    try:
        yield loaded
    finally:
        asgi.shutdown_lifespans()


@pytest.fixture
def schema(database_url: str, tmp_path: Path) -> Iterator[Any]:
    with served_schema(tmp_path, database_url) as loaded:
        yield loaded


def fuzz(schema: Any, examples: int) -> None:
    """`examples` generated requests; the seed is printed first, so the
    output of a failed run says how to replay it."""
    run_seed = fuzz_seed()
    print(f"schema fuzz seed {run_seed}: replay with {SEED_VARIABLE}={run_seed}")
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
        derandomize=False,
        suppress_health_check=list(HealthCheck),
    )
    @seed(run_seed)
    @given(case=strategy)
    def run(case: Any) -> None:
        response = case.call()
        answered.append(response.status_code)
        case.validate_response(response, checks=CHECKS)

    answered: list[int] = []
    run()
    # Every example sent its request, and the store behind the app was used.
    assert len(answered) >= examples
    assert 200 in answered, sorted(set(answered))


def test_generated_requests_never_fail_and_fit_the_schema(schema: Any) -> None:
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {(op.method.upper(), op.path) for op in operations} >= {
        ("POST", "/servicemobility/{kind}"),
        ("POST", "/ofs/events"),
        ("GET", "/resources/{resource_id}/inventories"),
        ("GET", "/inventories/{key}/history"),
    }
    fuzz(schema, examples=400)
