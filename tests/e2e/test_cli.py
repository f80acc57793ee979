"""The `invtrack` command line as a user meets it: failures are one line and
exit 1, `token` never makes a secret, and every command explains itself."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import jwt
import pytest

from adapters.auth import load_or_create_secret
from api.cli.main import main

Cli = Callable[..., "Ran"]
COMMANDS = ("serve", "migrate", "token", "rebuild", "ofs-poll", "replay-quarantine", "status")


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


def one_line_failure(ran: Ran) -> str:
    assert ran.code == 1, ran
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


def test_version(cli: Cli) -> None:
    ran = cli("--version")

    assert ran.code == 0
    assert ran.out.strip() == "invtrack 0.1.0"


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
