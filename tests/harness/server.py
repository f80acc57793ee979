"""`invtrack serve` (or a program taking the same options) as a real
subprocess on a free port, for the tests and the benchmarks, and a TCP proxy
between a server and PostgreSQL that can cut the database off or slow it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from tests.harness.tokens import SECRET

START_TIMEOUT = 60.0
"""Seconds a server may take to migrate and answer /health."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _invtrack() -> list[str]:
    script = Path(sys.executable).with_name("invtrack")
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli"]


def invtrack_serve() -> list[str]:
    return [*_invtrack(), "serve"]


@dataclass
class Server:
    """One `invtrack serve` process (or `program`, given `--host`, `--port`
    and `--workers` as it is). Its stderr (the log) goes to a file."""

    database_url: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    workers: int = 1
    max_open_files: int | None = None
    """A lower limit of open files for the server process (RLIMIT_NOFILE)."""
    program: list[str] = field(default_factory=invtrack_serve)
    log_format: str | None = "json"
    """INVTRACK_LOG_FORMAT; None leaves the default."""
    healthy_answers: int = 1
    """Answers of /health in a row that make it started (several workers:
    one answer each, most likely)."""
    own_session: bool = False
    """In a process group of its own, all of which a stop that times out kills."""
    port: int = 0
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.workdir / f"server-{self.starts}.log"

    def environment(self) -> dict[str, str]:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith("INVTRACK_") and key != "PROMETHEUS_MULTIPROC_DIR"
        }
        env.update(
            INVTRACK_DATABASE_URL=self.database_url,
            INVTRACK_JWT_SECRET=SECRET,
            INVTRACK_DATA_DIR=str(self.workdir / "data"),
            PYTHONUNBUFFERED="1",
        )
        if self.log_format is not None:
            env["INVTRACK_LOG_FORMAT"] = self.log_format
        env.update(self.extra_env)
        return env

    def start(self) -> None:
        """Start on a free port and wait for /health; a new port if the old one was taken."""
        for _ in range(3):
            self.launch()
            if self.wait_healthy():
                return
        raise RuntimeError(f"{' '.join(self.program)} did not start:\n{self.log()[-4000:]}")

    def launch(self) -> None:
        """Start the process on a free port, without waiting for it."""
        self.starts += 1
        self.port = free_port()
        self.workdir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [
                    *self.program,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--workers",
                    str(self.workers),
                ],
                cwd=self.workdir,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=self._limits if self.max_open_files else None,
                start_new_session=self.own_session,
            )

    def _limits(self) -> None:
        import resource

        assert self.max_open_files is not None
        resource.setrlimit(resource.RLIMIT_NOFILE, (self.max_open_files, self.max_open_files))

    def wait_healthy(self) -> bool:
        """Whether /health answers (`healthy_answers` times in a row) before
        the start timeout (killed if not)."""
        assert self.process is not None
        deadline = time.monotonic() + START_TIMEOUT
        answered = 0
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                answered += httpx.get(f"{self.url}/health", timeout=2).status_code == 200
            except httpx.HTTPError:
                answered = 0
            if answered >= self.healthy_answers:
                return True
            if not answered:
                time.sleep(0.1)
        self.kill()
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown hooks, no flushing, connections dropped."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL (to its whole group, in a session of its
        own) if it does not stop in time."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=45)
            except subprocess.TimeoutExpired:
                if self.own_session:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.process.pid, signal.SIGKILL)
                self.kill()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log(self) -> str:
        return "".join(
            (self.workdir / f"server-{n}.log").read_text(errors="replace")
            for n in range(1, self.starts + 1)
            if (self.workdir / f"server-{n}.log").exists()
        )


class Proxy:
    """Forwards 127.0.0.1:`port` to the target. `cut()` drops every connection
    and refuses new ones until `restore()`. With `delay`, what a client sends
    is held that many seconds before it goes on, as a slow network would
    (its order kept)."""

    def __init__(
        self, target_host: str, target_port: int, delay: Callable[[], float] | None = None
    ) -> None:
        self.target = (target_host, target_port)
        self.delay = delay
        self.port = 0
        self._server: asyncio.Server | None = None
        self._links: set[asyncio.StreamWriter] = set()
        self._pumps: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(
            self._accept, "127.0.0.1", self.port, reuse_address=True
        )
        self.port = self._server.sockets[0].getsockname()[1]

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for writer in list(self._links):
            writer.transport.abort()
        self._links.clear()
        for task in list(self._pumps):
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)

    async def restore(self) -> None:
        await self.start()

    async def close(self) -> None:
        await self.cut()

    async def _accept(
        self, client_reader: asyncio.StreamReader, client: asyncio.StreamWriter
    ) -> None:
        try:
            upstream_reader, upstream = await asyncio.open_connection(*self.target)
        except OSError:
            client.transport.abort()
            return
        self._links.update((client, upstream))
        pumps = ((client_reader, upstream, self.delay), (upstream_reader, client, None))
        for reader, writer, delay in pumps:
            task = asyncio.create_task(self._pump(reader, writer, delay))
            self._pumps.add(task)
            task.add_done_callback(self._pumps.discard)

    async def _pump(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        delay: Callable[[], float] | None,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if delay is not None:
                    await asyncio.sleep(delay())
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            self._links.discard(writer)
            writer.transport.abort()


def pg_target(database_url: str) -> tuple[str, int]:
    url = make_url(database_url)
    return url.host or "127.0.0.1", url.port or 5432


def through(database_url: str, port: int) -> str:
    """The database URL with host and port replaced by the proxy's."""
    url = make_url(database_url).set(host="127.0.0.1", port=port)
    return url.render_as_string(hide_password=False)
