"""Hostile and broken bodies, on each backend: every one gets a 4xx that names
the problem, never a 500; what an authenticated sender sent is kept (not on
401 or 413); the service stays healthy.

Valid JSON the readers can take is the exception, and is accepted alike on
both backends: unknown extra fields (the readers are tolerant by design,
docs/vendors.md), deep but sane nesting in free-form documents, unusual but valid
Unicode, and NUL characters where no identifier is made of them.
"""

from __future__ import annotations

import copy
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from anyio.from_thread import start_blocking_portal
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.servicemobility import TYPES
from adapters.store import InboxRecord, Store
from tests.harness.deliveries import Line, UsageRow, envelope_for, ofs_event, usage_envelope
from tests.harness.live import Live, live_app, settings_for
from tests.harness.tokens import reader, relay, sender

USAGE = "/servicemobility/InventoryUsage/"
OFS = "/ofs/events"
LIMIT = 262_144
"""The body limit of the app under test: small, so that bodies over it stay cheap."""

GOOD_USAGE = usage_envelope("hostile", [UsageRow("r1", (Line("VAN-H", "P-H", "2"),))])
GOOD_EVENT = ofs_event(31, "inventoryInstalled", "2026-11-20 09:31:07", status="installed")


def usage(change: Callable[[dict[str, Any]], Any], envelope_id: str = "hostile") -> bytes:
    """The good envelope with one change made to its first ledger line: another
    row, so under a row version of its own unless it is the same envelope."""
    envelope = {**copy.deepcopy(GOOD_USAGE), "id": envelope_id}
    if envelope_id != GOOD_USAGE["id"]:
        envelope["data"]["rows"][0]["rowver"] = f"r-{envelope_id}"
    change(envelope["data"]["rows"][0]["InventoryUsage"]["StorageLocations"][0]["Items"][0])
    return json.dumps(envelope).encode()


def top(**fields: Any) -> bytes:
    """The good envelope with top-level fields replaced (None removes one)."""
    envelope = {**GOOD_USAGE, **fields}
    return json.dumps({k: v for k, v in envelope.items() if v is not None}).encode()


def raw_usage(item_fragment: str) -> bytes:
    """The good envelope with the first ledger line's InQty written as given."""
    marker = "__IN_QTY__"
    body = usage(lambda item: item.update(InQty=marker)).decode()
    return body.replace(f'"{marker}"', item_fragment).encode()


def event(**fields: Any) -> bytes:
    return json.dumps({**GOOD_EVENT, **fields}).encode()


def changes(**fields: Any) -> bytes:
    return json.dumps(
        {**GOOD_EVENT, "inventoryChanges": {**GOOD_EVENT["inventoryChanges"], **fields}}
    ).encode()


def raw_changes(fragment: str) -> bytes:
    body = changes(quantity="__Q__").decode()
    return body.replace('"__Q__"', fragment).encode()


def nested(depth: int, inner: bytes = b"") -> bytes:
    return b"[" * depth + inner + b"]" * depth


@dataclass(frozen=True)
class Case:
    path: str
    body: bytes
    status: int = 400
    headers: dict[str, str] = field(default_factory=dict)


