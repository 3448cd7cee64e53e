"""Equivalence (TOST) and non-superiority: showing an effect is small, not merely failing to show it is large.

A wide CI that straddles 0 says "cannot tell", never "no effect". Claims of the form "gains little" or
"does not help" need the effect bounded inside a stated margin: two one-sided t tests (Schuirmann)
for |effect| < margin, or one for effect < +margin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import stats as sps

from ftscope.errors import ConfigError
from ftscope.stats.inference import Inference

Parts = tuple[float, float, float]  # (value, se, df); df inf for a normal reference


@dataclass(frozen=True)
class Bounded:
    holds: bool  # equivalence (TOST) / non-superiority shown at alpha
    p: float  # TOST: the larger one-sided p; non-superiority: the one-sided p of "effect ≥ margin"
    lo: float  # TOST: the (1 − 2α) CI; non-superiority: −inf and the (1 − α) upper bound
    hi: float
    margin: float
    alpha: float


def tost(found: Inference | Parts, margin: float, alpha: float = 0.05) -> Bounded:
    """Equivalent within ±margin when both one-sided tests reject: the (1 − 2α) CI lies inside ±margin."""
    value, se, df = _parts(found, margin, alpha)
    if se == 0:
        inside = abs(value) < margin
        return Bounded(inside, 0.0 if inside else 1.0, value, value, margin, alpha)
    p_low = float(sps.t.sf((value + margin) / se, df))  # H0: effect ≤ −margin
    p_high = float(sps.t.cdf((value - margin) / se, df))  # H0: effect ≥ +margin
    q = float(sps.t.ppf(1 - alpha, df))
    p = max(p_low, p_high)
    return Bounded(p < alpha, p, value - q * se, value + q * se, margin, alpha)


def non_superiority(found: Inference | Parts, margin: float, alpha: float = 0.05) -> Bounded:
    """The effect is below +margin when the one-sided (1 − α) upper bound is (for 'no more than a small gain')."""
    value, se, df = _parts(found, margin, alpha)
    if se == 0:
        below = value < margin
        return Bounded(below, 0.0 if below else 1.0, -math.inf, value, margin, alpha)
    p = float(sps.t.cdf((value - margin) / se, df))
    return Bounded(p < alpha, p, -math.inf, value + float(sps.t.ppf(1 - alpha, df)) * se, margin, alpha)


def _parts(found: Inference | Parts, margin: float, alpha: float) -> Parts:
    if not margin > 0:
        raise ConfigError(f"equivalence margin {margin}: give a positive margin in the statistic's unit")
    if not 0 < alpha < 0.5:
        raise ConfigError(f"alpha {alpha}: give a level in (0, 0.5)")
    if isinstance(found, Inference):
        return found.value, found.se, found.df
    value, se, df = found
    return float(value), float(se), float(df)
