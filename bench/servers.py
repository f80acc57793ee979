"""Servers under test, each a subprocess on a free loopback port."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import httpx

SECRET = "bench-secret-0123456789abcdef0123456789abcdef"  # noqa: S105  # a throwaway key
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def invtrack_command() -> list[str]:
    """`invtrack` as installed next to this interpreter."""
    script = Path(sys.executable).with_name("invtrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def server_env(database_url: str, data_dir: Path, extra: Mapping[str, str] = {}) -> dict[str, str]:
    env = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("INVTRACK_") and name != "PROMETHEUS_MULTIPROC_DIR"
    }
    env.update(
        INVTRACK_DATABASE_URL=database_url,
        INVTRACK_JWT_SECRET=SECRET,
        INVTRACK_DATA_DIR=str(data_dir),
        **extra,
    )
    return env


class Server:
    """A server process: started, answering `/health`, stopped on exit."""

    def __init__(self, command: list[str], env: dict[str, str], port: int, log: Path) -> None:
        self.command = command
        self.env = env
        self.port = port
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603  # our own command line
                self.command, env=self.env, stdout=log, stderr=log, start_new_session=True
            )
        deadline = time.monotonic() + timeout
        answered = 0
        while answered < 20:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}:\n{self.tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"no answer on /health in {timeout:.0f}s:\n{self.tail()}")
            try:
                answered += httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                answered = 0
                time.sleep(0.2)

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=45)
        except subprocess.TimeoutExpired:
            # The process group is the one this server was started in.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def invtrack_serve(
    database_url: str, workers: int, data_dir: Path, log: Path, extra: Mapping[str, str] = {}
) -> Server:
    """`invtrack serve --workers N` on the database, as an operator runs it."""
    port = free_port()
    command = [
        *invtrack_command(),
        "serve",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Server(command, server_env(database_url, data_dir, extra), port, log)


def ceiling_serve(database_url: str, workers: int, data_dir: Path, log: Path) -> Server:
    """The same stack with an ingestor that answers without touching the database."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "bench.ceiling",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
    ]
    return Server(command, server_env(database_url, data_dir), port, log)
