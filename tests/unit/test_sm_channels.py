"""One InventoryUsage row, counted once, whichever way it came: by webhook
(from any webhook source, in any envelope, redelivered), by the Export API,
by both, in any order, and again on re-extraction. The balances are the ones
the webhook alone gives."""

from __future__ import annotations

import hashlib
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from adapters import servicemobility
from adapters.servicemobility_export.translate import read_page, translate_page
from domain.events import Fact
from tests.strategies import COUNT_FREE, encode, sm_arrivals, sm_envelope, sm_histories
from tests.unit.test_sm_translate import Receiver, expected_balances, facts_of

WEBHOOK_SOURCES = ("5ad09380-8258-4d84-a440-e2d35043ae92", "webhook-b", "")


def export_page(rows: list[dict[str, Any]]) -> bytes:
    """An Export API answer holding the rows, with the row-level `UserID` it adds."""
    shown = []
    for row in rows:
        usage = row["InventoryUsage"]
        beside = {"UserID": usage["UserID"]} if "UserID" in usage else {}
        shown.append({"rowver": row["rowver"], **beside, "InventoryUsage": usage})
    return encode({"rowver": rows[-1]["rowver"] if rows else "0", "rows": shown})


@st.composite
def channels(draw: st.DrawFn, rows: list[dict[str, Any]]) -> list[tuple[str, bytes]]:
    """Everything that reaches invtrack: webhook envelopes (split, regrouped,
    redelivered, each from some webhook source), the export pages of one pull,
    and the pages of a re-extraction from some row on; in any order."""
    arrivals: list[tuple[str, bytes]] = []
    sources: dict[str, str] = {}
    for envelope in draw(sm_arrivals(rows)):
        source = sources.setdefault(envelope["id"], draw(st.sampled_from(WEBHOOK_SOURCES)))
        arrivals.append(("webhook", encode(envelope | {"source": source})))
    for start in (0, draw(st.integers(0, len(rows)))):
        limit = draw(st.integers(1, 4))
        arrivals += [
            ("export", export_page(rows[at : at + limit])) for at in range(start, len(rows), limit)
        ]
    return list(draw(st.permutations(arrivals)))


def translated(channel: str, body: bytes) -> tuple[str, list[Fact]]:
    """(message id, facts), as the receiver and the poller read them."""
    if channel == "webhook":
        envelope = servicemobility.read_envelope(body, "InventoryUsage")
        return envelope.id, servicemobility.translate(envelope)
    return "sha256:" + hashlib.sha256(body).hexdigest(), translate_page(body)


@settings(max_examples=150, deadline=None)
@given(data=st.data())
def test_every_row_counts_once_whichever_way_it_came(data: st.DataObject) -> None:
    rows = data.draw(sm_histories(COUNT_FREE), label="rows")
    arrivals = data.draw(channels(rows), label="arrivals")
    receiver = Receiver()
    for channel, body in arrivals:
        receiver.receive_facts(*translated(channel, body))
    items = receiver.items()
    assert {key: item.quantity for key, item in items.items()} == expected_balances(rows)
    once = facts_of(sm_envelope("once", rows))
    assert sorted(f.dedupe_key for f in receiver.kept) == sorted(f.dedupe_key for f in once)
    assert receiver.conflicts == set()


@settings(max_examples=100, deadline=None)
@given(rows=sm_histories(COUNT_FREE))
def test_a_page_and_an_envelope_of_the_same_rows_make_the_same_lines(
    rows: list[dict[str, Any]],
) -> None:
    page = export_page(rows)
    assert read_page(page)[0] == rows[-1]["rowver"]
    assert translate_page(page) == facts_of(sm_envelope("same", rows))
