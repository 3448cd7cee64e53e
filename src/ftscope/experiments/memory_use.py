"""How much memory a run took: the resident memory of this process and its worker processes, summed.

With `--workers N` the processes' peaks need not coincide, so neither the largest single process (what
`getrusage` keeps) nor the sum of their peaks is the machine's peak; the sum is sampled while the run goes.
Linux reads `/proc` (written by hand: psutil is not a dependency for one number); elsewhere only the largest
single process is known, and the line says so.
"""

from __future__ import annotations

import os
import resource
import threading
from pathlib import Path

PROC = Path("/proc")


def largest_process_gb() -> float:
    """The largest resident set of this process or any child process it waited for, in GB."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return max(own.ru_maxrss, children.ru_maxrss) / 1024 ** 2  # ru_maxrss is in KiB on Linux


def tree_rss_bytes(root: int) -> int | None:
    """Resident bytes of `root` and every process below it, now; None without /proc."""
    if not (PROC / str(root) / "statm").is_file():
        return None
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            try:  # the command name (in parentheses) may hold spaces: the parent pid follows the last ')'
                parent = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # a process that ended while we looked
            children.setdefault(parent, []).append(int(entry.name))
    page, total, todo = os.sysconf("SC_PAGE_SIZE"), 0, [root]
    while todo:
        pid = todo.pop()
        try:
            total += int((PROC / str(pid) / "statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            pass
        todo.extend(children.get(pid, ()))
    return total


class PeakMemory:
    """`with PeakMemory() as m: ...` samples the process tree's resident memory every `every` seconds;
    `m.tree_gb` is the largest sum seen (None without /proc), `m.largest_process_gb` the largest one process."""

    def __init__(self, every: float = 0.5):
        self.every, self.tree_gb = every, None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "PeakMemory":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

    @property
    def largest_process_gb(self) -> float:
        return largest_process_gb()

    def _sample(self) -> None:
        now = tree_rss_bytes(os.getpid())
        if now is not None:
            self.tree_gb = max(self.tree_gb or 0.0, now / 1024 ** 3)

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            self._sample()
