"""Connections that say nothing, or say it a byte at a time, cannot starve
`invtrack serve`: the header and body timeouts close them, so a real sender
still gets its 200 and /health still answers.

The server runs with few file descriptors (as a busy host would have left
over), so connections that are never closed would exhaust them.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.harness.deliveries import envelope_for
from tests.harness.server import Server
from tests.harness.tokens import sender

IDLE = 300
DRIP = 20
FLOOD_SECONDS = 6.0


def connect(port: int) -> socket.socket | None:
    try:
        return socket.create_connection(("127.0.0.1", port), timeout=5)
    except OSError:
        return None


def drip(
    port: int, prefix: bytes, stop: threading.Event, opened: list[bool], tried: threading.Semaphore
) -> None:
    """Sends `prefix` one byte every 0.2 s, then keeps the connection open;
    notes in `opened` whether it could connect, then releases `tried`."""
    sock = connect(port)
    opened.append(sock is not None)
    tried.release()
    if sock is None:
        return
    with sock:
        for byte in prefix:
            if stop.wait(0.2):
                return
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                return
        stop.wait()


@contextlib.contextmanager
def flood(port: int) -> Iterator[list[bool]]:
    """IDLE silent connections, and DRIP requests fed slowly: half stall in
    their headers, half in their body. Yields whether each drip connected."""
    idle = [sock for sock in (connect(port) for _ in range(IDLE)) if sock is not None]
    assert len(idle) == IDLE, f"only {len(idle)} of {IDLE} idle connections were opened"
    opened: list[bool] = []
    tried = threading.Semaphore(0)
    stop = threading.Event()
    slow_headers = (
        b"POST /servicemobility/InventoryUsage/ HTTP/1.1\r\nHost: x\r\nX-Pad: " + b"a" * 200
    )
    slow_body = (
        b"POST /servicemobility/InventoryUsage/ HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n" + b"{" * 200
    )
    threads = [
        threading.Thread(
            target=drip, args=(port, slow_headers if n % 2 else slow_body, stop, opened, tried)
        )
        for n in range(DRIP)
    ]
    for thread in threads:
        thread.start()
    try:
        for _ in range(DRIP):  # every drip has tried to connect
            assert tried.acquire(timeout=30)
        yield opened
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        for sock in idle:
            sock.close()


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    started = Server(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'flood.db'}",
        workdir=tmp_path / "flood",
        extra_env={"INVTRACK_HEADER_TIMEOUT": "1", "INVTRACK_BODY_TIMEOUT": "2"},
        max_open_files=256,
    )
    try:
        started.start()
        yield started
    finally:
        started.kill()


def test_idle_and_slow_connections_do_not_starve_a_real_sender(server: Server) -> None:
    body = json.dumps(envelope_for("InventoryUsage", "through-the-flood")).encode()
    with flood(server.port) as opened:
        time.sleep(FLOOD_SECONDS / 2)
        with httpx.Client(base_url=server.url, timeout=20) as client:
            health = client.get("/health")
            answer = client.post("/servicemobility/InventoryUsage/", content=body, headers=sender())
        # The flood had its size while the real sender went through.
        assert opened == [True] * DRIP

    assert health.status_code == 200
    assert answer.status_code == 200, answer.text
    assert answer.json()["duplicate"] is False


def test_a_body_that_does_not_arrive_in_time_is_a_408(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=20) as sock:
        # A known sender whose body stops half-way.
        sock.sendall(
            b"POST /servicemobility/InventoryUsage/ HTTP/1.1\r\nHost: x\r\n"
            b"x-access-token: " + sender()["x-access-token"].encode() + b"\r\n"
            b"Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{"
        )
        answer = sock.recv(65536)

    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def open_descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


BOUND = 40


@pytest.fixture
def bounded(tmp_path: Path) -> Iterator[Server]:
    """A server that may hold BOUND connections, with descriptors to spare."""
    started = Server(
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'bounded.db'}",
        workdir=tmp_path / "bounded",
        extra_env={
            "INVTRACK_HEADER_TIMEOUT": "1",
            "INVTRACK_BODY_TIMEOUT": "2",
            "INVTRACK_MAX_CONNECTIONS": str(BOUND),
        },
        max_open_files=1024,
    )
    try:
        started.start()
        yield started
    finally:
        started.kill()


def test_accepted_connections_are_bounded_by_max_connections(bounded: Server) -> None:
    """Silent connections beyond INVTRACK_MAX_CONNECTIONS wait in the listen
    backlog instead of holding descriptors; /health is answered meanwhile."""
    assert bounded.process is not None
    pid = bounded.process.pid
    before = open_descriptors(pid)
    idle = [sock for sock in (connect(bounded.port) for _ in range(IDLE)) if sock is not None]
    try:
        assert len(idle) == IDLE
        most = 0
        deadline = time.monotonic() + 30
        answered = False
        with httpx.Client(base_url=bounded.url, timeout=30) as client:
            health = threading.Thread(target=lambda: client.get("/health"))
            health.start()
            while health.is_alive() and time.monotonic() < deadline:
                most = max(most, open_descriptors(pid))
                health.join(0.05)
            answered = not health.is_alive()
            health.join()
            after = client.get("/health")
    finally:
        for sock in idle:
            sock.close()
    assert answered
    assert after.status_code == 200
    # The server accepted at most BOUND of the flood at once (and the check's own).
    assert most - before <= BOUND + 2, (before, most)
    assert "Too many open files" not in bounded.log()


def test_a_low_open_files_limit_lowers_the_bound_and_says_so(server: Server) -> None:
    """With 256 descriptors and the default of 1000 connections, the server
    accepts what its descriptors allow: no accept() fails, and the log says
    how to size the limit."""
    with flood(server.port), httpx.Client(base_url=server.url, timeout=30) as client:
        assert client.get("/health").status_code == 200
    log = server.log()
    assert "Too many open files" not in log
    assert "out of system resource" not in log
    assert "raise the limit to at least" in log
