"""The experiment runner: kill -9 at several points then rerun = an uninterrupted run; two workers
share a store without duplicated work; the Ray backend on a local cluster."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ftscope.experiments.config import load_experiment
from ftscope.experiments.store import Store

pytestmark = pytest.mark.integration

EXPERIMENT = """\
name: tiny
store: {store}
models: [{model}]
data_dir: {data}
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


def write_experiment(tmp_path: Path, name: str, model: Path, data: Path) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(EXPERIMENT.format(store=tmp_path / name, model=model, data=data))
    return path


def ftscope_run(path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "from ftscope.cli import main; main()", "run", str(path), *extra],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def results(store_root: Path) -> dict[str, tuple[str, str]]:
    """cell hash → (metrics, predictions) of every eval cell, as the bytes on disk."""
    out = {}
    for row in Store(store_root).rows():
        assert row["status"] == "done", row
        if row["kind"] == "eval":
            folder = Path(row["dir"])
            out[row["hash"]] = ((folder / "metrics.json").read_text(), (folder / "predictions.jsonl").read_text())
    return out


def done_count(store_root: Path) -> int:
    if not (store_root / "index.sqlite").exists():
        return 0
    return sum(r["status"] == "done" for r in Store(store_root).rows())


@pytest.fixture(scope="module")
def reference(tmp_path_factory, tiny_model_dir, paper_data):
    tmp = tmp_path_factory.mktemp("reference")
    proc = ftscope_run(write_experiment(tmp, "ref", tiny_model_dir, paper_data))
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    return results(tmp / "ref")


@pytest.mark.parametrize("kill_after_done", [0, 3, 8])
def test_sigkill_then_rerun_equals_uninterrupted(tmp_path, tiny_model_dir, paper_data, reference, kill_after_done):
    path = write_experiment(tmp_path, "killed", tiny_model_dir, paper_data)
    store = tmp_path / "killed"
    proc = ftscope_run(path)
    deadline = time.time() + 300
    while done_count(store) < kill_after_done and proc.poll() is None and time.time() < deadline:
        time.sleep(0.2)
    if kill_after_done == 0:
        time.sleep(4.0)  # inside training, past a few checkpoints
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    rerun = ftscope_run(path)
    assert rerun.wait(timeout=600) == 0, rerun.stderr.read()
    assert results(store) == reference


def test_two_workers_share_one_store_without_duplicated_work(tmp_path, tiny_model_dir, paper_data, reference):
    path = write_experiment(tmp_path, "pair", tiny_model_dir, paper_data)
    proc = ftscope_run(path, "--workers", "2")
    assert proc.wait(timeout=600) == 0, proc.stderr.read()
    rows = Store(tmp_path / "pair").rows()
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows)
    assert len({r["worker"] for r in rows}) == 2  # both workers took cells
    assert results(tmp_path / "pair") == reference


def test_ray_backend_on_a_local_cluster(tmp_path, tiny_model_dir, paper_data, reference):
    ray = pytest.importorskip("ray")
    from ftscope.experiments.runner import run_grid

    config = load_experiment(write_experiment(tmp_path, "ray", tiny_model_dir, paper_data))
    try:
        final = run_grid(config, workers=2, backend="ray")
    finally:
        ray.shutdown()
    assert final.counts["eval"]["done"] == len(reference)
    assert results(tmp_path / "ray") == reference


def test_rerun_computes_nothing_and_one_changed_parameter_recomputes_only_its_cells(tmp_path, tiny_model_dir,
                                                                                  paper_data, reference):
    path = write_experiment(tmp_path, "cache", tiny_model_dir, paper_data)
    assert ftscope_run(path).wait(timeout=600) == 0
    before = {r["hash"]: r["attempts"] for r in Store(tmp_path / "cache").rows()}
    assert ftscope_run(path).wait(timeout=600) == 0
    assert {r["hash"]: r["attempts"] for r in Store(tmp_path / "cache").rows()} == before
    path.write_text(path.read_text().replace("shots: [0, 1]", "shots: [0, 2]"))
    assert ftscope_run(path).wait(timeout=600) == 0
    after = {r["hash"]: r["attempts"] for r in Store(tmp_path / "cache").rows()}
    new = set(after) - set(before)
    assert len(new) == 6 and all(after[h] == 1 for h in new)  # 3 datasets × 2 models at 2-shot
    assert all(after[h] == before[h] for h in before)  # nothing recomputed, the train cell included
