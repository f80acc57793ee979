"""Replaying quarantined payloads after a translator fix, on SQLite and on
PostgreSQL: a payload that now translates is appended once and accepted (or
marked duplicate when its message was accepted meanwhile), one that still
fails keeps its place in quarantine with the new reason, and replaying again
changes nothing.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from typing import Any

import pytest

from adapters import servicemobility
from adapters.ofs import translate as ofs_translate
from adapters.store import Delivery, InboxEntry, Store
from api.cli.replay import run_replay_quarantine
from api.services.group_commit import Ingestor
from api.services.replay import replay_quarantine
from api.settings import Settings
from tests.harness.histories import T0
from tests.harness.tables import active, items_in, replay, stored_events

LINES = 3
"""Ledger lines in the usage envelope: three items at two locations."""


def usage_envelope(envelope_id: str) -> bytes:
    row = {
        "rowver": f"row-{envelope_id}",
        "InventoryUsage": {
            "UserID": "tech7",
            "ModifiedUTC": "2026-03-01T08:00:00Z",
            "RefModule": "1001",
            "RefObjID": "LOAD-1",
            "StorageLocations": [
                {
                    "StorageLocationID": "VAN-01",
                    "Items": [{"ProdNum": "CBL-CAT6", "InQty": 5}, {"ProdNum": "FUSE", "InQty": 2}],
                },
                {"StorageLocationID": "VAN-02", "Items": [{"ProdNum": "CBL-CAT6", "InQty": 1}]},
            ],
        },
    }
    envelope = {
        "id": envelope_id,
        "type": "InventoryUsage",
        "specversion": "1.0",
        "source": "https://sm.example/webhooks",
        "time": "2026-03-01T08:00:01Z",
        "data": {"rows": [row]},
    }
    return json.dumps(envelope).encode()


def ofs_event(inventory_id: int, minute: int) -> dict[str, Any]:
    return {
        "eventType": "inventoryInstalled",
        "time": f"2026-03-01 09:{minute:02d}:00",
        "activityDetails": {"activityId": 4225599, "resourceId": "TECH_017"},
        "inventoryChanges": {"inventoryId": inventory_id, "quantity": 1},
    }


def entry(source: str, kind: str, body: bytes, message_id: str | None = None) -> InboxEntry:
    return InboxEntry(
        source=source,
        kind=kind,
        body=body,
        received_at=T0,
        message_id=message_id,
        content_type="application/json",
        sender="tenant-1",
    )


def sm_delivery(envelope_id: str) -> Delivery:
    """What the receiver makes of a ServiceMobility delivery."""
    body = usage_envelope(envelope_id)
    kept = entry("servicemobility", "InventoryUsage", body)
    try:
        envelope = servicemobility.read_envelope(body, "InventoryUsage")
        facts = servicemobility.translate(envelope)
    except servicemobility.TranslationError as error:
        return Delivery(inbox=kept, rejected=f"{error.field}: {error.message}")
    accepted = entry("servicemobility", "InventoryUsage", body, envelope.id)
    return Delivery(inbox=accepted, facts=tuple(facts), metadata={"messageId": envelope.id})


def translator_bug(monkeypatch: pytest.MonkeyPatch, message: str) -> None:
    """A translator that refuses every usage envelope, as a buggy build would."""

    def refuse(envelope: servicemobility.Envelope) -> list[Any]:
        raise servicemobility.TranslationError(message, "$.data.rows[0].InventoryUsage")

    monkeypatch.setattr(servicemobility, "translate", refuse)


async def quarantine(store: Store, delivery: Delivery) -> int:
    receipt = await Ingestor(store).submit(delivery)
    assert receipt.quarantined
    assert receipt.inbox_id is not None
    return receipt.inbox_id


async def test_a_payload_quarantined_by_a_bug_is_appended_once_after_the_fix(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    translator_bug(monkeypatch, "RefModule 1001 is not known")
    kept = await quarantine(store, sm_delivery("env-1"))

    still = await replay_quarantine(store)

    assert (still.tried, still.accepted, still.quarantined, still.events) == (1, 0, 1, 0)
    bug = still.reasons[kept]
    assert bug == "$.data.rows[0].InventoryUsage: RefModule 1001 is not known"
    assert (await store.inbox_entries("quarantined"))[0].reason == bug
    assert await store.count() == 0

    monkeypatch.undo()
    fixed = await replay_quarantine(store)

    assert (fixed.tried, fixed.accepted, fixed.duplicates, fixed.events) == (1, 1, 0, LINES)
    record = await store.inbox_entry(kept)
    assert record is not None
    assert (record.status, record.message_id, record.reason) == ("accepted", "env-1", None)
    events = await stored_events(store)
    assert len(events) == LINES
    assert {event.inbox_id for event in events} == {kept}
    assert {event.metadata["messageId"] for event in events} == {"env-1"}
    assert await items_in(store, (await active(store))["items"]) == replay(events)

    again = await replay_quarantine(store)

    assert (again.tried, again.events) == (0, 0)
    assert await stored_events(store) == events
    assert await store.inbox_counts() == {"accepted": 1}
    # A sender that sends the message again now gets a duplicate.
    assert (await Ingestor(store).submit(sm_delivery("env-1"))).duplicate


async def test_a_payload_whose_message_was_accepted_meanwhile_becomes_a_duplicate(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    translator_bug(monkeypatch, "RefModule 1001 is not known")
    kept = await quarantine(store, sm_delivery("env-2"))
    monkeypatch.undo()
    await Ingestor(store).submit(sm_delivery("env-2"))
    events = await stored_events(store)

    done = await replay_quarantine(store)

    assert (done.tried, done.accepted, done.duplicates, done.events) == (1, 0, 1, 0)
    record = await store.inbox_entry(kept)
    assert record is not None
    assert (record.status, record.message_id) == ("duplicate", "env-2")
    assert await stored_events(store) == events
    assert await store.inbox_counts() == {"accepted": 1, "duplicate": 1}


@pytest.mark.parametrize("kind", ["events", "events-api"])
async def test_ofs_payloads_replay_without_appending_known_events_again(
    store: Store, kind: str
) -> None:
    known = json.dumps(ofs_event(51000001, 0)).encode()
    await Ingestor(store).submit(
        Delivery(
            inbox=entry("ofs", "events", known, "sha256:" + hashlib.sha256(known).hexdigest()),
            facts=tuple(ofs_translate(known)),
        )
    )
    page = {
        "found": True,
        "nextPage": "7",
        "items": [ofs_event(51000001, 0), ofs_event(51000002, 1), ofs_event(51000003, 2)],
    }
    body = json.dumps(page).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    kept = await quarantine(
        store, Delivery(inbox=entry("ofs", kind, body, digest), rejected="items[0]: old bug")
    )

    done = await replay_quarantine(store)

    assert (done.accepted, done.events) == (1, 2)
    record = await store.inbox_entry(kept)
    assert record is not None
    assert (record.status, record.message_id) == ("accepted", digest)
    events = await stored_events(store)
    assert len(events) == 3
    assert await items_in(store, (await active(store))["items"]) == replay(events)
    assert (await replay_quarantine(store)).tried == 0


async def test_payloads_that_still_fail_stay_quarantined_with_the_new_reason(
    store: Store,
) -> None:
    bodies = [
        (entry("servicemobility", "InventoryUsage", b"{not json"), "old"),
        (entry("servicemobility", "NoSuchType", usage_envelope("env-3")), "old"),
        (entry("ofs", "events", b'{"eventType": "inventoryInstalled"}'), "old"),
        (entry("partner", "events", b"{}"), "old"),
        (
            InboxEntry(
                source="servicemobility",
                kind="InventoryUsage",
                body=usage_envelope("env-4"),
                received_at=T0,
                content_type="text/plain",
            ),
            "content type text/plain",
        ),
    ]
    ids = [await quarantine(store, Delivery(inbox=e, rejected=reason)) for e, reason in bodies]

    done = await replay_quarantine(store)

    assert (done.tried, done.quarantined, done.accepted, done.events) == (5, 5, 0, 0)
    reasons = [done.reasons[inbox_id] for inbox_id in ids]
    assert reasons[0].startswith("$: body is not valid JSON")
    assert reasons[1] == "unknown webhook type 'NoSuchType'"
    assert reasons[2].endswith("is required")
    assert "time" in reasons[2]
    assert reasons[3] == "no translator for partner events payloads"
    assert reasons[4] == "content type text/plain"
    kept = await store.inbox_entries("quarantined")
    assert [(k.id, k.reason) for k in kept] == list(zip(ids, reasons, strict=True))
    assert await replay_quarantine(store) == done
    assert await store.count() == 0


async def test_replays_racing_each_other_append_once(
    store: Store, monkeypatch: pytest.MonkeyPatch
) -> None:
    translator_bug(monkeypatch, "not yet")
    for n in range(4):
        await quarantine(store, sm_delivery(f"env-race-{n}"))
    monkeypatch.undo()

    first, second = await asyncio.gather(replay_quarantine(store), replay_quarantine(store))

    assert first.accepted + second.accepted == 4
    assert first.events + second.events == 4 * LINES
    assert await store.count() == 4 * LINES
    assert await store.inbox_counts() == {"accepted": 4}


async def test_the_replay_command_prints_what_it_did(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    translator_bug(monkeypatch, "not yet")
    await quarantine(store, sm_delivery("env-5"))
    await quarantine(store, Delivery(inbox=entry("partner", "x", b"{}"), rejected="old"))
    monkeypatch.undo()

    assert await run_replay_quarantine(Settings(database_url=store.address.url)) == 0

    out = capsys.readouterr().out
    assert "replayed 2 quarantined payload(s): 1 accepted (3 event(s) appended)" in out
    assert "1 still quarantined" in out
    assert "no translator for partner x payloads" in out
