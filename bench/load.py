"""Driving a server: wrk with a Lua script, or a Python load generator when wrk
is missing. Both report the same figures: accepted (200) answers, requests
sent, the events the accepted answers say were appended, answers that report
a repeat, latency percentiles and errors."""

from __future__ import annotations

import asyncio
import json
import random
import re
import resource
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from bench.bodies import MakeRequest

WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"

_EVENTS = re.compile(rb'"events":(\d+)')
_REPEAT = re.compile(rb'"duplicate":true|"duplicates":[1-9]')


class Load(msgspec.Struct, frozen=True, kw_only=True):
    ok: int
    failed: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float
    errors: dict[str, int]
    sent: int = 0
    """Requests written (answered or not when the run stopped), exactly."""
    events: int = 0
    """Events the accepted answers said were appended (ingest only)."""
    repeats: int = 0
    """Accepted answers that said the payload or some events were stored before."""
    generator_cpu: float = 0.0
    """CPU the load generator used, in cores (near 1.0 with one wrk thread: the
    load generator, not the server, may be what limits the run)."""

    @property
    def rate(self) -> float:
        """Accepted answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str,
    script: str,
    args: Sequence[str],
    *,
    connections: int,
    seconds: float,
    threads: int,
) -> Load:
    command = [
        wrk_path() or "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "60s",
        "-s",
        str(WRK_SCRIPTS / script),
        url,
        "--",
        *args,
    ]
    cpu = _children_cpu()
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    cpu = _children_cpu() - cpu
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            load = _from_wrk(json.loads(line.removeprefix("BENCH_JSON ")))
            return msgspec.structs.replace(load, generator_cpu=cpu / max(load.seconds, 1e-9))
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}{done.stderr}")


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def _from_wrk(raw: dict[str, Any]) -> Load:
    return Load(
        ok=raw["ok"],
        failed=raw["failed"],
        sent=raw["sent"],
        events=raw["events"],
        repeats=raw["repeats"],
        seconds=raw["duration_us"] / 1e6,
        p50_ms=raw["p50_us"] / 1000,
        p90_ms=raw["p90_us"] / 1000,
        p99_ms=raw["p99_us"] / 1000,
        mean_ms=raw["mean_us"] / 1000,
        max_ms=raw["max_us"] / 1000,
        errors=raw["errors"],
    )


def run_python(
    url: str,
    make: MakeRequest,
    *,
    connections: int,
    seconds: float,
    think_ms: float = 0.0,
) -> Load:
    """A closed-loop HTTP/1.1 keep-alive load generator: `connections` clients,
    each sending its next request when the previous answer is complete."""
    cpu = time.process_time()
    load = asyncio.run(_python_load(url, make, connections, seconds, think_ms))
    cpu = time.process_time() - cpu
    return msgspec.structs.replace(load, generator_cpu=cpu / max(load.seconds, 1e-9))


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = self.failed = self.sent = self.events = self.repeats = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
        self.last = 0.0
        """When the last answer came."""

    def answer(self, sent: float, status: int, body: bytes) -> None:
        self.last = time.perf_counter()
        self.latencies.append(self.last - sent)
        if status != 200:
            self.failed += 1
            self.errors["status"] += 1
            return
        self.ok += 1
        if found := _EVENTS.search(body):
            self.events += int(found[1])
        self.repeats += _REPEAT.search(body) is not None

    def load(self, seconds: float) -> Load:
        latencies = sorted(self.latencies) or [0.0]

        def percentile(share: float) -> float:
            return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

        return Load(
            ok=self.ok,
            failed=self.failed,
            sent=self.sent,
            events=self.events,
            repeats=self.repeats,
            seconds=seconds,
            p50_ms=percentile(0.50),
            p90_ms=percentile(0.90),
            p99_ms=percentile(0.99),
            mean_ms=sum(latencies) / len(latencies) * 1000,
            max_ms=latencies[-1] * 1000,
            errors=self.errors,
        )


async def _python_load(
    url: str, make: MakeRequest, connections: int, seconds: float, think_ms: float
) -> Load:
    host, port = url.removeprefix("http://").split(":")
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + seconds
    clients = [_Client(host, int(port), make, client, tally) for client in range(connections)]
    await asyncio.gather(*(client.run(deadline, think_ms) for client in clients))
    # Clients still thinking at the deadline send nothing more: the run ends
    # with the last answer.
    return tally.load(max(seconds, tally.last - started))


class _Client:
    """One keep-alive connection sending requests one after the other."""

    def __init__(self, host: str, port: int, make: MakeRequest, client: int, tally: _Tally):
        self.host = host
        self.port = port
        self.make = make
        self.client = client
        self.tally = tally
        self.connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def run(self, deadline: float, think_ms: float) -> None:
        pacing = random.Random(self.client)  # noqa: S311  # think times, not secrets
        n = 0
        try:
            while time.perf_counter() < deadline:
                if think_ms:
                    await asyncio.sleep(pacing.expovariate(1000 / think_ms))
                    if time.perf_counter() >= deadline:
                        break
                n += 1
                if not await self.send(self.request(n)):
                    return
        finally:
            if self.connection is not None:
                self.connection[1].close()

    def request(self, n: int) -> bytes:
        method, path, headers, body = self.make(self.client, n)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        return (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body

    async def send(self, request: bytes) -> bool:
        """Send a request and read its answer; False when the client must stop.
        A keep-alive connection the server closed is replaced once, as wrk does."""
        self.tally.sent += 1
        for attempt in (1, 2):
            if self.connection is None:
                try:
                    self.connection = await asyncio.open_connection(self.host, self.port)
                except OSError:
                    self.tally.errors["connect"] += 1
                    return False
            reader, writer = self.connection
            sent = time.perf_counter()
            try:
                writer.write(request)
                await writer.drain()
                status, body = await _read_response(reader)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                writer.close()
                self.connection = None
                if attempt == 2:
                    self.tally.errors["read"] += 1
                    return False
                continue
            self.tally.answer(sent, status, body)
            return True
        return False


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    status_line = (await reader.readline()).split()
    if len(status_line) < 2:
        raise ValueError("the connection was closed")
    status = int(status_line[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    return status, await reader.readexactly(length)
