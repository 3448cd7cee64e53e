"""Writing the synthetic study into a real store: register typed cells, claim, write files, complete.

`leave` picks cells to leave unfinished (pending, running or failed), for the partial-store report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from ftscope.experiments.files import CellFiles, CellResult
from ftscope.experiments.store import Store, worker_id
from ftscope.results import write_json
from ftscope.specs import EvalCell, EvalSpec, RagCell, RagSpec, TrainCell, TrainSpec, cell_hash
from synthetic_models import DATASETS, Effects, Model, eval_metrics, example_rows, manifest, models, rag_metrics, \
    rag_rows

Leave = Callable[[object], str | None]  # cell → "pending" | "running" | "failed", or None for done
CORPUS = "nyt_v1.0"


def _finish(store: Store, cell, leave: Leave | None, write: Callable[[CellFiles], None]) -> str:
    status = leave(cell) if leave else None
    if status == "pending":
        return status
    h, worker = cell_hash(cell), worker_id()
    store.claim(h, worker)
    if status == "failed":
        store.fail(h, worker, "RuntimeError: CUDA out of memory (synthetic)\ntraceback follows")
    elif status != "running":
        write(store.files(h))
        store.complete(h, worker)
    return status or "done"


def _eval_cells(m: Model, train_hash: str | None, shots: Iterable[int], limit: int,
                datasets: Iterable[str]) -> list[EvalCell]:
    ref = m.ref(train_hash)
    cells = []
    for dataset in datasets:
        task, kind = DATASETS[dataset]
        evaluated = ref.with_prompt() if m.method == "promot" and dataset == m.dataset else ref
        cells += [EvalCell(evaluated, EvalSpec(dataset, k, limit=limit), task, kind) for k in shots]
    return cells


def _model_cells(store: Store, exp: str, m: Model, shots: tuple[int, ...], fx: Effects, n: int,
                 leave: Leave | None, datasets: tuple[str, ...]) -> tuple[str | None, Leave | None]:
    """Register and run one model's cells; return its train hash and the `leave` its later cells get."""
    train_hash = None
    if m.method != "base":
        train = TrainCell(TrainSpec.from_dict(m.train_spec()))
        store.register(exp, [train])
        trained = _finish(store, train, leave, lambda f: write_json(f.model_dir / "manifest.json", manifest(m, fx)))
        train_hash = cell_hash(train)
        if trained != "done":  # a model still training (or failed) has nothing evaluated yet
            leave = lambda cell: "pending"  # noqa: E731
    cells = _eval_cells(m, train_hash, shots, n, datasets)
    store.register(exp, cells)  # one transaction, as the grid registers
    for cell in cells:
        rows = example_rows(m, cell.spec.dataset, cell.spec.shots, fx, n)
        _finish(store, cell, leave, lambda f, rows=rows: f.write_result(CellResult(eval_metrics(rows), rows)))
    return train_hash, leave


def _rag_cell(store: Store, exp: str, m: Model, train_hash: str | None, fx: Effects, leave: Leave | None,
              n: int) -> None:
    cell = RagCell(m.ref(train_hash), RagSpec(corpus=f"/data/{CORPUS}.json", limit=n, judge="gemma3-270m"), CORPUS)
    store.register(exp, [cell])
    rows = rag_rows(m, fx, n)
    _finish(store, cell, leave, lambda f: f.write_result(CellResult(rag_metrics(rows), rows)))


def write_synthetic_store(root: str | Path, experiment: str = "demo", fx: Effects | None = None,
                          study: list[Model] | None = None, shots: Iterable[int] = (0, 2), n: int = 100,
                          rag: bool = True, leave: Leave | None = None, rag_n: int = 60) -> Store:
    """A store of the synthetic study (see synthetic_models) written through the real Store API."""
    store, fx, shots, study = Store(root), fx or Effects(), tuple(shots), study or models()
    used = {m.dataset for m in study if m.dataset}  # test sets of the tasks trained on (and their OOD sets)
    datasets = tuple(d for d, (task, _) in DATASETS.items() if task in {DATASETS[u][0] for u in used}) or \
        tuple(DATASETS)
    done = {m: _model_cells(store, experiment, m, shots, fx, n, leave, datasets) for m in study}
    for m, (train_hash, then) in done.items() if rag else ():
        if m.method in ("base", "lora") and (m.method == "base" or m.kind == "generation"):
            _rag_cell(store, experiment, m, train_hash, fx, then, rag_n)
    return store
