"""The contrast's variance split by level — training sets, seeds, items — each part with its mean square and df.

The contrast is linear in the unit values (a signed mean over training sets of means over seeds), so
the cluster levels are moment (ANOVA) estimates from the unit values; only the item level, inside
each possibly non-linear unit statistic, needs the bootstrap. The item-only replicates give the full
K × K item covariance of the unit values: unit-specific item noise on the diagonal, and the noise
shared by units on the same test set (e.g. the base model's per-item values that every tuned − base
reuses) off it. The spread of unit values between seeds (or training sets) contains item noise too;
its expected share is computed from that covariance and subtracted, so each level's component is
unbiased. A component estimated below 0 adds nothing to the variance, but its level's mean square —
the observed spread, never taken below what the levels under it put into it — still enters the
degrees of freedom (inference.py says why).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftscope.errors import DataError
from ftscope.stats.bootstrap import Bootstrap

Trains = tuple[tuple[int, ...], ...]  # per training set of one group, the indices of its seeds' units


@dataclass(frozen=True)
class Part:
    level: str  # "train_set", "seed" or "item"
    group: str  # the group whose clusters it measures; "" for items (all groups together)
    component: float  # the level's variance component estimate (σ² per cluster; may fall below 0)
    scale: float  # its coefficient in the contrast's variance
    df: float  # degrees of freedom of the level's mean square
    mean_square: float  # that mean square in contrast-variance units, never below what lower levels put in it

    @property
    def variance(self) -> float:
        """Contribution to the contrast's variance; a component estimated below 0 contributes 0."""
        return self.scale * max(0.0, self.component)


def variance_parts(boot: Bootstrap) -> tuple[Part, ...]:
    cov = item_covariance(boot)
    weights = boot.layout.weights()
    item = float(weights @ cov @ weights)
    parts = [Part("item", "", item, 1.0, boot.items - 1.0, max(0.0, item))]
    for group, trains in zip(boot.layout.groups, boot.layout.trains):
        parts.extend(cluster_parts(boot.unit_values, cov, trains, group))
    return tuple(parts)


def item_covariance(boot: Bootstrap) -> np.ndarray:
    """K × K covariance of the unit values over item resampling, rescaled to the unbiased s²/n."""
    reps = boot.unit_reps
    keep = np.isfinite(reps).all(axis=0)
    if keep.sum() < max(10, reps.shape[1] // 2):
        raise DataError(f"the statistic is undefined in {reps.shape[1] - keep.sum()} of {reps.shape[1]} item "
                        "replicates (e.g. a ratio over a base score near 0); use a difference instead")
    centred = reps[:, keep] - reps[:, keep].mean(axis=1, keepdims=True)
    n = boot.items
    # A bootstrap variance of a mean is (n − 1)/n of s²/n: undone here (1% at 100 items).
    return centred @ centred.T / (keep.sum() - 1) * n / (n - 1)


def cluster_parts(values: np.ndarray, cov: np.ndarray, trains: Trains, group: str) -> list[Part]:
    """The seed and training-set parts of one group's mean (absent where that level has one member).

    Each level's observed mean square is compared with what the levels below put into it (`noise`):
    the excess is the level's component; max(observed, noise) is the positive-part estimate of its
    expected mean square, which is never below the noise and sets the level's weight in the df."""
    parts = []
    inverse_seeds = np.array([1 / len(seeds) for seeds in trains])
    n_train = len(trains)
    seed = seed_level(values, cov, trains)
    if seed is not None:
        observed, noise, df = seed
        scale = float(inverse_seeds.sum()) / n_train**2
        parts.append(Part("seed", group, observed - noise, scale, df, scale * max(observed, noise)))
    if n_train > 1:
        observed, noise = train_level(values, cov, trains)
        # Train-set means carry seed variance (σ²_seed / S each): it is subtracted where estimated; with
        # one seed per train set it is not estimable and stays in this level, which then covers it.
        seed_share = (parts[0].component if parts else 0.0) * float(inverse_seeds.mean())
        floor = noise + max(0.0, seed_share)
        parts.append(Part("train_set", group, observed - noise - seed_share, 1 / n_train, n_train - 1.0,
                          max(observed, floor) / n_train))
    return parts


def seed_level(values: np.ndarray, cov: np.ndarray, trains: Trains) -> tuple[float, float, float] | None:
    """Pooled between-seed variance within training sets, its expected item noise, and its df."""
    pairs = [(len(s) - 1, values[list(s)], cov[np.ix_(s, s)]) for s in trains if len(s) > 1]
    df = sum(d for d, _, _ in pairs)
    if not df:
        return None
    observed = sum(d * float(np.var(x, ddof=1)) for d, x, _ in pairs) / df
    noise = sum(d * item_noise(c) for d, _, c in pairs) / df
    return observed, noise, float(df)


def train_level(values: np.ndarray, cov: np.ndarray, trains: Trains) -> tuple[float, float]:
    """Variance between training-set means and the item noise expected in it (seed variance still in)."""
    average = np.zeros((len(trains), len(values)))
    for t, seeds in enumerate(trains):
        average[t, list(seeds)] = 1 / len(seeds)
    return float(np.var(average @ values, ddof=1)), item_noise(average @ cov @ average.T)


def item_noise(cov: np.ndarray) -> float:
    """E[sample variance] of k values whose item noise has covariance Σ: (tr Σ − 1ᵀΣ1 / k) / (k − 1).

    Noise shared by all k (the off-diagonal) does not spread them; only the unit-specific part does."""
    k = len(cov)
    return float((np.trace(cov) - cov.sum() / k) / (k - 1))
