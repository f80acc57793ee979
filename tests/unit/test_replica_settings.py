"""The read replica's settings, and the header a read asks for a position
with: what is taken, and what is refused with a message that names it."""

from __future__ import annotations

from pathlib import Path

import pytest

from adapters.store import UnsupportedDatabase, connect, connect_reads
from api.http.positions import wanted_position
from api.settings import SettingsError, from_env


def test_without_a_read_url_the_primary_answers_the_reads() -> None:
    settings = from_env({})
    assert settings.read_database_url is None
    assert settings.replica_max_lag_seconds == 10.0


def test_the_read_url_and_the_lag_allowed_are_taken() -> None:
    settings = from_env(
        {
            "INVTRACK_READ_DATABASE_URL": "postgresql+asyncpg://invtrack:pw@replica/invtrack",
            "INVTRACK_REPLICA_MAX_LAG_SECONDS": "2.5",
        }
    )
    assert settings.read_database_url == "postgresql+asyncpg://invtrack:pw@replica/invtrack"
    assert settings.replica_max_lag_seconds == 2.5


@pytest.mark.parametrize("value", ["soon", "-1", "inf"])
def test_a_lag_that_is_not_seconds_is_refused_by_name(value: str) -> None:
    with pytest.raises(SettingsError, match="INVTRACK_REPLICA_MAX_LAG_SECONDS"):
        from_env({"INVTRACK_REPLICA_MAX_LAG_SECONDS": value})


async def test_a_read_url_must_name_a_postgresql_server(tmp_path: Path) -> None:
    primary = connect(f"sqlite+aiosqlite:///{tmp_path}/invtrack.db")
    try:
        assert connect_reads(primary, None) is primary
        with pytest.raises(UnsupportedDatabase, match="INVTRACK_READ_DATABASE_URL"):
            connect_reads(primary, f"sqlite+aiosqlite:///{tmp_path}/copy.db")
    finally:
        await primary.close()


@pytest.mark.parametrize(
    ("raw", "position"),
    [(b"0", 0), (b"42", 42), (b" 7 ", 7), (b"-1", None), (b"4.2", None), (b"", None)],
)
def test_a_min_position_is_a_whole_number_from_zero(raw: bytes, position: int | None) -> None:
    assert wanted_position(raw) == position


def test_a_min_position_too_long_to_be_one_is_refused() -> None:
    assert wanted_position(b"9" * 19) is None
    assert wanted_position("٣".encode()) is None
