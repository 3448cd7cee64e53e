"""Simulated designs drawn from the variance-components model that `power` plans with.

Continuous values follow power.py's model exactly: per test set a shared baseline row `base` and
shared item noise h ~ N(0, item_shared²); per unit tuned = base + effect_g + a_t + c_ts + h + w with
a ~ N(0, train²), c ~ N(0, seed²), w ~ N(0, item² − item_shared²). The unit statistic is then the
mean over its blocks of tuned − base.

Binary values (accuracy, 0/1 per item) make item noise non-normal. Per test set each item has a
shared difficulty π ~ U(0.15, 0.85); the base model is right with probability π (drawn once per test
set, shared by every unit) and a tuned model with probability π + effect_g + a_t + c_ts (clipped to
[0, 1]). Given π, base and tuned are independent, so with v = Var(π) = 0.7²/12 and mean π = 0.5:
Var(tuned − base) = 2 (0.25 − v) and Cov between two units' differences on an item = 0.25 − v — the
item components `binary_components` returns (exact when shifts are 0; shifts of a few points change
them by < 1%). Clusters are drawn from components.train and .seed as above.

Effects apply to the first group; a second group has none, so the contrast's true value is `effect`.
"""

from __future__ import annotations

import functools
import math

import numpy as np

from ftscope.stats.design import Block, Design, Unit
from ftscope.stats.model import DesignShape, VarianceComponents

DIFFICULTY = (0.15, 0.85)  # range of the binary model's per-item probabilities
GROUPS = ("first", "second")


def binary_components(train: float, seed: float) -> VarianceComponents:
    """The binary model's components: its item SDs are fixed by the spread of item difficulty."""
    spread = (DIFFICULTY[1] - DIFFICULTY[0]) ** 2 / 12
    return VarianceComponents(train, seed, math.sqrt(2 * (0.25 - spread)), math.sqrt(0.25 - spread))


def delta_stat(means):
    """Mean over blocks of the first row minus the second (tuned − base)."""
    return np.mean([m[0] - m[1] for m in means], axis=0)


def simulate(shape: DesignShape, components: VarianceComponents, effect: float, rng: np.random.Generator,
             binary: bool = False, name: str = "sim") -> Design:
    """One design; `name` prefixes the test-set names so separate designs draw separate items."""
    sets = _test_sets(shape, components, rng, binary, name)
    units = []
    for g in range(shape.groups):
        for t in range(shape.train_sets):
            shift_t = (effect if g == 0 else 0.0) + rng.normal(0, components.train)
            for s in range(shape.seeds):
                shift = shift_t + rng.normal(0, components.seed)
                blocks = tuple(_block(key, sets[key], shift, components, rng, binary) for key in _keys(shape, g, name))
                units.append(Unit(GROUPS[g], f"train{t}", f"{s}", blocks))
    return Design(tuple(units), delta_stat, GROUPS[: shape.groups])


def _keys(shape: DesignShape, group: int, name: str) -> list[str]:
    owner = "all" if shape.share_items else f"g{group}"
    return [f"{name}/{owner}/b{b}" for b in range(shape.blocks)]


def _test_sets(shape: DesignShape, c: VarianceComponents, rng: np.random.Generator, binary: bool,
               name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per test set: (base row, shared part) — for binary data the shared part is the difficulty π."""
    keys = dict.fromkeys(k for g in range(shape.groups) for k in _keys(shape, g, name))
    out = {}
    for key in keys:
        if binary:
            difficulty = rng.uniform(*DIFFICULTY, shape.items)
            out[key] = ((rng.random(shape.items) < difficulty).astype(float), difficulty)
        else:
            out[key] = (rng.uniform(0, 1, shape.items), rng.normal(0, c.item_shared, shape.items))
    return out


def _block(key: str, shared: tuple[np.ndarray, np.ndarray], shift: float, c: VarianceComponents,
           rng: np.random.Generator, binary: bool) -> Block:
    base, common = shared
    if binary:
        tuned = (rng.random(base.size) < np.clip(common + shift, 0, 1)).astype(float)
    else:
        own = math.sqrt(max(0.0, c.item**2 - c.item_shared**2))
        tuned = base + shift + common + rng.normal(0, own, base.size)
    return Block(key, _ids(base.size), np.stack([tuned, base]))


@functools.cache
def _ids(n: int) -> tuple[str, ...]:
    return tuple(str(i) for i in range(n))
