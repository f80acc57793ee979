"""The benchmark's ingest requests are new in every run: the run numbers, the
ids built from them, the Python load generator's bodies and the wrk scripts'
bodies (the same bytes) and their counts. wrk comes from Debian (`.ci/run`
installs it); without it the wrk cases are skipped on a workstation and fail
when `CI` is set."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from adapters.ofs.translate import translate as translate_ofs
from adapters.servicemobility import read_envelope
from adapters.servicemobility import translate as translate_sm
from bench import bodies
from bench.ids import EVENT_LIMIT, RUN_EPOCH, RunNumbers, ofs_inventory_id
from bench.load import WRK_SCRIPTS

INT64 = 2**63 - 1


def test_run_numbers_follow_the_clock_and_never_repeat() -> None:
    runs = RunNumbers()
    at = RUN_EPOCH + 200_000_000.5
    first = runs.next(at)
    assert first == 200_000_000
    # Two runs within the same second, or with the clock set back, still differ.
    assert runs.next(at) == first + 1
    assert runs.next(at - 3600) == first + 2
    assert runs.next(at + 10) == first + 10


def test_run_numbers_outside_the_id_space_are_refused() -> None:
    with pytest.raises(ValueError, match="outside"):
        RunNumbers().next(RUN_EPOCH + 950_000_000)


def test_ofs_inventory_ids_are_distinct_and_fit_a_bigint() -> None:
    triples = [
        (run, thread, k)
        for run in (1, 2, 10, 11, 220_000_000, 899_999_999)
        for thread in (0, 1, 10, 99)
        for k in (1, 2, 10, 99_999_999)
    ]
    ids = [ofs_inventory_id(*triple) for triple in triples]
    assert len(set(ids)) == len(triples)
    assert max(ids) <= INT64
    with pytest.raises(ValueError, match="outside"):
        ofs_inventory_id(1, 0, EVENT_LIMIT)
    with pytest.raises(ValueError, match="outside"):
        ofs_inventory_id(1, 100, 1)


def _sm_keys(body: bytes) -> tuple[str, list[str]]:
    envelope = read_envelope(body, "InventoryUsage")
    return envelope.id, [fact.dedupe_key for fact in translate_sm(envelope)]


def test_servicemobility_bodies_are_new_in_every_run_client_and_request() -> None:
    envelopes: set[str] = set()
    keys: set[str] = set()
    count = 0
    for run in (220_000_000, 220_000_001):
        for client in range(3):
            make = bodies.servicemobility("token", 20, run)
            for n in range(1, 6):
                envelope_id, facts = _sm_keys(make(client, n)[3])
                envelopes.add(envelope_id)
                keys.update(facts)
                count += 1
    assert len(envelopes) == count
    assert len(keys) == count * 20


def test_ofs_pages_are_new_in_every_run_client_and_page() -> None:
    keys: set[str] = set()
    inventories: set[int] = set()
    count = 0
    for run in (220_000_000, 220_000_001):
        for client in range(3):
            make = bodies.ofs("token", 50, run)
            for n in range(1, 4):
                body = make(client, n)[3]
                keys.update(fact.dedupe_key for fact in translate_ofs(body))
                inventories.update(
                    item["inventoryDetails"]["inventoryId"] for item in json.loads(body)["items"]
                )
                count += 50
    assert len(keys) == count
    assert len(inventories) == count


# ---- the wrk scripts ---------------------------------------------------------------


class _Capture(BaseHTTPRequestHandler):
    bodies: list[bytes]
    answer: bytes

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.bodies.append(body)
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.answer)))
        self.end_headers()
        # wrk closes its connections when it stops, answered or not.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self.wfile.write(self.answer)

    def log_message(self, *args: Any) -> None:
        pass


@contextlib.contextmanager
def _capture(answer: bytes) -> Iterator[tuple[str, list[bytes]]]:
    """A server on a free port answering every POST with `answer`; its URL
    and the bodies it got."""
    captured: list[bytes] = []
    handler = type("Handler", (_Capture,), {"bodies": captured, "answer": answer})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", captured
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def wrk() -> str:
    """wrk's path; the case fails without it when `CI` is set."""
    found = shutil.which("wrk")
    if found is None:
        message = "wrk is not installed (apt-get install wrk)"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI is set: the wrk cases must run)")
        pytest.skip(message)
    return found


def _wrk(wrk: str, url: str, script: str, args: list[str]) -> dict[str, Any]:
    done = subprocess.run(
        [wrk, "-t1", "-c1", "-d1s", "-s", str(WRK_SCRIPTS / script), url, "--", *args],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    )
    line = next(line for line in done.stdout.splitlines() if line.startswith("BENCH_JSON "))
    result: dict[str, Any] = json.loads(line.removeprefix("BENCH_JSON "))
    return result


@pytest.mark.parametrize(
    ("script", "per_request", "answer", "make"),
    [
        (
            "servicemobility.lua",
            3,
            b'{"status":"accepted","id":"x","duplicate":false,"events":3}',
            bodies.servicemobility,
        ),
        (
            "ofs.lua",
            4,
            b'{"status":"accepted","received":4,"duplicates":0,"events":4}',
            bodies.ofs,
        ),
    ],
)
def test_the_wrk_scripts_send_the_python_bodies_and_count_the_answers(
    wrk: str, script: str, per_request: int, answer: bytes, make: Any
) -> None:
    runs = (220_000_000, 220_000_001)
    seen: list[bytes] = []
    for run in runs:
        with _capture(answer) as (url, captured):
            result = _wrk(wrk, url, script, ["token", str(per_request), str(run)])
        # One thread, one connection: the bodies of thread 0 in order, from the
        # second (wrk builds the first to check the script, and never sends it).
        expected = make("token", per_request, run)
        assert captured[:20] == [expected(0, n)[3] for n in range(2, 22)]
        # The request in flight when wrk stopped may have come without its answer,
        # or not at all.
        assert result["ok"] <= len(captured) <= result["ok"] + 1
        assert len(captured) <= result["sent"] <= len(captured) + 1
        assert result["events"] == per_request * result["ok"]
        assert result["repeats"] == 0
        seen += captured
    assert len(set(seen)) == len(seen)


def test_wrk_counts_an_answer_that_reports_a_repeat(wrk: str) -> None:
    answer = b'{"status":"accepted","id":"x","duplicate":true,"events":0}'
    with _capture(answer) as (url, _):
        result = _wrk(wrk, url, "servicemobility.lua", ["token", "1", "220000000"])
    assert result["ok"] > 0
    assert result["repeats"] == result["ok"]
    assert result["events"] == 0


class _Silent(_Capture):
    """Reads a request and keeps its connection without answering until released."""

    released: threading.Event

    def do_POST(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers["Content-Length"])))
        self.released.wait(30)


def test_wrk_counts_the_requests_it_writes_exactly(wrk: str) -> None:
    """`sent` is not one more than the requests written: the one wrk builds to
    check the script is never sent."""
    captured: list[bytes] = []
    released = threading.Event()
    handler = type("Handler", (_Silent,), {"bodies": captured, "released": released})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}"
        result = _wrk(wrk, url, "servicemobility.lua", ["token", "1", "220000000"])
    finally:
        released.set()
        server.shutdown()
        server.server_close()
    # One connection, whose one request is never answered: one request written.
    assert (result["ok"], len(captured), result["sent"]) == (0, 1, 1)
