"""Tests on one pair of cells (two models on the same items): McNemar, a paired bootstrap, a mean's SE.

These speak about *these two models on these items* only (levels_varied is ("item",)): the verdict
level for claims about fine-tuning is `hierarchical_bootstrap` + `infer`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import numpy as np
from scipy import stats as sps

from ftscope.errors import DataError
from ftscope.stats.draws import item_counts
from ftscope.stats.inference import LEVEL, Inference

EXACT_BELOW = 25  # discordant pairs; below it the χ² approximation is poor (the usual rule of thumb)


@dataclass(frozen=True)
class McNemar:
    only_a: int  # items model A gets right and B wrong
    only_b: int
    statistic: float  # exact: min(only_a, only_b) (as statsmodels); χ²: with continuity correction
    p: float
    method: str  # "exact" or "chi2"


def mcnemar(a_correct: Sequence[bool], b_correct: Sequence[bool]) -> McNemar:
    """McNemar's test on the discordant pairs: exact binomial below 25 of them, else χ² (Edwards)."""
    a, b = _pair(a_correct, b_correct, bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    total = only_a + only_b
    if total < EXACT_BELOW:
        low = min(only_a, only_b)
        p = min(1.0, 2 * float(sps.binom.cdf(low, total, 0.5))) if total else 1.0
        return McNemar(only_a, only_b, float(low), p, "exact")
    chi2 = (abs(only_a - only_b) - 1) ** 2 / total
    return McNemar(only_a, only_b, float(chi2), float(sps.chi2.sf(chi2, 1)), "chi2")


def paired_bootstrap(a: Sequence[float], b: Sequence[float], n_boot: int = 2000, seed: int = 0,
                     level: float = LEVEL) -> Inference:
    """Percentile CI of mean(a) − mean(b) for per-item values of two cells on the same items (same order)."""
    x, y = _pair(a, b, float)
    counts = item_counts(x.size, seed, n_boot)
    reps = (x - y) @ counts / x.size  # one draw of items serves both cells: the pairing is kept
    lo, hi = np.percentile(reps, [50 * (1 - level), 50 * (1 + level)])
    tail = min((reps <= 0).sum(), (reps >= 0).sum())
    p = min(1.0, 2 * (tail + 1) / (n_boot + 1))  # +1: a bootstrap p-value is never exactly 0
    return Inference(float(x.mean() - y.mean()), float(np.std(reps, ddof=1)), float(lo), float(hi), p,
                     math.inf, level, "paired percentile bootstrap", ("item",))


def mean_se(values: Sequence[float]) -> float:
    """sqrt(s² / n) with the n − 1 sample variance: lm-evaluation-harness's `mean_stderr`."""
    x = np.asarray(values, dtype=float).ravel()
    if x.size < 2:
        return math.nan
    return float(math.sqrt(np.var(x, ddof=1) / x.size))


def _pair(a: Sequence, b: Sequence, kind: type) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(a, dtype=kind).ravel(), np.asarray(b, dtype=kind).ravel()
    if x.shape != y.shape or x.size == 0:
        raise DataError(f"paired values need the same, non-empty items: {x.size} vs {y.size} values; "
                        "align both cells on their shared item ids first")
    return x, y
