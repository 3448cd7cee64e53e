"""Every table of the report as CSV, JSON records and Parquet, under OUT/tables (raw 0–1 values)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

INT_COLUMNS = ["n", "seed", "shots", "limit", "k", "n_examples", "n_questions", "n_paired", "seeds", "cells",
               "base_icl_shots", "epochs", "units"]


def tidy_for_output(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    for col in INT_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce").round().astype("Int64")
    for col in out.columns:  # tuples and lists (e.g. a model's training labels) as one readable string
        if out[col].dtype == object and out[col].map(lambda v: isinstance(v, (tuple, list))).any():
            out[col] = out[col].map(lambda v: "|".join(map(str, v)) if isinstance(v, (tuple, list)) else v)
    return out


def write_tables(tables: dict[str, pd.DataFrame], out_dir: str | Path) -> dict[str, Path]:
    """Each table as CSV, as JSON records (NaN → null) and as Parquet; returns the CSV paths."""
    folder = Path(out_dir) / "tables"
    folder.mkdir(parents=True, exist_ok=True)
    written = {}
    for name, df in tables.items():
        df = tidy_for_output(df)
        df.to_csv(folder / f"{name}.csv", index=False)
        records = json.loads(df.to_json(orient="records", double_precision=6))
        (folder / f"{name}.json").write_text(json.dumps(records, indent=1) + "\n", encoding="utf-8")
        df.astype({c: "string" for c in df.columns if df[c].dtype == object}).to_parquet(
            folder / f"{name}.parquet", index=False)
        written[name] = folder / f"{name}.csv"
    return written
