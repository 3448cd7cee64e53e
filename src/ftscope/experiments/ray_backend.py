"""The grid as Ray tasks on nodes that share no disk with the driver.

The driver owns the store. A `Recorder` actor, pinned to the driver's node, is the only one that touches
it: it claims cells for the tasks that ask (so two drivers on one store still never run a cell twice),
keeps their claims alive, and records each finished cell atomically — metrics, predictions, and a trained
model's folder — through CellFiles. Tasks run their cells in a node-local scratch folder
($FTSCOPE_SCRATCH, else the node's temp dir) and send results back through the recorder; trained models
travel as tar archives through Ray's object store (adapters and small models), or through an fsspec
location every node reaches when the config names `artefacts:` (s3://…, gs://…, a shared path), which is
what a 7B full fine-tune wants. A node that dies mid-cell has its task retried by Ray; cells it had
finished are already recorded, so the retry picks up where it stopped and nothing is done twice.
Datasets and RAG corpora are read on the nodes: they must be present there (they are small and static).
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import tarfile
import tempfile
import threading
import time
import traceback
from collections import defaultdict
from pathlib import Path
from typing import Any

from ftscope.errors import FtscopeError
from ftscope.experiments.files import CellResult
from ftscope.experiments.grid import Grid
from ftscope.experiments.store import Store
from ftscope.specs import TrainCell, cell_from_dict, cell_hash

HEARTBEAT_SECONDS = 20.0
TASK_RETRIES = 3  # re-runs of a task whose node or worker process died


# ---- artefacts ------------------------------------------------------------------------------
def pack(folder: Path) -> bytes:
    """A trained model's folder as a tar archive (its training checkpoints are not part of it)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and "checkpoints" not in path.relative_to(folder).parts:
                tar.add(path, arcname=str(path.relative_to(folder)))
    return buffer.getvalue()


def unpack(archive: bytes, folder: Path) -> Path:
    """Extract into `folder` via a temporary sibling and one rename, so a half-extracted model never looks whole."""
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(tmp, filter="data")  # "data": no absolute paths, links out of the folder or devices
    shutil.rmtree(folder, ignore_errors=True)
    os.replace(tmp, folder)
    return folder


def put_artefact(location: str, hash_: str, archive: bytes) -> str:
    import fsspec

    uri = f"{location.rstrip('/')}/{hash_}.tar"
    with fsspec.open(uri, "wb") as f:
        f.write(archive)
    return uri


def get_artefact(uri: str) -> bytes:
    import fsspec

    with fsspec.open(uri, "rb") as f:
        return f.read()


def scratch_root() -> Path:
    """This node's own working folder for cells."""
    import ray

    node = ray.get_runtime_context().get_node_id()[:12]
    return Path(os.environ.get("FTSCOPE_SCRATCH") or Path(tempfile.gettempdir()) / "ftscope-scratch") / node


# ---- the recorder (driver side) -------------------------------------------------------------
class Recorder:
    """The store's single writer for a Ray run; lives on the driver's node."""

    def __init__(self, store_root: str, artefacts: str | None):
        self.store, self.artefacts = Store(store_root), artefacts
        self.worker = f"{socket.gethostname()}:{os.getpid()}"
        self.running: dict[str, dict] = {}  # hash → {node, pid, started}
        self._lock = threading.Lock()
        threading.Thread(target=self._beat, daemon=True).start()

    def claim(self, hash_: str, node: str, pid: int) -> bool:
        """True when the asking task should run the cell: pending, stalled, or ours from a task that died."""
        with self._lock:
            status = self.store.status_of([hash_]).get(hash_)
            mine = hash_ in self.running
            if status == "done" or (status == "running" and not mine) or status == "failed":
                return False
            if not mine and not self.store.claim(hash_, self.worker, where=f"ray:{node[:12]}"):
                return False
            self.running[hash_] = {"node": node, "pid": pid, "started": time.time()}
            return True

    def finish(self, hash_: str, result: dict | None, archive: bytes | None, error: str | None) -> None:
        with self._lock:
            files = self.store.files(hash_)
            if error is not None:
                self.store.fail(hash_, self.worker, error)
            else:
                result = dict(result or {})
                load_seconds = result.pop("load_seconds", 0.0)  # the store's, not the cell files'
                if archive is not None:
                    unpack(archive, files.model_dir)
                elif result:
                    files.write_result(CellResult(**result))
                self.store.complete(hash_, self.worker, load_seconds)
            self.running.pop(hash_, None)

    def artefact(self, hash_: str) -> bytes:
        """A trained model, for a node that evaluates it."""
        return pack(self.store.files(hash_).model_dir)

    def abandon(self, hashes: list[str], why: str) -> None:
        """Cells whose task gave up (its retries spent): failed, with why, so a rerun retries them."""
        with self._lock:
            for h in hashes:
                if h in self.running:
                    self.store.fail(h, self.worker, why)
                    self.running.pop(h)

    def _beat(self) -> None:
        while True:
            time.sleep(HEARTBEAT_SECONDS)
            with self._lock:
                for h in list(self.running):
                    self.store.heartbeat(h, self.worker)


