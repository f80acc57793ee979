"""`POST /ofs/events` with a page one of whose events is bad, on SQLite and
PostgreSQL: that event alone is quarantined (its bytes, the reason), the
others are committed, and the answer says so while keeping the contract's
fields (`received` = `events` + `duplicates` + `quarantined`)."""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import reader, relay
from tests.integration.test_ofs_poller import PAGE_01


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as running:
        yield running


async def test_a_bad_event_of_a_pushed_page_is_quarantined_alone(live: Live) -> None:
    page = copy.deepcopy(PAGE_01)
    page["items"][2]["time"] = "2026-11-20T09:40:00Z"
    body = json.dumps(page).encode()
    bad = json.dumps(page["items"][2]).encode()
    # The bad event's bytes as they are in the body: a slice of it.
    assert bad in body

    response = await live.client.post("/ofs/events", content=body, headers=relay())
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer == {
        "status": "accepted",
        "received": 9,
        "duplicates": 0,
        "events": 8,
        "quarantined": 1,
        "errors": [
            {
                "field": "items[2].time",
                "message": 'must be a "YYYY-MM-DD HH:MM:SS" time (UTC), '
                "not '2026-11-20T09:40:00Z'",
            }
        ],
    }
    (kept,) = await live.store.inbox_entries("quarantined")
    assert kept.body == bad
    assert kept.reason is not None
    assert kept.reason.startswith("items[2].time: ")
    (accepted,) = await live.store.inbox_entries("accepted")
    assert accepted.body == body
    assert await live.store.count() == 8

    # Sent again: the good events are repeats, the bad one is named again.
    again = (await live.client.post("/ofs/events", content=body, headers=relay())).json()
    assert (again["received"], again["duplicates"], again["events"]) == (9, 8, 0)
    assert again["quarantined"] == 1

    item = await live.client.get("/inventories/ofs-21258547", headers=reader())
    assert item.status_code == 200


async def test_a_clean_page_answers_as_before(live: Live) -> None:
    body = json.dumps(PAGE_01).encode()
    response = await live.client.post("/ofs/events", content=body, headers=relay())
    assert response.json() == {"status": "accepted", "received": 9, "duplicates": 0, "events": 9}
