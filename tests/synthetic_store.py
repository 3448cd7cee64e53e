"""Writing the synthetic experiment into a real store: register, claim, write artefacts, complete.

`leave` picks cells to leave unfinished (pending, running or failed), for the partial-store report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

from ftscope.experiments.cells import Cell
from ftscope.experiments.store import Store, worker_id
from synthetic_models import (DATASETS, Effects, Model, default_models, eval_metrics, example_rows,
                                      manifest, rag_metrics, rag_rows)
from ftscope.results import write_json, write_jsonl
from ftscope.tasks.kinds import role

Leave = Callable[[Cell], str | None]  # → "pending" | "running" | "failed", or None for done
CORPUS = "nyt_v1.0"


def _finish(store: Store, cell: Cell, leave: Leave | None, write: Callable[[Path], None]) -> str:
    status = leave(cell) if leave else None
    if status == "pending":
        return status
    worker = worker_id()
    store.claim(cell.hash, worker)
    if status == "failed":
        store.fail(cell.hash, worker, "RuntimeError: CUDA out of memory (synthetic)\ntraceback follows")
    elif status != "running":
        write(store.cell_dir(cell.hash))
        store.complete(cell.hash, worker)
    return status or "done"


def _eval_spec(m: Model, train_hash: str | None, dataset: str, shots: int, limit: int) -> dict:
    """Shaped as the experiment grid writes it: tuned models' specs also name the role."""
    task, kind = DATASETS[dataset]
    spec = {"model": m.spec(train_hash), "model_label": m.label(), "dataset": dataset, "task": task,
            "task_kind": kind, "shots": shots, "template": "p1", "scoring": "first-token", "limit": limit,
            "fewshot": "first", "fewshot_seed": 0, "max_new_tokens": None}
    if m.method != "base":
        spec["role"] = role(dataset, task, m.dataset, m.task)
    return spec


def _write_eval(rows: list[dict]) -> Callable[[Path], None]:
    def write(folder: Path) -> None:
        write_jsonl(folder / "predictions.jsonl", rows)
        write_json(folder / "metrics.json", eval_metrics(rows))
    return write


def _model_cells(store: Store, exp: str, m: Model, shots: Iterable[int], fx: Effects, n: int,
                 leave: Leave | None) -> tuple[str | None, Leave | None]:
    """Register and run one model's cells; return its train hash and the `leave` its later cells get."""
    train_hash = None
    if m.trained_here:
        train = Cell.of("train", m.train_spec())
        store.register(exp, [train])
        trained = _finish(store, train, leave, lambda folder: write_json(folder / "model" / "manifest.json",
                                                                            manifest(m)))
        train_hash = train.hash
        if trained != "done":  # a model still training (or failed) has nothing evaluated yet
            leave = lambda cell: "pending"  # noqa: E731
    for dataset in DATASETS:
        for k in shots:
            cell = Cell.of("eval", _eval_spec(m, train_hash, dataset, k, n), needs=train_hash)
            store.register(exp, [cell])
            _finish(store, cell, leave, _write_eval(example_rows(m, dataset, k, fx, n)))
    return train_hash, leave


def _rag_cell(store: Store, exp: str, m: Model, train_hash: str | None, fx: Effects, leave: Leave | None) -> None:
    spec = {"model": m.spec(train_hash), "model_label": m.label(), "corpus": f"/data/{CORPUS}.json",
            "corpus_name": CORPUS, "retriever": "bm25", "k": 3, "limit": 120}
    cell = Cell.of("rag", spec, needs=train_hash)
    store.register(exp, [cell])
    rows = rag_rows(m, fx, 120)

    def write(folder: Path) -> None:
        write_jsonl(folder / "predictions.jsonl", rows)
        write_json(folder / "metrics.json", rag_metrics(rows, CORPUS))
    _finish(store, cell, leave, write)


def write_synthetic_store(root: str | Path, experiment: str = "demo", fx: Effects | None = None,
                          models: list[Model] | None = None, shots: Iterable[int] = (0, 4), n: int = 200,
                          rag: bool = True, leave: Leave | None = None) -> Store:
    """A store with base, LoRA, FTICL and ProMoT models of `smollm2-135m` (see `synthetic.Effects`)."""
    store, fx, shots = Store(root), fx or Effects(), tuple(shots)
    done = {m: _model_cells(store, experiment, m, shots, fx, n, leave) for m in models or default_models()}
    for m, (train_hash, then) in done.items() if rag else ():
        if m.method == "base" or (m.method == "lora" and m.dataset == "xsum" and m.n == 200 and m.seed == 0):
            _rag_cell(store, experiment, m, train_hash, fx, then)
    return store
