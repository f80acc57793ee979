"""The webhook answers of README.md ("HTTP API"), case by case, for every ServiceMobility
type (with and without the trailing slash) and for /ofs/events, on each backend.

Every check of what was stored looks through a second engine, as another
process would: what it sees is committed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import msgspec
import pytest

from adapters.auth import mint
from adapters.servicemobility import TYPES
from adapters.store import Store, connect
from tests.harness.deliveries import envelope_for, ofs_event
from tests.harness.faults import POISON, arm
from tests.harness.live import Live, live_app, settings_for
from tests.harness.reading import all_events, all_inbox
from tests.harness.tokens import SECRET, relay, sender

PATHS = [(kind, f"/servicemobility/{kind}{slash}") for kind in TYPES for slash in ("/", "")]
PROBLEM_KEYS = {"type", "title", "status", "detail"}


def encode(value: Any) -> bytes:
    return json.dumps(value).encode()


def assert_problem(response: Any, status: int, title: str | None = None) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    assert body.keys() >= PROBLEM_KEYS, body
    assert body["status"] == status
    assert body["detail"]
    if title is not None:
        assert body["title"] == title
    return body


@pytest.fixture
async def observer(database_url: str) -> AsyncIterator[Store]:
    """The store seen through an engine of its own."""
    store = connect(database_url)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path)) as app:
        yield app


async def stored(store: Store) -> tuple[int, int]:
    """How many inbox rows and events the store holds."""
    return len(await all_inbox(store)), await store.count()


# ---- 200: accepted once durably committed ----------------------------------------


async def test_accepted_once_durably_committed(live: Live, observer: Store) -> None:
    for kind, path in PATHS:
        envelope_id = f"{kind}-{path.endswith('/')}"
        body = encode(envelope_for(kind, envelope_id))
        response = await live.client.post(path, content=body, headers=sender())
        assert response.status_code == 200, (path, response.text)
        assert response.headers["content-type"].startswith("application/json")
        assert response.json() == {
            "status": "accepted",
            "id": envelope_id,
            "duplicate": False,
            "events": 1,
        }, path
        kept = [row for row in await all_inbox(observer) if row.message_id == envelope_id]
        assert [(row.status, row.kind, row.body) for row in kept] == [("accepted", kind, body)]
        events = [e for e in await all_events(observer) if e.inbox_id == kept[0].id]
        assert [e.metadata["messageId"] for e in events] == [envelope_id]
    assert await stored(observer) == (len(PATHS), len(PATHS))
    await accepts_ofs_events_as_event_array_or_page(live, observer)


async def accepts_ofs_events_as_event_array_or_page(live: Live, observer: Store) -> None:
    one = ofs_event(1, "resourceInventoryCreated", "2026-11-20 09:00:00", status="resource")
    two = ofs_event(2, "resourceInventoryCreated", "2026-11-20 09:00:01", status="resource")
    three = ofs_event(3, "resourceInventoryCreated", "2026-11-20 09:00:02", status="resource")
    page = {"found": True, "nextPage": "17", "items": [one, two, three]}
    answers = []
    for body in (encode(one), encode([one, two]), encode(page)):
        response = await live.client.post("/ofs/events", content=body, headers=relay())
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("application/json")
        answers.append(response.json())
    assert answers == [
        {"status": "accepted", "received": 1, "duplicates": 0, "events": 1},
        {"status": "accepted", "received": 2, "duplicates": 1, "events": 1},
        {"status": "accepted", "received": 3, "duplicates": 2, "events": 1},
    ]
    inbox = [row for row in await all_inbox(observer) if row.source == "ofs"]
    assert [(row.status, row.body) for row in inbox] == [
        ("accepted", encode(one)),
        ("accepted", encode([one, two])),
        ("accepted", encode(page)),
    ]
    assert await observer.count() == len(PATHS) + 3


# ---- 200 duplicate: a repeated id appends nothing -------------------------------


async def test_a_seen_id_is_a_duplicate_and_appends_nothing(
    live: Live, observer: Store, database_url: str, tmp_path: Path
) -> None:
    for kind in TYPES:
        envelope = envelope_for(kind, f"again-{kind}")
        first = await live.client.post(
            f"/servicemobility/{kind}/", content=encode(envelope), headers=sender()
        )
        assert first.json()["duplicate"] is False, first.text
        before = await stored(observer)
        changed = {**envelope, "time": "2026-11-21T00:00:00.000Z", "action": "resent"}
        for path, body in (
            (f"/servicemobility/{kind}", encode(envelope)),
            (f"/servicemobility/{kind}/", encode(changed)),
        ):
            response = await live.client.post(path, content=body, headers=sender())
            assert response.status_code == 200, response.text
            assert response.json() == {
                "status": "accepted",
                "id": f"again-{kind}",
                "duplicate": True,
                "events": 0,
            }
        assert await stored(observer) == before
    await an_ofs_body_sent_again_appends_nothing(live, observer)
    await copies_racing_on_one_app_are_taken_once(live, observer)
    await copies_racing_on_two_engines_are_taken_once(live, observer, database_url, tmp_path)


async def an_ofs_body_sent_again_appends_nothing(live: Live, observer: Store) -> None:
    body = encode([ofs_event(7, "inventoryInstalled", "2026-11-20 09:31:07", status="installed")])
    await live.client.post("/ofs/events", content=body, headers=relay())
    before = await stored(observer)
    again = await live.client.post("/ofs/events", content=body, headers=relay())
    assert again.json() == {"status": "accepted", "received": 1, "duplicates": 1, "events": 0}
    assert await stored(observer) == before


async def copies_racing_on_one_app_are_taken_once(live: Live, observer: Store) -> None:
    before = await stored(observer)
    bodies = [encode(envelope_for(kind, f"race-{kind}")) for kind in TYPES]
    answers = await asyncio.gather(
        *(
            live.client.post(f"/servicemobility/{kind}/", content=body, headers=sender())
            for kind, body in zip(TYPES, bodies, strict=True)
            for _ in range(2)
        )
    )
    assert all(answer.status_code == 200 for answer in answers), [a.text for a in answers]
    pairs = [answers[i : i + 2] for i in range(0, len(answers), 2)]
    for pair in pairs:
        assert sorted((a.json()["duplicate"], a.json()["events"]) for a in pair) == [
            (False, 1),
            (True, 0),
        ]
    assert await stored(observer) == (before[0] + len(TYPES), before[1] + len(TYPES))


async def copies_racing_on_two_engines_are_taken_once(
    live: Live, observer: Store, database_url: str, tmp_path: Path
) -> None:
    """Two app instances, each with its own engine and ingest queue, as two
    processes would be, receive the same deliveries at the same moment."""
    before = await stored(observer)
    envelopes = [envelope_for(TYPES[n % len(TYPES)], f"twin-{n}") for n in range(18)]
    page = encode([ofs_event(n, "resourceInventoryCreated", "2026-11-20 09:00:00") for n in (1, 2)])
    async with live_app(settings_for(database_url, tmp_path / "twin")) as twin:
        for envelope in envelopes:
            path = f"/servicemobility/{envelope['type']}/"
            answers = await asyncio.gather(
                live.client.post(path, content=encode(envelope), headers=sender()),
                twin.client.post(path, content=encode(envelope), headers=sender()),
            )
            assert [a.status_code for a in answers] == [200, 200], [a.text for a in answers]
            assert sorted((a.json()["duplicate"], a.json()["events"]) for a in answers) == [
                (False, 1),
                (True, 0),
            ]
        pushed = await asyncio.gather(
            live.client.post("/ofs/events", content=page, headers=relay()),
            twin.client.post("/ofs/events", content=page, headers=relay()),
        )
        assert sorted(a.json()["events"] for a in pushed) == [0, 2], [a.text for a in pushed]
    inbox = await all_inbox(observer)
    twins = [row.message_id or "" for row in inbox if (row.message_id or "").startswith("twin-")]
    assert sorted(twins) == sorted(str(envelope["id"]) for envelope in envelopes)
    assert await stored(observer) == (
        before[0] + len(envelopes) + 1,
        before[1] + len(envelopes) + 2,
    )


# ---- 401: nothing stored ---------------------------------------------------------


def bad_tokens() -> dict[str, dict[str, str]]:
    expired = mint(SECRET, scope="admin", ttl_seconds=1, now=_hours_ago(2))
    wrong_key = mint("another-secret-0123456789abcdef0123456789", scope="admin", ttl_seconds=600)
    return {
        "none": {},
        "empty": {"x-access-token": ""},
        "garbage": {"x-access-token": "not-a-token"},
        "expired": {"x-access-token": expired},
        "wrong key": {"x-access-token": wrong_key},
        "bearer only": {"Authorization": "Bearer not-a-token"},
    }


def _hours_ago(hours: int) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime.now(UTC) - timedelta(hours=hours)


async def test_a_bad_token_is_an_invalid_logon_and_nothing_is_stored(
    live: Live, observer: Store
) -> None:
    for kind, path in PATHS:
        for name, headers in bad_tokens().items():
            for body in (encode(envelope_for(kind, f"{kind}-{name}")), b"{not json"):
                response = await live.client.post(
                    path, content=body, headers={"content-type": "application/json", **headers}
                )
                assert_problem(response, 401, "Invalid Logon")
                assert "www-authenticate" in response.headers
    for name, headers in bad_tokens().items():
        if name == "bearer only":
            continue
        token = headers.get("x-access-token")
        for auth in ({"Authorization": f"Bearer {token}"}, headers) if token else (headers,):
            response = await live.client.post(
                "/ofs/events",
                content=encode(ofs_event(1, "x", "2026-11-20 09:00:00")),
                headers=auth,
            )
            assert_problem(response, 401)
    assert await stored(observer) == (0, 0)
    await an_ofs_relay_needs_the_write_or_admin_scope(live, observer)


async def an_ofs_relay_needs_the_write_or_admin_scope(live: Live, observer: Store) -> None:
    body = encode(ofs_event(5, "resourceInventoryCreated", "2026-11-20 09:00:00"))
    for scope in (None, "read", "openid profile"):
        response = await live.client.post("/ofs/events", content=body, headers=relay(scope))
        assert_problem(response, 403)
    assert await stored(observer) == (0, 0)
    for scope in ("write", "admin", "read write"):
        response = await live.client.post("/ofs/events", content=body, headers=relay(scope))
        assert response.status_code == 200, response.text
    token = mint(SECRET, scope="write", ttl_seconds=600)
    response = await live.client.post(
        "/ofs/events", content=body, headers={"x-access-token": token}
    )
    assert response.status_code == 200, response.text
    assert (await observer.inbox_counts(), await observer.count()) == ({"accepted": 1}, 1)


# ---- 400: the raw body is quarantined ------------------------------------------------


def malformed_envelopes(kind: str) -> dict[str, bytes]:
    good = envelope_for(kind, f"bad-{kind}")
    other = next(t for t in TYPES if t != kind)
    return {
        "not JSON": b'{"id": "bad", "type": ',
        "an array": b"[1, 2]",
        "no id": encode({key: value for key, value in good.items() if key != "id"}),
        "id of the wrong type": encode({**good, "id": 17}),
        "data not an object": encode({**good, "data": "rows"}),
        "type differs from path": encode({**good, "type": other}),
    }


async def test_a_malformed_envelope_is_refused_and_kept_in_quarantine(
    live: Live, observer: Store
) -> None:
    sent: list[tuple[str, str, str, bytes]] = []
    for kind, path in PATHS:
        for name, body in malformed_envelopes(kind).items():
            response = await live.client.post(path, content=body, headers=sender())
            problem = assert_problem(response, 400, "Bad Request")
            assert problem["errors"], (name, problem)
            assert all(error["field"] and error["message"] for error in problem["errors"])
            sent.append(("quarantined", "servicemobility", kind, body))
    # Each kind is sent to its path with and without the trailing slash: the
    # second copy of a body raises the count of the first, kept once.
    kept = list(dict.fromkeys(sent))
    inbox = await all_inbox(observer)
    assert [(row.status, row.source, row.kind, row.body) for row in inbox] == kept
    assert [row.received_count for row in inbox] == [sent.count(row) for row in kept]
    assert {row.received_count for row in inbox} == {2}
    assert all(row.reason for row in inbox)
    problem = assert_problem(
        await live.client.post(
            "/servicemobility/InventoryUsage/",
            content=encode({**envelope_for("InventoryUsage", "x"), "type": "WorkOrder"}),
            headers=sender(),
        ),
        400,
    )
    assert problem["errors"][0]["field"] == "$.type"
    assert await stored(observer) == (len(kept) + 1, 0)
    await malformed_ofs_events_are_refused_and_kept_in_quarantine(live, observer)


async def malformed_ofs_events_are_refused_and_kept_in_quarantine(
    live: Live, observer: Store
) -> None:
    before = await stored(observer)
    event = ofs_event(9, "inventoryInstalled", "2026-11-20 09:31:07", status="installed")
    bodies = {
        "not JSON": (b"[{", None),
        "a number": (b"17", None),
        "no time": (encode({**event, "time": None}), "time"),
        # Beside a good event, a bad one is quarantined alone (test_ofs_push_events.py).
        "a bad time": (encode([{**event, "time": "20.11.2026"}]), "[0].time"),
        "inventoryId not an integer": (
            encode({**event, "inventoryChanges": {"inventoryId": "9"}}),
            "inventoryChanges.inventoryId",
        ),
        "items not an array": (encode({"found": True, "items": {}}), "items"),
    }
    for name, (body, field) in bodies.items():
        response = await live.client.post("/ofs/events", content=body, headers=relay())
        problem = assert_problem(response, 400, "Bad Request")
        if field is not None:
            assert [error["field"] for error in problem["errors"]] == [field], name
        row = (await all_inbox(observer))[-1]
        assert (row.status, row.source, row.body) == ("quarantined", "ofs", body), name
    assert await stored(observer) == (before[0] + len(bodies), 0)


# ---- 413 ---------------------------------------------------------------------------


async def test_a_body_over_the_limit_is_refused_and_not_kept(
    database_url: str, tmp_path: Path, observer: Store
) -> None:
    limit = 4096
    async with live_app(settings_for(database_url, tmp_path, max_body_bytes=limit)) as live:
        envelope = envelope_for("Activity", "big")
        padding = limit - len(encode({**envelope, "action": ""}))
        exact = encode({**envelope, "action": "x" * padding})
        assert len(exact) == limit
        response = await live.client.post(
            "/servicemobility/Activity/", content=exact, headers=sender()
        )
        assert response.status_code == 200, response.text
        over = encode({**envelope, "id": "bigger", "action": "x" * (padding + 1)})

        async def chunks() -> AsyncIterator[bytes]:
            for start in range(0, len(over), 1000):
                yield over[start : start + 1000]

        for path, headers in (
            ("/servicemobility/Activity/", sender()),
            ("/servicemobility/Activity", {}),
            ("/ofs/events", relay()),
        ):
            assert_problem(await live.client.post(path, content=over, headers=headers), 413)
            chunked = await live.client.post(path, content=chunks(), headers=headers)
            assert "content-length" not in chunked.request.headers
            # A body of unannounced length is read only once its sender is known.
            assert_problem(chunked, 413 if headers else 401)
    assert await stored(observer) == (1, 1)


# ---- 500: nothing half-written ---------------------------------------------------------


async def test_a_failure_on_our_side_is_a_500_and_leaves_nothing_behind(
    live: Live, observer: Store
) -> None:
    failing = arm(live)
    poisoned = envelope_for("InventoryUsage", "poisoned")
    poisoned["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["StorageLocationID"] = (
        "POISON"
    )
    others = [envelope_for(kind, f"healthy-{kind}") for kind in TYPES]
    ofs_poisoned = [ofs_event(66, "resourceInventoryCreated", "2026-11-20 09:00:00", p="POISON")]
    answers = await asyncio.gather(
        live.client.post(
            "/servicemobility/InventoryUsage/", content=encode(poisoned), headers=sender()
        ),
        live.client.post("/ofs/events", content=encode(ofs_poisoned), headers=relay()),
        *(
            live.client.post(
                f"/servicemobility/{envelope['type']}/", content=encode(envelope), headers=sender()
            )
            for envelope in others
        ),
    )
    for answer in answers[:2]:
        problem = assert_problem(answer, 500, "Internal Server Error")
        assert "Traceback" not in answer.text, problem
        assert "RuntimeError" not in answer.text, problem
    assert [a.status_code for a in answers[2:]] == [200] * len(others)
    inbox = await all_inbox(observer)
    assert sorted(row.message_id or "" for row in inbox) == sorted(
        str(envelope["id"]) for envelope in others
    )
    events = await all_events(observer)
    assert len(events) == len(others)
    assert not [event for event in events if POISON in msgspec.json.encode(event.data)]
    for projection in failing:
        projection.armed = False
    again = await live.client.post(
        "/servicemobility/InventoryUsage/", content=encode(poisoned), headers=sender()
    )
    assert again.json() == {"status": "accepted", "id": "poisoned", "duplicate": False, "events": 1}
    pushed = await live.client.post("/ofs/events", content=encode(ofs_poisoned), headers=relay())
    assert pushed.json()["events"] == 1
