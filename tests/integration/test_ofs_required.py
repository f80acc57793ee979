"""Reading OFS required inventories through the Core API, against the fake
OFS (every request and answer held to the vendor's OpenAPI file) with OAuth
2.0 tokens: lines read page by page; an empty, huge, oversized or off-schema
answer, or an activity OFS does not know, marks the requirements unknown and
the reading goes on; unavailability is retried; refused credentials go up."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import httpx
import msgspec
import pytest

from adapters.ofs.client import OfsClient, OfsRejected, OfsUnavailable
from adapters.ofs.oauth import OfsCredentials
from adapters.ofs.required import RequiredAnswer, RequiredReader, required_fact
from adapters.pulling import Patience
from adapters.vendor_http import Pace
from domain.events import RequiredInventoriesRecorded, RequiredLine
from tests.fakes.ofs_oauth import key_pair
from tests.fakes.ofs_server import FakeOfs
from tests.strategies import T0

BASE_URL = "http://ofs.test"
PATIENCE = Patience(min_backoff=0.001, max_backoff=0.005, max_retry_after=0.01)
ACTIVITY = "4225599"
PATH = f"/rest/ofscCore/v1/activities/{ACTIVITY}/requiredInventories"
GRANTS = pytest.mark.parametrize("grant", ["client_credentials", "jwt"])


def credentials(fake: FakeOfs, grant: str) -> OfsCredentials:
    secret: dict[str, Any] = (
        {"client_secret": fake.secret}
        if grant == "client_credentials"
        else {"private_key": key_pair()[0]}
    )
    return OfsCredentials(
        grant=grant,  # type: ignore[arg-type]
        client_id=fake.client_id,
        instance=fake.instance,
        **secret,
    )


def reader(
    app: Any, creds: OfsCredentials, *, patience: Patience = PATIENCE, most_lines: int = 1000
) -> RequiredReader:
    client = OfsClient(
        BASE_URL,
        creds.auth(BASE_URL),
        limits=patience,
        transport=httpx.ASGITransport(app=app),
    )
    return RequiredReader(client, patience, most_lines=most_lines)


def line(kind: str, model: str, quantity: float | int) -> dict[str, Any]:
    return {"inventoryType": kind, "model": model, "quantity": quantity}


@GRANTS
async def test_required_lines_are_read_with_oauth(grant: str) -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1), line("CABLE", "", 2.5))
    answer = await reader(fake, credentials(fake, grant)).read(ACTIVITY)
    assert answer == RequiredAnswer(
        lines=(
            RequiredLine(inventory_type="MODEM", model="X1", quantity=Decimal(1)),
            RequiredLine(inventory_type="CABLE", model=None, quantity=Decimal("2.5")),
        )
    )
    assert len(fake.oauth.grants) == 1
    (seen,) = [seen for seen in fake.seen if seen.path == PATH]
    assert (seen.status, seen.query) == (200, {"offset": "0", "limit": "100"})


async def test_a_long_list_is_read_page_by_page() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, *(line("CABLE", f"M{n}", n) for n in range(250)))
    answer = await reader(fake, credentials(fake, "client_credentials")).read(ACTIVITY)
    assert [found.model for found in answer.lines] == [f"M{n}" for n in range(250)]
    offsets = [seen.query["offset"] for seen in fake.seen if seen.path == PATH]
    assert offsets == ["0", "100", "200"]


async def test_an_empty_answer_or_an_unknown_activity_is_unknown() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY)
    read = reader(fake, credentials(fake, "client_credentials"))
    assert await read.read(ACTIVITY) == RequiredAnswer(
        unknown="OFS answered no required inventories"
    )
    unknown = await read.read("4225600")
    assert unknown.lines == ()
    assert unknown.unknown == "OFS does not know the activity (404)"


async def test_a_huge_answer_is_unknown_and_reading_stops() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, *(line("CABLE", f"M{n}", 1) for n in range(450)))
    answer = await reader(fake, credentials(fake, "client_credentials"), most_lines=300).read(
        ACTIVITY
    )
    assert answer == RequiredAnswer(unknown="more than 300 required inventory lines")
    # Four pages are enough to know: the bound was passed.
    assert len([seen for seen in fake.seen if seen.path == PATH]) == 4


async def test_an_answer_over_the_size_cap_is_unknown() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, *(line("CABLE", "X" * 200, 1) for _ in range(20)))
    small = Patience(min_backoff=0.001, max_backoff=0.005, max_retry_after=0.01, max_bytes=2_000)
    answer = await reader(fake, credentials(fake, "client_credentials"), patience=small).read(
        ACTIVITY
    )
    assert answer.lines == ()
    assert answer.unknown is not None
    assert answer.unknown.startswith("the answer is too large")
    # Not retried: a larger answer will not become smaller.
    assert len([seen for seen in fake.seen if seen.path == PATH]) == 1


def answering(fake: FakeOfs, body: bytes) -> Any:
    """OFS, but the required inventories answer is `body` (off the vendor's schema)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == PATH:
            headers = [(b"content-type", b"application/json")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await fake(scope, receive, send)

    return app


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"<html>", "not to the schema: the answer is not JSON"),
        (b"[]", "not to the schema: the answer is not an object"),
        (b'{"items": {}}', "not to the schema: `items` is not an array"),
        (
            msgspec.json.encode({"items": [{"inventoryType": "MODEM", "quantity": 1}]}),
            "not to the schema: items[0].model must be a text",
        ),
        (
            msgspec.json.encode({"items": [line("MODEM", "X1", -2)]}),
            "not to the schema: items[0].quantity must not be negative",
        ),
        (
            msgspec.json.encode({"items": [{**line("MODEM", "X1", 1), "quantity": "1"}]}),
            "not to the schema: items[0].quantity must be a number",
        ),
    ],
)
async def test_an_answer_off_the_schema_is_unknown(body: bytes, reason: str) -> None:
    fake = FakeOfs()
    answer = await reader(answering(fake, body), credentials(fake, "client_credentials")).read(
        ACTIVITY
    )
    assert answer.lines == ()
    assert answer.unknown is not None
    assert answer.unknown.startswith(reason)


