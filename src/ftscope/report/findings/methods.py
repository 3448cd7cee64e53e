"""Method against method: FTICL vs plain fine-tuning, ProMoT vs fine-tuning and the base.

Plain fine-tuning is the partner with the same base, training data, n and seed, tuned the same way
(`tune`: full or LoRA), so the only difference left is the method. ProMoT's headline number is its
normalised in-context average (Wang et al. 2022): the mean over in-context evaluations of score / base
score at the same setting, 1.0 meaning the base's in-context ability is fully kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ftscope.report.data import resample as boot
from ftscope.report.data import pairs as C
from ftscope.report.findings.generalization import IDENT, ROLES, ordered

TRIPLE = {"_b": "plain fine-tuning cell", "_base": "base cell"}


def fticl_vs_plain(evals: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """One row per FTICL cell with its plain fine-tuning partner done: both scores and the paired delta."""
    records = [{**{k: row[k] for k in IDENT}, "score": row["score"], "plain_score": row["score_b"],
                "plain_label": row["model_label_b"], **C.compare(res, C.side(row), C.side(row, "_b")),
                "hash": row["hash"], "plain_hash": row["hash_b"]}
               for row in C.complete(C.with_plain(evals, "fticl")).to_dict("records")]
    return C.with_q(ordered(pd.DataFrame.from_records(records)))


def triples(evals: pd.DataFrame, method: str = "promot") -> pd.DataFrame:
    """Each `method` cell beside its plain fine-tuning partner (`_b`) and the base (`_base`), done or not."""
    return C.with_base(evals, C.with_plain(evals, method), "_base")


def promot_cells(evals: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """Per ProMoT cell: its score, plain fine-tuning's and the base's, and paired deltas to both."""
    records = []
    for row in C.complete(triples(evals), ("_b", "_base")).to_dict("records"):
        cell = C.side(row)
        records.append({**{k: row[k] for k in IDENT}, "score": row["score"], "plain_score": row["score_b"],
                        "base_score": row["score_base"],
                        **C.prefixed(C.compare(res, cell, C.side(row, "_b")), "vsplain_"),
                        **C.prefixed(C.compare(res, cell, C.side(row, "_base")), "vsbase_")})
    return C.with_q(ordered(pd.DataFrame.from_records(records)), ("vsplain_", "vsbase_"))


def _normalised(m: np.ndarray) -> np.ndarray:
    # rows: ProMoT, plain fine-tuning, base → both normalised by the base, and their difference
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m[2] != 0, np.stack([m[0] / m[2], m[1] / m[2], (m[0] - m[1]) / m[2]]), np.nan)


def normalised_icl(rows: pd.DataFrame, res: boot.Resampler) -> dict[str, boot.Contrast | None]:
    """ProMoT's and plain fine-tuning's normalised in-context averages and their difference, with replicates."""
    parts: list[list[boot.Contrast]] = [[], [], []]
    for row in rows.to_dict("records"):
        cells = [C.side(row), C.side(row, "_b"), C.side(row, "_base")]
        for i, found in enumerate(res.contrasts(cells, row["metric"], _normalised)):
            parts[i].append(found)
    return dict(zip(("promot", "plain", "diff"), (boot.combine(p) for p in parts)))


def _summary_row(keys: dict, found: dict[str, boot.Contrast | None], cells: int) -> dict:
    row = {**keys, "cells": cells}
    for name, contrast in found.items():
        est = contrast.estimate() if contrast else None
        row.update({f"{name}": est.value if est else np.nan, f"{name}_lo": est.lo if est else np.nan,
                    f"{name}_hi": est.hi if est else np.nan})
        if name == "diff":
            row["diff_p"] = est.p if est else np.nan
    row["base"] = 1.0
    return row


def promot_summary(evals: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """Per ProMoT model and scope (all in-context cells, then each role): normalised in-context averages."""
    done = C.complete(triples(evals), ("_b", "_base"))
    done = done[done["shots"] > 0]
    records = []
    for (group, label, seed), rows in done.groupby(["group", "model_label", "seed"], dropna=False):
        scopes = [("in-context, all roles", rows)] + [(r, rows[rows["role"] == r]) for r in ROLES]
        for scope, subset in scopes:
            if len(subset):
                keys = {"group": group, "model_label": label, "seed": seed, "scope": scope}
                records.append(_summary_row(keys, normalised_icl(subset, res), len(subset)))
    return pd.DataFrame.from_records(records)


def by_method(evals: pd.DataFrame, res: boot.Resampler) -> pd.DataFrame:
    """Per method, role and task kind: the delta vs the base pooled over every complete cell pair, with CI."""
    pairs = C.complete(C.with_base(evals))
    records = []
    if pairs.empty:
        return pd.DataFrame(columns=["method", "role", "task_kind", "cells", "delta", "lo", "hi", "p"])
    for (method, role, kind), rows in pairs.groupby(["method_label", "role", "task_kind"]):
        found = C.pooled(res, rows, boot.delta)
        est = found.estimate() if found else None
        records.append({"method": method, "role": role, "task_kind": kind, "cells": len(rows),
                        **({"delta": est.value, "lo": est.lo, "hi": est.hi, "p": est.p} if est else {})})
    out = pd.DataFrame.from_records(records, columns=["method", "role", "task_kind", "cells", "delta", "lo", "hi", "p"])
    return out.assign(_r=out["role"].map({r: i for i, r in enumerate(ROLES)})).sort_values(
        ["method", "_r", "task_kind"]).drop(columns="_r").reset_index(drop=True)
