"""Pairs of cells that measure the same thing on two models, and the paired delta between them.

A pair frame keeps every left row, done or not, beside its partner (columns suffixed `_b`, NaN when
the experiment has no partner): the deltas use the complete pairs, and the rest say what is missing.
"""

from __future__ import annotations

import math
from typing import Mapping

import pandas as pd

from ftscope.report.data import resample as boot
from ftscope.report.data import paired as stats
from ftscope.report.data.values import aligned
from ftscope.stats import mcnemar

PARTNER = ["hash", "status", "label", "dir", "score", "se", "n_examples", "shots", "dataset", "corpus_name",
           "metric", "model_label"]
PLAIN_TUNES = ("full", "lora")  # what FTICL and ProMoT are compared with
FINE_TUNED = (*PLAIN_TUNES, "tuned")  # "fine-tuning" in the claims: also models tuned outside ftscope


def _norm(value) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _key(df: pd.DataFrame, cols: list[str]) -> pd.Series:
    if df.empty:
        return pd.Series([], dtype=str, index=df.index)
    return df[cols].apply(lambda row: "|".join(_norm(v) for v in row), axis=1)


def pair_frame(left: pd.DataFrame, right: pd.DataFrame, left_on: list[str], right_on: list[str],
               suffix: str = "_b") -> pd.DataFrame:
    """Each left row beside its partner in `right` (columns + suffix), NaN where there is none."""
    keep = [c for c in PARTNER if c in right.columns]
    partners = right[keep].assign(_k=_key(right, right_on)).drop_duplicates("_k")
    partners = partners.rename(columns={c: f"{c}{suffix}" for c in keep})
    return left.assign(_k=_key(left, left_on)).merge(partners, on="_k", how="left").drop(columns="_k")


def with_base(cells: pd.DataFrame, left: pd.DataFrame | None = None, suffix: str = "_b") -> pd.DataFrame:
    """Tuned cells (or `left`) beside the base model's cell of the same setting (eval or rag)."""
    left = cells[cells["method"] != "base"] if left is None else left
    return pair_frame(left, cells[cells["method"] == "base"], ["base", "setting"], ["base", "setting"], suffix)


def with_plain(cells: pd.DataFrame, method: str) -> pd.DataFrame:
    """Cells of `method` (fticl, promot) beside plain fine-tuning of the same data, n, seed and setting."""
    left = cells[cells["method"] == method]
    left = left.assign(partner=left["tune"].fillna("full"))
    right = cells[cells["method"].isin(PLAIN_TUNES)]
    keys = ["base", "train_datasets", "n", "seed"]
    return pair_frame(left, right, [*keys, "partner", "setting"], [*keys, "method", "setting"])


def complete(pairs: pd.DataFrame, suffixes: tuple[str, ...] = ("_b",)) -> pd.DataFrame:
    if pairs.empty:
        return pairs
    done = pairs["status"] == "done"
    for suffix in suffixes:
        done &= pairs[f"status{suffix}"] == "done"
    return pairs[done]


def missing(pairs: pd.DataFrame, partners: dict[str, str] | None = None) -> list[str]:
    """What keeps each incomplete pair from counting: a side not done, or no partner cell at all.

    `partners` names each suffix's partner ("_b" → "base cell")."""
    out = []
    for row in pairs.to_dict("records"):
        if row["status"] != "done":
            out.append(f"{row['label']} ({row['status']})")
        for suffix, name in (partners or {"_b": "base cell"}).items():
            if not isinstance(row.get(f"status{suffix}"), str):
                out.append(f"{name} for {row['label']} (not in the experiment)")
            elif row[f"status{suffix}"] != "done":
                out.append(f"{row[f'label{suffix}']} ({row[f'status{suffix}']})")
    return list(dict.fromkeys(out))


def side(row: Mapping, suffix: str = "") -> dict:
    """One side of a pair row as a cell row (what the resampler reads)."""
    names = ("hash", "dir", "score", "se", "n_examples", "dataset", "corpus_name", "metric")
    return {k: row.get(f"{k}{suffix}") for k in names}


def compare(res: boot.Resampler, a: Mapping, b: Mapping, metric: str | None = None) -> dict:
    """Paired delta a − b: bootstrap CI; p from McNemar for accuracy, else from the bootstrap."""
    metric = metric or a["metric"]
    found = res.contrast([a, b], metric, boot.delta)
    est = found.estimate()
    p, test = est.p, "bootstrap" if found.paired else "normal"
    if metric == "accuracy" and found.paired:
        _, values = aligned([a["dir"], b["dir"]], metric)
        result = mcnemar(values[0].astype(bool), values[1].astype(bool))
        p, test = result.p, f"mcnemar-{result.method}"
    return {"delta": est.value, "lo": est.lo, "hi": est.hi, "p": p, "sig": stars_for(est, p),
            "paired": est.paired, "test": test, "n_paired": est.n}


def stars_for(est: stats.Estimate, p: float) -> str:
    return stats.stars(p) + ("" if est.paired else "†")


def prefixed(found: dict, prefix: str) -> dict:
    return {f"{prefix}{k}": v for k, v in found.items() if k in ("delta", "lo", "hi", "p", "sig")}


def with_q(df: pd.DataFrame, prefixes: tuple[str, ...] = ("",)) -> pd.DataFrame:
    """Benjamini–Hochberg q-values over a table's p-values (each prefixed p column one family); the
    significance marks then read q, not p. A † (unpaired) mark is kept."""
    from ftscope.stats import benjamini_hochberg

    if df.empty:
        return df
    df = df.copy()
    for pre in prefixes:
        if f"{pre}p" not in df:
            continue
        df[f"{pre}q"] = benjamini_hochberg(pd.to_numeric(df[f"{pre}p"], errors="coerce").to_numpy(float))
        old = df.get(f"{pre}sig", pd.Series([""] * len(df), index=df.index)).fillna("").astype(str)
        df[f"{pre}sig"] = [stats.stars(q) + ("†" if o.endswith("†") else "") for q, o in zip(df[f"{pre}q"], old)]
    return df


def pooled(res: boot.Resampler, rows: pd.DataFrame, fn: boot.Fn,
           suffixes: tuple[str, ...] = ("_b",)) -> boot.Contrast | None:
    """The mean of fn over every complete row (cells: the row itself, then each suffix's partner), pooled
    over items only: a descriptive summary of this run's cells, not a claim about training sets or seeds."""
    parts = [res.contrast([side(row), *[side(row, s) for s in suffixes]], row["metric"], fn)
             for row in rows.to_dict("records")]
    return boot.combine(parts)
