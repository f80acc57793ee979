"""`/metrics` answers without a token, in the Prometheus text format, and its
counters move with the requests served, also summed over `--workers 2`."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from tests.harness.fixtures import fixture
from tests.harness.tokens import SECRET, reader, relay, sender

Client = AsyncTestClient[Any]
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]

OFS_PAGE = "01_exchange_and_non_serialized_install.page.json"


async def scrape(client: Client) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def lags(samples: Samples) -> dict[str, float]:
    return {
        dict(labels)["projection"]: number
        for (name, labels), number in samples.items()
        if name == "invtrack_projection_lag_events"
    }


async def test_metrics_need_no_token_and_show_the_store(client: Client) -> None:
    samples = await scrape(client)
    assert value(samples, "invtrack_store_up") == 1
    assert value(samples, "invtrack_events_head_position") == 0
    assert set(lags(samples)) == {"items", "history", "counts", "signals"}


async def test_counters_move_with_deliveries_and_queries(client: Client) -> None:
    before = await scrape(client)
    envelope = fixture("servicemobility", "04_load_inventory_document.json")
    path = "/servicemobility/LoadInventory/"
    assert (await client.post(path, json=envelope, headers=sender())).status_code == 200
    assert (await client.post(path, json=envelope, headers=sender())).status_code == 200
    bad = await client.post(path, content=b"{not json", headers=sender())
    assert bad.status_code == 400
    page = await client.post("/ofs/events", json=fixture("ofs", OFS_PAGE), headers=relay())
    assert page.json()["events"] == 9
    assert (
        await client.get("/resources/TECH_017/inventories", headers=reader())
    ).status_code == 200
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    webhook = {"method": "POST", "route": "/servicemobility/{kind}"}
    assert moved("invtrack_http_requests_total", **webhook, status="200") == 2
    assert moved("invtrack_http_requests_total", **webhook, status="400") == 1
    assert moved("invtrack_http_request_duration_seconds_count", **webhook) == 3
    stock = {"method": "GET", "route": "/resources/{resource_id}/inventories"}
    assert moved("invtrack_http_requests_total", **stock, status="200") == 1
    sm, ofs = {"source": "servicemobility"}, {"source": "ofs"}
    assert moved("invtrack_deliveries_total", **sm, outcome="accepted") == 1
    assert moved("invtrack_deliveries_total", **sm, outcome="duplicate") == 1
    assert moved("invtrack_deliveries_total", **sm, outcome="quarantined") == 1
    assert moved("invtrack_deliveries_total", **ofs, outcome="accepted") == 1
    assert moved("invtrack_events_appended_total", **sm) == 1
    assert moved("invtrack_events_appended_total", **ofs) == 9
    assert value(after, "invtrack_events_head_position") == 10
    assert lags(after) == {"items": 0, "history": 0, "counts": 0, "signals": 0}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[str]:
    """`invtrack serve --workers 2` on SQLite, answering on a free port."""
    port = free_port()
    env = {name: value for name, value in os.environ.items() if not name.startswith("INVTRACK_")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env.update(
        INVTRACK_DATABASE_URL=f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}",
        INVTRACK_JWT_SECRET=SECRET,
        INVTRACK_DATA_DIR=str(tmp_path),
        INVTRACK_LOG_FORMAT="json",
    )
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            if server.poll() is not None:
                pytest.fail((tmp_path / "serve.log").read_text())
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=60)


def answered_by(log: Path) -> dict[str, int]:
    """The pid of the worker that answered each scrape, from the access
    lines written so far."""
    lines = [line for line in log.read_text().splitlines() if line.startswith('{"')]
    entries = [json.loads(line) for line in lines if line.endswith("}")]
    return {
        entry["request_id"]: entry["pid"]
        for entry in entries
        if entry["logger"] == "invtrack.access" and entry["request_id"].startswith("scrape-")
    }


def test_workers_share_their_counts(two_workers: str, tmp_path: Path) -> None:
    envelope = fixture("servicemobility", "04_load_inventory_document.json")
    for number in range(12):
        envelope["id"] = f"metrics-{number}"
        envelope["data"]["rows"][0]["rowver"] = f"row-{number}"
        answer = httpx.post(
            f"{two_workers}/servicemobility/LoadInventory", json=envelope, headers=sender()
        )
        assert answer.status_code == 200, answer.text
    accepted = ("invtrack_deliveries_total", {"source": "servicemobility", "outcome": "accepted"})
    scrapes: list[str] = []
    # A new connection each time: either worker may answer, and both must
    # tell the same totals. In rounds, until both have answered scrapes.
    while len(scrapes) < 300 and len(set(answered_by(tmp_path / "serve.log").values())) < 2:
        for _ in range(6):
            scrapes.append(f"scrape-{len(scrapes)}")
            answer = httpx.get(f"{two_workers}/metrics", headers={"x-request-id": scrapes[-1]})
            samples = {
                (s.name, frozenset(s.labels.items())): s.value
                for family in text_string_to_metric_families(answer.text)
                for s in family.samples
            }
            assert value(samples, accepted[0], **accepted[1]) == 12
            assert value(samples, "invtrack_events_appended_total", source="servicemobility") == 12
            assert not any(dict(labels).get("pid") for _, labels in samples)
    # Both workers answered scrapes with those totals.
    assert set(answered_by(tmp_path / "serve.log")) <= set(scrapes)
    assert len(set(answered_by(tmp_path / "serve.log").values())) == 2
