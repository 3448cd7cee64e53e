"""One worker's loop: claim the next runnable cell, run it, record done or failed, repeat.

Any number of workers (processes here or on other machines, Ray tasks) can share one store: a claim
is one SQLite transaction, so each cell runs once. A cell is runnable when the cell it needs (an
eval's trained model) is done; cells of the model this worker already holds go first, so a model
is loaded once per run of its cells; `train_at_once` caps the training cells running at once (memory), and a
worker that may not train evaluates instead. A failed cell records its error and the grid goes on; cells
that need a failed model fail with a line saying so. An interrupted worker (Ctrl-C, a stop event)
gives its cell back, pending, for the next run. A strict worker (a one-model `ftscope eval`/`rag`, where
the failure is the whole answer) records the failure the same way and then raises it.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Callable, Iterable

from ftscope.errors import FtscopeError
from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.execute import CellRunner
from ftscope.experiments.store import Store, worker_id
from ftscope.specs import Cell, TrainCell, cell_hash

HEARTBEAT_SECONDS = 20.0
IDLE_POLL_SECONDS = 1.0
OnDone = Callable[[Cell, str, str], None]  # (cell, hash, status) after each cell this worker ran


def _model_key(cell: Cell, hash_: str) -> str:
    return hash_ if isinstance(cell, TrainCell) else cell.model.load_key


def _next_cell(store: Store, cells: list[tuple[str, Cell]], current: str | None, worker: str,
               train_at_once: int | None = None) -> tuple[tuple[str, Cell] | None, bool]:
    """(a cell this worker just claimed, whether work remains that others may unblock). With `train_at_once`,
    a training cell is taken only while fewer run; the worker evaluates meanwhile."""
    status = store.status_of([h for h, _ in cells] + [c.needs for _, c in cells if c.needs])
    waiting = False
    ordered = sorted(cells, key=lambda hc: (hc[1].kind != "train", _model_key(hc[1], hc[0]) != current))
    for hash_, cell in ordered:
        if status.get(hash_) in ("done", "failed"):
            continue
        if cell.needs and status.get(cell.needs) != "done":
            if status.get(cell.needs) == "failed":
                _fail_blocked(store, hash_, cell, worker)
            else:
                waiting = True
            continue
        if store.claim(hash_, worker, limit=train_at_once if cell.kind == "train" else None):
            return (hash_, cell), True
        waiting = True  # running elsewhere (or just taken); it may still fail and come back
    return None, waiting


def _fail_blocked(store: Store, hash_: str, cell: Cell, worker: str) -> None:
    if store.claim(hash_, worker):
        store.fail(hash_, worker, f"its model (train cell {cell.needs}) failed to train")


def run_worker(store: Store, config: ExperimentConfig, cells: Iterable[Cell], stop: threading.Event | None = None,
               worker: str | None = None, on_done: OnDone | None = None, strict: bool = False) -> int:
    """Work until no cell is left (or `stop` is set); returns how many cells this worker ran. `strict`: the
    first failed cell's exception is raised (after it is recorded, so a rerun retries the cell)."""
    worker = worker or worker_id()
    runner = CellRunner(config, lambda h: store.files(h).model_dir)
    todo, done, current = [(cell_hash(c), c) for c in cells], 0, None
    try:
        while not (stop and stop.is_set()):
            found, waiting = _next_cell(store, todo, current, worker, config.train_at_once)
            if found is None:
                if not waiting:
                    return done
                time.sleep(IDLE_POLL_SECONDS)
                continue
            hash_, cell = found
            current = _model_key(cell, hash_)
            status = _run_one(store, runner, hash_, cell, worker, strict)
            done += 1
            if on_done:
                on_done(cell, hash_, status)
    except KeyboardInterrupt:  # wherever it landed (mid-cell, mid-claim): what this worker holds goes back
        store.release_held(worker)
        raise
    return done


def _run_one(store: Store, runner: CellRunner, hash_: str, cell: Cell, worker: str, strict: bool = False) -> str:
    beating = threading.Event()
    thread = threading.Thread(target=_beat, args=(store, hash_, worker, beating), daemon=True)
    thread.start()
    runner.take_load_seconds()
    try:
        runner.run(cell, store.files(hash_))
    except FtscopeError as e:
        store.fail(hash_, worker, str(e))
        if strict:
            raise
        return "failed"
    except Exception as e:  # a bug or a crash in a library: keep the traceback for the user
        store.fail(hash_, worker, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}")
        if strict:
            raise
        return "failed"
    else:
        store.complete(hash_, worker, runner.take_load_seconds())
        return "done"
    finally:
        beating.set()
        thread.join()


def _beat(store: Store, hash_: str, worker: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        store.heartbeat(hash_, worker)
