"""The `invtrack` command line as a user meets it: failures are one line and
exit 1, a command line or setting that cannot be used is one line and exit 2,
`token` never makes a secret, only `serve` and `migrate` create a store, and
every command explains itself."""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest

from adapters.auth import load_or_create_secret
from api import logs
from api.cli.main import main

Cli = Callable[..., "Ran"]
COMMANDS = (
    "serve",
    "migrate",
    "token",
    "rebuild",
    "ofs-poll",
    "ofs-required",
    "replay-quarantine",
    "status",
)
README = Path(__file__).resolve().parents[2] / "README.md"
SECRET = "a-cli-test-secret-0123456789abcdef0123456789"


@dataclass
class Ran:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Iterator[Cli]:
    """`invtrack ARGS` in a fresh directory with no INVTRACK_* variable set."""
    for name in list(os.environ):
        if name.startswith("INVTRACK_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)

    def run(*args: str, **env: str) -> Ran:
        for name, value in env.items():
            monkeypatch.setenv(f"INVTRACK_{name}", value)
        try:
            code = main(list(args))
        except SystemExit as stop:
            code = int(stop.code or 0)
        captured = capsys.readouterr()
        return Ran(code, captured.out, captured.err)

    yield run
    root.handlers[:], level = saved
    root.setLevel(level)


def one_line_failure(ran: Ran, code: int = 1) -> str:
    assert ran.code == code, ran
    lines = ran.err.strip().splitlines()
    assert len(lines) == 1, ran.err
    assert "Traceback" not in ran.err
    return lines[0]


def test_token_never_creates_a_secret(cli: Cli, tmp_path: Path) -> None:
    ran = cli("token")

    assert ran.code != 0
    assert ran.out == ""
    assert "INVTRACK_JWT_SECRET" in ran.err
    assert str(Path("var") / "jwt-secret") in ran.err
    assert "invtrack serve" in ran.err
    assert not (tmp_path / "var").exists()


def test_token_uses_the_secret_serve_created(cli: Cli, tmp_path: Path) -> None:
    secret, _ = load_or_create_secret(tmp_path / "data")

    ran = cli("token", "--scope", "read", DATA_DIR=str(tmp_path / "data"))

    assert ran.code == 0, ran
    claims = jwt.decode(ran.out.strip(), secret, algorithms=["HS256"])
    assert claims["scope"] == "read"


def test_status_of_a_store_never_migrated_leaves_no_file(cli: Cli, tmp_path: Path) -> None:
    line = one_line_failure(cli("status"))

    assert "invtrack migrate" in line
    assert not (tmp_path / "var" / "invtrack.db").exists()


def test_status_of_an_empty_database_file_says_to_migrate(cli: Cli, tmp_path: Path) -> None:
    (tmp_path / "empty.db").touch()

    ran = cli("status", DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")

    assert "invtrack migrate" in one_line_failure(ran)


@pytest.mark.parametrize("command", ["status", "migrate"])
def test_an_unreachable_postgresql_is_one_line(cli: Cli, command: str) -> None:
    url = "postgresql+asyncpg://invtrack:hunter2@127.0.0.1:1/invtrack"

    line = one_line_failure(cli(command, DATABASE_URL=url))

    assert "127.0.0.1:1" in line
    assert "hunter2" not in line


@pytest.mark.parametrize("command", ["status", "migrate"])
def test_a_missing_postgresql_database_is_one_line(cli: Cli, command: str, pg_url: str) -> None:
    url = pg_url.rsplit("/", 1)[0] + "/invtrack_no_such_database"

    line = one_line_failure(cli(command, DATABASE_URL=url))

    assert "invtrack_no_such_database" in line
    assert "does not exist" in line


@pytest.mark.parametrize("url", ["mysql://u@h/db", "not a url", "http://example.com/db"])
def test_an_unsupported_database_url_is_one_line(cli: Cli, url: str) -> None:
    line = one_line_failure(cli("migrate", DATABASE_URL=url))

    assert "INVTRACK_DATABASE_URL" in line


def test_debug_shows_the_traceback(cli: Cli) -> None:
    url = "postgresql+asyncpg://u@127.0.0.1:1/db"

    with pytest.raises(ConnectionRefusedError):
        cli("--debug", "status", DATABASE_URL=url)


def test_version_is_the_one_the_readme_upgrades_to(cli: Cli) -> None:
    ran = cli("--version")

    assert ran.code == 0
    upgrading = README.read_text().split("- **Upgrading.**", 1)[1].split("\n- **", 1)[0]
    documented = re.search(r"This is invtrack (\d+\.\d+\.\d+)", upgrading)
    assert documented is not None, upgrading
    assert ran.out.strip() == f"invtrack {documented[1]}"


@pytest.mark.parametrize("ttl", ["-5", "0", "soon"])
def test_a_ttl_that_is_not_a_positive_number_is_one_line_naming_the_flag(
    cli: Cli, ttl: str
) -> None:
    line = one_line_failure(cli("token", "--ttl", ttl, JWT_SECRET=SECRET), code=2)

    assert "--ttl" in line
    assert repr(ttl) in line
    assert "Error" not in line
    assert "secret" not in line


def test_serve_on_a_port_in_use_is_one_line_and_creates_nothing(cli: Cli, tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        line = one_line_failure(cli("serve", "--port", str(port), JWT_SECRET=SECRET))

    assert f"127.0.0.1:{port}" in line
    assert "in use" in line
    assert not (tmp_path / "var").exists()


STORE_COMMANDS = (
    ("rebuild",),
    ("rebuild", "items"),
    ("replay-quarantine",),
    ("status",),
    ("ofs-poll", "--once"),
    ("ofs-required", "--once"),
    ("sm-poll", "--once"),
    ("reconcile", "ofs", "--all-known"),
)


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_only_serve_and_migrate_create_a_store(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    mistyped = tmp_path / "invtrak.db"

    line = one_line_failure(cli(*command, DATABASE_URL=f"sqlite+aiosqlite:///{mistyped}"))

    assert str(mistyped) in line
    assert "invtrack migrate" in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", STORE_COMMANDS[:4], ids=" ".join)
def test_a_file_without_the_schema_is_not_taken_for_a_store(
    cli: Cli, tmp_path: Path, command: tuple[str, ...]
) -> None:
    (tmp_path / "empty.db").touch()

    line = one_line_failure(cli(*command, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}"))

    assert "invtrack migrate" in line
    with sqlite3.connect(tmp_path / "empty.db") as conn:
        assert conn.execute("SELECT name FROM sqlite_master").fetchall() == []


@pytest.mark.parametrize(
    ("name", "value"), [("LOG_FORMAT", "xml"), ("LOG_FORMAT", ""), ("LOG_LEVEL", "LOUD")]
)
def test_an_unknown_log_setting_is_refused(cli: Cli, name: str, value: str) -> None:
    ran = cli("status", **{name: value})

    if value == "":
        assert ran.code == 1  # unset: the default, and status then finds no store
        return
    line = one_line_failure(ran, code=2)
    assert f"INVTRACK_{name}" in line
    assert repr(value) in line


def test_a_text_log_line_ends_with_its_own_fields_once() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logs.TextFormatter())
    logger = logging.getLogger("invtrack.test.text")
    logger.addHandler(handler)
    try:
        logger.warning("stored %d", 3, extra={"inbox_id": 7})
    finally:
        logger.removeHandler(handler)

    (line,) = stream.getvalue().splitlines()
    assert line.endswith("WARNING invtrack.test.text: stored 3 inbox_id=7"), line
    assert "asctime" not in line


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_explains_its_options_and_environment(cli: Cli, command: str) -> None:
    ran = cli(command, "--help")

    assert ran.code == 0
    assert "INVTRACK_" in ran.out
    assert "default" in ran.out.lower()


def test_rebuild_help_names_the_projections_and_token_help_its_defaults(cli: Cli) -> None:
    rebuild = cli("rebuild", "--help").out
    token = cli("token", "--help").out

    assert "items" in rebuild
    assert "history" in rebuild
    assert "3600" in token
    assert "no scope" in token
