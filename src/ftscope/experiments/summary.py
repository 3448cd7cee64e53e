"""The flat view of a one-model run (`ftscope eval`, `ftscope rag`): every cell's results gathered into
one metrics.json and one predictions.jsonl at the top of the store, for people who want two files.

    OUT/metrics.json       {"model", "results": {dataset: {shots: metrics}}, "rag": {corpus: metrics},
                            "missing": {dataset: why}, "notes": [...]}
    OUT/predictions.jsonl  one line per item, tagged with its dataset (or corpus), shots and template

Read through CellFiles, like everything else that reads a cell.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

from ftscope.experiments.store import Store
from ftscope.results import write_json, write_jsonl
from ftscope.specs import Cell, EvalCell, RagCell, cell_hash


def summarise(store: Store, cells: list[Cell], missing: Mapping[str, str], out: Path) -> dict[str, Any]:
    """Write the two files for the done cells among `cells`; return the metrics summary."""
    results: dict[str, dict[str, Any]] = {}
    rag: dict[str, Any] = {}
    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    model = None
    for cell in cells:
        files = store.files(cell_hash(cell))
        metrics = files.metrics()
        if metrics is None:
            continue
        model = model or metrics.get("model")
        notes += metrics.get("notes", [])
        tags = _tags(cell)
        if isinstance(cell, EvalCell):
            results.setdefault(cell.spec.dataset, {})[str(cell.spec.shots)] = _plain(metrics)
        elif isinstance(cell, RagCell):
            rag[f"{cell.corpus_name} ({cell.spec.format})"] = _plain(metrics)
        rows += [{**tags, **row} for row in files.predictions()]
    summary = {"model": model, "results": results, "rag": rag, "missing": dict(missing), "notes": notes}
    write_jsonl(out / "predictions.jsonl", rows)
    write_json(out / "metrics.json", summary)
    return summary


def _tags(cell: Cell) -> dict[str, Any]:
    if isinstance(cell, EvalCell):
        return {"dataset": cell.spec.dataset, "shots": cell.spec.shots, "template": cell.spec.template}
    return {"corpus": cell.corpus_name, "format": cell.spec.format}


def _plain(metrics: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in metrics.items() if k not in ("model", "notes")}
