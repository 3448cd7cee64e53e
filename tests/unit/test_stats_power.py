"""Power and planning: the model's SE by hand, MDE and sizes round trips, untestable designs, and the
components recovered from a simulated pilot."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from ftscope.errors import ConfigError
from ftscope.stats import (DesignShape, VarianceComponents, estimate_components, mde, power, predict, shape_of,
                           sizes_for)
from ftscope.stats.simulate import simulate

COMPONENTS = VarianceComponents(train=0.03, seed=0.02, item=0.4, item_shared=0.2)


def test_predicted_se_is_the_variance_components_sum():
    shape = DesignShape(groups=1, train_sets=3, seeds=2, items=100, blocks=2)
    n = 200
    by_hand = 0.03**2 / 3 + 0.02**2 / 6 + (0.4**2 - 0.2**2) / (6 * n) + 0.2**2 / n
    assert predict(shape, COMPONENTS).se == pytest.approx(math.sqrt(by_hand), rel=1e-12)
    two = DesignShape(2, 3, 2, 100, 2)
    assert predict(two, COMPONENTS).se == pytest.approx(math.sqrt(2 * by_hand), rel=1e-12)
    shared = DesignShape(2, 3, 2, 100, 2, share_items=True)  # the shared item noise cancels in the difference
    assert predict(shared, COMPONENTS).se == pytest.approx(math.sqrt(2 * (by_hand - 0.2**2 / n)), rel=1e-12)


def test_power_grows_with_the_effect_and_mde_inverts_it():
    shape = DesignShape(2, 4, 3, 200)
    assert power(0.0, shape, COMPONENTS) <= 0.05  # the method's own false-verdict rate, predicted
    rates = [power(e, shape, COMPONENTS) for e in (0.02, 0.05, 0.1, 0.2)]
    assert rates == sorted(rates) and rates[-1] > 0.99
    effect = mde(shape, COMPONENTS)
    # power is a smooth deterministic function (fixed draws), so brentq's root is exact to its tolerance
    assert power(effect, shape, COMPONENTS) == pytest.approx(0.8, abs=1e-6)
    assert mde(shape, COMPONENTS, alpha=0.05 / 6) > effect  # Holm's first step over 6 claims: stricter


def test_one_training_set_cannot_test_a_claim_about_training_sets():
    shape = DesignShape(1, 1, 4, 500)
    assert predict(shape, COMPONENTS).df == 0 and power(0.5, shape, COMPONENTS) == 0.0
    assert mde(shape, COMPONENTS) == math.inf
    sizes = sizes_for(0.1, shape, COMPONENTS)
    assert sizes.seeds is None and sizes.items is None and sizes.train_sets >= 2
    # Without training-set variance one training set is enough: only seeds and items then vary.
    assert power(0.2, shape, VarianceComponents(0.0, 0.02, 0.4, 0.2)) > 0.9


def test_sizes_are_the_smallest_that_reach_the_power():
    shape = DesignShape(1, 3, 2, 100)
    sizes = sizes_for(0.12, shape, COMPONENTS)
    assert None not in (sizes.seeds, sizes.items, sizes.train_sets)
    for lever in ("seeds", "items", "train_sets"):
        size = getattr(sizes, lever)
        assert power(0.12, replace(shape, **{lever: size}), COMPONENTS) >= 0.8
        assert power(0.12, replace(shape, **{lever: size - 1}), COMPONENTS) < 0.8
    # Three training sets with SD 0.03 leave an SE floor of ≈ 0.019 and 2 df, whatever the items or
    # seeds: 0.08 is then out of their reach, and only more training sets get there.
    floor = sizes_for(0.08, shape, COMPONENTS)
    assert floor.seeds is None and floor.items is None and floor.train_sets is not None


def test_bad_components_and_shapes_are_refused():
    with pytest.raises(ConfigError, match="item_shared"):
        VarianceComponents(0.1, 0.1, 0.2, 0.3)
    with pytest.raises(ConfigError, match="groups"):
        DesignShape(3, 2, 2, 100)


def test_components_are_recovered_from_a_simulated_pilot():
    shape = DesignShape(1, 30, 3, 200)
    truth = VarianceComponents(train=0.05, seed=0.03, item=0.4, item_shared=0.2)
    design = simulate(shape, truth, 0.0, np.random.default_rng(11), name="pilot")
    found = estimate_components(design, n_boot=600)
    # Moment estimates from 29 (train) and 60 (seed) df: the variances have relative s.d. ≈ √(2/df) ≈ 26%
    # and 18%, so the SDs ≈ 13% and 9% (more with the item noise subtracted); tolerances are ~3 s.d.
    assert found.train == pytest.approx(0.05, rel=0.4)
    assert found.seed == pytest.approx(0.03, rel=0.45)
    # Item SDs pool 90 units' item bootstraps (600 replicates each): a few percent.
    assert found.item == pytest.approx(0.4, rel=0.08)
    assert found.item_shared == pytest.approx(0.2, rel=0.15)
    assert shape_of(design) == shape
