"""The shared OFS fixtures, pushed over HTTP, give expected.json; a page pushed
twice changes nothing."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from litestar.testing import AsyncTestClient

from tests.harness.fixtures import fixture
from tests.harness.tokens import reader, relay

Client = AsyncTestClient[Any]


async def push(client: Client, name: str) -> dict[str, Any]:
    response = await client.post("/ofs/events", json=fixture("ofs", name), headers=relay())
    assert response.status_code == 200, response.text
    answer: dict[str, Any] = response.json()
    return answer


async def pools(
    client: Client, path: str, pool: str | None = None, at: str | None = None
) -> dict[str, Decimal]:
    params = {"pool": pool} if pool else {}
    if at:
        params["at"] = at
    response = await client.get(f"/{path}/inventories", params=params, headers=reader())
    assert response.status_code == 200, response.text
    return {item["key"]: Decimal(item["quantity"]) for item in response.json()["items"]}


async def by_pool(client: Client, activity: str) -> dict[str, dict[str, Decimal]]:
    response = await client.get(f"/activities/{activity}/inventories", headers=reader())
    grouped: dict[str, dict[str, Decimal]] = {"install": {}, "deinstall": {}, "customer": {}}
    for item in response.json()["items"]:
        grouped.setdefault(item["pool"], {})[item["key"]] = Decimal(item["quantity"])
    return grouped


def decimals(expected: dict[str, str]) -> dict[str, Decimal]:
    return {key: Decimal(quantity) for key, quantity in expected.items()}


async def check(client: Client, expected: dict[str, Any]) -> None:
    for path, want in expected.items():
        if path.startswith("resources/") or path.startswith("customers/"):
            owner_path, _, pool = path.partition(" (pool ")
            assert await pools(client, owner_path, pool.rstrip(")")) == decimals(want), path
        elif path.startswith("activities/"):
            grouped = await by_pool(client, path.removeprefix("activities/"))
            assert {p: grouped[p] for p in want} == {p: decimals(v) for p, v in want.items()}
        else:
            response = await client.get(f"/{path}", headers=reader())
            assert response.status_code == 200, response.text
            item = response.json()
            assert {field: item[field] for field in want} == want, path


async def test_exchange_and_non_serialized_install(client: Client) -> None:
    answer = await push(client, "01_exchange_and_non_serialized_install.page.json")
    assert answer == {"status": "accepted", "received": 9, "duplicates": 0, "events": 9}
    await check(client, fixture("ofs", "expected.json")["after 01"])


async def test_undo_update_delete(client: Client) -> None:
    await push(client, "01_exchange_and_non_serialized_install.page.json")
    await push(client, "02_undo_update_delete.page.json")
    await check(client, fixture("ofs", "expected.json")["after 01 then 02"])


async def test_the_same_page_twice_changes_nothing(client: Client) -> None:
    await push(client, "01_exchange_and_non_serialized_install.page.json")
    await push(client, "02_undo_update_delete.page.json")
    again = await push(client, "01_exchange_and_non_serialized_install.page.json")
    assert again == {"status": "accepted", "received": 9, "duplicates": 9, "events": 0}
    await check(client, fixture("ofs", "expected.json")["after 01 then 02"])


async def test_a_deleted_item_still_answers(client: Client) -> None:
    await push(client, "01_exchange_and_non_serialized_install.page.json")
    await push(client, "02_undo_update_delete.page.json")
    item = (await client.get("/inventories/ofs-21259000", headers=reader())).json()
    assert (item["pool"], item["deleted"]) == (None, True)
    assert "ofs-21259000" not in await pools(client, "resources/TECH_017", "resource")


async def test_state_as_of_an_event_time(client: Client) -> None:
    await push(client, "01_exchange_and_non_serialized_install.page.json")
    await push(client, "02_undo_update_delete.page.json")
    before_install = await pools(client, "resources/TECH_017", at="2026-11-20T09:00:00Z")
    assert before_install == {"ofs-21258547": Decimal(1), "ofs-21259000": Decimal(50)}
    item = await client.get(
        "/inventories/ofs-21258547", params={"at": "2026-11-20T09:35:00Z"}, headers=reader()
    )
    assert item.json()["pool"] == "install"


async def test_history_is_oldest_first(client: Client) -> None:
    await push(client, "01_exchange_and_non_serialized_install.page.json")
    await push(client, "02_undo_update_delete.page.json")
    history = await client.get("/inventories/ofs-21258547/history", headers=reader())
    types = [entry["type"] for entry in history.json()["items"]]
    assert types == [
        "ofs.resourceInventoryCreated",
        "ofs.inventoryInstalled",
        "ofs.inventoryUndoInstall",
    ]
