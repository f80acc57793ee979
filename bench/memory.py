"""The memory a process and all its descendants hold, sampled while it runs:
a rebuild may fold in several processes at once, and their memory adds up."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Final

PAGE: Final = os.sysconf("SC_PAGE_SIZE")
PROC: Final = Path("/proc")


def _children() -> dict[int, list[int]]:
    """Parent pid -> its children's pids, for every process now."""
    children: dict[int, list[int]] = {}
    for stat in PROC.glob("[0-9]*/stat"):
        try:
            # The command name (in parentheses) may hold spaces; the parent follows the state.
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    return children


def _resident(pid: int) -> int:
    try:
        return int((PROC / str(pid) / "statm").read_text().split()[1]) * PAGE
    except (OSError, IndexError, ValueError):
        return 0


def tree_rss(root: int) -> int:
    """Bytes resident in `root` and its descendants now (0 without /proc)."""
    children = _children()
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        total += _resident(pid)
    return total


class Sampler:
    """The highest `tree_rss` of a process seen every `every` seconds, from a
    thread of its own, until `stop`."""

    def __init__(self, root: int, every: float = 0.1) -> None:
        self.root = root
        self.every = every
        self.peak = 0
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopped.wait(self.every):
            self.peak = max(self.peak, tree_rss(self.root))

    def stop(self) -> int:
        self._stopped.set()
        self._thread.join()
        return self.peak
