"""From a hierarchical bootstrap to an estimate, SE, CI and p-value at the level a claim speaks about.

METHOD DOCSTRING PLACEHOLDER
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from ftscope.stats.bootstrap import Bootstrap
from ftscope.stats.variance import Part, variance_parts

LEVEL = 0.95


@dataclass(frozen=True)
class Inference:
    value: float  # the point estimate, in the statistic's own unit
    se: float  # its standard error
    lo: float  # the two-sided `level` confidence interval
    hi: float
    p: float  # two-sided p-value of "no effect" (value 0)
    df: float  # degrees of freedom of the t reference (inf: normal)
    level: float
    method: str
    levels_varied: tuple[str, ...]  # the sampling levels whose variance the SE includes

    @property
    def sign(self) -> int:
        """+1 when the whole CI is above 0, −1 when below, 0 when it straddles 0."""
        return 1 if self.lo > 0 else -1 if self.hi < 0 else 0


def infer(boot: Bootstrap, level: float = LEVEL) -> Inference:
    """t inference with the variance summed over levels and Satterthwaite degrees of freedom."""
    parts = variance_parts(boot)
    variance = sum(p.variance for p in parts)
    return t_inference(boot.value, math.sqrt(variance), satterthwaite(parts), level,
                       "cluster-satterthwaite-t", boot.levels_varied)


def satterthwaite(parts: tuple[Part, ...]) -> float:
    """df of the summed variance: V² / Σ(MS²/df) over the mean squares it is estimated from."""
    total = sum(p.variance for p in parts)
    denominator = sum(p.mean_square**2 / p.df for p in parts if p.mean_square > 0)
    return total**2 / denominator if denominator > 0 else math.inf


def t_inference(value: float, se: float, df: float, level: float, method: str,
                levels: tuple[str, ...] = ("item",)) -> Inference:
    if se == 0:  # every replicate identical: the data cannot distinguish any spread
        p = 1.0 if value == 0 else 0.0
        return Inference(value, 0.0, value, value, p, df, level, method, levels)
    df = float(df)
    quantile = float(sps.t.ppf(0.5 + level / 2, df))
    p = float(2 * sps.t.sf(abs(value) / se, df))
    return Inference(value, se, value - quantile * se, value + quantile * se, p, df, level, method, levels)
