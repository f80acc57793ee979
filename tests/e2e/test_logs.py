"""Logs with INVTRACK_LOG_FORMAT=json: one JSON object a line, one access line
per request carrying the request id the response echoes, and never a token
or a secret, also when requests fail."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import sys
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from adapters.auth import SECRET_FILE_NAME, mint
from api import logs
from tests.harness.deliveries import envelope_for, ofs_event
from tests.harness.faults import arm
from tests.harness.live import Live, live_app, settings_for
from tests.harness.server import Server
from tests.harness.tokens import SECRET


@pytest.fixture
async def live(tmp_path: Path) -> AsyncIterator[Live]:
    url = f"sqlite+aiosqlite:///{tmp_path / 'invtrack.db'}"
    async with live_app(settings_for(url, tmp_path)) as app:
        yield app


@pytest.fixture
def json_logs(live: Live, monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What `api.logs.configure(fmt="json")` writes to stderr, captured.

    Configured once the app is built: building it applies Litestar's default
    logging configuration over ours (see the served-process test below)."""
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    monkeypatch.setattr(sys, "stderr", stream)
    # The test's own HTTP client logs its requests, query strings included: not the service.
    monkeypatch.setattr(logging.getLogger("httpx"), "disabled", True)
    logs.configure("INFO", "json")
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)


def parse(text: str) -> list[dict[str, Any]]:
    lines = [line for line in text.splitlines() if line.strip()]
    entries = []
    for line in lines:
        entry = json.loads(line)
        assert isinstance(entry, dict), line
        assert {"time", "level", "logger", "message"} <= entry.keys(), line
        entries.append(entry)
    return entries


def access_lines(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [entry for entry in entries if entry["logger"] == "invtrack.access"]


async def make_requests(
    client: httpx.AsyncClient, token: Callable[[str | None], str]
) -> tuple[list[httpx.Response], list[str]]:
    """Requests of every kind, good and bad; returns the answers and every token used."""
    good, reader, relay = token(None), token("read"), token("write")
    forged = mint("a-forged-secret-0123456789abcdef0123456789", scope="admin", ttl_seconds=600)
    tampered = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    envelope = json.dumps(envelope_for("InventoryUsage", "logged")).encode()
    poisoned = json.dumps(envelope_for("Activity", "POISON")).encode()
    event = json.dumps(ofs_event(1, "resourceInventoryCreated", "2026-11-20 09:00:00")).encode()
    calls = [
        ("POST", "/servicemobility/InventoryUsage/", {"x-access-token": good}, envelope),
        ("POST", "/servicemobility/InventoryUsage/", {"x-access-token": good}, envelope),
        ("POST", "/servicemobility/InventoryUsage/", {"x-access-token": forged}, envelope),
        ("POST", "/servicemobility/InventoryUsage/", {"x-access-token": tampered}, envelope),
        ("POST", "/servicemobility/InventoryUsage/", {"x-access-token": good}, b"{broken"),
        ("POST", "/servicemobility/Activity/", {"x-access-token": good}, poisoned),
        ("POST", "/ofs/events", {"Authorization": f"Bearer {relay}"}, event),
        ("POST", "/ofs/events", {"Authorization": f"Bearer {forged}"}, event),
        ("GET", f"/resources/VAN-1/inventories?access_token={reader}", {}, b""),
        ("GET", "/resources/VAN-1/inventories", {"Authorization": f"Bearer {reader}"}, b""),
        ("GET", "/resources/VAN-1/inventories", {"Authorization": f"Bearer {forged}"}, b""),
        ("GET", "/inventories/nothing", {"Authorization": f"Bearer {reader}"}, b""),
        ("GET", "/health", {"x-request-id": "caller-chosen-id_1"}, b""),
        ("GET", "/ready", {"x-request-id": "not allowed: spaces"}, b""),
    ]
    answers = [
        await client.request(method, path, headers=headers, content=body or None)
        for method, path, headers, body in calls
    ]
    return answers, [good, reader, relay, forged, tampered]


def check(entries: list[dict[str, Any]], answers: list[httpx.Response]) -> None:
    access = access_lines(entries)
    assert len(access) == len(answers)
    for line, answer in zip(access, answers, strict=True):
        assert line["request_id"] == answer.headers["x-request-id"]
        assert line["status"] == answer.status_code
        assert line["path"] == answer.request.url.path.rstrip("/")
        assert line["method"] == answer.request.method
        assert "?" not in line["message"]
    ids = [line["request_id"] for line in access]
    assert len(set(ids)) == len(ids)
    assert "caller-chosen-id_1" in ids
    assert {answer.status_code for answer in answers} >= {200, 400, 401, 404, 500}


async def test_one_json_line_per_request_and_no_secret_in_them(
    live: Live, json_logs: io.StringIO
) -> None:
    arm(live)
    answers, tokens = await make_requests(
        live.client, lambda scope: mint(SECRET, scope=scope, ttl_seconds=600)
    )
    text = json_logs.getvalue()
    entries = parse(text)
    check(entries, answers)
    assert any(entry["level"] == "error" and "error" in entry for entry in entries)
    for secret in [*tokens, SECRET]:
        assert secret not in text
        for part in secret.split("."):
            assert len(part) < 16 or part not in text


async def test_requests_no_route_answers_are_logged_too(live: Live, json_logs: io.StringIO) -> None:
    answers = [
        await live.client.get("/nowhere"),
        await live.client.delete("/health"),
    ]
    assert [answer.status_code for answer in answers] == [404, 405]
    access = access_lines(parse(json_logs.getvalue()))
    assert [line["request_id"] for line in access] == [
        answer.headers.get("x-request-id") for answer in answers
    ]


def test_a_served_process_logs_json_without_its_secret(tmp_path: Path) -> None:
    """`invtrack serve` with a development secret it made itself."""
    server = Server(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'served.db'}",
        workdir=tmp_path / "served",
        extra_env={"INVTRACK_JWT_SECRET": ""},
    )
    try:
        server.start()
        text = asyncio.run(served_requests(server))
    finally:
        server.kill()
    assert text


