"""Run a grid: local worker processes or Ray tasks over one store, with one live view of progress.

The store is the single source of truth: whatever runs the cells (this process, N local processes,
Ray tasks on a cluster), each cell is claimed once, and a rerun of the same command skips every cell
that is done. Killing a run at any moment and rerunning it finishes the grid with the same results.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Iterator

from rich.console import Console, Group
from rich.live import Live
from rich.table import Table

from ftscope.errors import DataError
from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.grid import Grid, expand
from ftscope.experiments.preflight import check_inputs
from ftscope.experiments.store import Store
from ftscope.experiments.worker import run_worker
from ftscope.specs import Cell, canonical, cell_from_dict, cell_hash

# Seconds per cell on this project's 2-core reference CPU with SmolLM2 (fp32), used by --dry-run
# until the store has timed cells of its own: a LoRA run on 200 examples, a 100-item eval cell.
REFERENCE_SECONDS = {"train": 240.0, "eval": 20.0, "rag": 60.0}
STATUSES = ("done", "running", "stalled", "failed", "pending")


@dataclass(frozen=True)
class Plan:
    counts: dict[str, dict[str, int]]  # kind → status → cells
    estimate_seconds: float
    measured: dict[str, bool]  # kind → whether the estimate comes from this store's own timings


def open_grid(config: ExperimentConfig, console: Console | None = None) -> tuple[Store, Grid]:
    """Expand, check what the cells will read (preflight), register; done cells whose files are torn go back
    to pending (and are named)."""
    grid = expand(config)
    check_inputs(config, (c.spec for c in grid.rag))
    store = Store(config.store)
    store.register(config.name, grid.cells, canonical(config.model_dump(mode="json")))
    for hash_, problem in store.reset_broken(cell_hash(c) for c in grid.cells):
        if console:
            console.print(f"recomputing cell {hash_}: {problem}")
    return store, grid


def plan(store: Store, grid: Grid, workers: int = 1) -> Plan:
    status = store.status_of(cell_hash(c) for c in grid.cells)
    counts: dict[str, dict[str, int]] = {}
    for cell in grid.cells:
        by_status = counts.setdefault(cell.kind, dict.fromkeys(STATUSES, 0))
        by_status[status.get(cell_hash(cell), "pending")] += 1
    seconds = _seconds_per_kind(store)
    left = sum((c["pending"] + c["running"] + c["stalled"] + c["failed"]) * seconds.get(k, REFERENCE_SECONDS[k])
               for k, c in counts.items())
    return Plan(counts, left / max(1, workers), {k: k in seconds for k in counts})


def _seconds_per_kind(store: Store) -> dict[str, float]:
    times: dict[str, list[float]] = {}
    for row in store.rows():
        if row["status"] == "done" and row["seconds"]:
            times.setdefault(row["kind"], []).append(row["seconds"])
    return {k: sum(v) / len(v) for k, v in times.items()}


def run_grid(config: ExperimentConfig, workers: int = 1, backend: str = "local", address: str | None = None,
             console: Console | None = None, strict: bool = False) -> Plan:
    """Run every cell not done yet; Ctrl-C gives the cells in progress back (pending) and re-raises.

    `strict` (a one-model `ftscope eval`/`rag`, one local worker): a dataset named directly that cannot be
    loaded, or the first failed cell, ends the run with its error instead of being skipped or recorded."""
    console = console or Console(stderr=True)
    store, grid = open_grid(config, console)
    for name, reason in grid.unavailable.items():
        if strict and name in config.eval.datasets:
            raise DataError(reason)
        console.print(f"skipped dataset {name}: {reason}")
    retried = store.retry_failed(config.name)
    if retried:
        console.print(f"retrying {retried} cell(s) that failed before")
    with _Live(store, grid, workers, console):
        if strict:
            run_worker(store, grid.config, grid.cells, strict=True)
        else:
            {"local": _run_local, "ray": _run_ray}[backend](store, grid, workers, address)
    return plan(store, grid, workers)


def threads_per_worker(workers: int) -> int:
    """Cores shared out so that workers × threads ≤ cores: OpenMP threads spinning on an oversubscribed
    core slow a run down far beyond the share they lose."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // max(1, workers))


def _run_local(store: Store, grid: Grid, workers: int, address: str | None) -> None:
    if workers <= 1:  # in this thread: the model stays loaded between cells, and Ctrl-C lands here
        run_worker(store, grid.config, grid.cells)
        return
    ctx = multiprocessing.get_context("spawn")  # torch and fork do not mix
    cells = [c.to_dict() for c in grid.cells]  # sent, not re-expanded in every worker
    stop = ctx.Event()
    args = (grid.config.model_dump(mode="json"), cells, threads_per_worker(workers), stop)
    procs = [ctx.Process(target=_process_worker, args=args, daemon=True) for _ in range(workers)]
    with _sigint_ignored():  # inherited: a child still starting up must not print a KeyboardInterrupt trace
        for p in procs:
            p.start()
    try:
        for p in procs:
            p.join()
    except KeyboardInterrupt:
        _stop_workers(procs, stop)
        raise


