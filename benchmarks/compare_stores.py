"""Do two stores hold the same results? Cell by cell: every metric value and every prediction line.

    python benchmarks/compare_stores.py OLD_STORE NEW_STORE [--ignore-key model]

Written for the consolidation of the cell types (store format 1 → 2): the cells' hashes and spec files
differ between the formats, so cells are matched by what they measure — the model (method, what it
tuned, training data, n, seed), the dataset or corpus, shots and template — and their files compared
value by value. Prints one line per difference and a JSON summary line; exits 1 when anything differs.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

# Written by the new format only: the model facts each cell records (size, precision, quantization).
NEW_ONLY_KEYS = {"model"}


def _model_key(model: dict) -> tuple:
    if model.get("method") == "base":
        return ("base", model.get("base"))
    return (model.get("method"), model.get("tune"), tuple(model.get("train_datasets") or ()), model.get("n"),
            model.get("seed"), model.get("path"))


def cell_key(spec_file: Path) -> tuple | None:
    """What a cell measures, from either format's spec.json."""
    raw = json.loads(spec_file.read_text())
    kind, spec = raw.get("kind"), raw.get("spec", {})
    model = raw.get("model") or spec.get("model") or {}
    if kind == "eval":
        return ("eval", _model_key(model), spec["dataset"], spec["shots"], spec["template"],
                bool(model.get("soft_prompt")))
    if kind == "rag":
        return ("rag", _model_key(model), raw.get("corpus_name") or spec.get("corpus_name"),
                spec.get("format", "instruct"))
    return None


def cells(store: Path) -> dict[tuple, Path]:
    found = {}
    for folder in sorted((store / "cells").iterdir()):
        key = cell_key(folder / "spec.json") if (folder / "spec.json").is_file() else None
        if key and (folder / "metrics.json").is_file():
            found[key] = folder
    return found


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def _flat_metrics(folder: Path) -> dict:
    """Eval metrics are flat in both formats; format-1 RAG metrics sit under {"rag": {corpus: …}}."""
    found = json.loads((folder / "metrics.json").read_text())
    if isinstance(found.get("rag"), dict):
        found = {**next(iter(found["rag"].values())), "notes": found.get("notes", [])}
    return found


def compare_cell(old: Path, new: Path, ignore: set[str]) -> list[str]:
    diffs = []
    a, b = _flat_metrics(old), _flat_metrics(new)
    for key in sorted(set(a) - ignore):
        if key not in b:
            diffs.append(f"metric {key} missing in the new cell")
        elif not _same(a[key], b[key]):
            diffs.append(f"metric {key}: {a[key]!r} != {b[key]!r}")
    rows_a = [json.loads(x) for x in (old / "predictions.jsonl").read_text().splitlines() if x.strip()]
    rows_b = [json.loads(x) for x in (new / "predictions.jsonl").read_text().splitlines() if x.strip()]
    if len(rows_a) != len(rows_b):
        return diffs + [f"{len(rows_a)} vs {len(rows_b)} predictions"]
    for ra, rb in zip(rows_a, rows_b):
        for field in ("id", "prediction", "gold", "correct"):
            if field in ra and not _same(ra[field], rb.get(field)):
                diffs.append(f"item {ra.get('id')}: {field} {ra[field]!r} != {rb.get(field)!r}")
        scores_a = ra.get("scores") or ra.get("metrics") or {}
        scores_b = rb.get("scores") or {}
        diffs += [f"item {ra.get('id')}: score {k} {v!r} != {scores_b.get(k)!r}"
                  for k, v in scores_a.items() if not _same(v, scores_b.get(k))]
    return diffs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    parser.add_argument("--ignore-key", action="append", default=[], help="a metrics.json key not to compare")
    args = parser.parse_args()
    old, new = cells(args.old), cells(args.new)
    ignore = set(args.ignore_key) | NEW_ONLY_KEYS
    differing, lines = 0, 0
    for key in sorted(set(old) | set(new), key=str):
        if key not in old or key not in new:
            print(f"{key}: only in {'old' if key in old else 'new'}")
            differing += 1
            continue
        diffs = compare_cell(old[key], new[key], ignore)
        lines += sum(1 for _ in (old[key] / "predictions.jsonl").open())
        differing += bool(diffs)
        for d in diffs[:5]:
            print(f"{key}: {d}")
    print(json.dumps({"cells_old": len(old), "cells_new": len(new), "cells_compared": len(set(old) & set(new)),
                      "prediction_lines": lines, "cells_differing": differing}))
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
