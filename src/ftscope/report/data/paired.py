"""Per-cell comparisons (one cell against another on the same items) and seeds as mean ± sd.

These describe this run's cells and speak about their items only; claims about training sets and seeds
use ftscope.stats' hierarchical designs. The bootstrap resamples items with the same draws for every
model on a test set (count matrices from ftscope.stats.draws), so a delta's CI reflects how two models
differ on the items, not how hard the items are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats as sps

N_BOOT = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its CI and two-sided p-value; `paired` False: a normal approximation."""

    value: float
    lo: float
    hi: float
    p: float
    n: int
    paired: bool = True

    @property
    def sign(self) -> int:
        """+1 when the whole CI is above 0, -1 when below, 0 when it straddles 0 (or is unknown)."""
        return 1 if self.lo > 0 else -1 if self.hi < 0 else 0


def boot_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """m × n values → m × B replicate means, every row resampled with the same examples (counts: n × B,
    ftscope.stats.draws.item_counts)."""
    values = np.atleast_2d(np.asarray(values, dtype=float))
    return (values @ counts) / max(1, values.shape[1])


def p_two_sided(reps: np.ndarray) -> float:
    """Bootstrap p-value of 'no difference': twice the smaller tail beyond 0 (with the +1 correction)."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return float("nan")
    tail = min((reps <= 0).sum(), (reps >= 0).sum())
    return float(min(1.0, 2 * (tail + 1) / (reps.size + 1)))


def estimate(value: float, reps: np.ndarray, n: int, level: float = LEVEL) -> Estimate:
    reps = np.asarray(reps, dtype=float)
    finite = reps[np.isfinite(reps)]
    if finite.size == 0 or not math.isfinite(value):
        return Estimate(float(value), float("nan"), float("nan"), float("nan"), n)
    tail = (1 - level) / 2 * 100
    lo, hi = np.percentile(finite, [tail, 100 - tail])
    return Estimate(float(value), float(lo), float(hi), p_two_sided(finite), n)


def normal_estimate(diff: float, se: float, n: int, level: float = LEVEL) -> Estimate:
    """Fallback when predictions are missing: independent SEs, a normal CI; marked unpaired."""
    if not (math.isfinite(diff) and math.isfinite(se)) or se <= 0:
        return Estimate(diff, float("nan"), float("nan"), float("nan"), n, paired=False)
    z = sps.norm.ppf(0.5 + level / 2)
    p = float(2 * sps.norm.sf(abs(diff) / se))
    return Estimate(diff, diff - z * se, diff + z * se, p, n, paired=False)


def stars(p: float) -> str:
    if p is None or not math.isfinite(p):
        return ""
    return "***" if p < 0.001 else "**" if p < 0.01 else "*" if p < 0.05 else ""


def seed_summary(values) -> tuple[float, float, int]:
    """Mean, sample sd (NaN for one seed: one run says nothing about spread) and the seed count."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    if x.size == 0:
        return float("nan"), float("nan"), 0
    return float(x.mean()), float(x.std(ddof=1)) if x.size > 1 else float("nan"), int(x.size)


def aggregate_seeds(df: pd.DataFrame, keys: list[str], column: str) -> pd.DataFrame:
    """Rows that differ only by seed → one row with `column`_mean, _sd and `seeds`."""
    if df.empty:
        return pd.DataFrame(columns=[*keys, f"{column}_mean", f"{column}_sd", "seeds"])
    grouped = df.groupby(keys, dropna=False, sort=True)[column]
    out = grouped.apply(lambda s: pd.Series(seed_summary(s.tolist()), index=["mean", "sd", "seeds"])).unstack()
    out.columns = [f"{column}_mean", f"{column}_sd", "seeds"]
    return out.reset_index().astype({"seeds": int})
