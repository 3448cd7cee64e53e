"""Seeded bootstrap draws as matrices: item counts (n × B) and cluster weights (B × units).

Draws are matrices so that replicate means are one matrix product instead of B Python-level loops.
Seeds come from names through sha256, not Python's salted hash(), so every machine and every run
draws the same replicates.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ftscope.stats.design import Layout


def seed_of(*parts: object) -> int:
    """A stable 64-bit seed from names."""
    return int.from_bytes(hashlib.sha256(repr(parts).encode()).digest()[:8], "little")


def item_counts(n: int, seed: int, n_boot: int) -> np.ndarray:
    """n × B: how often each of n items is drawn in each of B replicates (each column sums to n)."""
    draws = np.random.default_rng(seed).integers(0, n, size=(n_boot, n))
    flat = (draws + np.arange(n_boot)[:, None] * n).ravel()
    counts = np.bincount(flat, minlength=n_boot * n).reshape(n_boot, n).astype(float)
    return counts.T  # a transposed view: BLAS reads it as is, where a contiguous copy would cost as much as the draws


def cluster_weights(layout: Layout, seed: int, n_boot: int) -> np.ndarray:
    """B × units: each unit's weight in its group's mean, for training sets drawn with replacement
    within each group and then seeds drawn with replacement within each drawn training set.

    A training set drawn c times gets c × S fresh seed draws; the sum of c multinomials over its S seeds
    is one multinomial of c × S, which is what is drawn. Each group's weights sum to 1 per replicate."""
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_boot, layout.size))
    for trains in layout.trains:
        copies = rng.multinomial(len(trains), np.full(len(trains), 1 / len(trains)), size=n_boot)
        for t, seeds in enumerate(trains):
            drawn = rng.multinomial(copies[:, t] * len(seeds), np.full(len(seeds), 1 / len(seeds)))
            weights[:, list(seeds)] = drawn / (len(seeds) * len(trains))
    return weights
