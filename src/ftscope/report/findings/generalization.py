"""The generalization tables: every tuned cell against the base, summaries over seeds, sample-size curves.

For each tuned eval cell the base model stands beside it three ways: at the same shot count (the paired
delta the study's tables report), at 0 shots, and at its best in-context shot count, so a reader sees
whether tuning beat what the untouched model reaches with demonstrations alone.
"""

from __future__ import annotations

import math

import pandas as pd

from ftscope.report.data import resample as boot
from ftscope.report.data import pairs as C
from ftscope.report.data.paired import aggregate_seeds

IDENT = ["model", "model_label", "group", "base", "method", "method_label", "tune", "train_datasets", "train_task",
         "train_kind", "n", "seed", "dataset", "task", "task_kind", "role", "shots", "template", "scoring", "metric"]
ROLES = ["in-domain", "out-of-domain", "cross-task"]


def base_references(evals: pd.DataFrame) -> dict[tuple, tuple[dict | None, dict | None]]:
    """(base, bench) → the base's 0-shot cell and its best in-context cell (highest score, shots > 0)."""
    done = evals[(evals["method"] == "base") & (evals["status"] == "done") & evals["score"].notna()]
    refs = {}
    for key, group in done.groupby(["base", "bench"]):
        zero = group[group["shots"] == 0]
        icl = group[group["shots"] > 0].sort_values(["score", "shots"], ascending=[False, True])
        refs[key] = (zero.iloc[0].to_dict() if len(zero) else None, icl.iloc[0].to_dict() if len(icl) else None)
    return refs


def _versus(res: boot.Resampler, cell: dict, ref: dict | None, prefix: str) -> dict:
    if ref is None:
        return {f"base_{prefix}": math.nan}
    return {f"base_{prefix}": ref["score"], **C.prefixed(C.compare(res, cell, C.side(ref)), f"vs{prefix}_")}


def generalization(evals: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """One row per done tuned cell with a done base cell: score, base score, delta, CI, significance."""
    refs, records = base_references(evals), []
    for row in C.complete(C.with_base(evals)).to_dict("records"):
        cell = C.side(row)
        zero, icl = refs.get((row["base"], row["bench"]), (None, None))
        records.append({**{k: row[k] for k in IDENT}, "score": row["score"], "base_score": row["score_b"],
                        **C.compare(res, cell, C.side(row, "_b")), **_versus(res, cell, zero, "0shot"),
                        **_versus(res, cell, icl, "icl"), "base_icl_shots": icl["shots"] if icl else math.nan,
                        "hash": row["hash"], "base_hash": row["hash_b"]})
    return C.with_q(ordered(pd.DataFrame.from_records(records)), ("", "vs0shot_", "vsicl_"))


def ordered(df: pd.DataFrame, keys: list[str] | None = None) -> pd.DataFrame:
    """Rows by model, then role in the paper's order (in-domain, out-of-domain, cross-task), then setting."""
    if df.empty:
        return df
    keys = [k for k in (keys or ["group", "seed", "role", "task_kind", "dataset", "template", "shots", "n"])
            if k in df.columns]
    order = {r: i for i, r in enumerate(ROLES)}
    return df.sort_values(keys, key=lambda col: col.map(order) if col.name == "role" else col,
                          na_position="first").reset_index(drop=True)


def by_group(gen: pd.DataFrame) -> pd.DataFrame:
    """Per model group, role, task kind and shots: the delta averaged over datasets, then mean ± sd over seeds."""
    keys = ["group", "method", "train_datasets", "n", "role", "task_kind", "shots"]
    if gen.empty:
        return pd.DataFrame(columns=[*keys, "delta_mean", "delta_sd", "seeds"])
    per_seed = gen.groupby([*keys, "seed"], dropna=False)["delta"].mean().reset_index()
    return ordered(aggregate_seeds(per_seed, keys, "delta"))


def sample_size(gen: pd.DataFrame) -> pd.DataFrame:
    """n → score and delta per method, training set, role and shots (mean ± sd over seeds)."""
    keys = ["method", "tune", "train_datasets", "role", "task_kind", "shots", "n"]
    if gen.empty:
        return pd.DataFrame(columns=[*keys, "score_mean", "score_sd", "delta_mean", "delta_sd", "seeds"])
    per_seed = gen.groupby([*keys, "seed"], dropna=False)[["score", "delta"]].mean().reset_index()
    score = aggregate_seeds(per_seed, keys, "score")
    merged = score.merge(aggregate_seeds(per_seed, keys, "delta").drop(columns="seeds"), on=keys, how="left")
    return ordered(merged, ["method", "tune", "train_datasets", "role", "task_kind", "shots", "n"])
