"""The OpenAPI document at /schema/openapi.json: valid, complete enough for a
generated client to send a webhook and read a list, and its viewer served
without any other site."""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from openapi_spec_validator import validate

from tests.harness.deliveries import envelope_for
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import admin, token

OPERATIONS = {
    ("/servicemobility/{kind}", "post"): "receiveServiceMobilityWebhook",
    ("/ofs/events", "post"): "receiveOfsEvents",
    ("/resources/{resource_id}/inventories", "get"): "listResourceInventories",
    ("/customers/{customer_number}/inventories", "get"): "listCustomerInventories",
    ("/activities/{activity_id}/inventories", "get"): "listActivityInventories",
    ("/inventories/{key}", "get"): "getInventory",
    ("/inventories/{key}/history", "get"): "getInventoryHistory",
    ("/health", "get"): "getHealth",
    ("/ready", "get"): "getReadiness",
    ("/metrics", "get"): "getMetrics",
    ("/reconciliations", "get"): "listReconciliations",
    ("/feed", "get"): "readFeed",
    ("/feed/stream", "get"): "streamFeed",
    ("/feed/snapshot", "get"): "readFeedSnapshot",
    ("/subscriptions", "post"): "createSubscription",
    ("/subscriptions", "get"): "listSubscriptions",
    ("/subscriptions/{subscription_id}", "get"): "getSubscription",
    ("/subscriptions/{subscription_id}", "delete"): "deleteSubscription",
    ("/subscriptions/{subscription_id}/rewind", "post"): "rewindSubscription",
    ("/subscriptions/{subscription_id}/resume", "post"): "resumeSubscription",
    ("/low-stock", "get"): "listLowStock",
    ("/resources/{resource_id}/restock", "get"): "getRestock",
    ("/resources/{resource_id}/par-levels", "get"): "getParLevels",
    ("/resources/{resource_id}/par-levels", "put"): "setParLevels",
    ("/counts/variance", "get"): "getCountVariance",
    ("/transfers", "get"): "listTransfers",
    ("/activities/{activity_id}/readiness", "get"): "getActivityReadiness",
    ("/readiness", "get"): "listNotReady",
}


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    async with live_app(settings_for(url, tmp_path)) as app:
        yield app


async def document(live: Live) -> dict[str, Any]:
    response = await live.client.get("/schema/openapi.json")
    assert response.status_code == 200
    found: dict[str, Any] = response.json()
    return found


async def test_the_document_is_valid_openapi(live: Live) -> None:
    validate(await document(live))


async def test_every_operation_has_a_readable_id_and_its_statuses(live: Live) -> None:
    paths = (await document(live))["paths"]
    ids = {
        (path, method): op["operationId"]
        for path, ops in paths.items()
        for method, op in ops.items()
    }
    assert ids == OPERATIONS

    def statuses(path: str, method: str) -> set[str]:
        return set(paths[path][method]["responses"])

    sender_statuses = {"200", "400", "401", "403", "408", "413", "415", "500", "503"}
    assert statuses("/servicemobility/{kind}", "post") >= sender_statuses | {"404"}
    assert statuses("/ofs/events", "post") >= sender_statuses
    for path, method in OPERATIONS:
        if path.startswith(("/resources", "/customers", "/activities", "/inventories")):
            assert statuses(path, method) >= {"200", "400", "401", "403", "500", "503"}
    assert statuses("/inventories/{key}", "get") >= {"404"}
    assert statuses("/ready", "get") == {"200", "503"}


async def test_both_token_schemes_and_the_request_bodies_are_described(live: Live) -> None:
    doc = await document(live)
    schemes = doc["components"]["securitySchemes"]
    assert {"type": "apiKey", "in": "header", "name": "x-access-token"}.items() <= next(
        s for s in schemes.values() if s["type"] == "apiKey"
    ).items()
    assert any(
        s.get("scheme") == "bearer" and s.get("bearerFormat") == "JWT" for s in schemes.values()
    )
    webhook = doc["paths"]["/servicemobility/{kind}"]["post"]
    ofs = doc["paths"]["/ofs/events"]["post"]
    assert webhook["requestBody"]["required"] is True
    assert {"application/json", "application/cloudevents+json"} <= set(
        webhook["requestBody"]["content"]
    )
    assert "application/json" in ofs["requestBody"]["content"]
    assert webhook["security"]
    assert ofs["security"]
    assert doc["paths"]["/resources/{resource_id}/inventories"]["get"]["security"]


