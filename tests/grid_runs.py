"""A small experiment grid on the tiny random model, run through the real `ftscope run` in a subprocess, as the
crash-safety and runner tests use it: one LoRA train cell and 12 eval cells (two models × three datasets × 0/1
shot), small enough for a few dozen seconds, with a checkpoint every step so a kill mid-training resumes.

Every run of it uses one thread per worker (`threads: 1`), one worker or several: the tests compare stores byte
for byte, and a matmul kernel may split its sums differently at another thread count (on a CI machine one eval
cell's scores differed in their last bits between 1 worker × 2 threads and 2 workers × 1 thread)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

from ftscope.experiments.store import Store

EXPERIMENT = """\
name: tiny
store: {store}
models: [{model}]
data_dir: {data}
threads: 1
train:
  methods: [lora]
  datasets: [amazon]
  n: [24]
  params: {{epochs: 2, batch_size: 4, grad_accum: 1, max_length: 192, checkpoint_every: 1}}
eval:
  datasets: [amazon, sst2, xsum]
  shots: [0, 1]
  limit: 6
  max_new_tokens: 6
"""
CELLS = 13


def write_experiment(tmp_path: Path, name: str, model: Path, data: Path, store: Path | None = None) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(EXPERIMENT.format(store=store or tmp_path / name, model=model, data=data))
    return path


def ftscope(*args: str) -> subprocess.Popen:
    """The CLI as a user runs it, in its own process group (a kill or Ctrl-C reaches its workers too)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200"}
    return subprocess.Popen([sys.executable, "-c", "from ftscope.cli import main; main()", *map(str, args)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True)


def ftscope_run(path: Path, *extra: str) -> subprocess.Popen:
    return ftscope("run", path, *extra)


def finish(proc: subprocess.Popen, timeout: float = 600) -> tuple[str, str]:
    out, err = proc.communicate(timeout=timeout)
    assert proc.returncode == 0, err[-3000:]
    return out, err


def results(store_root: Path) -> dict[str, tuple[str, str]]:
    """cell hash → (metrics, predictions) of every eval cell, as the bytes on disk; every cell must be done."""
    out = {}
    for row in Store(store_root).rows():
        assert row["status"] == "done", row
        if row["kind"] == "eval":
            folder = Path(row["dir"])
            out[row["hash"]] = ((folder / "metrics.json").read_text(), (folder / "predictions.jsonl").read_text())
    return out


def rows(store_root: Path) -> list[dict]:
    return Store(store_root).rows() if (store_root / "index.sqlite").exists() else []


def done_count(store_root: Path) -> int:
    return sum(r["status"] == "done" for r in rows(store_root))


def running(store_root: Path) -> list[dict]:
    """Cells held by a live worker (a dead worker's claim reads `stalled`)."""
    return [r for r in rows(store_root) if r["status"] == "running"]


def wait_for(condition: Callable[[], bool], proc: subprocess.Popen, timeout: float = 300) -> bool:
    """Poll until `condition` holds; False if the process ended (or the time ran out) first."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False
