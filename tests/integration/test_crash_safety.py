"""Crash safety of `ftscope run`, end to end on the small grid of tests/grid_runs.py (tiny random model):

- kill -9 at ten seeded random moments (in training, in and between eval cells, in the report), one after
  another on one store, then a rerun: the results are byte-identical to an uninterrupted run and no cell that
  was done is done again (the store's `attempts`);
- `ftscope status` shows a killed worker's cell as `stalled`;
- Ctrl-C (SIGINT), with one worker and with two: exit 130 and one line, the cells in progress back to pending,
  and a rerun ends byte-identical;
- a torn metrics.json in a finished cell is found when the grid opens and the cell computed again;
- a training run killed while it measures what it saved resumes with its manifest's `reload_check`.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from grid_runs import CELLS, done_count, finish, ftscope, ftscope_run, results, rows, running, wait_for, \
    write_experiment

pytestmark = pytest.mark.integration

INTERRUPTED = "interrupted: finished cells are kept"


def _schedule(seed: int) -> list[tuple[str, int, float]]:
    """Ten kill moments, in the order the grid reaches them: (phase, cells done first, seconds after this run's
    worker holds a cell). Training (about 18 s on 2 cores; a checkpoint every step) takes four; the eval cells,
    which last 0.05–3 s each, six, at random counts of finished cells: in a cell, between two, or in the report."""
    rng = random.Random(seed)
    train = [("train", 0, rng.uniform(0.5, 4.0)) for _ in range(4)]
    evals = sorted(("eval", rng.randint(2, CELLS - 1), rng.uniform(0.0, 0.6)) for _ in range(6))
    return train + evals


def _kill_at(path: Path, store: Path, phase: str, done: int, delay: float) -> set[str]:
    """Start a run, wait for the moment, kill -9 its process group; the cells its worker held (now stalled)."""
    proc = ftscope_run(path)
    kinds = {"train"} if phase == "train" else {"train", "eval"}  # a live worker holds a cell: it is working
    reached = wait_for(lambda: done_count(store) >= done and any(r["kind"] in kinds for r in running(store)), proc)
    assert reached, f"the run ended before the kill at ({phase}, {done}): {proc.stderr.read()[-2000:]}"
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        pass
    assert proc.poll() is None, f"the run finished before the kill at ({phase}, {done}, {delay:.2f} s)"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return {r["hash"] for r in rows(store) if r["status"] == "stalled"}


@pytest.mark.slow  # ten kills and reruns of a grid: ~1 min
def test_kill_9_at_ten_random_moments_then_rerun_equals_uninterrupted(tmp_path, tiny_model_dir, paper_data,
                                                                      reference):
    path = write_experiment(tmp_path, "killed", tiny_model_dir, paper_data)
    store = tmp_path / "killed"
    held: dict[str, int] = {}  # cell → how many kills found it in progress
    done_attempts: dict[str, int] = {}  # a cell once done keeps its attempts: it is never done again
    for i, moment in enumerate(_schedule(seed=15)):
        for hash_ in _kill_at(path, store, *moment):
            held[hash_] = held.get(hash_, 0) + 1
        done_attempts.update({r["hash"]: r["attempts"] for r in rows(store) if r["status"] == "done"})
        if i == 0:
            _status_shows_stalled(path, held)
    finish(ftscope_run(path))
    assert results(store) == reference
    final = {r["hash"]: r["attempts"] for r in rows(store)}
    assert len(final) == CELLS
    assert all(final[h] == a for h, a in done_attempts.items())
    assert final == {h: 1 + held.get(h, 0) for h in final}
    assert set(held) and sum(held.values()) <= 10  # one worker holds at most one cell at a kill


def _status_shows_stalled(path: Path, held: dict[str, int]) -> None:
    """The first kill lands in training: `ftscope status` names that cell stalled, not running for ever."""
    out, _ = finish(ftscope("status", path))
    assert len(held) == 1
    assert any("train lora amazon" in line and "stalled" in line for line in out.splitlines()), out


@pytest.mark.parametrize("workers, phase, target", [
    (1, "train", "group"),  # Ctrl-C in a terminal: the whole foreground process group gets SIGINT
    pytest.param(2, "eval", "group", marks=pytest.mark.slow),  # two workers: ~25 s each
    pytest.param(2, "eval", "parent", marks=pytest.mark.slow),  # `kill -INT <pid>`: only the parent tells its workers
])
def test_ctrl_c_stops_cleanly_and_a_rerun_finishes_identically(tmp_path, tiny_model_dir, paper_data, reference,
                                                               workers, phase, target):
    path = write_experiment(tmp_path, "interrupted", tiny_model_dir, paper_data)
    store = tmp_path / "interrupted"
    proc = ftscope_run(path, "--workers", str(workers))
    if phase == "train":
        assert wait_for(lambda: any(r["kind"] == "train" for r in running(store)), proc)
    else:
        assert wait_for(lambda: done_count(store) >= 3 and running(store), proc)
    in_progress = {r["hash"] for r in running(store)}
    os.killpg(proc.pid, signal.SIGINT) if target == "group" else os.kill(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [line for line in err.splitlines() if line.strip()]
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and lines[-1].startswith(INTERRUPTED), err[-3000:]
    after = {r["hash"]: r for r in rows(store)}
    assert not [r for r in after.values() if r["status"] in ("running", "stalled")], "a claim outlived Ctrl-C"
    assert all(after[h]["status"] in ("pending", "done") for h in in_progress)
    given_back = {h for h, r in after.items() if r["status"] == "pending" and r["attempts"] == 1}
    assert given_back, "no cell was in progress at the interrupt"
    finish(ftscope_run(path, "--workers", str(workers)))
    assert results(store) == reference
    attempts = {r["hash"]: r["attempts"] for r in rows(store)}
    assert attempts == {h: 2 if h in given_back else 1 for h in attempts}  # nothing done twice


def test_a_torn_metrics_file_is_recomputed_when_the_grid_opens(tmp_path, tiny_model_dir, paper_data,
                                                               reference_store, reference):
    store = tmp_path / "copy"
    shutil.copytree(reference_store, store)
    eval_rows = [r for r in rows(store) if r["kind"] == "eval"]
    torn = Path(eval_rows[3]["dir"]) / "metrics.json"
    torn.write_text(torn.read_text()[: len(torn.read_text()) // 2])  # a write cut off half way
    path = write_experiment(tmp_path, "copy", tiny_model_dir, paper_data, store=store)
    _, err = finish(ftscope_run(path))
    assert f"recomputing cell {eval_rows[3]['hash']}" in err
    assert results(store) == reference
    attempts = {r["hash"]: r["attempts"] for r in rows(store)}
    assert attempts == {h: 2 if h == eval_rows[3]["hash"] else 1 for h in attempts}


MEASURE_KILLED = """
import os, signal, sys, json
from ftscope.training import TrainSpec, train
import ftscope.training.run as run
run._measure = lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL)  # dies as it reloads what it saved
train(TrainSpec.from_dict(json.loads(sys.argv[1])), sys.argv[2])
"""


def test_a_kill_while_measuring_keeps_reload_check_on_resume(tmp_path, tiny_model_dir):
    from ftscope.training import TrainSpec, train

    spec = TrainSpec(model=str(tiny_model_dir), method="lora", n=8, epochs=1, batch_size=4, lr=1e-2)
    out = tmp_path / "run"
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    killed = subprocess.run([sys.executable, "-c", MEASURE_KILLED, json.dumps(spec.to_dict()), str(out)], env=env,
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -signal.SIGKILL, killed.stderr[-2000:]
    assert not (out / "manifest.json").exists()
    train(spec, out)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["reload_check"] is not None and manifest["reload_check"]["same_argmax"]
