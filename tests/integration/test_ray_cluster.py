"""The Ray backend on a simulated two-node cluster whose nodes never touch the driver's store: the grid
finishes with results identical to the local backend, cells spread over both nodes, and a worker killed
mid-cell is rescheduled without any cell done twice."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections import Counter

import pytest

from ftscope.experiments.config import load_experiment
from ftscope.experiments.store import Store
from grid_runs import results, write_experiment

pytestmark = [pytest.mark.integration, pytest.mark.slow]  # two simulated nodes: ~1 min
ray = pytest.importorskip("ray")


@pytest.fixture
def cluster(tmp_path):
    from ray.cluster_utils import Cluster

    # The head is the driver's node and runs no cells (0 CPUs): only the store's recorder lives there.
    c = Cluster(initialize_head=True, head_node_args={"num_cpus": 0})
    for name in ("a", "b"):
        c.add_node(num_cpus=1, env_vars={"FTSCOPE_SCRATCH": str(tmp_path / f"scratch-{name}")})
    c.wait_for_nodes()
    ray.init(address=c.address, log_to_driver=False)
    yield c
    ray.shutdown()
    c.shutdown()


def _run(tmp_path, name, tiny_model_dir, paper_data):
    from ftscope.experiments.runner import run_grid

    config = load_experiment(write_experiment(tmp_path, name, tiny_model_dir, paper_data))
    return run_grid(config, workers=2, backend="ray")


def test_two_nodes_without_the_store_match_the_local_run(cluster, tmp_path, tiny_model_dir, paper_data, reference):
    final = _run(tmp_path, "ray", tiny_model_dir, paper_data)
    rows = Store(tmp_path / "ray").rows()
    assert final.counts["eval"]["done"] == len(reference) and all(r["status"] == "done" for r in rows)
    assert results(tmp_path / "ray") == reference
    nodes = Counter(r["ran_on"] for r in rows)
    assert len(nodes) == 2 and all(n.startswith("ray:") for n in nodes), nodes  # both nodes ran cells
    for name in ("a", "b"):  # each node worked in its own scratch folder, and left no cell behind
        assert (tmp_path / f"scratch-{name}").is_dir()
        assert not list((tmp_path / f"scratch-{name}").rglob("metrics.json"))
    assert all(r["attempts"] == 1 for r in rows)


def _kill_a_cell_worker(store_root, stop: threading.Event) -> list[int]:
    """Wait for an eval cell to run, then SIGKILL the Ray worker process running cells."""
    import psutil

    killed = []
    while not stop.is_set() and not killed:
        running = [r for r in Store(store_root).rows() if r["status"] == "running" and r["kind"] == "eval"] \
            if (store_root / "index.sqlite").exists() else []
        if running:
            for proc in psutil.process_iter(["pid", "cmdline"]):
                if "ray::_run_cells" in " ".join(proc.info["cmdline"] or []):
                    os.kill(proc.info["pid"], signal.SIGKILL)
                    killed.append(proc.info["pid"])
                    break
        time.sleep(0.2)
    return killed


def test_a_worker_killed_mid_cell_is_rescheduled_and_results_stay_identical(cluster, tmp_path, tiny_model_dir,
                                                                          paper_data, reference):
    stop, killed = threading.Event(), []
    killer = threading.Thread(target=lambda: killed.extend(_kill_a_cell_worker(tmp_path / "killed", stop)))
    killer.start()
    try:
        _run(tmp_path, "killed", tiny_model_dir, paper_data)
    finally:
        stop.set()
        killer.join()
    assert killed, "no cell worker was running to kill"
    rows = Store(tmp_path / "killed").rows()
    assert all(r["status"] == "done" and r["attempts"] == 1 for r in rows)  # recorded once each
    assert results(tmp_path / "killed") == reference
