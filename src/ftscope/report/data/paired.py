"""The statistics behind every delta: paired bootstrap CIs, McNemar's test, seeds as mean ± sd.

The bootstrap resamples *examples*, and the same resampled examples serve every model evaluated on
them: a delta's CI then reflects only how the two models differ on the items, not how hard the items
are. Resampling is done as a count matrix (n × B, how often each example is drawn in each replicate),
so any number of cells on one test set cost one matrix product instead of B Python-level draws.
"""

from __future__ import annotations

import hashlib
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


def seed_of(*parts: object) -> int:
    """A stable seed from names (not Python's salted hash), so a report is the same on every run."""
    return int(hashlib.sha256(repr(parts).encode()).hexdigest()[:8], 16)


def resample_counts(n: int, seed: int, n_boot: int = N_BOOT) -> np.ndarray:
    """n × B: how many times each of n examples is drawn in each of B bootstrap replicates.

    float32 and example-major, so replicate means are one BLAS product with no conversion per call."""
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    flat = (draws + np.arange(n_boot)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n)
    return np.ascontiguousarray(counts.T, dtype=np.float32)


def boot_means(values: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """m × n values → m × B replicate means, every row resampled with the same examples."""
    values = np.atleast_2d(np.asarray(values, dtype=np.float32))
    return (values @ counts).astype(float) / max(1, values.shape[1])


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


def paired_bootstrap(a, b, n_boot: int = N_BOOT, seed: int = 0, level: float = LEVEL) -> Estimate:
    """CI of mean(a) - mean(b) for per-example values of two models on the same examples (same order)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same examples: {a.shape} vs {b.shape}")
    if a.size == 0:
        return Estimate(float("nan"), float("nan"), float("nan"), float("nan"), 0)
    means = boot_means(np.stack([a, b]), resample_counts(a.size, seed, n_boot))
    return estimate(float(a.mean() - b.mean()), means[0] - means[1], a.size, level)


def normal_estimate(diff: float, se: float, n: int, level: float = LEVEL) -> Estimate:
    """Fallback when predictions are missing: independent SEs, a normal CI; marked unpaired."""
    if not (math.isfinite(diff) and math.isfinite(se)) or se <= 0:
        return Estimate(diff, float("nan"), float("nan"), float("nan"), n, paired=False)
    z = sps.norm.ppf(0.5 + level / 2)
    p = float(2 * sps.norm.sf(abs(diff) / se))
    return Estimate(diff, diff - z * se, diff + z * se, p, n, paired=False)


@dataclass(frozen=True)
class McNemar:
    only_a: int  # examples model A gets right and B wrong
    only_b: int
    statistic: float
    p: float
    method: str


def mcnemar(a_correct, b_correct, exact: bool | None = None) -> McNemar:
    """McNemar's test on the discordant pairs: exact binomial below 25 of them (or when asked), else χ²."""
    a, b = np.asarray(a_correct, dtype=bool), np.asarray(b_correct, dtype=bool)
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    total = only_a + only_b
    if total == 0:
        return McNemar(only_a, only_b, 0.0, 1.0, "exact")
    use_exact = exact if exact is not None else total < 25
    if use_exact:
        return McNemar(only_a, only_b, float(only_a), float(sps.binomtest(only_a, total, 0.5).pvalue), "exact")
    chi2 = (abs(only_a - only_b) - 1) ** 2 / total  # with Edwards' continuity correction
    return McNemar(only_a, only_b, float(chi2), float(sps.chi2.sf(chi2, 1)), "chi2")


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