async def served_requests(server: Server) -> str:
    secret = (server.workdir / "data" / SECRET_FILE_NAME).read_text().strip()

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        answers, tokens = await make_requests(
            client, lambda scope: mint(secret, scope=scope, ttl_seconds=600)
        )
    server.stop()
    text = server.log()
    entries = parse(text)
    access = access_lines(entries)[-len(answers) :]  # after the harness's /health polls
    assert [line["status"] for line in access] == [a.status_code for a in answers]
    assert [line["request_id"] for line in access] == [a.headers["x-request-id"] for a in answers]
    # One process served them all: its pid is on every line.
    assert server.process is not None
    assert {line["pid"] for line in access} == {server.process.pid}
    assert any("development secret" in entry["message"] for entry in entries)
    for value in [*tokens, secret]:
        assert value not in text
    return text


FORGING_PATHS = (
    "/resources/VAN%0A2026-11-20 INFO invtrack.access: GET /admin 200/inventories",
    "/nowhere%0D%1B[2J%1B[31mfake",
    "/inventories/%C2%85%E2%80%A8%7F%00",
)


@pytest.mark.parametrize("fmt", ["text", "json"])
async def test_control_characters_in_requests_cannot_forge_log_lines(
    live: Live, monkeypatch: pytest.MonkeyPatch, fmt: str
) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    monkeypatch.setattr(sys, "stderr", stream)
    monkeypatch.setattr(logging.getLogger("httpx"), "disabled", True)
    logs.configure("INFO", fmt)
    try:
        for path in FORGING_PATHS:
            await live.client.get(path, headers={"x-request-id": "a\nb"})
        logging.getLogger("invtrack.test").info(
            "bad %s", "x\ny", extra={"detail": "\x1b[31mred\r\n", "nested": {"k": "\n"}}
        )
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
    text = stream.getvalue()
    lines = text.splitlines()

    assert len(lines) == len(FORGING_PATHS) + 1, text
    for character in ("\r", "\x1b", "\x00", "\x7f", "\x85", "\u2028"):
        assert character not in text
    assert all(line.startswith("{") == (fmt == "json") for line in lines)
    if fmt == "text":
        assert "VAN\\n2026-11-20 INFO" in lines[0]
        assert "\\x1b[31mred\\r\\n" in lines[-1]
    else:
        assert [json.loads(line)["logger"] for line in lines[:-1]] == ["invtrack.access"] * 3


def test_every_worker_writes_request_lines(tmp_path: Path) -> None:
    """`serve --workers 2`: each request gets its access line, whichever
    worker answers it, and uvicorn's coloured copies stay out."""
    server = Server(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'workers.db'}",
        workdir=tmp_path / "workers",
        workers=2,
    )
    ids: list[str] = []
    try:
        server.start()
        # A new connection each time, so both workers get some of them: in
        # rounds, until both have logged answers (the kernel picks the worker).
        for _ in range(25):
            for _ in range(20):
                request_id = f"worker-check-{len(ids)}"
                answer = httpx.get(f"{server.url}/health", headers={"x-request-id": request_id})
                assert answer.status_code == 200
                ids.append(request_id)
            if len(worker_pids(server.log())) == 2:
                break
        server.stop()
    finally:
        server.kill()
    text = server.log()
    entries = parse(text)
    logged = [line["request_id"] for line in access_lines(entries)]
    assert [request_id for request_id in logged if request_id.startswith("worker-")] == ids
    # Both workers answered: two processes wrote the lines.
    assert len(worker_pids(text)) == 2, text[-2000:]
    assert "color_message" not in text
    assert "\x1b" not in text


def worker_pids(text: str) -> set[int]:
    """The pids on the access lines of the worker checks written so far."""
    complete = [line for line in text.splitlines() if line.startswith("{") and line.endswith("}")]
    return {
        entry["pid"]
        for entry in map(json.loads, complete)
        if entry["logger"] == "invtrack.access" and entry["request_id"].startswith("worker-check-")
    }