def corpus() -> dict[str, Case]:
    giant = "x" * (LIMIT - 2048)
    return {
        # not JSON
        "empty": Case(USAGE, b""),
        "whitespace": Case(USAGE, b" \n\t "),
        "truncated": Case(USAGE, top()[:-7]),
        "single quotes": Case(USAGE, b"{'id': 'x', 'type': 'InventoryUsage'}"),
        "trailing comma": Case(USAGE, top()[:-1] + b",}"),
        "two documents": Case(USAGE, top() + top()),
        "comment": Case(USAGE, b"/* hi */" + top()),
        "bare word": Case(USAGE, b"undefined"),
        "ofs truncated": Case(OFS, event()[:-3]),
        "ofs empty": Case(OFS, b""),
        # wrong types
        "id a number": Case(USAGE, top(id=17)),
        "id null": Case(USAGE, top(id=None)),
        "id an object": Case(USAGE, top(id={"id": "x"})),
        "id blank": Case(USAGE, top(id="   ")),
        "type a list": Case(USAGE, top(type=["InventoryUsage"])),
        "data a list": Case(USAGE, top(data=[1, 2])),
        "rows an object": Case(USAGE, top(data={"rows": {"0": {}}})),
        "row a string": Case(USAGE, top(data={"rows": ["row"]})),
        "InQty a word": Case(USAGE, usage(lambda i: i.update(InQty="many"))),
        "InQty a bool": Case(USAGE, usage(lambda i: i.update(InQty=True))),
        "ProdNum a number": Case(USAGE, usage(lambda i: i.update(ProdNum=17))),
        "ProdNum blank": Case(USAGE, usage(lambda i: i.update(ProdNum=" "))),
        "body a string": Case(USAGE, b'"InventoryUsage"'),
        "body an array": Case(USAGE, b"[]"),
        "ofs body a string": Case(OFS, b'"inventoryInstalled"'),
        "ofs eventType a number": Case(OFS, event(eventType=7)),
        "ofs inventoryId a string": Case(OFS, changes(inventoryId="31")),
        "ofs inventoryId a float": Case(OFS, changes(inventoryId=31.5)),
        "ofs quantity a string": Case(OFS, changes(quantity="1")),
        "ofs activityDetails a list": Case(OFS, event(activityDetails=[1])),
        # With a good event beside it, a bad one is quarantined alone
        # (tests/e2e/test_ofs_push_events.py); alone, the body is refused.
        "ofs event in array a number": Case(OFS, json.dumps([7]).encode()),
        # missing fields
        "no type": Case(USAGE, top(type=None)),
        "no data": Case(USAGE, top(data=None)),
        "no rows": Case(USAGE, top(data={"rowver": "x"})),
        "row without usage": Case(USAGE, top(data={"rows": [{"rowver": "x"}]})),
        "line without ProdNum": Case(USAGE, usage(lambda i: i.pop("ProdNum"))),
        "ofs no eventType": Case(OFS, event(eventType=None)),
        "ofs no time": Case(OFS, event(time=None)),
        "ofs no inventoryId": Case(
            OFS, event(inventoryChanges={"status": "installed"}, inventoryDetails=None)
        ),
        # extra fields: tolerated
        "extra top-level field": Case(USAGE, top(id="extra", unexpected={"a": [1]}), 200),
        "extra line field": Case(
            USAGE,
            usage(lambda i: i.update(Colour="red", ProdNum="P-EXTRA"), "extra-line"),
            200,
        ),
        "ofs extra field": Case(OFS, event(somethingNew=True, time="2026-11-20 09:31:08"), 200),
        # huge and tiny numbers
        "InQty 1e400": Case(USAGE, raw_usage("1e400")),
        "InQty 10^30": Case(USAGE, raw_usage("1" + "0" * 30)),
        "InQty 5000 digits": Case(USAGE, raw_usage("9" * 5000)),
        "InQty -1e13": Case(USAGE, raw_usage("-1e13")),
        "InQty 1e-400": Case(USAGE, raw_usage("1e-400")),
        "ofs quantity 1e999999": Case(OFS, raw_changes("1e999999")),
        "ofs quantity 1e-999999": Case(OFS, raw_changes("1e-999999")),
        "ofs quantity 10^40": Case(OFS, raw_changes("1" + "0" * 40)),
        "ofs inventoryId 2^64": Case(OFS, changes(inventoryId=2**64)),
        "ofs activityId 10^30": Case(OFS, changes(activityId=10**30)),
        # NaN and Infinity
        "InQty NaN": Case(USAGE, raw_usage("NaN")),
        "InQty Infinity": Case(USAGE, raw_usage("Infinity")),
        "InQty -Infinity": Case(USAGE, raw_usage("-Infinity")),
        "InQty 'NaN' as text": Case(USAGE, usage(lambda i: i.update(InQty="NaN"))),
        "InQty 'Infinity' as text": Case(USAGE, usage(lambda i: i.update(InQty="Infinity"))),
        "ofs quantity NaN": Case(OFS, raw_changes("NaN")),
        "ofs quantity Infinity": Case(OFS, raw_changes("Infinity")),
        # deep nesting
        "100k nested arrays": Case(USAGE, nested(100_000)),
        "100k nested arrays in data": Case(
            USAGE, top(data="__D__").replace(b'"__D__"', nested(100_000))
        ),
        "20k nested objects in a line": Case(
            USAGE,
            raw_usage(b'{"a":'.decode() * 20_000 + "1" + "}" * 20_000),
        ),
        "ofs 100k nested arrays": Case(OFS, nested(100_000)),
        "ofs 20k nested objects in a property": Case(
            OFS, raw_changes('{"a":' * 20_000 + "1" + "}" * 20_000)
        ),
        "200 nested arrays in a document": Case(
            "/servicemobility/Activity/",
            json.dumps(
                {
                    "id": "deep-doc",
                    "type": "Activity",
                    "time": "2026-11-20T09:00:00Z",
                    "data": {"ActivityID": "A-1", "Notes": "__N__"},
                }
            )
            .encode()
            .replace(b'"__N__"', nested(200)),
            200,
        ),
        # giant strings
        "giant id": Case(USAGE, top(id=giant)),
        "giant ProdNum": Case(USAGE, usage(lambda i: i.update(ProdNum=giant))),
        "giant SerialNum": Case(USAGE, usage(lambda i: i.update(SerialNum=giant))),
        "giant StorageLocationID": Case(
            USAGE, top(data={"rows": [{"InventoryUsage": _usage_at(giant)}]})
        ),
        "giant document id": Case(
            "/servicemobility/LoadInventory/",
            json.dumps(
                {
                    "id": "giant-load",
                    "type": "LoadInventory",
                    "time": "2026-11-20T09:00:00Z",
                    "data": {"LoadNum": giant},
                }
            ).encode(),
        ),
        "giant free text in a document": Case(
            "/servicemobility/TimeEntry/",
            json.dumps(
                {
                    "id": "giant-notes",
                    "type": "TimeEntry",
                    "time": "2026-11-20T09:00:00Z",
                    "data": {"Notes": giant},
                }
            ).encode(),
            200,
        ),
        "ofs giant resourceId": Case(OFS, changes(resourceId=giant)),
        "ofs giant eventType": Case(OFS, event(eventType=giant)),
        "ofs giant user": Case(OFS, event(user=giant)),
        # invalid UTF-8
        "byte 0xff": Case(USAGE, b'{"id": "\xff", "type": "InventoryUsage"}'),
        "overlong slash": Case(USAGE, top(id="\x00").replace(b"\\u0000", b"\xc0\xaf")),
        "truncated sequence": Case(USAGE, top(id="\x00").replace(b"\\u0000", b"\xe2\x82")),
        "encoded surrogate": Case(USAGE, top(id="\x00").replace(b"\\u0000", b"\xed\xa0\x80")),
        "utf-16": Case(USAGE, top().decode().encode("utf-16")),
        "ofs latin-1": Case(
            OFS, json.dumps({**GOOD_EVENT, "user": "Jürgen"}, ensure_ascii=False).encode("latin-1")
        ),
        # unicode edge cases
        "lone high surrogate": Case(USAGE, top(id="__S__").replace(b"__S__", b"\\ud800")),
        "lone low surrogate": Case(
            USAGE, usage(lambda i: i.update(ProdNum="__S__")).replace(b"__S__", b"\\udc00")
        ),
        "reversed pair": Case(USAGE, top(id="__S__").replace(b"__S__", b"\\udc00\\ud800")),
        "surrogate in a key": Case(USAGE, top().replace(b'"id"', b'"\\ud800"', 1)),
        "ofs lone surrogate": Case(OFS, event(user="__S__").replace(b"__S__", b"\\ud83d")),
        "byte order mark": Case(USAGE, b"\xef\xbb\xbf" + top()),
        "ofs byte order mark": Case(OFS, b"\xef\xbb\xbf" + event()),
        "NUL in id": Case(USAGE, top(id="a\x00b")),
        "NUL in ProdNum": Case(USAGE, usage(lambda i: i.update(ProdNum="P\x00"))),
        "NUL in an unknown key": Case(
            USAGE, usage(lambda i: i.update({"\x00": 1}), "nul-key"), 200
        ),
        "raw NUL byte": Case(USAGE, top()[:-1] + b"\x00}"),
        "ofs NUL in a custom property": Case(OFS, changes(nul="a\x00b"), 200),
        "escaped backslash before u0000 is not NUL": Case(OFS, changes(note="C:\\u0000"), 200),
        "astral, combining and right-to-left text": Case(
            USAGE,
            usage(lambda i: i.update(ProdNum="📦-é\u0301-\u202eLTR-\u200b"), "unicode"),
            200,
        ),
        # duplicate keys
        "duplicate id": Case(USAGE, top(id="first")[:-1] + b', "id": "second"}'),
        "duplicate InQty": Case(USAGE, raw_usage('1.0, "InQty": 99.0')),
        "ofs duplicate inventoryId": Case(OFS, raw_changes('1, "inventoryId": 99')),
        # content types
        "text/plain": Case(USAGE, top(id="ct1"), 415, {"content-type": "text/plain"}),
        "form": Case(
            USAGE, b"id=1&type=x", 415, {"content-type": "application/x-www-form-urlencoded"}
        ),
        "multipart": Case(OFS, event(), 415, {"content-type": "multipart/form-data; boundary=x"}),
        "xml": Case(USAGE, b"<envelope/>", 415, {"content-type": "application/xml"}),
        "json with a 300-character parameter": Case(
            USAGE,
            top(id="ct2"),
            200,
            {"content-type": "application/json; profile=" + "p" * 300},
        ),
        # over the limit
        "over the limit": Case(USAGE, top(id="big", action="x" * LIMIT), 413),
        "ofs over the limit": Case(OFS, event(user="x" * LIMIT), 413),
    }


