"""The contract the fakes hold invtrack to (tests.fakes.contract) catches a
drift from Oracle's files, in a request invtrack sends and in an answer."""

from __future__ import annotations

import json
from pathlib import Path

from tests.fakes.contract import VIOLATIONS, check_request, ofs_contracts

PAGE = json.loads(
    (
        Path(__file__).resolve().parents[1]
        / "fixtures"
        / "ofs"
        / "01_exchange_and_non_serialized_install.page.json"
    ).read_text()
)
EVENTS = "/rest/ofscCore/v1/events"


def test_requests_invtrack_may_not_send_are_caught() -> None:
    core, token = ofs_contracts()
    assert core.request_problems("GET", EVENTS, "subscriptionId=s&limit=1000", "", b"") == []
    assert core.request_problems("GET", EVENTS, "subscriptionId=s&limit=1001", "", b"") == [
        f"GET {EVENTS}: query parameter 'limit' must be at most 1000, not 1001"
    ]
    assert core.request_problems("GET", EVENTS, "limit=5", "", b"") == [
        f"GET {EVENTS}: query parameter 'subscriptionId' is required"
    ]
    path = "/rest/ofscCore/v1/activities/WO-5521/customerInventories"
    assert "must be an integer" in core.request_problems("GET", path, "", "", b"")[0]
    subscribe = "/rest/ofscCore/v1/events/subscriptions"
    bad_body = json.dumps({"subscriptionConfig": "all"}).encode()
    assert core.request_problems("POST", subscribe, "", "application/json", bad_body)
    form = "application/x-www-form-urlencoded"
    good = b"grant_type=client_credentials"
    assert token.request_problems("POST", "/rest/oauthTokenService/v2/token", "", form, good) == []
    as_json = b'{"grant_type": "client_credentials"}'
    assert token.request_problems(
        "POST", "/rest/oauthTokenService/v2/token", "", "application/json", as_json
    )


def test_answers_outside_the_file_are_caught() -> None:
    core, token = ofs_contracts()
    assert core.answer_problems("GET", EVENTS, 200, PAGE) == []
    broken = {**PAGE, "items": [{**PAGE["items"][0], "time": 20261120}]}
    assert core.answer_problems("GET", EVENTS, 200, broken)
    assert core.answer_problems("GET", EVENTS, 500, {"detail": "no title"})
    assert token.answer_problems(
        "POST", "/rest/oauthTokenService/v2/token", 200, {"expires_in": "soon"}
    )


def test_only_invtrack_requests_are_held_to_the_file() -> None:
    contracts = ofs_contracts()
    VIOLATIONS.clear()
    check_request(contracts, "python-httpx/0.28", "GET", EVENTS, "limit=0", "", b"")
    assert VIOLATIONS == []
    check_request(contracts, "invtrack", "GET", EVENTS, "limit=0", "", b"")
    assert len(VIOLATIONS) == 2
    VIOLATIONS.clear()
