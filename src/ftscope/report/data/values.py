"""Per-example values from a cell's predictions.jsonl, matched across cells by example id.

Paired statistics compare two models on the *same* examples, so everything here is keyed by id:
classification contributes `correct` (0/1, whose mean is accuracy), generation its per-example
ROUGE-L, RAG each question's answer metric (under "scores", as both eval and RAG cells write them).
"""

from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import numpy as np

from ftscope.experiments.files import CellFiles


def _number(value) -> float | None:
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, (int, float)) and not math.isnan(value):
        return float(value)
    return None


def example_value(row: dict, metric: str) -> float | None:
    """One prediction line's value of `metric` (accuracy reads `correct`)."""
    if metric == "accuracy":
        return _number(row.get("correct"))
    for place in (row, row.get("scores") or {}):
        if isinstance(place, dict) and _number(place.get(metric)) is not None:
            return _number(place[metric])
    return None


@lru_cache(maxsize=4096)
def _load(path: str, mtime_ns: int, metric: str) -> tuple[tuple[str, ...], np.ndarray]:
    ids, values = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            try:
                row = json.loads(line) if line.strip() else None
            except ValueError:
                continue  # a torn line is one example less, not a failed report
            value = example_value(row, metric) if isinstance(row, dict) and "id" in row else None
            if value is not None:
                ids.append(str(row["id"]))
                values.append(value)
    return tuple(ids), np.asarray(values, dtype=float)


def example_values(cell_dir: str | Path, metric: str) -> dict[str, float]:
    """id → value for one cell; empty when the cell has no readable predictions."""
    path = CellFiles(cell_dir).predictions_path
    try:
        ids, values = _load(str(path), path.stat().st_mtime_ns, metric)
    except OSError:
        return {}
    return dict(zip(ids, values.tolist()))


def aligned(cell_dirs: Sequence[str | Path], metric: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The ids every cell has (sorted) and an m×n matrix of their values, one row per cell."""
    found = [example_values(d, metric) for d in cell_dirs]
    common = set(found[0]) if found else set()
    for values in found[1:]:
        common &= set(values)
    ids = tuple(sorted(common))
    matrix = np.array([[values[i] for i in ids] for values in found], dtype=float).reshape(len(found), len(ids))
    return ids, matrix