def _usage_at(location: str) -> dict[str, Any]:
    return {
        "ModifiedUTC": "2026-11-20T09:15:00Z",
        "RefModule": "1008",
        "RefObjID": "R",
        "StorageLocations": [{"StorageLocationID": location, "Items": [{"ProdNum": "P"}]}],
    }


@pytest.fixture
async def live(database_url: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with live_app(settings_for(database_url, tmp_path, max_body_bytes=LIMIT)) as app:
        yield app


async def rows_after(store: Store, after: int) -> list[InboxRecord]:
    rows: list[InboxRecord] = []
    for status in ("accepted", "quarantined", "duplicate"):
        rows.extend(await store.inbox_entries(status, after=after, limit=10))
    return sorted(rows, key=lambda row: row.id)


async def test_every_hostile_body_gets_a_4xx_that_names_the_problem(live: Live) -> None:
    failures: list[str] = []
    last = 0
    for name, case in corpus().items():
        headers = {**(sender() if case.path != OFS else relay()), **case.headers}
        response = await live.client.post(case.path, content=case.body, headers=headers)
        new = await rows_after(live.store, last)
        last = new[-1].id if new else last
        problem = _check(case, response, new)
        if problem:
            failures.append(f"{name}: {problem}")
    assert not failures, "\n".join(failures)
    assert (await live.client.get("/health")).status_code == 200
    assert (await live.client.get("/ready")).status_code == 200
    read = reader()
    stock = await live.client.get("/resources/VAN-H/inventories", headers=read)
    products = {item["productNumber"] for item in stock.json()["items"]}
    assert products == {"P-H", "P-EXTRA", "📦-é\u0301-\u202eLTR-\u200b"}
    item = await live.client.get("/inventories/ofs-31", headers=read)
    assert item.json()["properties"]["nul"] == "a\x00b"


def _check(case: Case, response: Any, new: list[InboxRecord]) -> str | None:
    """What is wrong with the answer to a case, if anything."""
    if response.status_code != case.status:
        return f"answered {response.status_code}, expected {case.status}: {response.text[:300]}"
    if case.status == 200:
        return None if [row.body for row in new] == [case.body] else "not kept as sent"
    if not response.headers["content-type"].startswith("application/problem+json"):
        return f"not a problem body: {response.headers['content-type']}"
    problem = response.json()
    if problem.get("status") != case.status or not problem.get("detail"):
        return f"the problem names nothing: {problem}"
    if case.status == 400 and not all(
        isinstance(error.get("field"), str) and error.get("message")
        for error in problem.get("errors") or [{}]
    ):
        return f"errors do not name the field: {problem}"
    if case.status == 413:
        return None if not new else "a body over the limit was kept"
    if [(row.status, row.body) for row in new] != [("quarantined", case.body)]:
        return f"the raw body was not kept in quarantine: {[(r.status, r.body[:40]) for r in new]}"
    return None


async def test_hostile_bodies_without_a_token_are_refused_and_not_kept(live: Live) -> None:
    for name, case in corpus().items():
        headers = {"content-type": "application/json", **case.headers}
        response = await live.client.post(case.path, content=case.body, headers=headers)
        assert response.status_code in (401, 413), (name, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    assert await live.store.inbox_counts() == {}
    assert await live.store.count() == 0
    assert (await live.client.get("/health")).status_code == 200


async def test_hostile_paths_and_query_parameters_get_a_4xx(live: Live) -> None:
    read = reader()
    posts = [
        "/servicemobility/Inventory/",
        "/servicemobility/inventoryusage/",
        "/servicemobility/InventoryUsage%00/",
        "/servicemobility/" + "A" * 5000,
        "/servicemobility/%F0%9F%93%A6/",
        "/servicemobility/InventoryUsage/extra",
    ]
    for path in posts:
        response = await live.client.post(path, content=top(id="p"), headers=sender())
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    gets = [
        "/resources/VAN-1/inventories?limit=0",
        "/resources/VAN-1/inventories?limit=-1",
        "/resources/VAN-1/inventories?limit=1001",
        "/resources/VAN-1/inventories?limit=" + "9" * 40,
        "/resources/VAN-1/inventories?limit=ten",
        "/resources/VAN-1/inventories?cursor=%FF%FE",
        "/resources/VAN-1/inventories?cursor=!!!",
        "/resources/VAN-1/inventories?at=yesterday",
        "/resources/VAN-1/inventories?at=0000-01-01T00:00:00",
        "/resources/VAN-1/inventories?pool=attic",
        "/resources/VAN-1/inventories?source=fax",
        "/inventories/nope/history?cursor=%00",
        "/inventories/" + "k" * 5000,
        "/inventories/%00",
    ]
    for path in gets:
        response = await live.client.get(path, headers=read)
        assert 400 <= response.status_code < 500, (path, response.text)
        assert response.headers["content-type"].startswith("application/problem+json")
    for path in (
        "/resources/VAN-1/inventories?at=9999-12-31T23:59:59-14:00",
        "/resources/VAN-1/inventories?at=0001-01-01T00:00:00%2B14:00",
        "/resources/%F0%9F%93%A6/inventories",
        "/customers/%00/inventories",
    ):
        response = await live.client.get(path, headers=read)
        assert response.status_code < 500, (path, response.text)
    assert (await live.client.get("/health")).status_code == 200


JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.decimals(allow_nan=False).map(float)
    | st.text(max_size=300),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=20), children, max_size=4)
    ),
    max_leaves=12,
)


