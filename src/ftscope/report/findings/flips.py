"""The items that flipped: right for the base and wrong after tuning (lost), and the other way (gained).

An accuracy delta of −3 points can hide 20 items lost and 17 gained; McNemar's test reads exactly these
discordant pairs, and a reader deciding whether a fine-tune is safe wants to see them, with their text.
Classification and per-item benchmark cells only (items with a `correct` flag), matched by item id.
"""

from __future__ import annotations

from functools import lru_cache

import pandas as pd

from ftscope.experiments.files import CellFiles
from ftscope.report.data import pairs as C

COLUMNS = ["model_label", "dataset", "shots", "template", "role", "change", "id", "text", "gold", "base_prediction",
           "tuned_prediction"]


def _by_id(cell_dir: str) -> dict[str, dict]:
    path = CellFiles(cell_dir).predictions_path
    try:
        return _read(str(path), path.stat().st_mtime_ns)
    except OSError:
        return {}


@lru_cache(maxsize=512)  # a base cell is read once, not once per tuned cell set against it
def _read(path: str, mtime_ns: int) -> dict[str, dict]:
    from ftscope.results import read_jsonl

    try:
        rows = read_jsonl(path)
    except ValueError:
        return {}
    return {str(r["id"]): r for r in rows if isinstance(r, dict) and isinstance(r.get("correct"), bool)}


def _flipped(row: dict) -> list[dict]:
    tuned, base = _by_id(row["dir"]), _by_id(row["dir_b"])
    out = []
    for item in sorted(set(tuned) & set(base)):
        t, b = tuned[item], base[item]
        if t["correct"] == b["correct"]:
            continue
        out.append({"model_label": row["model_label"], "dataset": row["dataset"], "shots": row["shots"],
                    "template": row["template"], "role": row["role"], "change": "lost" if b["correct"] else "gained",
                    "id": item, "text": t.get("text") or b.get("text") or "", "gold": t.get("gold"),
                    "base_prediction": b.get("prediction"), "tuned_prediction": t.get("prediction")})
    return out


def flips(evals: pd.DataFrame) -> pd.DataFrame:
    """Every flipped item of every done tuned accuracy cell against its done base cell."""
    pairs = C.complete(C.with_base(evals))
    pairs = pairs[pairs["metric"] == "accuracy"] if not pairs.empty else pairs
    records = [r for row in pairs.to_dict("records") for r in _flipped(row)]
    return pd.DataFrame.from_records(records, columns=COLUMNS)


def flip_counts(flipped: pd.DataFrame) -> pd.DataFrame:
    """Per tuned cell: items lost and gained (the discordant pairs McNemar's test reads)."""
    keys = ["model_label", "dataset", "shots", "template", "role"]
    if flipped.empty:
        return pd.DataFrame(columns=[*keys, "lost", "gained"])
    counts = flipped.groupby([*keys, "change"], dropna=False).size().unstack("change", fill_value=0)
    return counts.reindex(columns=["lost", "gained"], fill_value=0).reset_index()
