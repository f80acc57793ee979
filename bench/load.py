"""Driving a server: wrk with a Lua script, or a Python load generator when wrk
is missing. Both report accepted (200) answers, latency percentiles and
errors in the same shape."""

from __future__ import annotations

import asyncio
import json
import random
import shutil
import subprocess
import time
from pathlib import Path

import msgspec

from bench.bodies import MakeRequest

WRK_SCRIPTS = Path(__file__).resolve().parent / "wrk"


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

    @property
    def rate(self) -> float:
        """Accepted answers per second."""
        return self.ok / self.seconds if self.seconds else 0.0


def wrk_path() -> str | None:
    return shutil.which("wrk")


def run_wrk(
    url: str,
    script: str,
    args: list[str],
    *,
    connections: int,
    seconds: float,
    threads: int = 2,
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
    done = subprocess.run(command, capture_output=True, text=True, check=False)  # noqa: S603
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            raw = json.loads(line.removeprefix("BENCH_JSON "))
            return Load(
                ok=raw["ok"],
                failed=raw["failed"],
                seconds=raw["duration_us"] / 1e6,
                p50_ms=raw["p50_us"] / 1000,
                p90_ms=raw["p90_us"] / 1000,
                p99_ms=raw["p99_us"] / 1000,
                mean_ms=raw["mean_us"] / 1000,
                max_ms=raw["max_us"] / 1000,
                errors=raw["errors"],
            )
    raise RuntimeError(f"wrk gave no result (exit {done.returncode}):\n{done.stdout}{done.stderr}")


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
    return asyncio.run(_python_load(url, make, connections, seconds, think_ms))


class _Tally:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.ok = 0
        self.failed = 0
        self.errors = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
        self.last = 0.0
        """When the last answer came."""


async def _python_load(
    url: str, make: MakeRequest, connections: int, seconds: float, think_ms: float
) -> Load:
    host, port = url.removeprefix("http://").split(":")
    tally = _Tally()
    started = time.perf_counter()
    deadline = started + seconds
    await asyncio.gather(
        *(
            _client(host, int(port), make, client, deadline, think_ms, tally)
            for client in range(connections)
        )
    )
    # Clients still thinking at the deadline send nothing more: the run ends
    # with the last answer.
    elapsed = max(seconds, tally.last - started)
    latencies = sorted(tally.latencies) or [0.0]

    def percentile(share: float) -> float:
        return latencies[min(len(latencies) - 1, int(share * len(latencies)))] * 1000

    return Load(
        ok=tally.ok,
        failed=tally.failed,
        seconds=elapsed,
        p50_ms=percentile(0.50),
        p90_ms=percentile(0.90),
        p99_ms=percentile(0.99),
        mean_ms=sum(latencies) / len(latencies) * 1000,
        max_ms=latencies[-1] * 1000,
        errors=tally.errors,
    )


async def _client(
    host: str,
    port: int,
    make: MakeRequest,
    client: int,
    deadline: float,
    think_ms: float,
    tally: _Tally,
) -> None:
    pacing = random.Random(client)  # noqa: S311  # think times, not secrets
    connection: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
    n = 0
    try:
        while time.perf_counter() < deadline:
            if think_ms:
                await asyncio.sleep(pacing.expovariate(1000 / think_ms))
                if time.perf_counter() >= deadline:
                    break
            n += 1
            method, path, headers, body = make(client, n)
            head = f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            head += "".join(f"{name}: {value}\r\n" for name, value in headers.items())
            request = (head + f"Content-Length: {len(body)}\r\n\r\n").encode() + body
            for attempt in (1, 2):
                if connection is None:
                    try:
                        connection = await asyncio.open_connection(host, port)
                    except OSError:
                        tally.errors["connect"] += 1
                        return
                reader, writer = connection
                sent = time.perf_counter()
                try:
                    writer.write(request)
                    await writer.drain()
                    status = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    # The server closed an idle keep-alive connection: once more
                    # on a new one, as wrk does.
                    writer.close()
                    connection = None
                    if attempt == 2:
                        tally.errors["read"] += 1
                        return
                    continue
                tally.last = time.perf_counter()
                tally.latencies.append(tally.last - sent)
                if status == 200:
                    tally.ok += 1
                else:
                    tally.failed += 1
                    tally.errors["status"] += 1
                break
    finally:
        if connection is not None:
            connection[1].close()


async def _read_response(reader: asyncio.StreamReader) -> int:
    status_line = (await reader.readline()).split()
    if len(status_line) < 2:
        raise ValueError("the connection was closed")
    status = int(status_line[1])
    length = 0
    while (line := await reader.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    await reader.readexactly(length)
    return status
