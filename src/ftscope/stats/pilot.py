"""Planning inputs from an observed (pilot) design: its variance components and its shape.

Moment estimates, the same ones `infer` uses: the cluster components are the training-set and seed
parts of `variance.variance_parts` (pooled over groups by their df, negative estimates read as 0);
the item SDs are read from the item-only bootstrap, so they hold for any unit statistic (a ratio too)
as the per-item SD that reproduces its item-level SE: item² = Var_items(unit value) × items in the unit.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

from ftscope.stats.bootstrap import N_BOOT, Bootstrap, hierarchical_bootstrap
from ftscope.stats.design import Design
from ftscope.stats.model import DesignShape, VarianceComponents
from ftscope.stats.variance import Part, item_covariance, variance_parts


def estimate_components(design: Design, n_boot: int = N_BOOT, seed: object = "ftscope") -> VarianceComponents:
    """Training-set, seed and item SDs of the design's unit statistic.

    A level with one member is not estimable and comes back 0: with one training set per group, give
    `train` from elsewhere before planning (0 would promise power that claims about training sets lack);
    with one seed per training set, the seed variance is inside `train`."""
    boot = hierarchical_bootstrap(design, n_boot, seed)
    parts = variance_parts(boot)
    sizes = np.array([sum(len(b.ids) for b in u.blocks) for u in design.units], dtype=float)
    item, shared = _item_sds(boot, sizes)
    return VarianceComponents(_pooled(parts, "train_set"), _pooled(parts, "seed"), item, min(shared, item))


def shape_of(design: Design) -> DesignShape:
    """The design's shape, taking the smallest count at each level (planning errs on the safe side)."""
    layout = design.layout()
    units = design.units
    keys = [{b.key for b in u.blocks} for u in units]
    by_group = [set().union(*(keys[k] for t in trains for k in t)) for trains in layout.trains]
    return DesignShape(len(layout.groups), min(len(t) for t in layout.trains),
                       min(len(s) for t in layout.trains for s in t),
                       min(len(b.ids) for u in units for b in u.blocks), min(len(u.blocks) for u in units),
                       len(by_group) == 2 and by_group[0] == by_group[1])


def _pooled(parts: tuple[Part, ...], level: str) -> float:
    found = [(p.df, p.component) for p in parts if p.level == level]
    if not found:
        return 0.0
    return math.sqrt(max(0.0, sum(df * c for df, c in found) / sum(df for df, _ in found)))


def _item_sds(boot: Bootstrap, sizes: np.ndarray) -> tuple[float, float]:
    """Per-item SD, and the SD of the part shared between units of one group (on the same items)."""
    cov = item_covariance(boot)
    item = float(np.mean(np.diag(cov) * sizes))
    pairs = [(i, j) for trains in boot.layout.trains
             for i, j in combinations([k for seeds in trains for k in seeds], 2)]
    shared = float(np.mean([cov[i, j] * math.sqrt(sizes[i] * sizes[j]) for i, j in pairs])) if pairs else 0.0
    return math.sqrt(max(0.0, item)), math.sqrt(max(0.0, shared))
