"""The rebuild's memory is counted over its process and every descendant."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.memory import Sampler, tree_rss

HOLD = "import sys, time; x = bytearray(64 * 2**20); print(flush=True); time.sleep(30)"


@pytest.mark.skipif(not Path("/proc/self/statm").exists(), reason="needs /proc")
def test_a_child_holding_memory_counts_in_its_parent_tree() -> None:
    alone = tree_rss(os.getpid())
    sampler = Sampler(os.getpid(), every=0.05)
    with subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE) as child:
        assert child.stdout is not None
        child.stdout.readline()  # the memory is written to
        both = tree_rss(os.getpid())
        assert both - alone > 60 * 2**20
        assert tree_rss(child.pid) > 64 * 2**20
        time.sleep(0.3)  # a few samples
        child.kill()
    assert sampler.stop() > alone + 60 * 2**20
    assert tree_rss(2**22 + 12345) == 0  # no such process
