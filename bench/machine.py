"""The machine a run measured: CPU, cores, memory, PostgreSQL, load generator."""

from __future__ import annotations

import os
import platform
import subprocess
from pathlib import Path

import msgspec


class Machine(msgspec.Struct, frozen=True, kw_only=True):
    cpu: str
    cores: int
    memory_gib: float
    postgres: str
    postgres_settings: dict[str, str]
    python: str
    kernel: str
    load_generator: str
    commit: str | None


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def memory_gib() -> float:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return 0.0


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: how busy the machine was."""
    try:
        return [float(part) for part in Path("/proc/loadavg").read_text().split()[:3]]
    except (OSError, ValueError):
        return []


def commit() -> str | None:
    """The checked-out commit, with `+changes` when the tree differs from it."""
    root = Path(__file__).resolve().parents[1]
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("+changes" if dirty else "")


def describe(postgres: dict[str, str], load_generator: str) -> Machine:
    settings = {name: value for name, value in postgres.items() if name != "version"}
    return Machine(
        cpu=cpu_model(),
        cores=os.cpu_count() or 0,
        memory_gib=memory_gib(),
        postgres=postgres.get("version", "unknown"),
        postgres_settings=settings,
        python=platform.python_version(),
        kernel=platform.release(),
        load_generator=load_generator,
        commit=commit(),
    )
