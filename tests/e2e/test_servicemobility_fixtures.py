"""The shared ServiceMobility fixtures, posted over HTTP, give expected.json."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from tests.harness.fixtures import fixture
from tests.harness.tokens import reader, sender

Client = AsyncTestClient[Any]


def label(item: dict[str, Any]) -> str:
    """How expected.json names a stock line: ProdNum, or ProdNum/SerialNum."""
    serial = item["serialNumber"]
    return f"{item['productNumber']}/{serial}" if serial else item["productNumber"]


async def post_all(client: Client, name: str) -> list[dict[str, Any]]:
    envelopes = fixture("servicemobility", name)
    answers = []
    for envelope in envelopes if isinstance(envelopes, list) else [envelopes]:
        response = await client.post(
            f"/servicemobility/{envelope['type']}/", json=envelope, headers=sender()
        )
        assert response.status_code == 200, response.text
        answers.append(response.json())
    return answers


async def stock(client: Client, path: str, pool: str | None = None) -> dict[str, Decimal]:
    params = {"pool": pool} if pool else {}
    response = await client.get(f"/{path}/inventories", params=params, headers=reader())
    assert response.status_code == 200, response.text
    return {label(item): Decimal(item["quantity"]) for item in response.json()["items"]}


def decimals(expected: dict[str, str]) -> dict[str, Decimal]:
    return {name: Decimal(quantity) for name, quantity in expected.items()}


async def test_load_then_work_order(client: Client) -> None:
    expected = fixture("servicemobility", "expected.json")["01_load_then_work_order.json"]
    answers = await post_all(client, "01_load_then_work_order.json")
    assert [a["events"] for a in answers] == [2, 2]
    assert await stock(client, "resources/VAN-07") == decimals(expected["resources/VAN-07"])
    assert await stock(client, "activities/WO-5521", "install") == decimals(
        expected["activities/WO-5521"]["install"]
    )


async def test_redelivery_is_not_counted_twice(client: Client) -> None:
    expected = fixture("servicemobility", "expected.json")["02_redelivery.json"]
    answers = await post_all(client, "02_redelivery.json")
    assert [(a["duplicate"], a["events"]) for a in answers] == [(False, 1), (True, 0), (False, 0)]
    assert await stock(client, "resources/VAN-09") == decimals(expected["resources/VAN-09"])


async def test_transfer_then_count(client: Client) -> None:
    expected = fixture("servicemobility", "expected.json")["03_transfer_then_count.json (after 02)"]
    await post_all(client, "02_redelivery.json")
    await post_all(client, "03_transfer_then_count.json")
    assert await stock(client, "resources/VAN-09") == decimals(expected["resources/VAN-09"])
    assert await stock(client, "resources/VAN-07") == decimals(expected["resources/VAN-07"])
    items = (await client.get("/resources/VAN-07/inventories", headers=reader())).json()["items"]
    assert [item["negative"] for item in items] == [True]


async def test_count_keeps_its_variance_in_history(client: Client) -> None:
    await post_all(client, "02_redelivery.json")
    await post_all(client, "03_transfer_then_count.json")
    items = (await client.get("/resources/VAN-09/inventories", headers=reader())).json()["items"]
    history = await client.get(f"/inventories/{items[0]['key']}/history", headers=reader())
    count = history.json()["items"][-1]["data"]
    assert count["ref_module"] == "1004"
    assert (Decimal(count["expected"]), Decimal(count["variance"])) == (Decimal(17), Decimal(-1))


async def test_documents_are_kept_and_change_no_balance(client: Client) -> None:
    await post_all(client, "01_load_then_work_order.json")
    before = await stock(client, "resources/VAN-07")
    answers = await post_all(client, "04_load_inventory_document.json")
    assert answers[0]["events"] == 1
    assert await stock(client, "resources/VAN-07") == before
    items = (await client.get("/resources/VAN-07/inventories", headers=reader())).json()["items"]
    cable = next(item for item in items if item["productNumber"] == "CBL-CAT6")
    history = await client.get(f"/inventories/{cable['key']}/history", headers=reader())
    assert [entry["type"] for entry in history.json()["items"]] == [
        "sm.StockUsageRecorded",
        "sm.StockUsageRecorded",
        "sm.DocumentRecorded",
    ]
