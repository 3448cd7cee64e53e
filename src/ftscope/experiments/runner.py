"""Run a grid: local worker processes or Ray tasks over one store, with one live view of progress.

The store is the single source of truth: whatever runs the cells (this process, N local processes,
Ray tasks on a cluster), each cell is claimed once, and a rerun of the same command skips every cell
that is done. Killing a run at any moment and rerunning it finishes the grid with the same results.
"""

from __future__ import annotations

import multiprocessing
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.grid import Grid, expand
from ftscope.experiments.store import Store
from ftscope.experiments.worker import run_worker

# Seconds per cell on this project's 2-core reference CPU with SmolLM2 (fp32), used by --dry-run
# until the store has timed cells of its own: a LoRA run on 200 examples, a 100-item eval cell.
REFERENCE_SECONDS = {"train": 240.0, "eval": 20.0, "rag": 60.0}


@dataclass(frozen=True)
class Plan:
    counts: dict[str, dict[str, int]]  # kind → status → cells
    estimate_seconds: float
    measured: dict[str, bool]  # kind → whether the estimate comes from this store's own timings


def open_grid(config: ExperimentConfig) -> tuple[Store, Grid]:
    store, grid = Store(config.store), expand(config)
    store.register(config.name, grid.cells)
    return store, grid


def plan(store: Store, grid: Grid, workers: int = 1) -> Plan:
    status = store.status_of(c.hash for c in grid.cells)
    counts: dict[str, dict[str, int]] = {}
    for cell in grid.cells:
        by_status = counts.setdefault(cell.kind, {"done": 0, "running": 0, "failed": 0, "pending": 0})
        by_status[status.get(cell.hash, "pending")] += 1
    seconds = _seconds_per_kind(store)
    left = sum((c["pending"] + c["running"] + c["failed"]) * seconds.get(k, REFERENCE_SECONDS[k])
               for k, c in counts.items())
    return Plan(counts, left / max(1, workers), {k: k in seconds for k in counts})


def _seconds_per_kind(store: Store) -> dict[str, float]:
    times: dict[str, list[float]] = {}
    for row in store.rows():
        if row["status"] == "done" and row["seconds"]:
            times.setdefault(row["kind"], []).append(row["seconds"])
    return {k: sum(v) / len(v) for k, v in times.items()}


def run_grid(config: ExperimentConfig, workers: int = 1, backend: str = "local", address: str | None = None,
             console: Console | None = None) -> Plan:
    console = console or Console(stderr=True)
    store, grid = open_grid(config)
    retried = store.retry_failed(config.name)
    if retried:
        console.print(f"retrying {retried} cell(s) that failed before")
    start = {"local": _start_local, "ray": _start_ray}[backend]
    finished = start(store, grid, workers, address)
    _live_until(finished, store, grid, workers, console)
    return plan(store, grid, workers)


def _start_local(store: Store, grid: Grid, workers: int, address: str | None) -> Callable[[], bool]:
    if workers <= 1:  # in this process: the model stays loaded between cells
        thread = threading.Thread(target=run_worker, args=(store, grid.config, grid.cells), daemon=True)
        thread.start()
        return lambda: not thread.is_alive()
    ctx = multiprocessing.get_context("spawn")  # torch and fork do not mix
    procs = [ctx.Process(target=_process_worker, args=(grid.config.model_dump(),), daemon=True) for _ in range(workers)]
    for p in procs:
        p.start()
    return lambda: all(not p.is_alive() for p in procs)


def _process_worker(config: dict[str, Any]) -> None:
    cfg = ExperimentConfig.model_validate(config)
    store, grid = Store(cfg.store), expand(cfg)
    run_worker(store, cfg, grid.cells)


def _start_ray(store: Store, grid: Grid, workers: int, address: str | None) -> Callable[[], bool]:
    from ftscope.experiments.ray_backend import submit

    refs = submit(grid, workers, address)
    import ray

    return lambda: not ray.wait(refs, num_returns=len(refs), timeout=0)[1]


def _live_until(finished: Callable[[], bool], store: Store, grid: Grid, workers: int, console: Console) -> None:
    started = time.time()
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while True:
            done = finished()
            live.update(progress_table(plan(store, grid, workers), time.time() - started))
            if done:
                break
            time.sleep(1.0)
    console.print()


def progress_table(p: Plan, elapsed: float) -> Table:
    table = Table("cells", "done", "running", "failed", "pending",
                  title=f"{elapsed:.0f} s elapsed, about {p.estimate_seconds / 60:.1f} min left")
    for kind, c in p.counts.items():
        table.add_row(kind, str(c["done"]), str(c["running"]), f"[red]{c['failed']}[/red]" if c["failed"] else "0",
                      str(c["pending"]))
    return table
