"""A throwaway PostgreSQL primary and its streaming standbys, for the tests of
read replicas: `initdb` into a temporary directory, a port of its own,
replication allowed in its own pg_hba.conf; each standby made with
`pg_basebackup -R` and started on another port.

The server binaries are found with `pg_config --bindir`, under
/usr/lib/postgresql/*/bin, or at INVTRACK_TEST_PG_BIN. PostgreSQL refuses to
run as root: under root every command runs as the `postgres` user.
"""

from __future__ import annotations

import asyncio
import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

PRIMARY_SETTINGS = (
    "listen_addresses = '127.0.0.1'",
    "wal_level = replica",
    "max_wal_senders = 10",
    "max_replication_slots = 10",
    "wal_keep_size = '256MB'",
    "hot_standby = on",
    "hot_standby_feedback = on",
    "max_standby_streaming_delay = '5s'",
    "synchronous_commit = on",
    "full_page_writes = on",
    "max_connections = 60",
    "log_min_messages = warning",
)
QUICK = ("fsync = off", "shared_buffers = '32MB'")
"""For the tests: nothing need survive a crash."""
DURABLE = ("fsync = on", "shared_buffers = '128MB'")
"""For measurements: as the main server is set up."""
HBA = (
    "local all all trust\n"
    "local replication all trust\n"
    "host all all 127.0.0.1/32 trust\n"
    "host replication all 127.0.0.1/32 trust\n"
)


class ServerMissing(Exception):
    """The PostgreSQL server binaries are not installed here."""


def server_binaries() -> Path:
    """The directory of initdb, pg_ctl and pg_basebackup; ServerMissing when
    there is none."""
    candidates = [os.environ.get("INVTRACK_TEST_PG_BIN", "")]
    with contextlib.suppress(OSError, subprocess.CalledProcessError):
        found = subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        )
        candidates.append(found.stdout.strip())
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        if candidate and all(
            (Path(candidate) / tool).exists() for tool in ("initdb", "pg_ctl", "pg_basebackup")
        ):
            return Path(candidate)
    raise ServerMissing(
        "the PostgreSQL server binaries (initdb, pg_ctl, pg_basebackup) are not installed: "
        "set INVTRACK_TEST_PG_BIN to their directory"
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Server:
    """One server of the pair: its data directory and port."""

    runner: Runner
    data: Path
    port: int
    running: bool = False

    def admin(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def url(self, database: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        """Start it; on another free port when its own was taken meanwhile."""
        for attempt in range(3):
            try:
                self.runner.pg_ctl(
                    "-D", str(self.data), "-l", str(self.data / "server.log"), "-w", "-t", "60",
                    "-o", f"-p {self.port} -k {self.runner.sockets}", "start",
                )  # fmt: skip
            except RuntimeError:
                if attempt == 2 or "could not bind" not in self.log():
                    raise
                self.port = free_port()
                continue
            self.running = True
            return

    def stop(self, mode: str = "fast") -> None:
        if self.running:
            self.runner.pg_ctl("-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")
            self.running = False

    def promote(self) -> None:
        self.runner.pg_ctl("-D", str(self.data), "-w", "-t", "60", "promote")

    def log(self) -> str:
        path = self.data / "server.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""


@dataclass
class Runner:
    """Runs the server binaries, as `postgres` when this process is root."""

    binaries: Path
    root: Path
    user: str | None
    sockets: Path = field(init=False)

    def __post_init__(self) -> None:
        self.sockets = self.root / "sockets"

    def own(self, path: Path) -> None:
        if self.user is not None:
            entry = pwd.getpwnam(self.user)
            os.chown(path, entry.pw_uid, entry.pw_gid)

    def run(self, tool: str, *arguments: str) -> None:
        command = [str(self.binaries / tool), *arguments]
        if self.user is not None:
            command = ["runuser", "-u", self.user, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr or done.stdout}")

    def pg_ctl(self, *arguments: str) -> None:
        self.run("pg_ctl", *arguments)

    def directory(self, name: str) -> Path:
        path = self.root / name
        path.mkdir(mode=0o700)
        self.own(path)
        return path


@dataclass
class Replication:
    """A primary and the standbys made of it."""

    runner: Runner
    primary: Server
    standbys: list[Server] = field(default_factory=list)

    @classmethod
    def start(cls, *, durable: bool = False) -> Replication:
        binaries = server_binaries()
        user = "postgres" if os.geteuid() == 0 else None
        root = Path(tempfile.mkdtemp(prefix="invtrack-replication-"))
        runner = Runner(binaries, root, user)
        runner.own(root)
        runner.directory("sockets")
        data = runner.directory("primary")
        runner.run("initdb", "-D", str(data), "-U", "postgres", "--auth=trust", "-E", "UTF8")
        with (data / "postgresql.conf").open("a") as conf:
            conf.write("\n".join((*PRIMARY_SETTINGS, *(DURABLE if durable else QUICK))) + "\n")
        (data / "pg_hba.conf").write_text(HBA)
        primary = Server(runner, data, free_port())
        replication = cls(runner, primary)
        try:
            primary.start()
        except Exception:
            replication.close()
            raise
        return replication

    def standby(self) -> Server:
        """A new standby streaming from the primary, started."""
        data = self.runner.directory(f"standby{len(self.standbys)}")
        self.runner.run(
            "pg_basebackup", "-h", "127.0.0.1", "-p", str(self.primary.port), "-U", "postgres",
            "-D", str(data), "-R", "-X", "stream", "-c", "fast",
        )  # fmt: skip
        server = Server(self.runner, data, free_port())
        self.standbys.append(server)
        server.start()
        return server

    def close(self) -> None:
        for server in [*self.standbys, self.primary]:
            with contextlib.suppress(Exception):
                server.stop("immediate")
        shutil.rmtree(self.runner.root, ignore_errors=True)


async def caught_up(primary: str, standby: str, seconds: float = 60.0) -> None:
    """Wait until the standby has replayed everything the primary wrote
    (both admin URLs)."""
    conn = await asyncpg.connect(primary)
    try:
        lsn = await conn.fetchval("SELECT pg_current_wal_lsn()")
    finally:
        await conn.close()
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            replica = await asyncpg.connect(standby)
        except (OSError, asyncpg.PostgresError):
            await asyncio.sleep(0.05)
            continue
        try:
            behind = await replica.fetchval(
                "SELECT pg_wal_lsn_diff($1::pg_lsn, pg_last_wal_replay_lsn()) > 0", lsn
            )
        finally:
            await replica.close()
        if not behind:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the standby did not catch up with the primary")
