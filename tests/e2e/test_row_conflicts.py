"""Over HTTP, on both backends: the README's demo and the recorded fixtures
give their documented balances in either order; a row version sent again with
other ledger lines counts once and is shown as a conflict in `status`,
`/metrics` and the dashboard; a payload that cannot be read, sent again and
again, is kept once with its count."""

from __future__ import annotations

import copy
import json
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from projections.status import status
from tests.e2e.test_dashboard_pages import sign_in
from tests.harness.fixtures import fixture
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import reader, sender

README = Path(__file__).resolve().parents[2] / "README.md"
USAGE = "/servicemobility/InventoryUsage/"


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


def try_it() -> str:
    return README.read_text().split("## Try it", 1)[1].split("\n## ", 1)[0]


def readme_demo() -> dict[str, Any]:
    """The webhook the README's "Try it" sends."""
    found = re.search(r"-d '(\{\"id\": \"demo-1\".*?)'\n", try_it(), re.S)
    assert found is not None
    demo: dict[str, Any] = json.loads(found[1])
    return demo


def readme_stock() -> tuple[str, list[dict[str, Any]]]:
    """The storage location the README asks for after its demo, and the items
    it shows in the answer."""
    answer = r"/resources/([^/]+)/inventories \\\n[^\n]*\n# (\{[^\n]*\})\n"
    found = re.search(answer, try_it())
    assert found is not None
    items: list[dict[str, Any]] = json.loads(found[2])["items"]
    return found[1], items


async def post(client: httpx.AsyncClient, envelope: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(USAGE, content=json.dumps(envelope).encode(), headers=sender())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def stock(client: httpx.AsyncClient, location: str) -> dict[str, Decimal]:
    response = await client.get(f"/resources/{location}/inventories", headers=reader())
    assert response.status_code == 200, response.text
    return {
        item["productNumber"] + (f"/{item['serialNumber']}" if item["serialNumber"] else ""): (
            Decimal(item["quantity"])
        )
        for item in response.json()["items"]
    }


def expected_van_07() -> dict[str, Decimal]:
    expected = fixture("servicemobility", "expected.json")["01_load_then_work_order.json"]
    return {name: Decimal(quantity) for name, quantity in expected["resources/VAN-07"].items()}


@pytest.mark.parametrize("demo_first", [True, False], ids=["demo first", "fixtures first"])
async def test_the_readme_demo_and_the_fixtures_give_their_documented_balances(
    live: Live, demo_first: bool
) -> None:
    recorded = fixture("servicemobility", "01_load_then_work_order.json")
    sent = [readme_demo(), *recorded] if demo_first else [*recorded, readme_demo()]
    for envelope in sent:
        await post(live.client, envelope)

    assert await stock(live.client, "VAN-07") == expected_van_07()
    location, documented = readme_stock()
    assert location != "VAN-07"
    assert await stock(live.client, location) == {
        item["productNumber"]: Decimal(item["quantity"]) for item in documented
    }


def old_demo(envelope_id: str) -> dict[str, Any]:
    """The webhook an earlier README sent: the recorded load's row version and
    movement (technician, time, load) with only one of its lines."""
    demo: dict[str, Any] = copy.deepcopy(
        fixture("servicemobility", "01_load_then_work_order.json")[0]
    )
    demo["id"] = envelope_id
    location = demo["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]
    location["Items"] = location["Items"][:1]
    return demo


def scraped(text: str) -> dict[str, float]:
    return {
        sample.name + json.dumps(sample.labels, sort_keys=True): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_a_row_version_with_other_lines_counts_once_and_is_shown(live: Live) -> None:
    for envelope in fixture("servicemobility", "01_load_then_work_order.json"):
        await post(live.client, envelope)
    answers = [await post(live.client, old_demo(f"old-demo-{n}")) for n in (1, 2)]

    assert [(answer["duplicate"], answer["events"]) for answer in answers] == [(False, 0)] * 2
    assert await stock(live.client, "VAN-07") == expected_van_07()
    report = await status(live.store)
    assert report.conflict_count == 1
    (conflict,) = report.conflicts
    load, demo = (await live.store.inbox_entries("accepted"))[0::2]
    assert (conflict.rowver, conflict.counted_payload, conflict.refused_payload) == (
        "AAAAAAAB9x0=",
        load.id,
        demo.id,
    )
    assert not conflict.both_counted
    metrics = scraped((await live.client.get("/metrics")).text)
    assert metrics["invtrack_row_conflicts{}"] == 1
    assert metrics['invtrack_row_conflicts_refused_total{"source": "servicemobility"}'] >= 2

    await sign_in(live.client)
    listed = (await live.client.get("/ui/conflicts")).text
    assert "AAAAAAAB9x0=" in listed
    assert f'href="/ui/conflicts/{conflict.id}"' in listed
    shown = (await live.client.get(f"/ui/conflicts/{conflict.id}")).text
    counted, refused = shown.split('id="refused-h"', 1)
    assert "ONT-G240" in counted
    assert "CBL-CAT6" in refused
    assert "ONT-G240" not in refused
    assert "1 row conflict" in (await live.client.get("/ui/quarantine")).text
    assert "1 row conflict" in (await live.client.get("/ui/")).text
    assert (await live.client.get("/ui/conflicts/999")).status_code == 404


async def test_a_payload_sent_again_and_again_is_quarantined_once(live: Live) -> None:
    broken = b'{"id": "broken", "type": "InventoryUsage", "data": {"rows": "none"}}'
    for _ in range(3):
        response = await live.client.post(USAGE, content=broken, headers=sender())
        assert response.status_code == 400

    (kept,) = await live.store.inbox_entries("quarantined")
    assert (kept.body, kept.received_count) == (broken, 3)
    report = await status(live.store)
    assert (report.inbox, report.quarantine_received) == ({"quarantined": 1}, 3)
    assert [entry.received_count for entry in report.quarantined] == [3]
    metrics = scraped((await live.client.get("/metrics")).text)
    assert (
        metrics["invtrack_quarantined_payloads{}"],
        metrics["invtrack_quarantined_received{}"],
    ) == (
        1,
        3,
    )
    await sign_in(live.client)
    page = (await live.client.get("/ui/quarantine")).text
    assert "1 quarantined (received 3 times)" in page
    assert "<dt>Times received</dt><dd>3</dd>" in page
