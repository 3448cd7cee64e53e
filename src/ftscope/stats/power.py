"""Power and planning for a claim's contrast under the variance-components model (model.py).

`power` is the rejection rate of `inference.infer`'s own test, not of an idealised one: the estimated
variance and its Satterthwaite df are random (a training-set level with 1 df is estimated from one
spread), and with few clusters that randomness decides the power. So the mean squares `infer` reads
are drawn from their scaled χ² distributions (normal model; the item-level estimates share one
χ²(items − 1) precision factor), the variance and df are computed from them exactly as `infer` does,
and the rejection probability given them — the estimate is normal and independent of the spreads —
is averaged over 4000 draws. The draws are seeded and fixed, so power is a smooth, deterministic
function of the effect (the MDE is a root of it) and the same on every machine.

A level with one member is not estimable on its own: one seed per training set folds the seed
variance into the training-set level (as the estimate does); one training set per group leaves the
training-set variance untestable, so when `train` > 0 a claim about the *population of training
sets* cannot be tested: power 0 and an infinite MDE — `sizes_for` then says how many training sets
would reach the power.

Multiplicity: power is computed at the `alpha` given. For m primary tests under Holm, pass alpha / m
(Holm's first, strictest step): conservative, since later steps test at larger levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
from scipy import optimize, stats as sps

from ftscope.stats.model import DesignShape, Expected, Level, VarianceComponents, expected

POWER = 0.8
DRAWS = 4000
LIMITS = {"seeds": 256, "items": 10_000_000, "train_sets": 256}  # beyond these, "unreachable"


def power(effect: float, shape: DesignShape, components: VarianceComponents, alpha: float = 0.05) -> float:
    """Probability that `infer`'s two-sided test at `alpha` rejects 'no effect' when the contrast is `effect`."""
    return rejection_rate(effect, shape, components, alpha)


def rejection_rate(effect: float, shape: DesignShape, components: VarianceComponents, alpha: float) -> float:
    """`power` under a name that `mde` and `sizes_for`, whose target argument is called `power`, can reach."""
    found = expected(shape, components)
    if not found.testable:
        return 0.0
    if found.variance == 0:
        return float(effect != 0)
    variance, df = _estimates(shape, found)
    threshold = sps.t.ppf(1 - alpha / 2, df) * np.sqrt(variance)
    sd = math.sqrt(found.variance)
    return float(np.mean(sps.norm.cdf((effect - threshold) / sd) + sps.norm.cdf((-effect - threshold) / sd)))


def _estimates(shape: DesignShape, found: Expected) -> tuple[np.ndarray, np.ndarray]:
    """Draws of the variance `infer` estimates and of its df (variance.py's formulas, balanced case)."""
    rng = np.random.default_rng(0)  # fixed: common random numbers across effects and shapes
    precision = rng.chisquare(shape.items - 1, DRAWS) / (shape.items - 1)
    variance = precision * found.item
    denominator = variance**2 / (shape.items - 1)
    for _ in range(shape.groups):
        seed_share = np.zeros(DRAWS)
        if found.seed:
            component, square = _level(found.seed, precision, 0.0, rng)
            variance, denominator = variance + found.seed.scale * np.maximum(component, 0), denominator + square
            seed_share = component / shape.seeds
        if found.train:
            component, square = _level(found.train, precision, seed_share, rng)
            variance, denominator = variance + found.train.scale * np.maximum(component, 0), denominator + square
    with np.errstate(divide="ignore", invalid="ignore"):
        df = np.where(denominator > 0, variance**2 / denominator, np.inf)
    return variance, df


def _level(level: Level, precision: np.ndarray, below: np.ndarray | float, rng: np.random.Generator):
    """A level's component estimate and its term in the Satterthwaite denominator, per draw."""
    observed = level.expected * rng.chisquare(level.df, DRAWS) / level.df
    noise = precision * level.noise
    floor = noise + np.maximum(below, 0)
    return observed - noise - below, (level.scale * np.maximum(observed, floor)) ** 2 / level.df


def mde(shape: DesignShape, components: VarianceComponents, alpha: float = 0.05, power: float = POWER) -> float:
    """The smallest effect detected with probability `power` (inf when no effect can be)."""
    found = expected(shape, components)
    if not found.testable:
        return math.inf
    if found.variance == 0:
        return 0.0
    def gap(effect: float) -> float:
        return rejection_rate(effect, shape, components, alpha) - power

    high = math.sqrt(found.variance)
    while gap(high) < 0:
        high *= 2
    return float(optimize.brentq(gap, 0.0, high, xtol=high * 1e-9))


@dataclass(frozen=True)
class Sizes:
    """The smallest value of each lever alone (others as given) reaching the power; None: unreachable."""

    seeds: int | None  # per training set
    items: int | None  # per test set
    train_sets: int | None  # per group


def sizes_for(effect: float, shape: DesignShape, components: VarianceComponents, alpha: float = 0.05,
              power: float = POWER) -> Sizes:
    """Seeds, items and training sets needed to detect `effect` with probability `power`, each varied alone."""
    return Sizes(**{lever: _smallest(effect, shape, components, alpha, power, lever) for lever in LIMITS})


def _smallest(effect: float, shape: DesignShape, components: VarianceComponents, alpha: float, target: float,
              lever: str) -> int | None:
    """Doubling, then bisection between the last miss and the first hit.

    Power is only nearly monotone in a lever: more items can lower it slightly when the item level was
    lending the test its df (the training-set level then dominates the Satterthwaite df). The result is
    a size that reaches the power while the size below it does not."""
    def reaches(size: int) -> bool:
        return rejection_rate(effect, replace(shape, **{lever: size}), components, alpha) >= target

    low = 2 if lever == "items" else 1
    if reaches(low):
        return low
    high = low * 2
    while not reaches(high):
        if high >= LIMITS[lever]:
            return None
        low, high = high, min(high * 2, LIMITS[lever])
    while high - low > 1:
        middle = (low + high) // 2
        low, high = (low, middle) if reaches(middle) else (middle, high)
    return high
