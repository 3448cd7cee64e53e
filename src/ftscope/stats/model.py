"""The variance-components model of a claim's unit statistic, and what it implies for the contrast.

The model (simulate.py draws from exactly this): the per-item paired value d (e.g. tuned − base) of
unit u = (group g, training set t, seed s) on item i of test set b is

    d = effect_g + a_t + c_ts + h_bi + w_ubi,   a ~ N(0, train²), c ~ N(0, seed²),
    h ~ (0, item_shared²) shared by every unit evaluated on item i of test set b,
    w ~ (0, item² − item_shared²) the unit's own,

and a unit's statistic is the mean of d over its `blocks` test sets of `items` items each. With T
training sets per group, S seeds each and N = items × blocks, one group's mean has variance

    train²/T + seed²/(T S) + (item² − item_shared²)/(T S N) + item_shared²/N

and a difference of two groups adds both groups' variances, except that the shared item part cancels
when both groups are evaluated on the same test sets (`DesignShape.share_items`).

What `inference.infer` estimates it from, per group: the spread of training-set means (mean square
E = train² + (seed² + own)/S with T − 1 df, own = (item² − item_shared²)/N), the spread of seeds
within training sets (E = seed² + own, T (S − 1) df) and the item bootstrap (items − 1 df).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ftscope.errors import ConfigError


@dataclass(frozen=True)
class VarianceComponents:
    """SDs, in the unit statistic's own unit."""

    train: float  # between training sets
    seed: float  # between seeds of one training set
    item: float  # per-item SD of the paired per-item value within a unit
    item_shared: float = 0.0  # the part of `item` shared by every unit evaluated on the same items

    def __post_init__(self) -> None:
        if not min(self.train, self.seed, self.item, self.item_shared) >= 0:
            raise ConfigError(f"variance components {self}: SDs must be ≥ 0")
        if self.item_shared > self.item:
            raise ConfigError(f"variance components: item_shared {self.item_shared} exceeds item {self.item}; "
                              "the shared part is a share of the per-item SD")


@dataclass(frozen=True)
class DesignShape:
    """Per group: training sets, seeds per training set, items per test set, test sets per unit."""

    groups: int  # 1: one group's mean (one-sample claim); 2: first group − second
    train_sets: int
    seeds: int
    items: int
    blocks: int = 1
    share_items: bool = False  # both groups evaluated on the same test sets (shared item noise cancels)

    def __post_init__(self) -> None:
        if self.groups not in (1, 2) or min(self.train_sets, self.seeds, self.blocks) < 1 or self.items < 2:
            raise ConfigError(f"design shape {self}: need groups 1 or 2, ≥ 1 training set, seed and "
                              "block, and ≥ 2 items")


@dataclass(frozen=True)
class Level:
    """One group's cluster level as `infer` sees it: its observed mean square and the noise below it."""

    expected: float  # E[mean square] (σ² units of that level's cluster means)
    noise: float  # the item-noise part of it, which the bootstrap measures (σ² units)
    df: float
    scale: float  # coefficient of the level's component in the contrast's variance


@dataclass(frozen=True)
class Expected:
    """The contrast's true variance and, per group, the levels it is estimated from."""

    variance: float
    item: float  # the item bootstrap's part of the variance
    seed: Level | None  # None: one seed per training set (its variance folds into the training-set level)
    train: Level | None  # None: one training set per group
    testable: bool  # False when a varying level has no replication (one training set, train > 0)


def expected(shape: DesignShape, c: VarianceComponents) -> Expected:
    t, s, n = shape.train_sets, shape.seeds, shape.items * shape.blocks
    own = (c.item**2 - c.item_shared**2) / n
    shared = 0.0 if shape.groups == 2 and shape.share_items else c.item_shared**2 / n
    item = shape.groups * (own / (t * s) + shared)
    variance = item + shape.groups * (c.train**2 / t + c.seed**2 / (t * s))
    seed = Level(c.seed**2 + own, own, t * (s - 1.0), 1 / (t * s)) if s > 1 else None
    train = Level(c.train**2 + (c.seed**2 + own) / s, own / s, t - 1.0, 1 / t) if t > 1 else None
    # With one training set (or one seed of one training set) a varying level cannot be estimated.
    unreplicated = (c.train > 0 and t == 1) or (c.seed > 0 and t == 1 and s == 1)
    return Expected(variance, item, seed, train, not unreplicated)


@dataclass(frozen=True)
class Predicted:
    se: float  # of the contrast
    df: float  # Satterthwaite at the expected mean squares; 0 when the contrast is not testable


def predict(shape: DesignShape, components: VarianceComponents) -> Predicted:
    """The contrast's SE and the degrees of freedom `infer` finds at the expected mean squares."""
    found = expected(shape, components)
    se = math.sqrt(found.variance)
    if not found.testable:
        return Predicted(se, 0.0)
    squares = [(found.item, shape.items - 1.0)]
    squares += [(lv.scale * lv.expected, lv.df) for lv in (found.seed, found.train) if lv] * shape.groups
    denominator = sum(square**2 / df for square, df in squares if square > 0)
    return Predicted(se, found.variance**2 / denominator if denominator else math.inf)
