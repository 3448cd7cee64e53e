"""From a hierarchical bootstrap to an estimate, SE, CI and p-value at the level a claim speaks about.

Method ("cluster-satterthwaite-t"). The contrast's variance V is the sum of its level parts
(variance.py): per group, the training-set and seed components — moment estimates from the unit
values, net of the item noise the item bootstrap measures, negative estimates read as 0 — times their
coefficients, plus the item part (the item-only bootstrap's variance of the contrast; noise shared by
units on the same test set is in it and, for groups on the same test sets, cancels). The reference is
Student's t with Satterthwaite df = V² / Σ_l MS_l² / df_l over the mean squares V is estimated from:
each cluster level's observed spread (training-set means: T − 1 df; seeds within training sets:
T (S − 1) df), never taken below what the levels under it put into it, and the item part (items − 1).

Chosen by simulation (calibration.py; `python -m ftscope.stats.calibration 1000` reproduces it):
1000 simulated designs per cell, 500 replicates, two-sided α = 0.05, rejection rate under no effect.
Regimes (SDs train/seed/item/item_shared): item-dominated 0/.005/.45/.3, seed-dominated 0/.08/.3/.1,
train-dominated .08/.01/.3/.1, mixed .03/.03/.3/.15, binary accuracy (0/1 items) with train/seed
0/.01 and .03/.03. Worst regime per design (2×2×2: 2 groups × 2 training sets × 2 seeds × 100 items):

    candidate                                    2×2×2    1×2×2    2×4×3
    percentile CI of the hierarchical reps       0.176    0.222    0.100
    bootstrap SE × √(T/(T−1)), normal            0.067    0.100    0.056
    bootstrap SE × √(T/(T−1)), t(Σ(T−1))         0.001    0.000    0.027   (no power: Σ(T−1) = 1 or 2)
    unbiased variance, t(Σ(T−1)) ("cluster t")   0.027    0.000    0.039   (nearly no power at T = 2)
    level parts, normal                          0.144    0.216    0.089
    level parts, Satterthwaite over components   0.060    0.134    0.066
    level parts, Satterthwaite over mean squares 0.028    0.025    0.054   ← chosen

Sweeping one group's training-set SD (.04/.08/.15 over seed .01, item .3/.1): the chosen method's
worst rate is 0.053 (T = 2), 0.058 (T = 3), 0.059 (T = 4), against 0.142, 0.094 and 0.091 for
Satterthwaite over the estimated components. The Monte-Carlo s.d. of a rate near 0.05 is 0.007: the
chosen method sits at the nominal 5% within about one point where training sets dominate (its normal-
theory df are an approximation) and below it elsewhere (seed-dominated: 0.2–0.6%).

Why not that candidate (the one expected to work: a level estimated at ~0 costs no df)? With one df
at the top level, the spread of two training-set means is tiny by chance a quarter of the time
(P(χ²₁ < 0.1) ≈ 0.25) even when training sets dominate; the estimate then reads the variance off
seeds and items, with many df, and the verdict is wrong — 8–14% of the time for one group with two
or three training sets. One df cannot tell "≈ 0" from "dominant", so the top level must cost its df
whatever its estimate; charging each level's observed mean square (floored at its expected noise)
does that, and still gives little weight to levels whose spread is small next to the total (e.g.
when the item noise the units share dominates, as it does for tuned − base against one base model).

The price is power where items dominate and training sets are few. Rejection rates at a fixed
effect, items dominant (SDs 0/.01/.3/.1), 1000 designs: one group with 2 / 3 / 4 training sets at
effect 0.1: 29% / 91% / 99.7% (the rejected candidate: 90% / 99.6% / 100%); two groups with 2 each
at effect 0.12: 54% (candidate 90%). With two training sets per group no test can have both a few
percent of false verdicts whatever the training-set variance and near-normal power when it is 0:
`power.sizes_for` tells how many training sets a claim needs.

`power.power` models this method, including the randomness of its variance and df. Observed minus
predicted rejection rate at the 70%-power effect, over the 18 regime × shape cells above: −4.1 …
+5.6 points (largest: binary accuracy, one group, 75.6% observed vs 70.0%).

Limits: normal-theory df (0/1 items at 100 per cell are close enough — see the binary rows); the
item df assume blocks of similar size; with one training set per group the SE is conditional on it
(`levels_varied` lacks "train_set") and says nothing about other training sets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from ftscope.errors import ConfigError
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
    levels_varied: tuple[str, ...]  # levels replicated in every group, whose variance the SE measures

    @property
    def sign(self) -> int:
        """+1 when the whole CI is above 0, −1 when below, 0 when it straddles 0."""
        return 1 if self.lo > 0 else -1 if self.hi < 0 else 0


def infer(boot: Bootstrap, level: float = LEVEL) -> Inference:
    """t inference with the variance summed over levels and Satterthwaite degrees of freedom."""
    if not 0 < level < 1:
        raise ConfigError(f"confidence level {level}: give a fraction such as 0.95")
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
