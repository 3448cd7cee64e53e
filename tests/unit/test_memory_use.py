"""The run's peak memory is the sum over its processes: a worker's memory must count."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from ftscope.experiments.memory_use import PeakMemory, tree_rss_bytes

pytestmark = pytest.mark.skipif(not os.path.isfile("/proc/self/statm"), reason="sums processes through /proc")
MB = 2 ** 20


def test_a_child_process_memory_counts_in_the_tree_and_in_the_peak():
    own = tree_rss_bytes(os.getpid())
    # The child writes 200 MB (resident, unlike a zero-filled allocation the kernel maps lazily), then waits.
    child = subprocess.Popen([sys.executable, "-c", "import sys; x = b'\\x01' * (200 << 20); print('ready', "
                              "flush=True); sys.stdin.read()"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        with PeakMemory(every=0.05) as peak:
            assert child.stdout.readline().strip() == "ready"
            with_child = tree_rss_bytes(os.getpid())
    finally:
        child.communicate("")
    # 200 MB written by the child, less nothing: a lower bound that holds whatever this process does meanwhile
    # (its own memory does not shrink below what it was by more than a few MB in these lines).
    assert with_child - own >= 190 * MB
    assert peak.tree_gb * 1024 ** 3 >= with_child - 10 * MB  # the last sample on exit sees at least as much
    assert peak.largest_process_gb > 0


def test_no_proc_entry_is_none():
    assert tree_rss_bytes(2 ** 31 - 1) is None
