"""Hierarchical (cluster) bootstrap of a claim's contrast: training sets, then seeds, then items.

Each replicate resamples training sets within each group, seeds within each drawn training set, and
items — with the *same item draws for every unit on the same test set*, so tuned − base, or one group
against another on shared test sets, stays paired. The group estimate is the mean over training sets
of the mean over seeds of the unit statistic; the contrast is one group's estimate, or the first
group's minus the second's.

Besides the full replicates the result keeps each unit's *item-only* replicates (clusters fixed, the
same item draws): `inference.infer` reads the item-level variance and covariances from them and the
cluster-level variance from the units' point values, because the percentile interval of the full
replicates is badly anti-conservative with two clusters per group (numbers in inference.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ftscope.errors import ConfigError, DataError
from ftscope.stats.design import Block, Design, Layout
from ftscope.stats.draws import cluster_weights, item_counts, seed_of

N_BOOT = 1000


@dataclass(frozen=True, eq=False)
class Bootstrap:
    value: float  # the contrast's point estimate
    reps: np.ndarray  # B hierarchical replicates of the contrast (clusters and items resampled)
    unit_values: np.ndarray  # K: each unit's statistic
    unit_reps: np.ndarray  # K × B: each unit's statistic under item-only resampling (shared draws)
    layout: Layout
    items: int  # the fewest items in any block: sets the item level's degrees of freedom

    @property
    def levels_varied(self) -> tuple[str, ...]:
        return self.layout.levels_varied()


def hierarchical_bootstrap(design: Design, n_boot: int = N_BOOT, seed: object = "ftscope") -> Bootstrap:
    """Point estimate and replicates of the design's contrast; deterministic given the names and `seed`."""
    if n_boot < 20:
        raise ConfigError(f"n_boot {n_boot}: a variance needs replicates; use at least 20 (1000 by default)")
    layout = design.layout()
    unit_values, unit_reps = unit_statistics(design, n_boot, seed)
    names = tuple((u.group, u.train_set, u.seed) for u in design.units)
    weights = cluster_weights(layout, seed_of(seed, "clusters", names), n_boot)
    signs = np.sign(layout.weights())
    reps = np.einsum("bk,kb->b", weights * signs, unit_reps)
    value = float(layout.weights() @ unit_values)
    items = min(len(b.ids) for u in design.units for b in u.blocks)
    return Bootstrap(value, reps, unit_values, unit_reps, layout, items)


def unit_statistics(design: Design, n_boot: int, seed: object) -> tuple[np.ndarray, np.ndarray]:
    """Each unit's statistic (K) and its item-only replicates (K × B), one matrix product per test set."""
    means, reps = _block_means(design, n_boot, seed)
    values, replicates = [], []
    for k, unit in enumerate(design.units):
        values.append(_scalar(design.stat([means[(k, j)] for j in range(len(unit.blocks))]), unit.name))
        found = np.asarray(design.stat([reps[(k, j)] for j in range(len(unit.blocks))]), dtype=float)
        if found.shape != (n_boot,):
            raise DataError(f"unit {unit.name}: given m × {n_boot} replicate means the statistic returned shape "
                            f"{found.shape}; return one value per replicate (work along the last axis)")
        replicates.append(found)
    return np.array(values), np.array(replicates)


def _block_means(design: Design, n_boot: int, seed: object) -> tuple[dict, dict]:
    """Row means and m × B replicate row means of every block, keyed by (unit index, block index)."""
    by_key: dict[tuple, list[tuple[int, int, Block]]] = {}
    for k, unit in enumerate(design.units):
        for j, block in enumerate(unit.blocks):
            by_key.setdefault(block.key, []).append((k, j, block))
    means, reps = {}, {}
    for key, blocks in by_key.items():
        counts = item_counts(len(key[1]), seed_of(seed, "items", key), n_boot)
        rows = np.vstack([b.values for _, _, b in blocks])
        boot = rows @ counts / len(key[1])  # every row on this test set resampled with the same items
        start = 0
        for k, j, block in blocks:
            stop = start + block.values.shape[0]
            means[(k, j)], reps[(k, j)] = block.values.mean(axis=1), boot[start:stop]
            start = stop
    return means, reps


def _scalar(found: np.ndarray, name: str) -> float:
    value = np.asarray(found, dtype=float)
    if value.size != 1:
        raise DataError(f"unit {name}: the statistic returned shape {value.shape}; return one value per unit")
    if not np.isfinite(value).all():
        raise DataError(f"unit {name}: the statistic is undefined (NaN or inf), e.g. a ratio over a base "
                        "score of 0; leave this unit out or use a difference")
    return float(value.reshape(()))

