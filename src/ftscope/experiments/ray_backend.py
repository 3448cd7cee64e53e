"""The grid as Ray tasks, on a running cluster (`--address`) or a local one started here.

Each training cell is one task (it may request GPUs); each model's evaluation cells form one task
that waits on its training task, so the model is loaded once per node that evaluates it. Tasks
claim and record their cells in the store, which must therefore sit on storage every node reaches;
cells already done are skipped, exactly as with local workers.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from ftscope.experiments.grid import Grid


def _run_cells(config: dict[str, Any], hashes: list[str], *_needs: Any) -> int:
    # Runs on a Ray worker: rebuild the grid from the config (deterministic) and work on our cells.
    from ftscope.experiments.config import ExperimentConfig
    from ftscope.experiments.grid import expand
    from ftscope.experiments.store import Store
    from ftscope.experiments.worker import run_worker

    cfg = ExperimentConfig.model_validate(config)
    wanted = set(hashes)
    return run_worker(Store(cfg.store), cfg, [c for c in expand(cfg).cells if c.hash in wanted])


def submit(grid: Grid, workers: int, address: str | None) -> list[Any]:
    import ray

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else max(1, workers), include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    config = grid.config.model_dump()
    task = ray.remote(_run_cells)
    trained = {c.hash: task.options(num_gpus=grid.config.train_gpus).remote(config, [c.hash]) for c in grid.train}
    by_model: dict[str | None, list[str]] = defaultdict(list)
    for cell in grid.eval + grid.rag:
        by_model[cell.needs].append(cell.hash)
    evals = [task.remote(config, hashes, *([trained[needs]] if needs else [])) for needs, hashes in by_model.items()]
    return list(trained.values()) + evals
