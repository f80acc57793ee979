"""The pulling and reconciling commands as a user (or cron) meets them: a URL
that cannot be used is a configuration error at start (one line, exit 2), a
`--once` run against a site that cannot be reached gives up after
`--max-wait` (one line, exit 3), and `reconcile ofs` refuses what it cannot
compare up front (exit 2)."""

from __future__ import annotations

import pytest

from tests.e2e.test_cli import Cli, Ran, cli

__all__ = ["cli"]  # the fixture, shared

OFS = {"OFS_CLIENT_ID": "invtrack", "OFS_INSTANCE": "acme", "OFS_CLIENT_SECRET": "s3cret"}
SM = {"SM_TOKEN": "a-developer-token"}
NOWHERE = "http://127.0.0.1:9"
"""The discard port: nothing listens there, connections are refused at once."""


@pytest.fixture(autouse=True)
def migrated(cli: Cli) -> None:
    """The commands below read a store: one exists, so what they answer is
    about the vendor's settings."""
    assert cli("migrate").code == 0


def one_line(ran: Ran, code: int) -> str:
    assert ran.code == code, ran
    assert "Traceback" not in ran.err
    lines = ran.err.strip().splitlines()
    assert lines, ran
    assert lines[-1].startswith("invtrack: "), ran.err
    return lines[-1]


@pytest.mark.parametrize(
    "url", ["not-a-url", "ftp://ofs.example", "http://", "https://acme.example?x=1"]
)
@pytest.mark.parametrize("command", ["ofs-poll", "sm-poll"])
def test_a_url_that_cannot_be_used_is_a_configuration_error(
    cli: Cli, command: str, url: str
) -> None:
    if command == "ofs-poll":
        ran = cli(command, "--once", OFS_URL=url, **OFS)
        variable = "INVTRACK_OFS_URL"
    else:
        ran = cli(command, "--once", SM_URL=url, **SM)
        variable = "INVTRACK_SM_URL"
    line = one_line(ran, 2)
    assert len(ran.err.strip().splitlines()) == 1
    assert variable in line
    assert url in line


def test_ofs_poll_once_gives_up_on_an_unreachable_instance(cli: Cli) -> None:
    ran = cli("ofs-poll", "--once", "--max-wait", "1", OFS_URL=NOWHERE, **OFS)
    line = one_line(ran, 3)
    assert "OFS could not be read for 1 s (--max-wait)" in line
    assert "ConnectError" in line
    assert "INVTRACK_OFS_URL" in line


def test_sm_poll_once_gives_up_on_an_unreachable_site(cli: Cli) -> None:
    ran = cli("sm-poll", "--once", "--max-wait", "1", SM_URL=NOWHERE, **SM)
    line = one_line(ran, 3)
    assert "ServiceMobility could not be read for 1 s (--max-wait)" in line
    assert "INVTRACK_SM_URL" in line


@pytest.mark.parametrize("value", ["0", "-1", "soon", "inf"])
def test_max_wait_must_be_a_positive_number(cli: Cli, value: str) -> None:
    ran = cli("ofs-poll", "--once", "--max-wait", value, OFS_URL=NOWHERE, **OFS)
    assert ran.code == 2
    assert "--max-wait" in ran.err


@pytest.mark.parametrize("activity", ["WO/5521", "12a", "-4", " 42", "4225599.0"])
def test_reconcile_refuses_an_activity_id_ofs_cannot_have(cli: Cli, activity: str) -> None:
    ran = cli("reconcile", "ofs", "--activity", activity, OFS_URL=NOWHERE, **OFS)
    line = one_line(ran, 2)
    assert len(ran.err.strip().splitlines()) == 1
    assert "OFS activity ids are integers" in line


def test_reconcile_all_known_on_an_empty_store_has_nothing_to_compare(cli: Cli) -> None:
    ran = cli("reconcile", "ofs", "--all-known", OFS_URL=NOWHERE, **OFS)
    line = one_line(ran, 2)
    assert "nothing to compare" in line
    assert ran.out == ""


def test_help_names_the_new_flags_and_settings(cli: Cli) -> None:
    for command in ("ofs-poll", "sm-poll"):
        ran = cli(command, "--help")
        assert "--max-wait" in ran.out
        assert "INVTRACK_VENDOR_MAX_BYTES" in ran.out
        assert "INVTRACK_VENDOR_DEADLINE" in ran.out
        assert "INVTRACK_VENDOR_MAX_PAGES" in ran.out
    assert "INVTRACK_OFS_RATE" in cli("ofs-poll", "--help").out
    assert "INVTRACK_OFS_GAP_DAYS" in cli("ofs-poll", "--help").out
    assert "INVTRACK_VENDOR_MAX_PAGES" in cli("reconcile", "ofs", "--help").out