async def test_unavailability_is_retried() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1))
    fake.fail(503, times=2, retry_after="0", path=PATH)
    answer = await reader(fake, credentials(fake, "client_credentials")).read(ACTIVITY)
    assert answer.unknown is None
    assert [seen.status for seen in fake.seen if seen.path == PATH] == [503, 503, 200]


async def test_an_exchange_past_its_deadline_is_retried() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1))
    fake.stall(5.0, path=PATH)
    quick = Patience(min_backoff=0.001, max_backoff=0.005, max_retry_after=0.01, deadline=0.2)
    answer = await reader(fake, credentials(fake, "client_credentials"), patience=quick).read(
        ACTIVITY
    )
    assert answer.lines[0].inventory_type == "MODEM"


async def test_staying_unavailable_goes_up_and_records_nothing() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1))
    fake.fail(503, times=20, path=PATH)
    with pytest.raises(OfsUnavailable):
        await reader(fake, credentials(fake, "client_credentials")).read(ACTIVITY)


async def test_refused_credentials_go_up() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1))
    wrong = OfsCredentials(
        grant="client_credentials",
        client_id=fake.client_id,
        instance=fake.instance,
        client_secret="not-the-secret",
    )
    with pytest.raises(OfsRejected):
        await reader(fake, wrong).read(ACTIVITY)


async def test_a_reading_becomes_one_event() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY, line("MODEM", "X1", 1))
    answer = await reader(fake, credentials(fake, "jwt")).read(ACTIVITY)
    fact = required_fact(ACTIVITY, answer, at=T0, resource_id="TECH_017", date="2026-11-20")
    assert fact.event == RequiredInventoriesRecorded(
        occurred_at=T0,
        activity_id=ACTIVITY,
        resource_id="TECH_017",
        date="2026-11-20",
        lines=answer.lines,
    )
    again = required_fact(ACTIVITY, answer, at=T0, resource_id="TECH_017", date="2026-11-20")
    assert again.dedupe_key == fact.dedupe_key


async def test_the_fake_serves_the_vendors_required_inventories_routes() -> None:
    fake = FakeOfs()
    fake.required.put(ACTIVITY)
    headers = {"Authorization": f"Bearer {fake.token}", "User-Agent": "invtrack"}
    transport = httpx.ASGITransport(app=fake)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL, headers=headers) as http:
        put = await http.put(PATH, json={"items": [line("MODEM", "X1", 2)]})
        assert put.status_code == 204
        assert (await http.get(PATH)).json() == {"items": [line("MODEM", "X1", 2)]}
        assert (await http.delete(PATH)).status_code == 204
        assert (await http.get(PATH)).json() == {"items": []}
        # Sent with another User-Agent than invtrack, so only the answer is checked.
        over = await http.get(PATH, params={"limit": 101}, headers={"User-Agent": "other"})
        assert over.status_code == 400


async def test_reads_and_their_token_requests_are_paced() -> None:
    now = [0.0]
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        now[0] += seconds

    fake = FakeOfs()
    fake.required.put(ACTIVITY, *(line("CABLE", f"M{n}", 1) for n in range(250)))
    creds = credentials(fake, "client_credentials")
    client = OfsClient(
        BASE_URL,
        creds.auth(BASE_URL, clock=lambda: now[0]),
        pace=Pace(2, window=1.0, clock=lambda: now[0], sleep=sleep),
        transport=httpx.ASGITransport(app=fake),
    )
    answer = await RequiredReader(client, PATIENCE).read(ACTIVITY)
    await client.aclose()
    assert len(answer.lines) == 250
    # A token request and three pages at two a second: one wait.
    assert len(fake.oauth.grants) == 1
    assert len(waits) == 1
    assert now[0] >= 1.0
