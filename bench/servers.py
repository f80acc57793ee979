"""Servers under test, each a subprocess on a free loopback port: `invtrack
serve`, the ceiling (bench/ceiling.py) and the bare app (bench/bare.py) with
the same options. They are
the tests' servers (tests/harness/server.py), started as an operator starts
them: the default log format, every worker answering before a run."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.harness.server import Server

STARTED_ANSWERS = 20
"""/health answers in a row before a server counts as started (every worker up)."""


@contextlib.contextmanager
def running(server: Server) -> Iterator[Server]:
    server.start()
    try:
        yield server
    finally:
        server.stop()


def invtrack_serve(
    database_url: str, workers: int, directory: Path, extra: Mapping[str, str] = {}
) -> Server:
    """`invtrack serve --workers N` on the database, as an operator runs it."""
    return Server(
        database_url=database_url,
        workdir=directory / "invtrack",
        extra_env=dict(extra),
        workers=workers,
        log_format=None,
        healthy_answers=STARTED_ANSWERS,
        own_session=True,
    )


def ceiling_serve(database_url: str, workers: int, directory: Path) -> Server:
    """The same stack with an ingestor that answers without touching the database."""
    return Server(
        database_url=database_url,
        workdir=directory / "ceiling",
        workers=workers,
        program=[sys.executable, "-m", "bench.ceiling"],
        log_format=None,
        healthy_answers=STARTED_ANSWERS,
        own_session=True,
    )


def bare_serve(database_url: str, workers: int, directory: Path) -> Server:
    """A bare Litestar app doing the same token check and decode, nothing more."""
    return Server(
        database_url=database_url,
        workdir=directory / "bare",
        workers=workers,
        program=[sys.executable, "-m", "bench.bare"],
        log_format=None,
        healthy_answers=STARTED_ANSWERS,
        own_session=True,
    )