# ---- tasks (node side) ----------------------------------------------------------------------
def _where() -> tuple[str, int]:
    import ray

    return ray.get_runtime_context().get_node_id(), os.getpid()


def _fetch_model(recorder: Any, hash_: str, scratch: Path, artefacts: str | None) -> Path:
    import ray

    folder = scratch / "models" / hash_
    if not (folder / "manifest.json").is_file():
        archive = get_artefact(f"{artefacts.rstrip('/')}/{hash_}.tar") if artefacts else \
            ray.get(recorder.artefact.remote(hash_))
        unpack(archive, folder)
    return folder


def _run_cells(config: dict, cells: list[dict], recorder: Any, artefacts: str | None, *_needs: Any) -> int:
    """Run these cells on this node; every result goes back through the recorder."""
    import ray

    from ftscope.experiments.config import ExperimentConfig
    from ftscope.experiments.execute import CellRunner

    cfg = ExperimentConfig.model_validate(config)
    scratch = scratch_root()
    runner = CellRunner(cfg, lambda h: _fetch_model(recorder, h, scratch, artefacts))
    node, pid = _where()
    ran = 0
    for data in cells:
        cell = cell_from_dict(data)
        hash_ = cell_hash(cell)
        if not ray.get(recorder.claim.remote(hash_, node, pid)):
            continue
        ray.get(recorder.finish.remote(hash_, *_run_one(runner, cell, scratch / "cells" / hash_, artefacts)))
        ran += 1
    return ran


def _run_one(runner: Any, cell: Any, folder: Path, artefacts: str | None) -> tuple[dict | None, bytes | None,
                                                                                   str | None]:
    """(result, archive, error) of one cell run in `folder` (node-local, removed afterwards)."""
    from ftscope.experiments.files import CellFiles

    shutil.rmtree(folder, ignore_errors=True)
    files = CellFiles(folder)
    runner.take_load_seconds()
    try:
        runner.run(cell, files)
    except FtscopeError as e:
        return None, None, str(e)
    except Exception as e:  # a bug or a library crash: keep the traceback for the user
        return None, None, f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=8)}"
    if isinstance(cell, TrainCell):
        archive = pack(files.model_dir)
        if artefacts:
            put_artefact(artefacts, cell_hash(cell), archive)
        shutil.rmtree(folder, ignore_errors=True)
        return {"metrics": {}, "predictions": [], "notes": [], "load_seconds": runner.take_load_seconds()}, archive, None
    result = {"metrics": files.metrics() or {}, "predictions": files.predictions(), "notes": [],
              "load_seconds": runner.take_load_seconds()}
    result["notes"] = result["metrics"].pop("notes", [])
    shutil.rmtree(folder, ignore_errors=True)
    return result, None, None


# ---- the driver -----------------------------------------------------------------------------
def run_on_ray(store: Store, grid: Grid, workers: int, address: str | None) -> None:
    """Submit the grid, wait, and turn a task that gave up into failed cells (a rerun retries them)."""
    import ray
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

    if not ray.is_initialized():
        ray.init(address=address, num_cpus=None if address else max(1, workers), include_dashboard=False,
                 log_to_driver=False, ignore_reinit_error=True)
    here = ray.get_runtime_context().get_node_id()
    artefacts = grid.config.artefacts
    recorder = ray.remote(Recorder).options(
        num_cpus=0, scheduling_strategy=NodeAffinitySchedulingStrategy(here, soft=False)).remote(
        str(store.root), artefacts)
    config = grid.config.model_dump(mode="json")
    config["store"] = "/nonexistent/ftscope-driver-store"  # tasks never open the store: the recorder is its only writer
    # Retries set in ray.remote: in Ray 2.60 `.options()` returns a wrapper that has no `.options` of its own.
    task = ray.remote(max_retries=TASK_RETRIES, retry_exceptions=False)(_run_cells)
    tasks: dict[Any, list[str]] = {}  # task → the cells it runs
    trained = {}
    for cell in grid.train:
        ref = task.options(num_gpus=grid.config.train_gpus).remote(config, [cell.to_dict()], recorder, artefacts)
        trained[cell_hash(cell)], tasks[ref] = ref, [cell_hash(cell)]
    by_model: dict[str | None, list] = defaultdict(list)
    for cell in grid.eval + grid.rag:
        by_model[cell.needs].append(cell)
    for needs, cells in by_model.items():
        after = [trained[needs]] if needs in trained else []
        tasks[task.remote(config, [c.to_dict() for c in cells], recorder, artefacts, *after)] = \
            [cell_hash(c) for c in cells]
    _wait(tasks, recorder)


def _wait(tasks: dict[Any, list[str]], recorder: Any) -> None:
    import ray

    pending = list(tasks)
    while pending:
        done, pending = ray.wait(pending, num_returns=1)
        try:
            ray.get(done[0])
        except Exception as e:  # noqa: BLE001 - a task whose retries are spent (its node kept dying)
            ray.get(recorder.abandon.remote(tasks[done[0]], f"its Ray task gave up: {type(e).__name__}: {e}"))