def _stop_workers(procs: list, stop: Any) -> None:
    """Ctrl-C reaches the whole process group, `kill -INT` only this process: either way each child is told
    (SIGINT gives back the cell it runs; `stop` keeps one still starting up from claiming any), and waited for."""
    stop.set()
    for p in procs:
        if p.is_alive():
            os.kill(p.pid, signal.SIGINT)
    for p in procs:
        p.join(timeout=60)


@contextmanager
def _sigint_ignored() -> Iterator[None]:
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _interrupt_once(signum: int, frame: Any) -> None:
    """The first SIGINT raises; later ones (Ctrl-C reaches a child, then the parent forwards it) are ignored, so
    they cannot cut short the release of the cell the first one interrupted."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt


def _process_worker(config: dict[str, Any], cells: list[dict], threads: int, stop: Any) -> None:
    signal.signal(signal.SIGINT, _interrupt_once)  # ignored until here (see _run_local)
    try:
        import torch

        torch.set_num_threads(threads)
        cfg = ExperimentConfig.model_validate(config)
        run_worker(Store(cfg.store), cfg, [cell_from_dict(c) for c in cells], stop=stop)
    except KeyboardInterrupt:
        pass  # the worker gave its cell back; the parent prints the one line


def _run_ray(store: Store, grid: Grid, workers: int, address: str | None) -> None:
    from ftscope.experiments.ray_backend import run_on_ray

    run_on_ray(store, grid, workers, address)


class _Live:
    """The live progress table, refreshed from the store in a background thread while cells run here."""

    def __init__(self, store: Store, grid: Grid, workers: int, console: Console):
        self.store, self.grid, self.workers, self.console = store, grid, workers, console
        self._stop, self._started = threading.Event(), time.time()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def __enter__(self) -> "_Live":
        self._live = Live(self._table(), console=self.console, refresh_per_second=2, transient=False)
        self._live.__enter__()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join()
        if exc[0] is None:
            self._live.update(self._table())
        else:  # an error or Ctrl-C: its one line is the answer; a last table would bury it
            self._live.transient = True
        self._live.__exit__(*exc)

    def _table(self) -> Group:
        running = [r for r in self.store.rows(self.grid.config.name) if r["status"] == "running"]
        now = progress_table(plan(self.store, self.grid, self.workers), time.time() - self._started)
        if not running:
            return Group(now)
        where = Table("running", "on", box=None)
        for row in running[:12]:
            where.add_row(row["cell"].label(), row.get("ran_on") or "")
        return Group(now, where)

    def _loop(self) -> None:
        while not self._stop.wait(1.0):
            self._live.update(self._table())


def progress_table(p: Plan, elapsed: float) -> Table:
    table = Table("cells", *STATUSES, title=f"{elapsed:.0f} s elapsed, about {p.estimate_seconds / 60:.1f} min left")
    for kind, c in p.counts.items():
        table.add_row(kind, *(f"[red]{c[s]}[/red]" if s in ("failed", "stalled") and c[s] else str(c[s])
                              for s in STATUSES))
    return table


def phase_seconds(store: Store, grid: Grid) -> dict[str, dict[str, float]]:
    """Per cell kind: cells done, their seconds, and how many of those went to loading models."""
    wanted = {cell_hash(c) for c in grid.cells}
    out: dict[str, dict[str, float]] = {}
    for row in store.rows():
        if row["hash"] in wanted and row["status"] == "done":
            kind = out.setdefault(row["kind"], {"cells": 0, "seconds": 0.0, "load_seconds": 0.0})
            kind["cells"] += 1
            kind["seconds"] += row["seconds"] or 0.0
            kind["load_seconds"] += row["load_seconds"] or 0.0
    return out


def cell_kind_seconds(store: Store, grid: Grid) -> list[dict[str, Any]]:
    """Done cells' time by what kind of work they are: training per method, evaluation per task kind, role
    (`base` for the base model) and shot count, RAG per format; load time included. Where a study's time goes."""
    kinds: dict[str, tuple] = {}
    for cell in grid.cells:
        if cell.kind == "train":
            kinds[cell_hash(cell)] = ("train", cell.spec.method, "", "")
        elif cell.kind == "eval":
            kinds[cell_hash(cell)] = ("eval", cell.task_kind, cell.role or "base", f"{cell.spec.shots}-shot")
        else:
            kinds[cell_hash(cell)] = ("rag", cell.spec.format, "", "")
    sums: dict[tuple, list[float]] = {}
    for row in store.rows():
        if row["hash"] in kinds and row["status"] == "done":
            sums.setdefault(kinds[row["hash"]], []).append(row["seconds"] or 0.0)
    return [{"phase": k[0], "kind": " ".join(x for x in k[1:] if x), "cells": len(v), "seconds": sum(v),
             "mean_seconds": sum(v) / len(v)} for k, v in sorted(sums.items())]

