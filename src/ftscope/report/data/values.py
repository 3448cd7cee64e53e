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


def _cell(cell_dir: str | Path, metric: str) -> tuple[tuple[str, ...], np.ndarray]:
    path = CellFiles(cell_dir).predictions_path
    try:
        return _load(str(path), path.stat().st_mtime_ns, metric)
    except OSError:
        return (), np.zeros(0)


def example_values(cell_dir: str | Path, metric: str) -> dict[str, float]:
    """id → value for one cell; empty when the cell has no readable predictions."""
    ids, values = _cell(cell_dir, metric)
    return dict(zip(ids, values.tolist()))


def aligned(cell_dirs: Sequence[str | Path], metric: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The ids every cell has (sorted) and an m×n matrix of their values, one row per cell."""
    found = [_cell(d, metric) for d in cell_dirs]
    if found and all(ids == found[0][0] for ids, _ in found):  # the usual case: the same items, same order
        order = np.argsort(found[0][0], kind="stable")
        return tuple(np.asarray(found[0][0])[order].tolist()), np.stack([v[order] for _, v in found])
    common = set(found[0][0]) if found else set()
    for ids, _ in found[1:]:
        common &= set(ids)
    keep = tuple(sorted(common))
    rows = [dict(zip(ids, values.tolist())) for ids, values in found]
    matrix = np.array([[row[i] for i in keep] for row in rows], dtype=float).reshape(len(found), len(keep))
    return keep, matrix
