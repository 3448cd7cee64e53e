"""One worker's loop: claim the next runnable cell, run it, record done or failed, repeat.

Any number of workers (processes here or on other machines, Ray tasks) can share one store: a claim
is one SQLite transaction, so each cell runs once. A cell is runnable when the cell it needs (an
eval's trained model) is done; cells of the model this worker already holds go first, so a model
is loaded once per run of its cells. A failed cell records its error and the grid goes on; cells
that need a failed model fail with a line saying so.
"""

from __future__ import annotations

import threading
import time
import traceback
from typing import Iterable

from ftscope.errors import FtscopeError
from ftscope.experiments.cells import Cell
from ftscope.experiments.config import ExperimentConfig
from ftscope.experiments.execute import CellRunner
from ftscope.experiments.store import Store, worker_id

HEARTBEAT_SECONDS = 20.0
IDLE_POLL_SECONDS = 1.0


def _model_key(cell: Cell) -> str:
    spec = cell.spec
    model = spec.get("model", {})
    return cell.hash if cell.kind == "train" else (model["hash"] or model.get("path") or model["base"])


def _next_cell(store: Store, cells: list[Cell], current_model: str | None, worker: str) -> tuple[Cell | None, bool]:
    """(a cell this worker just claimed, whether work remains that others may unblock)."""
    status = store.status_of([c.hash for c in cells] + [c.needs for c in cells if c.needs])
    waiting = False
    ordered = sorted(cells, key=lambda c: (c.kind != "train", _model_key(c) != current_model))
    for cell in ordered:
        state = status.get(cell.hash)
        if state == "done" or state == "failed":
            continue
        if cell.needs and status.get(cell.needs) != "done":
            if status.get(cell.needs) == "failed":
                _fail_blocked(store, cell, worker)
            else:
                waiting = True
            continue
        if store.claim(cell.hash, worker):
            return cell, True
        waiting = True  # running elsewhere (or just taken); it may still fail and come back
    return None, waiting


def _fail_blocked(store: Store, cell: Cell, worker: str) -> None:
    if store.claim(cell.hash, worker):
        store.fail(cell.hash, worker, f"its model (train cell {cell.needs}) failed to train")


def run_worker(store: Store, config: ExperimentConfig, cells: Iterable[Cell], stop: threading.Event | None = None,
               worker: str | None = None) -> int:
    """Work until no cell is left; returns how many cells this worker ran."""
    worker = worker or worker_id()
    runner, cells, done, current = CellRunner(store, config), list(cells), 0, None
    while not (stop and stop.is_set()):
        cell, waiting = _next_cell(store, cells, current, worker)
        if cell is None:
            if not waiting:
                return done
            time.sleep(IDLE_POLL_SECONDS)
            continue
        current = _model_key(cell)
        _run_one(store, runner, cell, worker)
        done += 1
    return done


def _run_one(store: Store, runner: CellRunner, cell: Cell, worker: str) -> None:
    beating = threading.Event()
    thread = threading.Thread(target=_beat, args=(store, cell.hash, worker, beating), daemon=True)
    thread.start()
    try:
        runner.run(cell.kind, cell.hash, cell.spec, lambda: None)
    except FtscopeError as e:
        store.fail(cell.hash, worker, str(e))
    except Exception as e:  # a bug or a crash in a library: keep the traceback for the user
        store.fail(cell.hash, worker, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}")
    else:
        store.complete(cell.hash, worker)
    finally:
        beating.set()
        thread.join()


def _beat(store: Store, hash_: str, worker: str, stop: threading.Event) -> None:
    while not stop.wait(HEARTBEAT_SECONDS):
        store.heartbeat(hash_, worker)