async def test_the_par_levels_body_is_described_and_a_bad_one_named(live: Live) -> None:
    operation = (await document(live))["paths"]["/resources/{resource_id}/par-levels"]["put"]
    body = operation["requestBody"]
    assert body["required"] is True
    schema = body["content"]["application/json"]["schema"]
    assert schema["required"] == ["items"]
    assert schema["additionalProperties"] is False
    level = schema["properties"]["items"]["items"]
    assert level["required"] == ["product", "target"]
    assert set(level["properties"]) == {"product", "target", "min"}
    assert level["additionalProperties"] is False
    assert {"type": "string"} in level["properties"]["target"]["anyOf"]

    answer = await live.client.put(
        "/resources/VAN-1/par-levels",
        json={"items": [{"product": "CBL", "target": 4, "min": "lots"}]},
        headers=admin(),
    )
    assert answer.status_code == 400
    assert answer.json()["errors"][0]["field"] == "items[0].min"
    unknown = await live.client.put(
        "/resources/VAN-1/par-levels",
        json={"items": [{"product": "CBL", "target": 4, "max": 9}]},
        headers=admin(),
    )
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "items[0].max"


async def test_the_viewer_loads_nothing_from_elsewhere(live: Live) -> None:
    page = await live.client.get("/schema/swagger")
    assert page.status_code == 200
    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]""", page.text)
    assert urls
    for url in urls:
        assert url.startswith("/"), url
        assert (await live.client.get(url)).status_code == 200, url


@pytest.fixture(scope="module")
def generated_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A client package generated with openapi-python-client from the document."""
    from litestar.testing import TestClient

    from api.app import create_app

    workdir = tmp_path_factory.mktemp("client")
    settings = settings_for(f"sqlite+aiosqlite:///{workdir / 'schema.db'}", workdir)
    with TestClient(create_app(settings)) as client:
        (workdir / "openapi.json").write_text(client.get("/schema/openapi.json").text)
    (workdir / "config.json").write_text(json.dumps({"post_hooks": []}))
    subprocess.run(
        [
            str(Path(sys.executable).with_name("openapi-python-client")),
            "generate",
            "--path",
            str(workdir / "openapi.json"),
            "--output-path",
            str(workdir / "invtrack_client"),
            "--config",
            str(workdir / "config.json"),
            "--meta",
            "none",
        ],
        check=True,
        capture_output=True,
    )
    sys.path.insert(0, str(workdir))
    try:
        yield "invtrack_client"
    finally:
        sys.path.remove(str(workdir))
        for name in [name for name in sys.modules if name.startswith("invtrack_client")]:
            del sys.modules[name]


async def test_a_generated_client_sends_a_webhook_and_reads_a_list(
    live: Live, generated_client: str
) -> None:
    package = importlib.import_module(generated_client)
    webhooks = importlib.import_module(
        f"{generated_client}.api.senders.receive_service_mobility_webhook"
    )
    stock = importlib.import_module(f"{generated_client}.api.queries.list_resource_inventories")
    models = importlib.import_module(f"{generated_client}.models")
    transport = httpx.ASGITransport(app=live.app)  # type: ignore[arg-type]
    server = {"base_url": "http://testserver", "httpx_args": {"transport": transport}}

    sender = package.AuthenticatedClient(
        token=token(), auth_header_name="x-access-token", prefix="", **server
    )
    envelope = models.ReceiveServiceMobilityWebhookJsonBody.from_dict(
        envelope_for("InventoryUsage", "generated-client")
    )
    sent = await webhooks.asyncio_detailed(kind="InventoryUsage", client=sender, body=envelope)
    assert sent.status_code == 200, sent.content
    assert sent.parsed.events == 1

    reader = package.AuthenticatedClient(token=token("read"), **server)
    page = await stock.asyncio(resource_id="VAN-1", client=reader)
    assert [(item.resource_id, item.quantity) for item in page.items] == [("VAN-1", "2")]
