"""A cell's folder, read and written in one place.

    cells/<hash>/spec.json           the cell (kind, model, spec) as registered
    cells/<hash>/metrics.json        eval and RAG cells: the metrics, one flat shape for both, plus "notes"
    cells/<hash>/predictions.jsonl   eval and RAG cells: one line per item (id, prediction, gold, scores, …)
    cells/<hash>/model/              train cells: the trained weights or adapter and manifest.json

Every file is written atomically (results.py) and metrics.json last, so its presence means the cell's
artefacts are complete. No torch here: the report reads cells through this class.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from ftscope.results import read_jsonl, write_json, write_jsonl
from ftscope.specs import Cell

SPEC, METRICS, PREDICTIONS, MODEL, MANIFEST = "spec.json", "metrics.json", "predictions.jsonl", "model", "manifest.json"


@dataclass
class CellResult:
    """What running an eval or RAG cell produced, before it is written."""

    metrics: dict[str, Any]
    predictions: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)


def _read_json(path: Path) -> dict[str, Any] | None:
    try:
        found = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return found if isinstance(found, dict) else None


class CellFiles:
    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @property
    def model_dir(self) -> Path:
        return self.folder / MODEL

    # ---- writing ------------------------------------------------------------------------
    def write_spec(self, cell: Cell) -> None:
        if not (self.folder / SPEC).is_file():
            write_json(self.folder / SPEC, cell.to_dict())

    def write_result(self, result: CellResult) -> None:
        write_jsonl(self.folder / PREDICTIONS, result.predictions)
        write_json(self.folder / METRICS, {**result.metrics, "notes": list(result.notes)})  # last: the marker

    def clear_result(self) -> None:
        """Forget a broken result so the cell is computed again (the model folder is left to resume)."""
        for name in (METRICS, PREDICTIONS):
            (self.folder / name).unlink(missing_ok=True)

    # ---- reading ------------------------------------------------------------------------
    def metrics(self) -> dict[str, Any] | None:
        return _read_json(self.folder / METRICS)

    def predictions(self) -> list[dict[str, Any]]:
        try:
            return read_jsonl(self.folder / PREDICTIONS)
        except (OSError, ValueError):
            return []

    def prediction_lines(self) -> Iterable[str]:
        """The raw lines (the report's per-item reader parses them leniently)."""
        try:
            with open(self.folder / PREDICTIONS, encoding="utf-8") as f:
                yield from f
        except OSError:
            return

    @property
    def predictions_path(self) -> Path:
        return self.folder / PREDICTIONS

    def manifest(self) -> dict[str, Any] | None:
        """A train cell's manifest (in its model folder)."""
        return _read_json(self.model_dir / MANIFEST)

    def problem(self, kind: str) -> str | None:
        """Why a cell marked done cannot be trusted (a truncated or missing file), or None."""
        if kind == "train":
            return None if self.manifest() is not None else f"{self.model_dir / MANIFEST} is missing or unreadable"
        found = self.metrics()
        if found is None or "n" not in found:
            return f"{self.folder / METRICS} is missing, truncated or not a metrics object"
        try:
            rows = read_jsonl(self.folder / PREDICTIONS)
        except (OSError, ValueError):
            return f"{self.folder / PREDICTIONS} is missing or has a torn line"
        if found.get("n") is not None and len(rows) < int(found["n"]):
            return f"{self.folder / PREDICTIONS} holds {len(rows)} items, metrics.json says {found['n']}"
        return None