def mutated(document: Any, data: st.DataObject) -> Any:
    """The document with one value somewhere in it replaced, removed or kept."""
    if isinstance(document, dict) and document:
        key = data.draw(st.sampled_from(sorted(document)))
        action = data.draw(st.sampled_from(["replace", "remove", "descend"]))
        if action == "remove":
            return {k: v for k, v in document.items() if k != key}
        value = data.draw(JSON) if action == "replace" else mutated(document[key], data)
        return {**document, key: value}
    if isinstance(document, list) and document:
        index = data.draw(st.integers(0, len(document) - 1))
        return [*document[:index], mutated(document[index], data), *document[index + 1 :]]
    return data.draw(JSON)


@st.composite
def deliveries(draw: st.DrawFn) -> tuple[str, bytes]:
    kind = draw(st.sampled_from([*TYPES, "ofs"]))
    path = OFS if kind == "ofs" else f"/servicemobility/{kind}/"
    good: Any = [GOOD_EVENT] if kind == "ofs" else envelope_for(kind, "generated")
    how = draw(st.sampled_from(["mutated", "mutated", "any JSON", "bytes"]))
    if how == "bytes":
        return path, draw(st.binary(max_size=300))
    document = mutated(good, draw(st.data())) if how == "mutated" else draw(JSON)
    return path, json.dumps(document, allow_nan=True).encode()


def test_generated_bodies_get_200_or_400_and_never_a_500(database_url: str, tmp_path: Path) -> None:
    """Generated bodies: JSON of any shape, valid envelopes with one part
    replaced or removed, and arbitrary bytes."""
    config = settings_for(database_url, tmp_path)
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(live_app(config)) as live,
    ):

        @settings(
            max_examples=250,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(delivery=deliveries())
        def post(delivery: tuple[str, bytes]) -> None:
            path, body = delivery
            headers = relay() if path == OFS else sender()
            response = portal.call(partial(live.client.post, path, content=body, headers=headers))
            assert response.status_code in (200, 400), (body[:300], response.text)

        post()
        assert portal.call(live.client.get, "/health").status_code == 200
        assert portal.call(live.client.get, "/ready").status_code == 200
