"""How torch's OpenMP threads wait between parallel regions, chosen before torch loads.

libgomp's threads spin after each region before they sleep. On cores of their own that spin is what makes
decoding-sized matmuls fast; beside another busy process it steals the cores the other threads need.
Measured on this project's 2-core machine (SmolLM2-135M: an eval of 120 items and a 48-example LoRA run):

    machine          passive wait (OMP_WAIT_POLICY=PASSIVE)   bounded spin (GOMP_SPINCOUNT=10000)
    to itself        95 s                                     75 s  (1.26x faster)
    two such jobs    113 s each                               146 s each (1.29x slower)

and libgomp's default (a 300,000-iteration spin) ran small matmuls 7x slower beside other processes. So
the wait is chosen by how busy the cores are when a command that runs a model starts: a bounded spin when
the other processes use less than half a core, passive waiting otherwise. A user's own OMP_WAIT_POLICY or
GOMP_SPINCOUNT always wins. A job started beside ftscope later costs it at most the 1.3x above.
"""

from __future__ import annotations

import os
import time
from typing import Callable

SPIN = "10000"  # iterations of libgomp's spin before a thread sleeps (~microseconds): see the table above
IDLE_CORES = 0.5  # others' load below which the cores count as free


def busy_cores(interval: float = 0.1) -> float | None:
    """How many cores other processes keep busy now (None where the system does not tell)."""
    def sample() -> tuple[int, int] | None:
        try:
            with open("/proc/stat", encoding="ascii") as f:
                fields = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
        return sum(fields) - idle, sum(fields)

    first = sample()
    if first is None:  # macOS and others: the 1-minute load average
        try:
            return os.getloadavg()[0]
        except (OSError, AttributeError):
            return None
    time.sleep(interval)
    second = sample()
    if second is None or second[1] == first[1]:
        return None
    cores = os.cpu_count() or 1
    return (second[0] - first[0]) / (second[1] - first[1]) * cores


def choose_wait_policy(environ: dict[str, str] | None = None,
                       measure: Callable[[], float | None] = busy_cores) -> str:
    """Set the wait policy in `environ` (os.environ) unless the user did; returns what was chosen."""
    env = os.environ if environ is None else environ
    if "OMP_WAIT_POLICY" in env or "GOMP_SPINCOUNT" in env:
        return "user"
    busy = measure()
    if busy is not None and busy < IDLE_CORES:
        env["GOMP_SPINCOUNT"] = SPIN
        return "spin"
    env["OMP_WAIT_POLICY"] = "PASSIVE"
    return "passive"
