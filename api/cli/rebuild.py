"""`invtrack rebuild`: rebuild projections while the service runs, with progress."""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeRemainingColumn,
)
from rich.text import Text

from api.services.stores import open_store
from api.settings import Settings
from projections.rebuild import Progress as ProgressCallback
from projections.rebuild import RebuildBusy, Rebuilt, rebuild


def rebuild_command(settings: Settings, args: argparse.Namespace) -> int:
    return asyncio.run(run_rebuild(settings, list(args.projections)))


async def run_rebuild(settings: Settings, names: Sequence[str]) -> int:
    """Rebuild the named projections (all when none is named) and switch to them."""
    store = open_store(settings, pool_size=4)
    started = time.monotonic()
    try:
        await store.migrate()
        with _progress_bar() as progress:
            done = await rebuild(store, list(names), progress)
    except KeyError as error:
        print(f"invtrack: {error.args[0]}", file=sys.stderr)
        return 2
    except RebuildBusy as error:
        print(f"invtrack: {error}; try again when it has finished", file=sys.stderr)
        return 1
    except asyncio.CancelledError:
        print("invtrack: rebuild interrupted; run it again to resume", file=sys.stderr)
        raise
    finally:
        await store.close()
    print(_rebuilt(done, time.monotonic() - started))
    return 0


def _rebuilt(done: Sequence[Rebuilt], seconds: float) -> str:
    lines = [
        f"{item.name}: {item.previous or 'nothing'} -> {item.slot} at position {item.position}"
        for item in done
    ]
    events = max((item.events for item in done), default=0)
    rate = f" ({events / seconds:,.0f} events/s)" if seconds > 0 and events else ""
    lines.append(f"rebuilt {len(done)} projection(s): {events:,} events in {seconds:.1f} s{rate}")
    return "\n".join(lines)


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{speed:,.0f} events/s" if speed else "", style="progress.data.speed")


@contextmanager
def _progress_bar() -> Iterator[ProgressCallback | None]:
    """A progress bar on the terminal; nothing when stderr is not a terminal."""
    console = Console(stderr=True)
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("rebuilding"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("events"),
        _RateColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=False) as bar:
        task = bar.add_task("rebuild", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance
